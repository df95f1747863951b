"""Tracing through the event graph: where a thing came from, where it went, where it is.

Events link the objects they name. Three kinds of link carry a product downstream:

* aggregation — an AggregationEvent ADD (or OBSERVE) puts each child into the parent
  (cases onto a pallet): child → parent;
* transformation — a TransformationEvent turns every input into every output
  (oranges into juice): input → output;
* lot — an ObjectEvent ADD whose ILMD sets a lotNumber commissions its items into that
  lot: lot → item.

`trace` walks these links forward (downstream) or backward (upstream) from any
identifier, breadth first, skipping retracted events. `recall` walks forward from a
lot and reports, for every object reached, its last known location: the business
location (else read point) of the latest event naming it, or of the container it was
last packed into if that container was seen later. Everything is derived from the
events at read time, so an error declaration or an event captured late changes the
answer at once and no derived state can drift.
"""

from __future__ import annotations

from typing import Any

from baychain.trace import digital_link, epcis, records, vocabulary
from baychain.trace.records import Reader

MAX_NODES = 500
MAX_CONTAINER_DEPTH = 8
FORWARD, BACKWARD = "forward", "backward"


def lot_id(gtin: str, lot: str) -> str:
    """The canonical identifier of a lot: its Digital Link on id.gs1.org."""
    return digital_link.lot_link(gtin, lot)


def links(event: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The (from, to, kind) links an event creates, downstream direction."""
    kind = event["type"]
    out: list[tuple[str, str, str]] = []
    if kind == "AggregationEvent" and event.get("action") in ("ADD", "OBSERVE") and "parentID" in event:
        children = event.get("childEPCs", []) + [q["epcClass"] for q in event.get("childQuantityList", [])]
        out.extend((child, event["parentID"], "aggregation") for child in children)
    elif kind == "TransformationEvent":
        inputs = event.get("inputEPCList", []) + [q["epcClass"] for q in event.get("inputQuantityList", [])]
        outputs = event.get("outputEPCList", []) + [q["epcClass"] for q in event.get("outputQuantityList", [])]
        out.extend((i, o, "transformation") for i in inputs for o in outputs)
    elif kind == "ObjectEvent" and event.get("action") == "ADD":
        lot = epcis.lot_number(event)
        for epc in event.get("epcList", []):
            link = digital_link.parse(epc)
            if lot and link.gtin:
                out.append((lot_id(link.gtin, lot), epc, "lot"))
    return out


def lot_members(event: dict[str, Any]) -> list[str]:
    """The lots an event commissions items into (indexed so the lot finds the event)."""
    return list(dict.fromkeys(src for src, _, kind in links(event) if kind == "lot"))


def trace(read: Reader, start: str, direction: str = FORWARD, max_nodes: int = MAX_NODES) -> dict[str, Any]:
    """Every identifier reachable from `start` by links in `direction`, with the link that
    reached it first (breadth first), and whether the walk stopped at `max_nodes`."""
    nodes: dict[str, dict[str, Any]] = {start: {"id": start, "depth": 0, "via": None, "kind": None, "from": None}}
    queue = [start]
    truncated = False
    while queue:
        current = queue.pop(0)
        for record in records.events_of(read, "id", current):
            for src, dst, kind in links(record["event"]):
                here, there = (src, dst) if direction == FORWARD else (dst, src)
                if here != current or there in nodes:
                    continue
                if len(nodes) >= max_nodes:
                    truncated = True
                    continue
                nodes[there] = {"id": there, "depth": nodes[current]["depth"] + 1, "via": record["hash"],
                                "kind": kind, "from": current}
                queue.append(there)
    return {"start": start, "direction": direction, "nodes": list(nodes.values()), "truncated": truncated}


def sighting(read: Reader, identifier: str) -> dict[str, Any] | None:
    """The latest located event naming `identifier`: {"location", "time", "event"}."""
    best = None
    for record in records.events_of(read, "id", identifier):
        where = epcis.where_of(record["event"])
        if where:
            best = {"location": where, "time": record["event"]["eventTime"], "event": record["hash"]}
    return best


def container(read: Reader, identifier: str) -> str:
    """The parent `identifier` was last aggregated into and not yet unpacked from ('' if none)."""
    parent = ""
    for record in records.events_of(read, "id", identifier):
        event = record["event"]
        if event["type"] != "AggregationEvent" or "parentID" not in event:
            continue
        children = event.get("childEPCs", []) + [q["epcClass"] for q in event.get("childQuantityList", [])]
        if event["parentID"] == identifier:
            continue
        if event.get("action") in ("ADD", "OBSERVE") and identifier in children:
            parent = event["parentID"]
        elif event.get("action") == "DELETE" and event["parentID"] == parent and (identifier in children or not children):
            parent = ""
    return parent


def last_location(read: Reader, identifier: str) -> dict[str, Any]:
    """Where `identifier` was last seen, itself or through the containers it sits in."""
    best = sighting(read, identifier)
    chain = []
    current = identifier
    for _ in range(MAX_CONTAINER_DEPTH):
        parent = container(read, current)
        if not parent or parent in chain:
            break
        chain.append(parent)
        seen = sighting(read, parent)
        if seen is not None and (best is None or seen["time"] > best["time"]):
            best = {**seen, "via_container": parent}
        current = parent
    out = dict(best) if best else {"location": "", "time": "", "event": None}
    out["containers"] = chain
    return out


def recall(read: Reader, gtin: str, lot: str) -> dict[str, Any]:
    """Every object downstream of a lot, each with its last known location."""
    start = lot_id(gtin, lot)
    walk = trace(read, start, FORWARD)
    items = []
    for node in walk["nodes"]:
        items.append({**node, "last_seen": last_location(read, node["id"])})
    recalled = any(r["event"].get("disposition") == vocabulary.RECALLED for r in records.events_of(read, "id", start))
    return {"lot": start, "recalled": recalled, "items": items, "truncated": walk["truncated"]}


MAX_STORY_NODES = 64


def story(read: Reader, gtin: str, lot: str) -> dict[str, Any]:
    """What a consumer's QR code shows: the lot, whether it is recalled, where it came from
    (upstream) and where it went (downstream), and every event naming any of those objects —
    retracted ones included and marked, since a retraction is part of the record."""
    start = lot_id(gtin, lot)
    upstream = trace(read, start, BACKWARD, MAX_STORY_NODES)
    downstream = trace(read, start, FORWARD, MAX_STORY_NODES)
    events: dict[str, dict[str, Any]] = {}
    for node in upstream["nodes"] + downstream["nodes"]:
        for record in records.events_of(read, "id", node["id"], include_retracted=True):
            events.setdefault(record["hash"], record)
    ordered = sorted(events.values(), key=lambda r: (r["event"]["eventTime"], r["seq"]))
    recalled = any(r["event"].get("disposition") == vocabulary.RECALLED and not r["retracted"]
                   for r in records.events_of(read, "id", start))
    return {"lot": start, "gtin": gtin, "lot_number": lot, "recalled": recalled,
            "upstream": upstream, "downstream": downstream, "events": ordered}
