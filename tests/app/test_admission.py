"""Bad transactions get stable codes at admission and in blocks, and change nothing."""

from __future__ import annotations

import pytest

from baychain import encoding
from baychain import transactions as T
from baychain.app.types import BlockRequest
from baychain.errors import Code
from support import Signer, state_but_block


def commit_block(node, raws, height=None, time_ns=None):
    app = node.app
    height = height or app.height + 1
    res = app.finalize_block(BlockRequest(height=height, time_ns=time_ns or height * 10**9, hash=bytes([height % 256]) * 32,
                                          proposer=b"p", txs=list(raws)))
    app.commit()
    return res


def snapshot(node):
    return node.app.height, node.app.blocks.last_app_hash, len(node.engine.mempool)


def test_good_transaction_is_admitted_and_committed(node, alice):
    tx = alice.tx("points", "create", symbol="PTS", title="Points")
    assert node.engine.submit(tx.raw).code == 0
    block = node.engine.produce_block()
    assert block["txs"] == [tx.hash]
    assert node.app.blocks.tx(tx.hash).code == 0


def bad_cases(node, alice):
    other_chain = alice.tx("points", "create", chain_id="other-chain", symbol="PTS", title="t")
    forged = alice.tx("points", "create", symbol="PTS", title="t")
    forged_raw = encoding.encode([forged.body, bytes(64)])
    return {
        Code.MALFORMED_TX: b"\x01\x02\x03",
        Code.BAD_SIGNATURE: forged_raw,
        Code.WRONG_CHAIN_ID: other_chain.raw,
        Code.NONCE_GAP: alice.tx("points", "create", nonce=7, symbol="PTS", title="t").raw,
        Code.TX_EXPIRED: alice.tx("points", "create", nonce=0, expiry_height=0, symbol="PTS", title="t").raw,
        Code.TX_TOO_LARGE: b"\xa0" * (T.MAX_TX_BYTES + 1),
        Code.UNKNOWN_CONTRACT: alice.tx("nosuch", "create", nonce=0).raw,
        Code.UNKNOWN_METHOD: alice.tx("points", "burn", nonce=0).raw,
        Code.BAD_ARGUMENTS: alice.tx("points", "create", nonce=0, symbol="PTS", title=5).raw,
    }


def test_each_bad_transaction_gets_its_code_at_admission_and_changes_nothing(node, alice):
    before = snapshot(node)
    for code, raw in bad_cases(node, alice).items():
        res = node.engine.submit(raw)
        assert res.code == code, (code.name, res.log)
        assert res.log, f"{code.name} has no message"
    assert snapshot(node) == before
    assert node.engine.produce_block() is None


def test_views_are_not_callable_as_transactions(node, alice):
    res = node.engine.submit(alice.tx("points", "balance", symbol="PTS", account=alice.address).raw)
    assert res.code == Code.UNKNOWN_METHOD


def test_replayed_transaction_is_refused_after_commit(node, alice):
    tx = alice.tx("points", "create", symbol="PTS", title="Points")
    node.engine.submit(tx.raw)
    node.engine.produce_block()
    again = node.engine.submit(tx.raw)
    assert again.code == Code.NONCE_REPLAYED
    # the same nonce with other content is a replay too
    assert node.engine.submit(alice.tx("points", "create", nonce=0, symbol="XYZ", title="x").raw).code == Code.NONCE_REPLAYED


def test_duplicate_submission_to_the_mempool_is_refused(node, alice):
    tx = alice.tx("points", "create", symbol="PTS", title="Points")
    assert node.engine.submit(tx.raw).code == 0
    assert node.engine.submit(tx.raw).code == Code.DUPLICATE_TX


def test_mempool_orders_nonces_of_one_sender(node, alice):
    txs = [alice.tx("points", "create", symbol=f"P{i}", title="t") for i in range(5)]
    assert [r.code for r in node.engine.submit_many([t.raw for t in txs])] == [0] * 5
    node.engine.produce_block()
    assert node.app.nonce(alice.address) == 5


def test_envelope_failures_forced_into_a_block_change_no_state(node, alice):
    """A byzantine proposer may put anything in a block: execution must still refuse it."""
    commit_block(node, [alice.tx("points", "create", symbol="PTS", title="Points").raw])
    before = state_but_block(node.app)
    forged = alice.tx("points", "create", nonce=1, symbol="ABC", title="x")
    cases = {
        Code.BAD_SIGNATURE: encoding.encode([forged.body, bytes(64)]),
        Code.WRONG_CHAIN_ID: alice.tx("points", "create", nonce=1, chain_id="other", symbol="ABC", title="x").raw,
        Code.NONCE_REPLAYED: alice.tx("points", "create", nonce=0, symbol="ABC", title="x").raw,
        Code.NONCE_GAP: alice.tx("points", "create", nonce=5, symbol="ABC", title="x").raw,
        Code.TX_EXPIRED: alice.tx("points", "create", nonce=1, expiry_height=1, symbol="ABC", title="x").raw,
    }
    result = commit_block(node, list(cases.values()))
    assert [r.code for r in result.tx_results] == [int(c) for c in cases]
    assert state_but_block(node.app) == before
    assert node.app.nonce(alice.address) == 1


def test_execution_failures_forced_into_a_block_only_consume_nonces(node, alice):
    cases = {
        Code.UNKNOWN_CONTRACT: alice.tx("nosuch", "create"),
        Code.UNKNOWN_METHOD: alice.tx("points", "burn"),
        Code.BAD_ARGUMENTS: alice.tx("points", "create", symbol="PTS", title=5),
    }
    result = commit_block(node, [t.raw for t in cases.values()])
    assert [r.code for r in result.tx_results] == [int(c) for c in cases]
    assert node.app.nonce(alice.address) == 3
    assert node.app.state.scan(b"c/") == []


def test_failed_execution_keeps_no_writes_but_consumes_the_nonce(node, alice, bob):
    commit_block(node, [alice.tx("points", "create", symbol="PTS", title="P").raw,
                        alice.tx("points", "issue", symbol="PTS", to=alice.address, amount=100).raw])
    balance_key = f"bal/PTS/{alice.address}"
    res = commit_block(node, [alice.tx("points", "transfer", symbol="PTS", to=bob.address, amount=101).raw])
    assert res.tx_results[0].code == Code.INSUFFICIENT_BALANCE
    assert node.app.view("points", "balance", {"symbol": "PTS", "account": alice.address}) == 100
    assert node.app.view("points", "balance", {"symbol": "PTS", "account": bob.address}) == 0
    assert node.app.nonce(alice.address) == 3
    assert balance_key  # the key the transfer would have written is untouched (checked through the view)


def test_malformed_bytes_in_a_block_are_recorded_as_failed(node):
    res = commit_block(node, [b"garbage"])
    assert res.tx_results[0].code == Code.MALFORMED_TX
    assert not node.app.process_proposal(BlockRequest(2, 2, b"h", b"p", [b"garbage"]))


def test_block_time_comes_from_the_header(node, alice):
    commit_block(node, [alice.tx("accounts", "register", name="gd-bank").raw], time_ns=123_456_789)
    profile = node.app.view("accounts", "get", {"address": alice.address})
    assert profile["registered_time_ns"] == 123_456_789


def test_a_proposal_with_a_forged_signature_is_refused(node, alice):
    good = alice.tx("points", "create", symbol="PTS", title="P")
    forged = encoding.encode([good.body, bytes(64)])
    assert node.app.process_proposal(BlockRequest(1, 1, b"h", b"p", [good.raw]))
    assert not node.app.process_proposal(BlockRequest(1, 1, b"h", b"p", [good.raw, forged]))


def test_recheck_after_a_block_keeps_exactly_what_check_txs_admits(node, alice, bob):
    """The solo engine's recheck keeps the survivors in order: an expired transaction
    leaves, and with it the later nonce it made a gap for; an untouched one stays."""
    node.engine.max_block_txs = 1
    first = alice.tx("points", "create", symbol="PTS", title="Points")
    expiring = alice.tx("points", "create", symbol="ABC", title="x", expiry_height=1)
    after_gap = alice.tx("points", "create", symbol="DEF", title="y")
    other = bob.tx("points", "create", symbol="BOB", title="z")
    raws = [first.raw, expiring.raw, after_gap.raw, other.raw]
    assert [r.code for r in node.engine.submit_many(raws)] == [0, 0, 0, 0]
    rest = raws[1:]
    node.engine.produce_block()
    node.app._mempool_nonces.clear()  # check_txs on the same committed state, as the recheck saw it
    verdicts = [r.code for r in node.app.check_txs(rest)]
    assert verdicts == [Code.TX_EXPIRED, Code.NONCE_GAP, 0]
    assert list(node.engine.mempool._txs) == [other.raw]


def _active_readers(app):
    """LMDB read transactions of the node's environment that hold a snapshot now."""
    return [line.split()[2] for line in app.env.readers().splitlines()[1:] if line.split()[2] != "-"]


def test_admission_keeps_one_snapshot_between_commits_and_ends_it_before_a_commit_writes(node, alice):
    app = node.app
    first = alice.tx("points", "create", symbol="PTS", title="Points")
    assert node.engine.submit(first.raw).code == 0
    assert len(_active_readers(app)) == 1  # kept for the next burst
    assert node.engine.submit(alice.tx("points", "create", nonce=1, symbol="XYZ", title="x").raw).code == 0
    assert len(_active_readers(app)) == 1  # the same one
    seen = []
    write = app.blocks.write

    def write_and_look(txn, block, txs):  # the real write, noting the readers open while it runs
        seen.append(_active_readers(app))
        write(txn, block, txs)

    app.blocks.write = write_and_look
    node.engine.produce_block()
    assert seen == [[]]
    # the next admission reads what that commit wrote (alice's nonces 0 and 1 are used)
    assert node.engine.submit(first.raw).code == Code.NONCE_REPLAYED
    assert node.engine.submit(alice.tx("points", "create", nonce=2, symbol="ABC", title="a").raw).code == 0
