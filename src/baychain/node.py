"""A node: the application, an engine driving it, and the HTTP API in front of it.

A node's home directory holds everything it owns:

    <home>/genesis.json   the chain's identity and initial state
    <home>/data/chain/    LMDB environment: state, blocks, receipts, indexes
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from baychain.app.application import Application
from baychain.chain.genesis import Genesis
from baychain.engine.solo import SoloEngine

DEV_CHAIN_ID = "baychain-dev"


class ApiNode(Protocol):
    """What the HTTP API needs from a node, whichever engine drives it: the
    application, and an engine with `submit_many`, `lock`, `mempool` (len), `error`
    and an optional `name` (SoloEngine here; CometEngine in baychain.engine.cometbft)."""

    app: Application
    engine: Any


@dataclass
class NodeConfig:
    home: Path
    chain_id: str = DEV_CHAIN_ID
    block_interval: float = 0.2
    max_block_txs: int = 10_000
    keep_versions: int = 100  # past heights kept for queries and proofs; see docs/STATE.md on disk use


class SoloNode:
    """One process, one node: the embedded engine over the application."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        home = Path(config.home)
        home.mkdir(parents=True, exist_ok=True)
        genesis_path = home / "genesis.json"
        if not genesis_path.exists():
            Genesis(chain_id=config.chain_id, time_ns=time.time_ns()).save(genesis_path)
        self.genesis = Genesis.load(genesis_path)
        self.app = Application(home / "data", keep_versions=config.keep_versions)
        self.engine = SoloEngine(self.app, block_interval=config.block_interval, max_block_txs=config.max_block_txs)
        self.engine.init_chain(self.genesis)

    def start(self) -> None:
        self.engine.start()

    def stop(self) -> None:
        self.engine.stop()
        self.app.close()
