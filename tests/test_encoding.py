"""Canonical encoding: pinned vectors, strict rejection, and fuzzing."""

from __future__ import annotations

import collections
import enum
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baychain import encoding
from baychain.errors import BaychainError, Code
from support import load_vectors, untag

VECTORS = load_vectors("encoding.json")


@pytest.mark.parametrize("case", VECTORS["canonical"], ids=lambda c: c["hex"][:16])
def test_encoding_matches_pinned_vector(case):
    value = untag(case["value"])
    assert encoding.encode(value).hex() == case["hex"]
    assert encoding.decode(bytes.fromhex(case["hex"])) == value


@pytest.mark.parametrize("case", VECTORS["rejected"], ids=lambda c: c["why"])
def test_non_canonical_input_is_rejected(case):
    with pytest.raises(BaychainError) as err:
        encoding.decode(bytes.fromhex(case["hex"]))
    assert err.value.code == Code.MALFORMED_TX


@pytest.mark.parametrize("bad", [1.5, {1, 2}, (1, 2), {1: "int key"}, 2**64, -(2**64) - 1, object()])
def test_values_outside_the_model_cannot_be_encoded(bad):
    with pytest.raises(BaychainError) as err:
        encoding.encode(bad)
    assert err.value.code == Code.BAD_ARGUMENTS


def test_nesting_is_bounded():
    deep: list = []
    for _ in range(encoding.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(BaychainError):
        encoding.encode(deep)


values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64 - 1) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_every_value_roundtrips_to_one_encoding(value):
    data = encoding.encode(value)
    assert typed(encoding.decode(data)) == typed(cbor2.loads(data))
    assert encoding.decode(data) == value
    assert encoding.encode(encoding.decode(data)) == data


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_decoding_random_bytes_only_raises_typed_errors(data):
    try:
        value = encoding.decode(data)
    except BaychainError as exc:
        assert exc.code == Code.MALFORMED_TX
    else:
        assert encoding.encode(value) == data


# -- the native canonical check accepts exactly what decode-and-re-encode accepted ---------------


def reference_decode(data: bytes) -> Any:
    """The previous implementation of encoding.decode: decode, check the value, re-encode, compare."""
    try:
        value = cbor2.loads(data)
    except Exception:
        raise BaychainError(Code.MALFORMED_TX, "not valid CBOR") from None
    encoding.check_value(value, Code.MALFORMED_TX)
    if cbor2.dumps(value, canonical=True) != data:
        raise BaychainError(Code.MALFORMED_TX, "encoding is not canonical (or has trailing bytes)")
    return value


def typed(value: Any) -> Any:
    """The value with every part tagged by its exact type (True == 1 in Python, but not here),
    dict entries in their order."""
    if type(value) is list:
        return ("list", [typed(v) for v in value])
    if type(value) is dict:
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def outcome(decode: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", typed(decode(data))
    except BaychainError as exc:
        return "rejected", exc.code


def nested(depth: int, leaf: Any, kind: str) -> Any:
    for _ in range(depth):
        leaf = [leaf] if kind == "list" else {"k": leaf}
    return leaf


deep_values = st.builds(nested, st.integers(encoding.MAX_DEPTH - 2, encoding.MAX_DEPTH + 2),
                        st.sampled_from([0, [], {}, "x", None]), st.sampled_from(["list", "map"]))
# Bytes that matter to CBOR's structure: every additional-information boundary, tags,
# floats, simple values, breaks and indefinite lengths.
SPECIAL = [0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x38, 0x40, 0x58, 0x5f, 0x60, 0x61, 0x78, 0x7f,
           0x80, 0x81, 0x98, 0x9f, 0xa0, 0xa1, 0xb8, 0xbf, 0xc0, 0xc2, 0xd8, 0xe0, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
           0xf9, 0xfa, 0xfb, 0xff, 0xed, 0xc3]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(cbor2.dumps(draw(values | deep_values), canonical=True))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["set", "special", "insert", "delete", "truncate", "append", "swap"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "special" and data:
            data[at] = draw(st.sampled_from(SPECIAL))
        elif action == "insert":
            data[at:at] = bytes([draw(st.sampled_from(SPECIAL) | st.integers(0, 255))])
        elif action == "delete" and data:
            del data[at]
        elif action == "truncate":
            del data[at:]
        elif action == "append":
            data += draw(st.binary(min_size=1, max_size=3))
        elif action == "swap" and len(data) > 1:
            other = draw(st.integers(0, len(data) - 1))
            data[at], data[other] = data[other], data[at]
    return bytes(data)


@settings(max_examples=3000, deadline=None)
@given(mutated())
def test_native_check_accepts_exactly_what_re_encoding_accepted(data):
    assert outcome(encoding.decode, data) == outcome(reference_decode, data)


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.integers(0, 3), min_size=2, max_size=5), st.randoms(use_true_random=False))
def test_map_key_order_and_duplicates_as_before(mapping, rnd):
    """Entries in every order, and with one entry repeated: only the canonical order passes."""
    head = bytes([0xa0 + len(mapping) + 1])
    entries = [encoding.encode(k) + encoding.encode(v) for k, v in mapping.items()]
    entries.append(entries[0])  # a duplicate key
    rnd.shuffle(entries)
    data = head + b"".join(entries)
    assert outcome(encoding.decode, data) == outcome(reference_decode, data) == ("rejected", Code.MALFORMED_TX)
    ordered = encoding.encode(mapping)
    shuffled = ordered[:1] + b"".join(rnd.sample([encoding.encode(k) + encoding.encode(v) for k, v in mapping.items()], len(mapping)))
    assert outcome(encoding.decode, shuffled) == outcome(reference_decode, shuffled)


def test_depth_limit_is_where_it_was():
    for depth in range(encoding.MAX_DEPTH - 1, encoding.MAX_DEPTH + 3):
        for leaf in (1, []):
            for kind in ("list", "map"):
                data = cbor2.dumps(nested(depth, leaf, kind), canonical=True)
                assert outcome(encoding.decode, data) == outcome(reference_decode, data)
    assert outcome(encoding.decode, cbor2.dumps(nested(encoding.MAX_DEPTH, 1, "list"), canonical=True))[0] == "ok"
    assert outcome(encoding.decode, cbor2.dumps(nested(encoding.MAX_DEPTH + 1, 1, "list"), canonical=True))[0] == "rejected"


@pytest.mark.parametrize("data", [bytearray(b"\x82\x01\x02"), memoryview(b"\x82\x01\x02")])
def test_buffers_decode_like_bytes(data):
    assert encoding.decode(data) == [1, 2]


@pytest.mark.parametrize("data", ["82", [0], 5, None])
def test_non_buffers_are_rejected(data):
    with pytest.raises(BaychainError) as err:
        encoding.decode(data)
    assert err.value.code == Code.MALFORMED_TX


# -- the native encoder writes what check_value + cbor2 wrote, and refuses what they refused -----


def reference_encode(value: Any) -> bytes:
    """The previous implementation of encoding.encode."""
    encoding.check_value(value)
    return cbor2.dumps(value, canonical=True)


def encode_outcome(encode: Any, value: Any) -> tuple:
    try:
        return "ok", encode(value)
    except BaychainError as exc:
        return "rejected", exc.code, exc.message
    except Exception as exc:  # what cbor2 raised past check_value (text with lone surrogates)
        return "error", type(exc)


class Flag(enum.IntEnum):
    ON = 1


class Text(str):
    pass


odd_scalars = (st.floats(allow_nan=False) | st.sampled_from([Flag.ON, Text("t"), (1, 2), frozenset(), object, 1j])
               | st.integers() | st.text(alphabet=st.characters(min_codepoint=0xd7f0, max_codepoint=0xe010), max_size=2))
odd_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.text(max_size=5) | st.binary(max_size=5) | odd_scalars,
    lambda inner: (st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
                   | st.dictionaries(st.sampled_from([1, b"k", True, None, Text("k"), "k", "kk"]), inner, max_size=3)
                   | st.builds(collections.OrderedDict, st.dictionaries(st.text(max_size=3), inner, max_size=2))),
    max_leaves=12,
)


@settings(max_examples=3000, deadline=None)
@given(odd_values | values | deep_values)
def test_native_encoder_matches_check_value_and_cbor2(value):
    assert encode_outcome(encoding.encode, value) == encode_outcome(reference_encode, value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=30), st.integers(0, 2**32), max_size=30))
def test_map_keys_are_written_in_canonical_order(mapping):
    assert encoding.encode(mapping) == cbor2.dumps(mapping, canonical=True)
