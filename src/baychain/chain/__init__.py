"""The chain's history: blocks, receipts, indexes and genesis."""
