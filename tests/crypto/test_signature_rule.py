"""The signature rule as the chain applies it: admission verifies natively, in batches, with no fallback."""

from __future__ import annotations

import os
import subprocess
import sys

import baychain_native as native

from baychain import encoding
from baychain import transactions as T
from baychain.app.admission import check
from baychain.errors import BaychainError, Code
from support import Signer


def small_order_tx(key: bytes) -> bytes:
    """A transaction "signed" for a small-order key with R = identity, S = 0 (valid under bare ZIP-215)."""
    tx = T.build(chain_id="rule", suite=1, signer=key, nonce=0, expiry_height=10, contract="notary",
                 method="notarize", args={"digest": bytes(32), "metadata": {}})
    return encoding.encode([tx.body, bytes.fromhex("01" + "00" * 31) + bytes(32)])


def test_admission_refuses_small_order_signers_wherever_they_sit_in_a_batch() -> None:
    signer = Signer("rule")
    good = [signer.tx("notary", "notarize", digest=bytes([i]) * 32, metadata={}).raw for i in range(100)]
    forged = [small_order_tx(key) for key in native.small_order_keys()]
    raws = good[:50] + forged[:7] + good[50:] + forged[7:]
    verdicts = check(raws)
    bad = [i for i, v in enumerate(verdicts) if isinstance(v, BaychainError)]
    assert bad == list(range(50, 57)) + list(range(107, 114))
    assert {verdicts[i].code for i in bad} == {Code.BAD_SIGNATURE}  # type: ignore[union-attr]
    assert [v.raw for v in verdicts if isinstance(v, T.Transaction)] == good
    assert all(isinstance(check([raw])[0], BaychainError) for raw in forged)


def test_transaction_verify_signature_uses_the_native_rule() -> None:
    tx = Signer("rule").tx("notary", "notarize", digest=bytes(32), metadata={})
    assert tx.verify_signature()
    forged = T.decode(small_order_tx(native.small_order_keys()[0]))
    assert not forged.verify_signature()


def test_a_node_without_the_native_module_does_not_start() -> None:
    """No silent fallback to another library: importing the suites fails, saying what to do."""
    code = "import sys; sys.modules['baychain_native'] = None; import baychain.crypto.suites"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode != 0
    assert "baychain_native" in run.stderr and "make install" in run.stderr
