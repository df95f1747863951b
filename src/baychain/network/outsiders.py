"""Cutting the connections the node registry no longer admits.

CometBFT asks the application about a peer only when the peer connects
(`filter_peers`), so a node the committee removes from the registry keeps the
connections it already has, and with them every new block and transaction. A member
node therefore looks at its peers every `POLL` seconds; when one of them is no longer
admitted, it restarts its cometbft child: CometBFT v0.38 offers no other way to drop a
peer (its RPC has no disconnect), and once restarted it refuses the peer's redials like
any other outsider's. Members restart one after another, `STAGGER` seconds apart in
registry order, so that only one is down at a time (blocks go on if the others hold
more than 2/3 of the voting power, else they pause for the seconds of a restart). A
restart is safe at any moment: CometBFT's own state and the double-sign guard in
`priv_validator_state.json` survive it, as they survive a crash.
"""

from __future__ import annotations

import asyncio
import logging

from baychain.engine.cometbft import CometEngine
from baychain.errors import BaychainError
from baychain.network.rpc import RpcError

log = logging.getLogger("baychain.node")

POLL = 5.0
"""Seconds between two looks at the peers (a `net_info` call and one filter query per peer)."""

STAGGER = 3.0
"""Seconds between the restarts of two members, in registry order."""


def outsiders(engine: CometEngine) -> list[str]:
    """Node ids of the connected peers the registry does not admit, by the same query
    CometBFT asks when a peer connects (blocking: an RPC call and application queries)."""
    peers = [p["node_info"]["id"] for p in engine.rpc.net_info()["peers"]]
    return [p for p in peers if engine.abci_app.query(f"/p2p/filter/id/{p}", b"", 0, False).code]


def turn(engine: CometEngine, node_id: str) -> int:
    """This node's place in the registry (0 for the first node id); after the last for a
    node that is not registered."""
    with engine.lock:
        ids = [n["node_id"] for n in engine.app.view("network", "nodes", {})]
    return ids.index(node_id) if node_id in ids else len(ids)


async def watch(engine: CometEngine, node_id: str, *, poll: float = POLL, stagger: float = STAGGER) -> list[str]:
    """Return the outsiders still connected once it is this node's turn to restart its
    cometbft; until then, keep looking."""
    while True:
        await asyncio.sleep(poll)
        try:
            if not await asyncio.to_thread(outsiders, engine):
                continue
            await asyncio.sleep(stagger * await asyncio.to_thread(turn, engine, node_id))
            found = await asyncio.to_thread(outsiders, engine)
        except (RpcError, BaychainError, KeyError, TypeError) as exc:  # cometbft busy or restarting: look again later
            log.debug("could not check the peers against the registry: %s", exc)
            continue
        if found:
            return found
