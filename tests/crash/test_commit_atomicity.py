"""Crash points inside one block's life, simulated in-process (fast).

A block goes finalize_block (execute, stage the new state in memory) -> commit (one
LMDB write transaction: state, block, receipts, indexes, last height). A crash
between the two must leave the node at the previous height, able to execute the same
block again to the same app hash (CometBFT replays it). A failure inside the commit's
write transaction must leave nothing of the block on disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crash_helpers import check_app, check_data_dir

from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest
from baychain.chain.blockstore import BlockStore
from baychain.crypto.hashing import sha256
from support import Signer

CHAIN_ID = "crash-chain"
SYMBOL = "ATOM"


def _block(app_height: int, raws: list[bytes]) -> BlockRequest:
    height = app_height + 1
    return BlockRequest(height=height, time_ns=1_700_000_000_000_000_000 + height, hash=sha256(b"block %d" % height),
                        proposer=b"test", txs=raws)


@pytest.fixture
def signers() -> tuple[Signer, Signer, Signer]:
    return tuple(Signer(CHAIN_ID, seed=bytes([i]) * 32) for i in (1, 2, 3))  # type: ignore[return-value]


def _open_with_one_block(data_dir: Path, signers: tuple[Signer, Signer, Signer]) -> Application:
    """A chain at height 1: a programme, and balances for two accounts."""
    issuer, alice, bob = signers
    app = Application(data_dir, verify_workers=0)
    app.init_chain(InitChainRequest(chain_id=CHAIN_ID, time_ns=1, initial_height=1, validators=[], app_state=b"{}"))
    raws = [
        issuer.tx("points", "create", symbol=SYMBOL, title="atomicity").raw,
        issuer.tx("points", "issue", symbol=SYMBOL, to=alice.address, amount=1000).raw,
        issuer.tx("points", "issue", symbol=SYMBOL, to=bob.address, amount=1000).raw,
    ]
    result = app.finalize_block(_block(0, raws))
    assert all(r.code == 0 for r in result.tx_results)
    app.commit()
    return app


def _transfers(signers: tuple[Signer, Signer, Signer]) -> list[bytes]:
    _, alice, bob = signers
    return [
        alice.tx("points", "transfer", symbol=SYMBOL, to=bob.address, amount=300).raw,
        bob.tx("points", "transfer", symbol=SYMBOL, to=alice.address, amount=1000).raw,
        alice.tx("points", "transfer", symbol=SYMBOL, to=bob.address, amount=1).raw,
    ]


def _balances(app: Application, signers: tuple[Signer, Signer, Signer]) -> list[int]:
    return [app.view("points", "balance", {"symbol": SYMBOL, "account": s.address}) for s in signers]


def test_crash_between_finalize_and_commit_replays_to_the_same_app_hash(tmp_path: Path, signers) -> None:
    data = tmp_path / "data"
    app = _open_with_one_block(data, signers)
    height1_hash = app.info().last_app_hash
    balances1 = _balances(app, signers)
    block2 = _block(1, _transfers(signers))
    finalized = app.finalize_block(block2)
    assert all(r.code == 0 for r in finalized.tx_results)
    assert finalized.app_hash != height1_hash
    app.close()  # the process dies here: finalize_block ran, commit never did

    app = Application(data, verify_workers=0)
    try:
        info = app.info()
        assert (info.last_height, info.last_app_hash) == (1, height1_hash)
        assert _balances(app, signers) == balances1
        assert app.nonce(signers[1].address) == 0
        assert all(app.blocks.tx(sha256(raw)) is None for raw in block2.txs)
        check_app(app)

        replayed = app.finalize_block(block2)  # the engine hands the block over again
        assert replayed.app_hash == finalized.app_hash
        assert [r.code for r in replayed.tx_results] == [r.code for r in finalized.tx_results]
        app.commit()
        assert app.info().last_height == 2 and app.info().last_app_hash == finalized.app_hash
        assert _balances(app, signers) == [balances1[0], 1000 - 300 - 1 + 1000, 1000 + 300 + 1 - 1000]
    finally:
        app.close()
    summary = check_data_dir(data)
    assert summary.height == 2 and summary.nonces[signers[1].address] == 2


def test_failure_inside_the_commit_transaction_writes_nothing(tmp_path: Path, signers, monkeypatch) -> None:
    data = tmp_path / "data"
    app = _open_with_one_block(data, signers)
    before = app.info()
    balances1 = _balances(app, signers)
    block2 = _block(1, _transfers(signers))
    finalized = app.finalize_block(block2)

    real_write = BlockStore.write
    calls = []

    def write_then_crash(self, txn, block, txs):  # type: ignore[no-untyped-def]
        real_write(self, txn, block, txs)  # state, block, receipts and indexes are all in the txn now
        calls.append(block["height"])
        raise OSError("simulated crash in the middle of the commit")

    monkeypatch.setattr(BlockStore, "write", write_then_crash)
    with pytest.raises(OSError, match="simulated crash"):
        app.commit()
    assert calls == [2]
    monkeypatch.setattr(BlockStore, "write", real_write)

    # The running application did not move on ...
    assert app.info() == before
    assert app.state.version == 1 and app.state.root() == before.last_app_hash
    assert _balances(app, signers) == balances1
    app.close()

    # ... and nothing of block 2 reached the disk.
    app = Application(data, verify_workers=0)
    try:
        assert app.info() == before
        assert app.blocks.block(2) is None and app.blocks.block_by_hash(block2.hash) is None
        assert all(app.blocks.tx(sha256(raw)) is None for raw in block2.txs)
        assert app.blocks.txs_by_signer(signers[1].address) == []
        assert app.blocks.txs_by_event("points.transferred") == []
        assert _balances(app, signers) == balances1
        assert app.nonce(signers[1].address) == 0
        check_app(app)

        # The same block commits cleanly once the fault is gone, to the same app hash.
        assert app.finalize_block(block2).app_hash == finalized.app_hash
        app.commit()
        assert app.info().last_app_hash == finalized.app_hash
    finally:
        app.close()
    assert check_data_dir(data).height == 2


def test_failed_commit_can_be_retried_by_the_same_process(tmp_path: Path, signers, monkeypatch) -> None:
    """A halted commit leaves the live application able to finalize the block again."""
    data = tmp_path / "data"
    app = _open_with_one_block(data, signers)
    block2 = _block(1, _transfers(signers))
    finalized = app.finalize_block(block2)

    def crash(self, txn, block, txs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(BlockStore, "write", crash)
    with pytest.raises(OSError):
        app.commit()
    monkeypatch.undo()
    try:
        assert app.finalize_block(block2).app_hash == finalized.app_hash
        app.commit()
        check_app(app)
        assert app.info().last_height == 2
    finally:
        app.close()
