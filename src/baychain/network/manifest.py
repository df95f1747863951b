"""The network manifest: one JSON file describing a network and every node in it.

`baychain net init` writes `<net dir>/network.json`; `net up`, `net status` and the
tests read it. It is a description for operators and tools, not consensus input: what
the chain agrees on is CometBFT's genesis (which carries the same member list in its
`app_state`).

    {
      "format": 1,
      "chain_id": "baychain-gba",
      "genesis_time": "2025-01-01T00:00:00Z",
      "nodes": [
        {"name": "gd-bank", "organisation": "...", "jurisdiction": "GD", "role": "member",
         "node_id": "9f3c...", "validator": {"address": "AB12...", "pub_key": "<base64>", "power": 10},
         "home": "nodes/gd-bank", "host": "127.0.0.1",
         "ports": {"p2p": 40001, "rpc": 40002, "abci": 40003, "api": 40004, "prometheus": 40005}},
        ...
      ]
    }
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baychain.network.members import Member

MANIFEST_FILE = "network.json"
FORMAT = 1
PORT_NAMES = ("p2p", "rpc", "abci", "api", "prometheus")


@dataclass
class Validator:
    """A node's consensus key as CometBFT's genesis lists it."""

    address: str  # upper-case hex, 20 bytes
    pub_key: str  # base64 Ed25519 public key
    power: int = 10

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "pub_key": self.pub_key, "power": self.power}


@dataclass
class NodeEntry:
    member: Member
    node_id: str  # CometBFT p2p id: hex of the first 20 bytes of sha256(node public key)
    validator: Validator
    home: str  # relative to the network directory
    ports: dict[str, int]
    host: str = "127.0.0.1"

    @property
    def name(self) -> str:
        return self.member.name

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.ports['api']}"

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.ports['rpc']}"

    @property
    def p2p_address(self) -> str:
        """`id@host:port`, the form CometBFT's persistent_peers setting takes."""
        return f"{self.node_id}@{self.host}:{self.ports['p2p']}"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.member.to_json(),
            "node_id": self.node_id,
            "validator": self.validator.to_json(),
            "home": self.home,
            "host": self.host,
            "ports": {k: self.ports[k] for k in PORT_NAMES},
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "NodeEntry":
        member = Member(doc["name"], doc["organisation"], doc["jurisdiction"], doc.get("role", "member"))
        v = doc["validator"]
        return cls(
            member=member,
            node_id=doc["node_id"],
            validator=Validator(v["address"], v["pub_key"], int(v.get("power", 10))),
            home=doc["home"],
            ports={k: int(doc["ports"][k]) for k in PORT_NAMES},
            host=doc.get("host", "127.0.0.1"),
        )


@dataclass
class NetworkManifest:
    chain_id: str
    genesis_time: str
    nodes: list[NodeEntry] = field(default_factory=list)
    directory: Path = Path(".")  # where the manifest lives; node homes are relative to it

    def node(self, name: str) -> NodeEntry:
        for entry in self.nodes:
            if entry.name == name:
                return entry
        raise KeyError(f"no node named {name!r} in this network (nodes: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def home(self, name: str) -> Path:
        return self.directory / self.node(name).home

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain_id": self.chain_id,
            "genesis_time": self.genesis_time,
            "nodes": [n.to_json() for n in self.nodes],
        }

    def save(self) -> Path:
        path = self.directory / MANIFEST_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "NetworkManifest":
        directory = Path(directory)
        path = directory / MANIFEST_FILE
        if not path.exists():
            raise FileNotFoundError(f"no network at {directory} (missing {MANIFEST_FILE}); run `baychain net init`")
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{path}: unsupported manifest format {doc.get('format')!r}")
        return cls(
            chain_id=doc["chain_id"],
            genesis_time=doc["genesis_time"],
            nodes=[NodeEntry.from_json(n) for n in doc["nodes"]],
            directory=directory,
        )
