"""Admission on worker processes gives exactly the verdicts of checking in place."""

from __future__ import annotations

from baychain import encoding
from baychain import transactions as T
from baychain.app.admission import POOL_BATCH_MIN, Checker, check
from baychain.errors import BaychainError
from support import Signer


def test_worker_verdicts_equal_in_place_verdicts():
    signer = Signer("workers-chain")
    raws = [signer.tx("points", "create", symbol=f"P{i}", title="t").raw for i in range(POOL_BATCH_MIN)]
    forged = T.decode(raws[3])
    raws[3] = encoding.encode([forged.body, bytes(64)])  # bad signature
    raws[7] = b"\x00garbage"  # malformed
    raws[11] = b"\xa0" * (T.MAX_TX_BYTES + 1)  # oversize
    checker = Checker(2)
    try:
        pooled = checker.check(raws)
        assert checker._pool is not None, "a batch this large must go to the workers"
    finally:
        checker.close()
    in_place = check(raws)
    assert [type(v) for v in in_place] == [type(check([r])[0]) for r in raws], "batching changes no verdict"
    for got, want in zip(pooled, in_place):
        if isinstance(want, BaychainError):
            assert isinstance(got, BaychainError) and (got.code, got.message) == (want.code, want.message)
        else:
            assert isinstance(got, T.Transaction)
            assert (got.hash, got.sender, got.args, got.nonce, got.body) == (want.hash, want.sender, want.args, want.nonce, want.body)
    assert sum(isinstance(v, BaychainError) for v in pooled) == 3


def test_decode_trusted_equals_decode():
    tx = Signer("c").tx("notary", "notarize", digest=bytes(32), metadata={"a": [1, b"x"]})
    assert T.decode_trusted(tx.raw) == T.decode(tx.raw)
