"""Canonical encoding: pinned vectors, strict rejection, and fuzzing."""

from __future__ import annotations

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
