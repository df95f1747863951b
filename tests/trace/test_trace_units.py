"""Exact unit conversion: decimal strings in, decimal strings out, no floats."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from baychain.errors import BaychainError, Code
from baychain.trace import units


@pytest.mark.parametrize("value, src, dst, places, out", [
    ("39.2", "FAH", "CEL", 2, "4"), ("-40", "CEL", "FAH", 2, "-40"), ("0", "CEL", "KEL", 2, "273.15"),
    ("100", "FAH", "CEL", 2, "37.78"), ("100", "FAH", "CEL", 5, "37.77778"), ("1", "LBR", "KGM", 8, "0.45359237"),
    ("2.5", "KGM", "GRM", 0, "2500"), ("0.005", "CEL", "CEL", 2, "0.01"), ("-0.005", "CEL", "CEL", 2, "-0.01"),
    ("-0.004", "CEL", "CEL", 2, "0"),
])
def test_conversions_are_exact_and_rounded_half_away_from_zero(value, src, dst, places, out):
    assert units.convert(value, src, dst, places) == out


@given(st.integers(-10**9, 10**9), st.integers(0, 6))
def test_celsius_fahrenheit_round_trip_is_exact_at_enough_places(hundredths, places):
    value = units.format_decimal(Fraction(hundredths, 100), 2)
    there = units.convert(value, "CEL", "FAH", 12)
    assert units.parse_decimal(units.convert(there, "FAH", "CEL", 12)) == Fraction(hundredths, 100)


@pytest.mark.parametrize("value, src, dst", [("1", "CEL", "KGM"), ("1", "XYZ", "CEL"), ("1", "CEL", "")])
def test_impossible_conversions_are_refused(value, src, dst):
    with pytest.raises(BaychainError) as exc:
        units.convert(value, src, dst)
    assert exc.value.code == Code.UNIT_UNKNOWN


@pytest.mark.parametrize("value", ["1e3", "1.", ".5", "", "nan", "1,5", "--1"])
def test_only_plain_decimals_are_values(value):
    with pytest.raises(BaychainError):
        units.convert(value, "CEL", "FAH")
