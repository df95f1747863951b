"""Regulator alerts on chain: every alert any contract raised, in order, provable.

A contract raises an alert with `ctx.alert(kind, ...)` when something a regulator must
see happens: an attempt to finance a voucher twice, to reimburse an invoice twice, a
blacklisted party trying to act. The application records each alert here, in the same
block, even when the transaction that raised it failed (the refusal is the point), so
the regulator reads one numbered, Merkle-proven log instead of trusting a node's logs.
The same alerts appear as `<contract>.alert` events in the transaction's receipt and
on the API's `/v1/regulator/alerts` stream.

A block raises alerts of its own: evidence of a validator's misbehaviour that it
commits (`network.misbehavior_alerts`). They come first in the block's alerts, with
`tx` empty and `signer` "", and appear as the block's events (`/v1/blocks/<height>`,
`block_event` on the event stream).

Storage (state keys `c/audit/<key>`):

    count              the number of alerts recorded
    alert/<seq:012d>   {"seq", "kind", "contract", "attributes" {name: value}, "height",
                        "time_ns", "tx", "signer", "failed"}
"""

from __future__ import annotations

from typing import Any, Callable

import cbor2

from baychain import encoding
from baychain.app.types import Event
from baychain.contracts.base import Contract, view
from baychain.contracts.context import Context, contract_key
from baychain.errors import Code

NAME = "audit"
MAX_PAGE = 500

_COUNT = contract_key(NAME, "count")
Reader = Callable[[bytes], "bytes | None"]


def _alert_key(seq: int) -> str:
    return f"alert/{seq:012d}"


class Audit(Contract):
    """The regulator's alert log: read-only to everyone; the application appends to it."""

    name = NAME

    @view
    def alerts(self, ctx: Context, start: int = 0, limit: int = 100, kind: str = "") -> Any:
        """Alerts from sequence number `start` on (oldest first), optionally of one kind."""
        ctx.require(0 < limit <= MAX_PAGE and start >= 0, Code.BAD_ARGUMENTS, f"limit: 1-{MAX_PAGE}; start >= 0")
        count = ctx.get("count", 0)
        out = []
        seq = start
        while seq < count and len(out) < limit:
            alert = ctx.get(_alert_key(seq))
            if not kind or alert["kind"] == kind:
                out.append(alert)
            seq += 1
        return {"alerts": out, "next": seq, "count": count}

    @view
    def alert(self, ctx: Context, seq: int) -> Any:
        """One alert by its sequence number."""
        alert = ctx.get(_alert_key(seq)) if seq >= 0 else None
        ctx.require(alert is not None, Code.NOT_FOUND, f"no alert number {seq}")
        return alert


def record(overlay: dict[bytes, bytes | None], read: Reader, alerts: list[Event], *, height: int, time_ns: int,
           tx_hash: bytes, signer: str, failed: bool) -> None:
    """Append a transaction's alerts to the log (called by the application, in finalize_block)."""
    raw = read(_COUNT)
    count = cbor2.loads(raw) if raw is not None else 0
    for event in alerts:
        attrs = dict(event.attributes)
        overlay[contract_key(NAME, _alert_key(count))] = encoding.encode({
            "seq": count, "kind": attrs.pop("kind", ""), "contract": event.type.removesuffix(".alert"),
            "attributes": attrs, "height": height, "time_ns": time_ns, "tx": tx_hash, "signer": signer,
            "failed": failed})
        count += 1
    overlay[_COUNT] = encoding.encode(count)
