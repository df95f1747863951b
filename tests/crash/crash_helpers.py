"""Checks shared by the crash tests: is a node's data directory whole and consistent?

`check_data_dir` opens a data directory the way a restarting node does and checks,
without trusting any single table, that what is on disk is one consistent history:

* the handshake (Application.info) names the last block, and that block's app hash
  is the state store's committed root;
* the app hashes chain: block N's last_app_hash is block N-1's app_hash;
* every transaction a block lists is stored, with its receipt, at that height and index;
* every account's nonce equals the number of its committed transactions;
* a points programme's supply equals the sum of its balances;
* the flat table of latest values, hashed into a fresh trie, gives the same root
  (so no value was written without its Merkle update, or the other way round).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baychain import encoding
from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest
from baychain.chain.genesis import Genesis
from baychain.state.lmdb_env import open_env
from baychain.state.store import StateStore

POINTS_BALANCE_PREFIX = b"c/points/bal/"
POINTS_PROGRAMME_PREFIX = b"c/points/prog/"


@dataclass
class ChainSummary:
    height: int
    app_hash: bytes
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)  # height -> block record
    tx_count: int = 0
    nonces: dict[str, int] = field(default_factory=dict)
    supplies: dict[str, int] = field(default_factory=dict)


def recompute_root(entries: list[tuple[bytes, bytes]]) -> bytes:
    """The Merkle root of exactly these key/value pairs, computed in a scratch store."""
    with tempfile.TemporaryDirectory(prefix="root-") as scratch:
        env = open_env(Path(scratch) / "db")
        try:
            store = StateStore(env, keep_versions=1)
            return store.stage(dict(entries), 1)
        finally:
            env.close()


def check_app(app: Application) -> ChainSummary:
    """Assert every consistency rule above on an open application; return what it holds."""
    info = app.info()
    height = info.last_height
    assert app.state.version == height, f"state version {app.state.version} != block height {height}"
    summary = ChainSummary(height=height, app_hash=info.last_app_hash)
    if height == 0:
        assert info.last_app_hash == b""
        return summary

    last = app.blocks.block(height)
    assert last is not None, f"the handshake names height {height} but the block is missing"
    assert last["app_hash"] == info.last_app_hash, "handshake app hash differs from the last block's"
    assert app.state.root() == info.last_app_hash, "state root differs from the last block's app hash"
    assert app.blocks.block(height + 1) is None, "a block above the handshake height is on disk"

    signed_by: Counter[str] = Counter()
    previous_app_hash = b""
    for h in range(1, height + 1):
        block = app.blocks.block(h)
        assert block is not None, f"block {h} is missing below the last height {height}"
        assert block["height"] == h
        assert block["last_app_hash"] == previous_app_hash, f"block {h} does not chain to block {h - 1}'s app hash"
        assert app.blocks.block_by_hash(block["hash"])["height"] == h
        for index, tx_hash in enumerate(block["txs"]):
            rec = app.blocks.tx(tx_hash)
            assert rec is not None, f"block {h} lists tx {tx_hash.hex()} but it is not stored"
            assert (rec.height, rec.index) == (h, index), f"tx {tx_hash.hex()} stored at the wrong place"
            assert rec.code == 0, f"tx {tx_hash.hex()} failed in block {h}: {rec.code} {rec.log}"
            signed_by[rec.sender] += 1
            summary.tx_count += 1
        summary.blocks[h] = block
        previous_app_hash = block["app_hash"]

    for sender, count in signed_by.items():
        nonce = app.nonce(sender)
        assert nonce == count, f"{sender} has nonce {nonce} but {count} committed transactions"
        summary.nonces[sender] = nonce

    entries = app.state.scan(b"", limit=10**9)
    balances: Counter[str] = Counter()
    for key, value in entries:
        if key.startswith(POINTS_BALANCE_PREFIX):
            symbol = key[len(POINTS_BALANCE_PREFIX):].split(b"/", 1)[0].decode()
            balances[symbol] += encoding.decode(value)
        elif key.startswith(POINTS_PROGRAMME_PREFIX):
            prog = encoding.decode(value)
            summary.supplies[prog["symbol"]] = prog["supply"]
    for symbol, supply in summary.supplies.items():
        assert balances[symbol] == supply, f"{symbol}: supply {supply} but balances sum to {balances[symbol]}"
    assert recompute_root(entries) == info.last_app_hash, "the latest-value table does not hash to the app hash"
    return summary


def check_data_dir(data_dir: Path) -> ChainSummary:
    """Open a node's data directory as a restarting node would, and check it."""
    app = Application(data_dir, verify_workers=0)
    try:
        return check_app(app)
    finally:
        app.close()


def replay(genesis_path: Path, source_dir: Path, target_dir: Path) -> int:
    """Re-execute every stored block in a fresh application; assert each app hash matches.

    This is what a node that lost its state (or a second node) would do: same genesis,
    same blocks, same results. Returns the number of blocks replayed.
    """
    genesis = Genesis.load(genesis_path)
    source = Application(source_dir, verify_workers=0)
    target = Application(target_dir, verify_workers=0)
    try:
        target.init_chain(InitChainRequest(chain_id=genesis.chain_id, time_ns=genesis.time_ns, initial_height=1,
                                           validators=[], app_state=genesis.app_state_bytes()))
        for h in range(1, source.height + 1):
            block = source.blocks.block(h)
            raws = [source.blocks.tx(tx_hash).raw for tx_hash in block["txs"]]
            result = target.finalize_block(BlockRequest(height=h, time_ns=block["time_ns"], hash=block["hash"],
                                                        proposer=block["proposer"], txs=raws))
            assert result.app_hash == block["app_hash"], f"replaying block {h} gives another app hash"
            target.commit()
        return source.height
    finally:
        source.close()
        target.close()
