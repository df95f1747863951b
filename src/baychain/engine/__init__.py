"""Engines drive the application: solo (embedded, in-process) and CometBFT (ABCI)."""
