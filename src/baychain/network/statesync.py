"""State sync for a node that joins a running network: start from a recent snapshot of the
members' state instead of replaying every block since the genesis.

CometBFT does the fetching (docs/NETWORK.md, "Joining a running network"): it asks its
peers for their snapshots, offers one to the application, downloads its chunks, and
checks the restored app hash with its own light client against a trust anchor, a
(height, header hash) pair in `[statesync]` of config.toml. This module finds that
anchor without trusting any one member: baychain's light client verifies the header from
the genesis validators onwards, following every validator-set change, and compares it
with the other members' headers of the same height (a fork is refused); a header older
than the trust period CometBFT will hold the anchor to is refused too.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from baychain.errors import BaychainError, Code
from baychain.network import cometbft
from baychain.network.home import NodeHome
from baychain.network.light import TRUSTING_PERIOD, LightClient, expired, header_hash, header_time, parse_period
from baychain.network.rpc import CometRpc, RpcError

log = logging.getLogger("baychain.statesync")

COMETBFT_STORES = ("blockstore.db", "state.db", "evidence.db", "tx_index.db", "cs.wal")
"""What CometBFT keeps under cometbft/data besides its double-sign guard (priv_validator_state.json)."""

TRUST_PERIOD = "168h0m0s"
"""How long the anchor stays usable: a week, CometBFT's default."""


@dataclass(frozen=True)
class Anchor:
    height: int
    hash: str  # the header's hash, upper-case hex as CometBFT prints it


def trust_anchor(genesis: Path, rpc_urls: list[str], trust_period: timedelta = TRUSTING_PERIOD, *,
                 now: Callable[[], int] = time.time_ns) -> Anchor:
    """The latest header of the first RPC server, verified from the genesis, with the
    others as witnesses, and younger than `trust_period`.

    The light client follows the chain from its genesis without a trusting period (one
    would refuse every network older than it: docs/NETWORK.md, "Light-client checks"); the
    header it picks is the anchor CometBFT's own light client will trust for
    `trust_period`, and CometBFT refuses an anchor older than that, so it is refused here
    first (TRUST_EXPIRED: the chain has stalled, or the server is behind)."""
    try:
        with CometRpc(rpc_urls[0]) as rpc:
            status = rpc.status()
    except RpcError as exc:
        raise BaychainError(Code.UNAVAILABLE, f"cannot read the latest height from {rpc_urls[0]}: {exc}") from None
    chain_id = json.loads(genesis.read_text())["chain_id"]
    if status["node_info"]["network"] != chain_id:
        raise BaychainError(Code.WRONG_CHAIN_ID, f"{rpc_urls[0]} serves chain {status['node_info']['network']!r}, this "
                                                 f"node's genesis is {chain_id!r}: adopt the network's genesis first (`node join`)")
    latest = int(status["sync_info"]["latest_block_height"])
    if latest < 1:
        raise BaychainError(Code.HEIGHT_UNAVAILABLE, f"{rpc_urls[0]} has no blocks yet: nothing to sync")
    with LightClient(rpc_urls[0], genesis, witnesses=rpc_urls[1:], now=now) as light:
        header = light.verified_header(latest)
    if expired(header_time(header), trust_period, now()):
        raise BaychainError(Code.TRUST_EXPIRED, f"the latest header of {rpc_urls[0]} (height {latest}, {header['time']}) is "
                                                f"older than the trust period ({trust_period}): CometBFT would refuse it as "
                                                f"a trust anchor; is the chain stalled, or the server behind?")
    return Anchor(latest, header_hash(header).hex().upper())


def enable(home: NodeHome, rpc_urls: list[str], *, trust_period: str = TRUST_PERIOD) -> Anchor:
    """Configure a node that has never run to start from a snapshot: CometBFT's light
    client and snapshot fetching use `rpc_urls` (at least two members' CometBFT RPC)."""
    urls = [u.strip().rstrip("/") for u in rpc_urls if u.strip()]
    if len(set(urls)) < 2:
        raise BaychainError(Code.BAD_REQUEST, "state sync needs the CometBFT RPC of at least two members (--rpc, twice)")
    period = parse_period(trust_period)
    if (home.cometbft / "data" / "state.db").exists():
        raise BaychainError(Code.BAD_REQUEST, f"{home.path} has run before: state sync only starts a node with no blocks")
    anchor = trust_anchor(home.cometbft / "config" / "genesis.json", urls, period)
    cometbft.set_config(home.cometbft, {
        ("statesync", "enable"): True,
        ("statesync", "rpc_servers"): ",".join(urls),
        ("statesync", "trust_height"): anchor.height,
        ("statesync", "trust_hash"): anchor.hash,
        ("statesync", "trust_period"): trust_period,
    })
    return anchor


def sync_again_if_unfinished(home: NodeHome, restored_only: bool) -> bool:
    """Before CometBFT starts: if state sync is on and the application's state is a restore
    no block has been executed on, clear CometBFT's own stores so that it syncs again.

    A node stopped between the restore and its first block cannot start otherwise:
    CometBFT v0.38 records the restored height in its state store before its block store
    holds a block, and then refuses to start (cometbft/cometbft#1077). Syncing again loses
    nothing: the application accepts the same snapshot without work, or a newer one in its
    place (`Application.offer_snapshot`); the double-sign guard is kept."""
    if not restored_only or not cometbft.read_config(home.cometbft).get("statesync", {}).get("enable"):
        return False
    data = home.cometbft / "data"
    found = [data / name for name in COMETBFT_STORES if (data / name).exists()]
    if not found:
        return False
    for path in found:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    log.warning("the state restored from a snapshot has no block on it yet: cleared CometBFT's stores (%s) to sync again",
                ", ".join(p.name for p in found))
    return True
