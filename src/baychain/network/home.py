"""A CometBFT-mode node's home directory: everything one node owns, in one place.

    <home>/node.json      who runs the node and where its HTTP API listens
    <home>/cometbft/      the CometBFT home (config.toml, genesis.json, keys, block store)
    <home>/data/          the application's LMDB environment (state, blocks, receipts)
    <home>/node.log       the node process's log (application and CometBFT), under `net up`
    <home>/node.pid       the node process's id while `net up` has it running

CometBFT's config.toml is the one source of truth for the ports CometBFT uses (p2p,
RPC, the ABCI address it dials); node.json only adds what CometBFT does not know.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NODE_FILE = "node.json"


@dataclass
class NodeSettings:
    name: str
    organisation: str = ""
    jurisdiction: str = ""
    role: str = "member"
    api_host: str = "127.0.0.1"
    api_port: int = 8545
    keep_versions: int | None = None  # state versions kept for historical reads; None = the application's default
    # Processes that decode and verify large CheckTx bursts beside the node (see
    # baychain.app.admission). They pay off when the machine has cores to spare; several
    # nodes sharing one machine (`net init`) set 0 and check in place.
    admission_workers: int = 2
    # Hand transaction events to CometBFT too (its `block_results`, and event
    # subscriptions that match on attributes). The node serves them itself (/v1/events,
    # its event stream); CometBFT's copy costs ~12 % of a four-validator network's CPU.
    cometbft_events: bool = False
    # State-sync snapshots this node makes and serves to nodes that join later (see
    # baychain.chain.snapshots): one after every block whose height is a multiple of
    # `snapshot_interval` (0: none), the newest `snapshot_keep` kept.
    snapshot_interval: int = 1000
    snapshot_keep: int = 2
    # Who keeps the transactions waiting for a block: "cometbft" (its mempool checks them
    # with CheckTx and gossips them) or "app" (CometBFT's `nop` mempool; the application
    # admits them, relays what its clients submit to `relay_peers`, the API URLs of every
    # other node that may propose, and proposes from its own mempool: docs/NETWORK.md).
    mempool: str = "cometbft"
    relay_peers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if type(self.admission_workers) is not int or self.admission_workers < 0:
            raise ValueError(f"admission_workers must be a whole number >= 0, not {self.admission_workers!r}")
        if type(self.cometbft_events) is not bool:
            raise ValueError(f"cometbft_events must be true or false, not {self.cometbft_events!r}")
        if type(self.snapshot_interval) is not int or self.snapshot_interval < 0:
            raise ValueError(f"snapshot_interval must be a whole number of blocks >= 0, not {self.snapshot_interval!r}")
        if type(self.snapshot_keep) is not int or self.snapshot_keep < 1:
            raise ValueError(f"snapshot_keep must be a whole number >= 1, not {self.snapshot_keep!r}")
        if self.mempool not in ("cometbft", "app"):
            raise ValueError(f'mempool must be "cometbft" or "app", not {self.mempool!r}')
        if type(self.relay_peers) is not list or not all(
                type(p) is str and p.startswith(("http://", "https://")) for p in self.relay_peers):
            raise ValueError(f"relay_peers must be a list of http(s) API URLs, not {self.relay_peers!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NodeHome:
    path: Path

    @property
    def settings_file(self) -> Path:
        return self.path / NODE_FILE

    @property
    def cometbft(self) -> Path:
        return self.path / "cometbft"

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def log_file(self) -> Path:
        return self.path / "node.log"

    @property
    def pid_file(self) -> Path:
        return self.path / "node.pid"

    def exists(self) -> bool:
        return self.settings_file.exists() and (self.cometbft / "config" / "config.toml").exists()

    def load(self) -> NodeSettings:
        if not self.settings_file.exists():
            raise FileNotFoundError(f"{self.path} is not a node home (missing {NODE_FILE}); see `baychain net init`")
        doc = json.loads(self.settings_file.read_text())
        fields = NodeSettings.__dataclass_fields__
        return NodeSettings(**{k: v for k, v in doc.items() if k in fields})

    def save(self, settings: NodeSettings) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.settings_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(settings.to_json(), indent=2) + "\n")
        tmp.replace(self.settings_file)
