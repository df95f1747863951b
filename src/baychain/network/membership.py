"""Membership: only the consortium's own nodes may connect.

With `filter_peers = true` in config.toml, CometBFT asks the application about every
peer before it keeps a connection: ABCI Query `/p2p/filter/id/<node id>` and
`/p2p/filter/addr/<ip:port>`; any non-zero code refuses the peer. baychain answers from
the member registry of the network's genesis (`app_state.network.members[].node_id`),
the same on every node, so an organisation that is not a member cannot even join the
gossip, let alone see blocks.

Addresses are not checked: an inbound peer's address is its ephemeral source port, and
members may move machines; the node id — the hash of the peer's authenticated p2p key —
is what identifies a member.

The registry is the genesis list; changing it means a new genesis file on every node.
Moving it into application state, managed by governance transactions, is future work
(see docs/NETWORK.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from baychain.app.types import QueryResult
from baychain.errors import Code

FILTER_PREFIX = "/p2p/filter/"
_NODE_ID = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class PeerFilter:
    """Which node ids belong to the network."""

    members: dict[str, str]  # node id -> member name

    @classmethod
    def from_genesis(cls, genesis_path: Path) -> "PeerFilter | None":
        """The registry in a CometBFT genesis file; None if it lists no members."""
        doc = json.loads(Path(genesis_path).read_text())
        members = ((doc.get("app_state") or {}).get("network") or {}).get("members") or []
        registry = {
            str(m["node_id"]).lower(): str(m.get("name", ""))
            for m in members
            if isinstance(m, dict) and _NODE_ID.match(str(m.get("node_id", "")).lower())
        }
        return cls(registry) if registry else None

    def allows(self, node_id: str) -> bool:
        return node_id.lower() in self.members

    def query(self, path: str) -> QueryResult:
        """Answer one `/p2p/filter/...` query: code 0 lets the peer in."""
        kind, _, value = path[len(FILTER_PREFIX) :].partition("/")
        if kind == "addr":
            return QueryResult(log="addresses are not restricted; node ids are")
        if kind == "id":
            name = self.members.get(value.lower())
            if name is not None:
                return QueryResult(log=f"member {name}")
            return QueryResult(code=int(Code.NOT_AUTHORIZED), log=f"node {value} is not a member of this network")
        return QueryResult(code=int(Code.UNKNOWN_QUERY), log=f"unknown peer filter query {path!r}")
