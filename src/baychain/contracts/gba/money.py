"""Money in the GBA scenarios: integer minor units (fen, cents, avos) and a currency.

Never floats. The three currencies of the Bay Area's three jurisdictions are accepted;
an amount is a positive 63-bit integer of the currency's minor unit.
"""

from __future__ import annotations

from baychain.contracts.context import Context
from baychain.errors import Code

CURRENCIES = ("CNY", "HKD", "MOP")
MAX_AMOUNT = 2**63 - 1


def require_money(ctx: Context, amount: int, currency: str, what: str = "amount") -> None:
    ctx.require(currency in CURRENCIES, Code.BAD_ARGUMENTS, f"currency must be one of {', '.join(CURRENCIES)}")
    ctx.require(0 < amount <= MAX_AMOUNT, Code.BAD_ARGUMENTS, f"{what} must be a positive 63-bit integer of minor units")
