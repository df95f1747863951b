"""Native Ed25519 verification: RFC 8032 vectors, ZIP-215 edge cases, batches that agree with single checks."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import baychain_native as native
import nacl.bindings
import nacl.exceptions
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ed25519_reference as ref
from baychain.crypto.suites import ED25519

# RFC 8032 §7.1, TEST 1-3: (secret seed, public key, message, signature)
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

Item = tuple[bytes, bytes, bytes]


def honest(index: int, message: bytes) -> Item:
    key = nacl.signing.SigningKey(hashlib.sha256(b"key %d" % index).digest())
    return bytes(key.verify_key), message, key.sign(message).signature


def libsodium_verifies(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return False
    return True


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << bit % 8
    return bytes(out)


def both(items: list[Item]) -> list[bool]:
    """Single verdicts, after checking that the batch gives exactly the same ones."""
    single = [native.verify(*item) for item in items]
    assert native.verify_batch(items) == single
    return single


# -- RFC 8032 and honest signatures ----------------------------------------------------------


@pytest.mark.parametrize("seed, public_key, message, signature", RFC8032)
def test_rfc8032_vectors_verify(seed: str, public_key: str, message: str, signature: str) -> None:
    key = nacl.signing.SigningKey(bytes.fromhex(seed))
    assert bytes(key.verify_key).hex() == public_key  # the vector is what libsodium makes
    assert key.sign(bytes.fromhex(message)).signature.hex() == signature
    item = (bytes.fromhex(public_key), bytes.fromhex(message), bytes.fromhex(signature))
    assert both([item]) == [True]
    assert ED25519.verify(*item)


def test_honest_signatures_pass_single_and_batch() -> None:
    items = [honest(i, bytes(range(i % 256)) * (1 + i // 256)) for i in range(300)]  # messages 0..255+ bytes
    assert both(items) == [True] * 300
    assert ED25519.verify_many(items) == [True] * 300


def test_tampered_message_signature_or_key_fail() -> None:
    pk, msg, sig = honest(1, b"transfer 100 fen")
    other_pk = honest(2, b"")[0]
    tampered = [
        (pk, msg + b"!", sig),
        (pk, b"", sig),
        (pk, msg, flip(sig, 3)),  # R
        (pk, msg, flip(sig, 300)),  # S
        (flip(pk, 9), msg, sig),
        (other_pk, msg, sig),
        (pk, msg, bytes(64)),
    ]
    assert both(tampered) == [False] * len(tampered)


def test_wrong_lengths_are_invalid_and_wrong_types_are_errors() -> None:
    pk, msg, sig = honest(3, b"m")
    assert both([(pk[:31], msg, sig), (pk + b"\0", msg, sig), (pk, msg, sig[:63]), (pk, msg, sig + b"\0")]) == [False] * 4
    with pytest.raises(TypeError):
        native.verify(pk.hex(), msg, sig)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        native.verify_batch([(pk, msg.decode(), sig)])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        native.verify_batch([(pk, msg)])  # type: ignore[list-item]


def test_a_batch_marks_exactly_its_bad_items() -> None:
    n = 3 * native.BATCH_LEN + 5  # several batch equations (four of 17-20)
    items = [honest(i, b"pay %d" % i) for i in range(n)]
    bad = {0, native.BATCH_LEN - 1, native.BATCH_LEN, 2 * native.BATCH_LEN + 7, n - 1}
    for i in bad:
        pk, msg, sig = items[i]
        items[i] = (pk, msg, flip(sig, 100 + i))
    assert native.verify_batch(items) == [i not in bad for i in range(n)]


def test_same_signer_many_times_in_one_batch() -> None:
    key = nacl.signing.SigningKey(bytes(32))
    items = [(bytes(key.verify_key), b"%d" % i, key.sign(b"%d" % i).signature) for i in range(70)]
    items[40] = (items[40][0], b"forged", items[40][2])
    assert both(items) == [i != 40 for i in range(70)]


# -- ZIP-215 edge cases, each pinned against the reference and against libsodium -----------------


def test_small_order_keys_are_exactly_those_of_the_reference() -> None:
    listed = native.small_order_keys()
    assert len(listed) == len(set(listed)) == 14
    assert set(listed) == ref.small_order_encodings()
    assert bytes.fromhex("01" + "00" * 31) in listed  # the identity, canonically encoded


def test_small_order_key_is_refused_even_where_zip215_accepts() -> None:
    """R = identity, S = 0 satisfies the cofactored equation for every small-order key and
    every message: anyone can "sign" for such a key, so baychain refuses the key."""
    identity_r = bytes.fromhex("01" + "00" * 31)
    signature = identity_r + bytes(32)
    items = [(key, b"any message", signature) for key in native.small_order_keys()]
    assert all(ref.zip215_verify(*item) for item in items)
    assert both(items) == [False] * len(items)
    mixed = [honest(5, b"x"), *items[:3], honest(6, b"y")]
    assert both(mixed) == [True, False, False, False, True]


def test_non_canonical_s_is_rejected() -> None:
    pk, msg, sig = honest(7, b"S + l")
    s = int.from_bytes(sig[32:], "little")
    malleated = sig[:32] + (s + ref.L).to_bytes(32, "little")
    assert not ref.zip215_verify(pk, msg, malleated)
    assert not libsodium_verifies(pk, msg, malleated)
    assert both([(pk, msg, sig), (pk, msg, malleated)]) == [True, False]


def test_mixed_order_r_is_accepted_where_libsodium_refuses() -> None:
    """R = [r]B + T with T of order 8: [S]B - R - [k]A = -T, which the cofactor kills.
    libsodium checks without the cofactor and refuses; ZIP-215 (and so baychain) accepts.
    Only the key's owner can make such a signature (it needs the secret scalar)."""
    seed = hashlib.sha256(b"mixed").digest()
    pk = bytes(nacl.signing.SigningKey(seed).verify_key)
    r = 123456789
    torsion = ref.small_order_points()[1]
    signature = ref.sign_with_r(seed, b"msg", r, ref.add(ref.mul(r, ref.BASE), torsion))
    assert ref.zip215_verify(pk, b"msg", signature)
    assert not libsodium_verifies(pk, b"msg", signature)
    assert both([(pk, b"msg", signature), honest(8, b"z")]) == [True, True]
    assert not native.verify(pk, b"other", signature)


def test_non_canonical_r_encoding_is_accepted_where_libsodium_refuses() -> None:
    """R = the identity encoded as y = p + 1 (not canonical) and S = k·a: valid under
    ZIP-215, refused by libsodium (non-canonical and small-order R)."""
    seed = hashlib.sha256(b"noncanonical").digest()
    pk = bytes(nacl.signing.SigningKey(seed).verify_key)
    r_bytes = (ref.P + 1).to_bytes(32, "little")
    assert ref.decompress(r_bytes) is not None and ref.is_identity(ref.decompress(r_bytes))  # type: ignore[arg-type]
    signature = ref.sign_with_r(seed, b"msg", 0, ref.IDENTITY, r_bytes)
    assert ref.zip215_verify(pk, b"msg", signature)
    assert not libsodium_verifies(pk, b"msg", signature)
    assert both([(pk, b"msg", signature)]) == [True]


def test_key_that_is_not_a_point_is_invalid() -> None:
    not_a_point = next(bytes([y]) + bytes(31) for y in range(2, 50) if ref.decompress(bytes([y]) + bytes(31)) is None)
    _, msg, sig = honest(9, b"q")
    assert both([(not_a_point, msg, sig)]) == [False]


# -- batching never changes a verdict -----------------------------------------------------------

EDGE = [
    (key, b"any message", bytes.fromhex("01" + "00" * 31) + bytes(32)) for key in native.small_order_keys()[:4]
]


@st.composite
def mixed_items(draw: st.DrawFn) -> tuple[list[Item], list[bool]]:
    n = draw(st.integers(0, 4 * native.BATCH_LEN + 3))  # several equations of balanced sizes
    items: list[Item] = []
    expected: list[bool] = []
    for i in range(n):
        pk, msg, sig = honest(draw(st.integers(0, 40)), draw(st.binary(max_size=40)))
        kind = draw(st.sampled_from(["valid", "valid", "valid", "message", "signature", "key", "edge", "short"]))
        if kind == "message":
            msg += b"\x01"
        elif kind == "signature":
            sig = flip(sig, draw(st.integers(0, 511)))
        elif kind == "key":
            pk = flip(pk, draw(st.integers(0, 255)))
        elif kind == "edge":
            pk, msg, sig = draw(st.sampled_from(EDGE))
        elif kind == "short":
            sig = sig[: draw(st.integers(0, 63))]
        items.append((pk, msg, sig))
        expected.append(kind == "valid")
    return items, expected


@settings(max_examples=60, deadline=None)
@given(mixed_items())
def test_batch_and_single_verdicts_agree(case: tuple[list[Item], list[bool]]) -> None:
    items, expected = case
    # A flipped key bit may still give a valid point, but never one this signature fits.
    assert both(items) == expected


# -- the build ------------------------------------------------------------------------------------


def test_vector_backend_is_used_where_the_cpu_has_it() -> None:
    """curve25519-dalek picks AVX-512 IFMA or AVX2 at run time; a serial build would be ~2x slower."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    if platform.machine() != "x86_64" or "avx2" not in flags:
        assert native.backend() == "serial"
    elif "avx512ifma" in flags and "avx512vl" in flags:
        assert native.backend() == "avx512ifma"
    else:
        assert native.backend() == "avx2"
