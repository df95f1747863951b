"""Test vectors for what the runtime hashes or stores: code hashes, Decimal text, map keys."""

from __future__ import annotations

import pytest

from baychain import encoding
from baychain.runtime.deployed import code_hash
from baychain.runtime.fixed import Decimal
from baychain.runtime.storage import key_text


def test_code_hash_is_sha256_of_the_utf8_source():
    assert code_hash("").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert code_hash("x = '粤港澳'\n").hex() == "03c0b8ad4f2d2865de34a3a6931e5a55ad6c58d4f2a35dac373d9347a6444a94"


@pytest.mark.parametrize("text, canonical", [
    ("0", "0"), ("-0.000", "0"), ("1.50", "1.5"), ("-12.345000", "-12.345"),
    ("0.000000000000000001", "0.000000000000000001"), ("99999999999999999999999999999999999999", "99999999999999999999999999999999999999"),
])
def test_decimal_text_is_canonical(text, canonical):
    assert str(Decimal(text)) == canonical
    assert encoding.encode(str(Decimal(text))) == encoding.encode(canonical)


def test_decimal_arithmetic_truncates_toward_zero():
    assert str(Decimal(1) / 3) == "0.333333333333333333"
    assert str(Decimal(-1) / 3) == "-0.333333333333333333"
    assert str(Decimal("0.000000000000000001") * Decimal("0.5")) == "0"
    assert int(Decimal("-2.9")) == -2
    for bad in ("1e5", "1.0000000000000000001", " 1", "+1", "1.", "", "٣"):
        with pytest.raises(ValueError):
            Decimal(bad)
    with pytest.raises(OverflowError):
        Decimal(10**38)


def test_map_keys_render_as_state_key_text():
    assert key_text("bc1abc") == "bc1abc"
    assert key_text(("GBA", "bc1abc")) == "GBA/bc1abc"
    assert key_text((7, b"\x00\xff")) == "7/00ff"
    for bad in ("a/b", (), (1.5,), (True,), (("nested",),)):
        with pytest.raises((ValueError, TypeError)):
            key_text(bad)


from hypothesis import given, settings, strategies as st  # noqa: E402

_units = st.integers(min_value=-(10**30), max_value=10**30)


def _reference(units: int):
    """The exact value of `units` 10**-18 units (scaleb rounds to the context's precision: use 200 digits)."""
    import decimal

    return decimal.Decimal(units).scaleb(-18, context=decimal.Context(prec=200))


@settings(max_examples=300, deadline=None)
@given(_units, _units)
def test_decimal_agrees_with_exact_arithmetic_truncated_toward_zero(a, b):
    import decimal

    exact = decimal.Context(prec=200, rounding=decimal.ROUND_DOWN)
    quantum = decimal.Decimal(1).scaleb(-18)

    def ours(value: decimal.Decimal) -> Decimal:  # the exact value cut to 18 places, toward zero
        return Decimal(format(value.quantize(quantum, rounding=decimal.ROUND_DOWN, context=exact), "f"))

    ra, rb = _reference(a), _reference(b)
    x, y = ours(ra), ours(rb)
    assert x + y == ours(exact.add(ra, rb)) and x - y == ours(exact.subtract(ra, rb))
    assert (x < y) == (a < b) and (x == y) == (a == b)
    product = exact.multiply(ra, rb)
    if abs(product) < 10**38:
        assert x * y == ours(product)
    if b:
        quotient = exact.divide(ra, rb)
        if abs(quotient) < 10**38:
            assert x / y == ours(quotient)
