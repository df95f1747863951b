"""Prometheus metrics of one node (a registry per node, so tests can run several)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from baychain.chain.blockstore import TxRecord


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.height = Gauge("baychain_height", "Last committed block height", registry=self.registry)
        self.blocks = Counter("baychain_blocks_committed", "Blocks committed", registry=self.registry)
        self.txs = Counter("baychain_txs_committed", "Transactions committed", ["result"], registry=self.registry)
        self.admitted = Counter("baychain_txs_submitted", "Transactions submitted to the mempool", ["result"], registry=self.registry)
        self.mempool = Gauge("baychain_mempool_txs", "Transactions waiting in the mempool", registry=self.registry)
        self.block_txs = Histogram(
            "baychain_block_txs", "Transactions per block", buckets=(0, 1, 10, 100, 1000, 5000, 10000, 20000),
            registry=self.registry,
        )

    def on_commit(self, block: dict[str, Any], records: list[TxRecord]) -> None:
        self.height.set(block["height"])
        self.blocks.inc()
        self.block_txs.observe(len(records))
        ok = sum(1 for r in records if r.code == 0)
        self.txs.labels("ok").inc(ok)
        self.txs.labels("failed").inc(len(records) - ok)
