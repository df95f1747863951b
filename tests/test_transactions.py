"""Transactions: pinned wire format, signatures, field rules and decoder fuzzing."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baychain import encoding
from baychain import transactions as T
from baychain.crypto.suites import ED25519
from baychain.errors import BaychainError, Code
from support import load_vectors, untag
from test_encoding import SPECIAL, reference_decode, typed

VECTORS = load_vectors("transactions.json")


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["method"])
def test_signed_transaction_matches_pinned_vector(case):
    seed = bytes.fromhex(case["private_key_seed"])
    tx = T.sign(
        T.build(chain_id=case["chain_id"], suite=case["suite"], signer=ED25519.public_key(seed), nonce=case["nonce"],
                expiry_height=case["expiry_height"], contract=case["contract"], method=case["method"],
                args=untag(case["args"])),
        seed,
    )
    assert tx.body.hex() == case["body"]
    assert tx.signature.hex() == case["signature"]
    assert tx.raw.hex() == case["signed_tx"]
    assert tx.hash.hex() == case["hash"]
    assert tx.sender == case["sender"]


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["method"])
def test_decoding_a_vector_restores_every_field(case):
    tx = T.decode(bytes.fromhex(case["signed_tx"]))
    assert (tx.chain_id, tx.nonce, tx.expiry_height, tx.contract, tx.method) == (
        case["chain_id"], case["nonce"], case["expiry_height"], case["contract"], case["method"])
    assert tx.args == untag(case["args"])
    assert tx.signer.hex() == case["signer"]
    assert tx.verify_signature()


def test_any_changed_body_byte_breaks_the_signature():
    raw = bytes.fromhex(VECTORS[0]["signed_tx"])
    tx = T.decode(raw)
    for i in range(len(tx.body)):
        body = bytearray(tx.body)
        body[i] ^= 0x01
        try:
            forged = T.decode(encoding.encode([bytes(body), tx.signature]))
        except BaychainError:
            continue  # no longer a well-formed body: rejected before any signature check
        assert not forged.verify_signature(), f"flipping body byte {i} kept the signature valid"


def test_signature_from_another_key_does_not_verify():
    tx = T.decode(bytes.fromhex(VECTORS[0]["signed_tx"]))
    other = ED25519.generate()
    forged_sig = ED25519.sign(other, tx.sign_bytes())
    forged = T.decode(encoding.encode([tx.body, forged_sig]))
    assert not forged.verify_signature()


def test_signing_with_a_key_that_is_not_the_signer_is_refused():
    seed = bytes(range(32))
    tx = T.build(chain_id="c", suite=1, signer=ED25519.public_key(seed), nonce=0, expiry_height=1,
                 contract="points", method="transfer", args={})
    with pytest.raises(BaychainError) as err:
        T.sign(tx, ED25519.generate())
    assert err.value.code == Code.BAD_SIGNATURE


def test_oversize_transactions_are_rejected_before_parsing():
    with pytest.raises(BaychainError) as err:
        T.decode(b"\x00" * (T.MAX_TX_BYTES + 1))
    assert err.value.code == Code.TX_TOO_LARGE
    seed = bytes(range(32))
    big = T.build(chain_id="c", suite=1, signer=ED25519.public_key(seed), nonce=0, expiry_height=1,
                  contract="notary", method="notarize", args={"blob": b"x" * T.MAX_TX_BYTES})
    with pytest.raises(BaychainError) as err:
        T.sign(big, seed)
    assert err.value.code == Code.TX_TOO_LARGE


@pytest.mark.parametrize(
    "field, value",
    [("chain_id", ""), ("chain_id", "x" * 65), ("suite", 9), ("signer", b"short"), ("nonce", -1),
     ("nonce", 2**64), ("expiry_height", "1"), ("contract", "Points"), ("method", "_private"), ("args", [1])],
)
def test_bad_fields_are_rejected_with_a_code(field, value):
    seed = bytes(range(32))
    fields = dict(chain_id="c", suite=1, signer=ED25519.public_key(seed), nonce=0, expiry_height=1,
                  contract="points", method="transfer", args={})
    fields[field] = value
    with pytest.raises(BaychainError) as err:
        T.build(**fields)
    assert err.value.code in (Code.BAD_ARGUMENTS, Code.UNSUPPORTED_SUITE)


def test_wrong_version_and_shape_are_malformed():
    tx = T.decode(bytes.fromhex(VECTORS[0]["signed_tx"]))
    fields = encoding.decode(tx.body)
    for bad_body in (encoding.encode([2] + fields[1:]), encoding.encode(fields[:8]), encoding.encode({"a": 1})):
        with pytest.raises(BaychainError) as err:
            T.decode(encoding.encode([bad_body, tx.signature]))
        assert err.value.code == Code.MALFORMED_TX
    with pytest.raises(BaychainError) as err:
        T.decode(encoding.encode([tx.body, tx.signature[:10]]))
    assert err.value.code == Code.BAD_SIGNATURE


@settings(max_examples=300)
@given(st.data())
def test_mutated_transactions_never_crash_the_decoder(data):
    raw = bytearray(bytes.fromhex(data.draw(st.sampled_from(VECTORS))["signed_tx"]))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, len(raw)))
        if op == "flip" and pos < len(raw):
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos : pos + data.draw(st.integers(1, 8))]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        tx = T.decode(bytes(raw))
    except BaychainError as exc:
        assert isinstance(exc.code, Code)
    else:
        assert T.decode(tx.raw).hash == tx.hash


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(raw):
    with pytest.raises(BaychainError):
        T.decode(raw)


# -- the native strict decoding accepts exactly the transactions the cbor2-based code accepted -----


def reference_decode_tx(raw: bytes) -> T.Transaction:
    """transactions.decode as it was with encoding.decode = cbor2 decode + check_value + re-encode."""
    if len(raw) > T.MAX_TX_BYTES:
        raise BaychainError(Code.TX_TOO_LARGE, "too large")
    outer = reference_decode(raw)
    if type(outer) is not list or len(outer) != 2 or type(outer[0]) is not bytes or type(outer[1]) is not bytes:
        raise BaychainError(Code.MALFORMED_TX, "shape")
    body, signature = outer
    fields = reference_decode(body)
    if type(fields) is not list or len(fields) != 9:
        raise BaychainError(Code.MALFORMED_TX, "fields")
    if fields[0] != T.TX_VERSION or type(fields[0]) is not int:
        raise BaychainError(Code.MALFORMED_TX, "version")
    tx = T.Transaction(*fields[1:], signature=signature, body=body, raw=raw, hash=hashlib.sha256(raw).digest())
    T._check_fields(tx, Code.MALFORMED_TX)
    if len(signature) != 64:
        raise BaychainError(Code.BAD_SIGNATURE, "signature length")
    return tx


def tx_outcome(decode, raw: bytes) -> tuple:  # type: ignore[no-untyped-def]
    try:
        tx = decode(raw)
    except BaychainError as exc:
        return "rejected", exc.code
    return "ok", typed([tx.chain_id, tx.suite, tx.signer, tx.nonce, tx.expiry_height, tx.contract, tx.method,
                        tx.args, tx.signature, tx.body, tx.hash])


def mutate(data: st.DataObject, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "special", "cut", "insert"]))
        pos = data.draw(st.integers(0, len(out)))
        if op == "flip" and pos < len(out):
            out[pos] ^= data.draw(st.integers(1, 255))
        elif op == "special" and pos < len(out):
            out[pos] = data.draw(st.sampled_from(SPECIAL))
        elif op == "cut":
            del out[pos : pos + data.draw(st.integers(1, 4))]
        else:
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=3) | st.sampled_from([bytes([b]) for b in SPECIAL]))
    return bytes(out)


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_native_decoding_accepts_the_same_transactions_as_before(data):
    """Mutations of the whole signed bytes, and of the body alone re-wrapped (so they reach the fields)."""
    case = data.draw(st.sampled_from(VECTORS))
    raw = bytes.fromhex(case["signed_tx"])
    if data.draw(st.booleans()):
        raw = mutate(data, raw)
    else:
        tx = T.decode(raw)
        raw = encoding.encode([mutate(data, tx.body), tx.signature])
    assert tx_outcome(T.decode, raw) == tx_outcome(reference_decode_tx, raw)
