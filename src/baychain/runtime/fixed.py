"""Decimal: the contract language's fixed-point number (no floats anywhere).

A Decimal is an integer count of 10**-18 units, so every operation is integer
arithmetic and gives the same bits on every machine. Multiplication and division
truncate toward zero at the 18th decimal place (like integer division in most
ledgers, unlike Python's floor division for negatives). Magnitudes are bounded
(|x| < 10**38) so no computation grows without limit; overflow is an error.

Contracts write `Decimal("12.50")`, `Decimal(3)`, mix Decimals with ints in
arithmetic and comparisons, and turn them back with `str(d)` (canonical: no trailing
zeros, "0" for zero) or `int(d)` (truncation toward zero). Storage keeps a Decimal
as its canonical string, so a stored value reads the same in every language.
"""

from __future__ import annotations

from typing import Any

PLACES = 18
SCALE = 10**PLACES
LIMIT = 10**38 * SCALE  # exclusive bound on the unit count


class Decimal:
    """A fixed-point number with 18 decimal places."""

    __slots__ = ("_units",)

    def __init__(self, value: Any = 0) -> None:
        kind = type(value)
        if kind is Decimal:
            units = value._units
        elif kind is int or kind is bool:
            units = int(value) * SCALE
        elif kind is str:
            units = _parse(value)
        else:
            raise TypeError(f"Decimal() takes an int, a str or a Decimal, not {kind.__name__}")
        object.__setattr__(self, "_units", _bounded(units))

    @classmethod
    def _of(cls, units: int) -> Decimal:
        d = object.__new__(cls)
        object.__setattr__(d, "_units", _bounded(units))
        return d

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Decimal is immutable")

    def __str__(self) -> str:
        units = self._units
        sign = "-" if units < 0 else ""
        whole, frac = divmod(abs(units), SCALE)
        if not frac:
            return f"{sign}{whole}"
        return f"{sign}{whole}." + f"{frac:0{PLACES}d}".rstrip("0")

    __repr__ = __str__

    def __int__(self) -> int:
        units = self._units
        return units // SCALE if units >= 0 else -((-units) // SCALE)

    def __bool__(self) -> bool:
        return self._units != 0

    def __hash__(self) -> int:
        units = self._units
        return hash(units // SCALE) if units % SCALE == 0 else hash(("Decimal", units))

    # arithmetic: Decimal with Decimal or int, either side
    def __add__(self, other: Any) -> Decimal:
        return Decimal._of(self._units + _units_of(other))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Decimal:
        return Decimal._of(self._units - _units_of(other))

    def __rsub__(self, other: Any) -> Decimal:
        return Decimal._of(_units_of(other) - self._units)

    def __mul__(self, other: Any) -> Decimal:
        return Decimal._of(_truncdiv(self._units * _units_of(other), SCALE))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Decimal:
        divisor = _units_of(other)
        if divisor == 0:
            raise ZeroDivisionError("Decimal division by zero")
        return Decimal._of(_truncdiv(self._units * SCALE, divisor))

    def __rtruediv__(self, other: Any) -> Decimal:
        return Decimal._of(_units_of(other)).__truediv__(self)

    def __neg__(self) -> Decimal:
        return Decimal._of(-self._units)

    def __pos__(self) -> Decimal:
        return self

    def __abs__(self) -> Decimal:
        return Decimal._of(abs(self._units))

    # comparisons
    def __eq__(self, other: object) -> bool:
        if type(other) not in (Decimal, int, bool):
            return NotImplemented
        return self._units == _units_of(other)

    def __lt__(self, other: Any) -> bool:
        return self._units < _units_of(other)

    def __le__(self, other: Any) -> bool:
        return self._units <= _units_of(other)

    def __gt__(self, other: Any) -> bool:
        return self._units > _units_of(other)

    def __ge__(self, other: Any) -> bool:
        return self._units >= _units_of(other)


def _units_of(value: Any) -> int:
    kind = type(value)
    if kind is Decimal:
        return value._units
    if kind is int or kind is bool:
        return _bounded(int(value) * SCALE)
    raise TypeError(f"cannot combine a Decimal with a {kind.__name__}")


def _truncdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _bounded(units: int) -> int:
    if not -LIMIT < units < LIMIT:
        raise OverflowError("Decimal out of range (|x| < 10**38)")
    return units


def _parse(text: str) -> int:
    body = text[1:] if text[:1] == "-" else text
    whole, dot, frac = body.partition(".")
    if not whole.isdigit() or not whole.isascii() or (dot and not (frac.isdigit() and frac.isascii())) \
            or len(frac) > PLACES or len(whole) > 38:
        raise ValueError(f"not a decimal number with at most {PLACES} places: {text[:40]!r}")
    units = int(whole) * SCALE + (int(frac) * 10 ** (PLACES - len(frac)) if frac else 0)
    return -units if text[:1] == "-" else units
