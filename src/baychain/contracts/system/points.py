"""Points ledger: loyalty-style points in integer units, issued by a programme's owner.

Conservation holds at all times: a programme's supply equals the sum of its balances.
Amounts are positive integers; balances never go negative.
"""

from __future__ import annotations

import re
from typing import Any

from baychain.contracts.base import Contract, view
from baychain.contracts.context import Context
from baychain.crypto.suites import is_address
from baychain.errors import BaychainError, Code

MAX_AMOUNT = 2**63 - 1
_SYMBOL = re.compile(r"[A-Z][A-Z0-9]{1,15}\Z")


class Points(Contract):
    """Create points programmes; issue, transfer and query balances."""

    name = "points"

    def create(self, ctx: Context, symbol: str, title: str) -> None:
        """Create a programme; the sender becomes its issuer."""
        ctx.require(bool(_SYMBOL.match(symbol)), Code.BAD_ARGUMENTS, "symbol must be 2-16 characters A-Z 0-9, starting with a letter")
        ctx.require(not ctx.has(f"prog/{symbol}"), Code.ALREADY_EXISTS, f"programme {symbol} exists")
        ctx.put(f"prog/{symbol}", {"symbol": symbol, "title": title, "issuer": ctx.sender, "supply": 0})
        ctx.emit("created", symbol=symbol, issuer=ctx.sender)

    def issue(self, ctx: Context, symbol: str, to: str, amount: int) -> None:
        """Issue new points to an account (issuer only)."""
        prog = _programme(ctx, symbol)
        ctx.require(prog["issuer"] == ctx.sender, Code.NOT_AUTHORIZED, f"only the issuer of {symbol} may issue")
        _check_transfer(ctx, to, amount)
        ctx.require(prog["supply"] + amount <= MAX_AMOUNT, Code.LIMIT_EXCEEDED, "supply would overflow")
        prog["supply"] += amount
        ctx.put(f"prog/{symbol}", prog)
        ctx.put(f"bal/{symbol}/{to}", ctx.get(f"bal/{symbol}/{to}", 0) + amount)
        ctx.emit("issued", symbol=symbol, to=to, amount=amount)

    def transfer(self, ctx: Context, symbol: str, to: str, amount: int) -> None:
        """Move points from the sender to another account."""
        if not ctx.has(f"prog/{symbol}"):
            raise BaychainError(Code.NOT_FOUND, f"programme {symbol} does not exist")
        _check_transfer(ctx, to, amount)
        src = f"bal/{symbol}/{ctx.sender}"
        balance = ctx.get(src, 0)
        if balance < amount:
            raise BaychainError(Code.INSUFFICIENT_BALANCE, f"balance {balance} is less than {amount}")
        if balance == amount:
            ctx.delete(src)
        else:
            ctx.put(src, balance - amount)
        dst = f"bal/{symbol}/{to}"
        ctx.put(dst, ctx.get(dst, 0) + amount)
        ctx.emit("transferred", symbol=symbol, sender=ctx.sender, to=to, amount=amount)

    @view
    def balance(self, ctx: Context, symbol: str, account: str) -> Any:
        """An account's balance (0 if it holds none)."""
        return ctx.get(f"bal/{symbol}/{account}", 0)

    @view
    def info(self, ctx: Context, symbol: str) -> Any:
        """A programme's title, issuer and supply."""
        return _programme(ctx, symbol)


def _programme(ctx: Context, symbol: str) -> dict[str, Any]:
    prog = ctx.get(f"prog/{symbol}")
    ctx.require(prog is not None, Code.NOT_FOUND, f"programme {symbol} does not exist")
    return prog


def _check_transfer(ctx: Context, to: str, amount: int) -> None:
    if not is_address(to):  # (messages built only on failure: this runs for every transfer)
        raise BaychainError(Code.BAD_ARGUMENTS, f"{to!r} is not an account address")
    ctx.require(0 < amount <= MAX_AMOUNT, Code.BAD_ARGUMENTS, "amount must be a positive 63-bit integer")

