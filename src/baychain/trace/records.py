"""How the trace contract lays out its storage, and how anyone reads it back.

Every read of traceability data — the contract's views, the API's consumer
verification and the SDK's check of its proofs — goes through the functions here
with a `Reader` (a storage key → decoded value or None). The contract passes its
`ctx.get`; the API passes a reader that also records which keys were read, so it can
prove each of them; the verifier passes a reader that answers only from proven
entries. Because all three run the same code, a verifier that replays a walk over
the proven entries reaches exactly the entries the node had to prove: an omitted
event shows up as a missing proof, not as a shorter history.

Storage (state keys `c/trace/<key>`):

    ev/<digest hex>                 the captured event record (see `event_record`)
    err/<digest hex>                its error declaration, if it was retracted
    ix/<kind>/<sha256(value) hex>   an index head: {"value", "n", "tail": [digest hex...]}
    ix/<kind>/<...>/<k>             full chunks of CHUNK older entries, k = 0, 1, ...
    count                           the number of events captured

Index kinds: `id` (every EPC, parent, epcClass an event names, and the lot an
ObjectEvent commissions items into), `step` (bizStep URI), `day` (UTC date of the
eventTime, YYYY-MM-DD). Entries are in capture order.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

Reader = Callable[[str], Any]
Writer = Callable[[str, Any], None]

CHUNK = 32
INDEX_KINDS = ("id", "step", "day")


def event_key(digest_hex: str) -> str:
    return f"ev/{digest_hex}"


def retraction_key(digest_hex: str) -> str:
    return f"err/{digest_hex}"


def index_key(kind: str, value: str) -> str:
    return f"ix/{kind}/{hashlib.sha256(value.encode()).hexdigest()}"


def append(read: Reader, write: Writer, kind: str, value: str, digest_hex: str) -> None:
    """Add an event to an index: one write, two when the head's tail fills a chunk."""
    key = index_key(kind, value)
    head = read(key) or {"value": value, "n": 0, "tail": []}
    tail = head["tail"] + [digest_hex]
    if len(tail) == CHUNK:
        write(f"{key}/{head['n'] // CHUNK}", tail)
        tail = []
    write(key, {"value": value, "n": head["n"] + 1, "tail": tail})


def entries(read: Reader, kind: str, value: str) -> list[str]:
    """Every event digest (hex) of an index, oldest first."""
    key = index_key(kind, value)
    head = read(key)
    if head is None:
        return []
    out: list[str] = []
    for chunk in range(head["n"] // CHUNK):
        out.extend(read(f"{key}/{chunk}") or [])
    return out + list(head["tail"])


def event(read: Reader, digest_hex: str) -> dict[str, Any] | None:
    """An event record with its retraction (None if not captured)."""
    record = read(event_key(digest_hex))
    if record is None:
        return None
    retraction = read(retraction_key(digest_hex))
    return {**record, "retracted": retraction is not None, "retraction": retraction}


def events_of(read: Reader, kind: str, value: str, *, include_retracted: bool = False) -> list[dict[str, Any]]:
    """The records of an index, ordered by eventTime (then capture order)."""
    records = []
    for digest_hex in entries(read, kind, value):
        record = event(read, digest_hex)
        if record is not None and (include_retracted or not record["retracted"]):
            records.append(record)
    return sorted(records, key=lambda r: (r["event"]["eventTime"], r["seq"]))
