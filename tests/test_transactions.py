"""Transactions: pinned wire format, signatures, field rules and decoder fuzzing."""

from __future__ import annotations

import hashlib

import cbor2
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


# -- the one-expression field check of decode names the same first broken rule as _check_fields ---


def checked_field_by_field(raw: bytes) -> T.Transaction:
    """transactions.decode as it was before its one-expression fast path: every field
    through `_check_fields`, the address, then the signature's length."""
    body, signature = encoding.decode(raw)
    fields = encoding.decode(body)
    if fields[0] != T.TX_VERSION or type(fields[0]) is not int:
        raise BaychainError(Code.MALFORMED_TX, f"unknown transaction version {fields[0]!r}")
    tx = T.Transaction(*fields[1:], signature=signature, body=body, raw=raw, hash=hashlib.sha256(raw).digest())
    T._check_fields(tx, Code.MALFORMED_TX)
    tx.sender = T.address_of(tx.suite, tx.signer)
    if len(signature) != ED25519.signature_len:
        raise BaychainError(Code.BAD_SIGNATURE, f"ed25519 signatures are {ED25519.signature_len} bytes")
    return tx


def outcome_in_full(decode, raw: bytes) -> tuple:  # type: ignore[no-untyped-def]
    try:
        tx = decode(raw)
    except BaychainError as exc:
        return "rejected", exc.code, exc.message
    return "ok", typed([tx.chain_id, tx.suite, tx.signer, tx.nonce, tx.expiry_height, tx.contract, tx.method,
                        tx.args, tx.signature, tx.body, tx.raw, tx.hash, tx.sender])


VALID_FIELDS = {"chain_id": "bench", "suite": 1, "signer": bytes(range(32)), "nonce": 0, "expiry_height": 10,
                "contract": "notary", "method": "notarize", "args": {"digest": b"\x00" * 32}}
NAMES = st.sampled_from(["a", "x" * 64, "a_1", "x" * 65, "Points", "_p", "a-b", "1a", "a\n", "", 1, None, b"notary"])
INTS = st.sampled_from([0, 1, 2**64 - 1, 2**64, -1, True, False, "1", None]) | st.integers(-(2**63), 2**65)
OTHER_VALUES = {
    "chain_id": st.sampled_from(["c", "x" * 64, "x" * 65, "", 1, b"c", None]),
    "suite": st.sampled_from([2, 0, 255, True, "1", None, -1]),
    "signer": st.sampled_from([31, 33, 0, 64]).map(lambda n: bytes(range(n))) | st.sampled_from(["k" * 32, 32, None]),
    "nonce": INTS,
    "expiry_height": INTS,
    "contract": NAMES,
    "method": NAMES,
    "args": st.sampled_from([{}, [], None, "args", b"", {"n": [1, {"k": b""}]}]),
}


@settings(max_examples=2000, deadline=None)
@given(st.data())
def test_decode_names_the_same_first_broken_field_rule_as_checking_field_by_field(data):
    """Up to three fields changed, each to another valid value or broken in one of its
    ways, and signatures of right and wrong length: the same transaction (sender
    included), or the same code and sentence."""
    fields = dict(VALID_FIELDS)
    for name in data.draw(st.lists(st.sampled_from(sorted(OTHER_VALUES)), max_size=3, unique=True)):
        fields[name] = data.draw(OTHER_VALUES[name], label=name)
    body = cbor2.dumps([T.TX_VERSION, *fields.values()], canonical=True)  # ints past encode's range too
    signature = bytes(data.draw(st.sampled_from([64, 63, 65, 0])))
    raw = encoding.encode([body, signature])
    assert outcome_in_full(T.decode, raw) == outcome_in_full(checked_field_by_field, raw)


def test_decode_remembers_only_names_that_match():
    T._names.clear()
    for name in ("notary", "Notary", "x" * 65, "notarize"):
        T._is_name(name)
    assert list(T._names) == ["notary", "notarize"]
