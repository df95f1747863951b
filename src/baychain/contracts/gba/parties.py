"""Parties of a scenario: who the caller is, and a governed registry of what it may be.

A scenario contract recognises institutions, not keys. The caller's *party* is its
organisation when its key is bound to a certificate (the organisation name of the
binding, so every employee of a bank acts as that bank), and the account itself on a
chain without identity (a developer chain). What a party may do — issue vouchers as a
core enterprise, finance them as a bank, record payments, issue invoices — is a
*kind* the consortium grants through governance (`register_party`, a `@governed`
method of each contract), kept in that contract's own storage:

    party/<party>   {"party", "kinds": [sorted kinds], "tax_id"}
    parties         sorted list of registered party names
"""

from __future__ import annotations

from typing import Any

from baychain.contracts.context import Context
from baychain.errors import Code

MAX_PARTY_CHARS = 128


def party_of(ctx: Context) -> str:
    """The caller's party: its certified organisation, or its account on an open chain."""
    return ctx.organisation or ctx.sender


def entry(ctx: Context, party: str) -> dict[str, Any] | None:
    return ctx.get(f"party/{party}")


def has_kind(ctx: Context, party: str, kind: str) -> bool:
    record = entry(ctx, party)
    return record is not None and kind in record["kinds"]


def require_kind(ctx: Context, kind: str, label: str) -> str:
    """The caller's party, or PERMISSION_DENIED unless governance registered it as `kind`."""
    party = party_of(ctx)
    ctx.require(has_kind(ctx, party, kind), Code.PERMISSION_DENIED,
                f"{party} is not registered as {label} (the committee registers parties with register_party)")
    return party


def register(ctx: Context, party: str, kind: str, kinds: tuple[str, ...], tax_id: str = "") -> None:
    """Grant `kind` to `party` (idempotent); `tax_id`, when given, replaces the recorded one."""
    ctx.require(0 < len(party) <= MAX_PARTY_CHARS and party == party.strip(), Code.BAD_ARGUMENTS,
                f"party must be 1-{MAX_PARTY_CHARS} characters without surrounding spaces")
    ctx.require(kind in kinds, Code.BAD_ARGUMENTS, f"kind must be one of {', '.join(kinds)}")
    record = entry(ctx, party) or {"party": party, "kinds": [], "tax_id": ""}
    if kind not in record["kinds"]:
        record["kinds"] = sorted([*record["kinds"], kind])
    if tax_id:
        record["tax_id"] = tax_id
    ctx.put(f"party/{party}", record)
    names = ctx.get("parties", [])
    if party not in names:
        ctx.put("parties", sorted([*names, party]))
    ctx.emit("party_registered", party=party, kind=kind)


def unregister(ctx: Context, party: str, kind: str) -> None:
    """Withdraw `kind` from `party`; records it already made stay as they are."""
    record = entry(ctx, party)
    ctx.require(record is not None and kind in record["kinds"], Code.NOT_FOUND, f"{party} is not registered as {kind}")
    record["kinds"] = [k for k in record["kinds"] if k != kind]
    ctx.put(f"party/{party}", record)
    ctx.emit("party_unregistered", party=party, kind=kind)


def listing(ctx: Context) -> list[dict[str, Any]]:
    return [entry(ctx, name) for name in ctx.get("parties", [])]
