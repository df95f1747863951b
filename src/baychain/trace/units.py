"""Exact unit conversion for sensor readings (UN/ECE Recommendation 20 unit codes).

A cold-chain reading captured as 39.2 FAH and asked for in CEL must come out as
exactly 4 — never as 3.9999999999999996. Values are decimal strings, converted with
exact rational arithmetic (`fractions.Fraction`) and rounded once, at the end, half
away from zero to the requested number of decimals; trailing zeros are dropped.
No float is ever involved, so every node and every client computes the same digits.

Each unit maps to a dimension and the affine map to that dimension's base unit:
`base = value × factor + offset` (temperature: degrees Celsius; mass: kilograms;
length: metres).
"""

from __future__ import annotations

from fractions import Fraction

from baychain.errors import BaychainError, Code

MAX_PLACES = 12

UNITS: dict[str, tuple[str, Fraction, Fraction]] = {
    "CEL": ("temperature", Fraction(1), Fraction(0)),
    "KEL": ("temperature", Fraction(1), Fraction(-27315, 100)),
    "FAH": ("temperature", Fraction(5, 9), Fraction(-160, 9)),  # (F - 32) × 5/9
    "KGM": ("mass", Fraction(1), Fraction(0)),
    "GRM": ("mass", Fraction(1, 1000), Fraction(0)),
    "TNE": ("mass", Fraction(1000), Fraction(0)),
    "LBR": ("mass", Fraction(45359237, 100000000), Fraction(0)),
    "ONZ": ("mass", Fraction(28349523125, 10**12), Fraction(0)),
    "MTR": ("length", Fraction(1), Fraction(0)),
    "CMT": ("length", Fraction(1, 100), Fraction(0)),
    "MMT": ("length", Fraction(1, 1000), Fraction(0)),
}


def parse_decimal(text: str) -> Fraction:
    """A decimal string (as EPCIS stores numbers) as an exact fraction."""
    if type(text) is not str or not text or len(text) > 64:
        raise BaychainError(Code.BAD_ARGUMENTS, f"{text!r} is not a decimal number")
    body = text[1:] if text[0] == "-" else text
    whole, dot, frac = body.partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()) or not whole.isascii() or not frac.isascii():
        raise BaychainError(Code.BAD_ARGUMENTS, f"{text!r} is not a decimal number")
    value = Fraction(int(whole + frac), 10 ** len(frac))
    return -value if text[0] == "-" else value


def format_decimal(value: Fraction, places: int) -> str:
    """Round half away from zero to `places` decimals; no trailing zeros."""
    if not 0 <= places <= MAX_PLACES:
        raise BaychainError(Code.BAD_ARGUMENTS, f"places must be 0-{MAX_PLACES}")
    scaled = abs(value) * 10**places
    units = int(scaled + Fraction(1, 2))  # floor(x + 1/2): half away from zero
    digits = str(units).rjust(places + 1, "0")
    text = digits[:-places] + "." + digits[-places:] if places else digits
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "-" + text if value < 0 and text != "0" else text


def convert(value: str, from_unit: str, to_unit: str, places: int = 2) -> str:
    """`value` in `from_unit` expressed in `to_unit`, exactly, rounded to `places` decimals."""
    if from_unit not in UNITS or to_unit not in UNITS:
        unknown = from_unit if from_unit not in UNITS else to_unit
        raise BaychainError(Code.UNIT_UNKNOWN, f"unknown unit {unknown!r}; known: {', '.join(sorted(UNITS))}")
    dim_from, factor_from, offset_from = UNITS[from_unit]
    dim_to, factor_to, offset_to = UNITS[to_unit]
    if dim_from != dim_to:
        raise BaychainError(Code.UNIT_UNKNOWN, f"cannot convert {dim_from} ({from_unit}) to {dim_to} ({to_unit})")
    base = parse_decimal(value) * factor_from + offset_from
    return format_decimal((base - offset_to) / factor_to, places)
