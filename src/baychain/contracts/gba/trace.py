"""Product traceability after GS1 EPCIS 2.0 and CBV 2.0: capture, query, trace, recall.

Members (a farm in Guangdong, a logistics firm in Hong Kong, an importer in Macao)
capture EPCIS 2.0 events as JSON-LD. The contract validates each event
(`baychain.trace.epcis`), identifies it by its CBV 2.0 event hash and stores it once,
with who recorded it (account, organisation, jurisdiction) and when (block height and
time: the EPCIS recordTime). It never edits an event: capturing the same event again
is refused with EVENT_EXISTS, and a correction is an error declaration — the same
event carrying `errorDeclaration`, which hashes to the same ID and so names the event
it retracts — followed, if need be, by the corrected event. Only the organisation that
recorded an event may retract it.

Views answer EPCIS-style queries (by EPC or lot, business step, event time), trace
forward and backward through aggregations, transformations and lots, recall a lot to
every downstream object with its last known location, and list sensor readings with
exact unit conversion. Storage layout and the shared read logic: `baychain.trace.records`
and `baychain.trace.graph`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from baychain.contracts.base import Contract, view
from baychain.contracts.context import Context
from baychain.errors import BaychainError, Code
from baychain.trace import epcis, event_hash, graph, records, units, vocabulary

NAME = "trace"
MAX_PAGE = 500
MAX_DAYS = 366


class Trace(Contract):
    """GS1 EPCIS 2.0 event capture with CBV 2.0 event hashes; queries, trace and recall."""

    name = NAME

    def capture(self, ctx: Context, document: str) -> Any:
        """Capture the events of an EPCIS 2.0 JSON-LD document (or one event). An event carrying an
        errorDeclaration retracts the captured event with the same hash. Returns the event hash IDs."""
        results = []
        for event in epcis.parse_document(document):
            digest_hex = event_hash.digest(event).hex()
            if "errorDeclaration" in event:
                self._retract(ctx, digest_hex, event)
                results.append({"hash": event_hash.ni_uri(bytes.fromhex(digest_hex)), "retracted": True})
            else:
                self._store(ctx, digest_hex, event)
                results.append({"hash": event_hash.ni_uri(bytes.fromhex(digest_hex)), "retracted": False})
        return results

    def _store(self, ctx: Context, digest_hex: str, event: dict[str, Any]) -> None:
        existing = ctx.get(records.event_key(digest_hex))
        if existing is not None:
            raise BaychainError(Code.EVENT_EXISTS, f"event {event_hash.ni_uri(bytes.fromhex(digest_hex))} was captured at "
                                f"height {existing['height']}; events are never edited: retract it with an "
                                "errorDeclaration and capture the corrected event")
        seq = ctx.get("count", 0)
        ni = event_hash.ni_uri(bytes.fromhex(digest_hex))
        ctx.put(records.event_key(digest_hex), {
            "hash": ni, "event": event, "recorder": ctx.sender, "organisation": ctx.organisation,
            "jurisdiction": ctx.jurisdiction, "recordTime": ctx.time_ns, "height": ctx.height, "tx": ctx.tx_hash,
            "seq": seq})
        ctx.put("count", seq + 1)
        for identifier in epcis.what_ids(event) + graph.lot_members(event):
            records.append(ctx.get, ctx.put, "id", identifier, digest_hex)
        if "bizStep" in event:
            records.append(ctx.get, ctx.put, "step", event["bizStep"], digest_hex)
        records.append(ctx.get, ctx.put, "day", event["eventTime"][:10], digest_hex)
        ctx.emit("captured", hash=ni, type=event["type"], bizStep=vocabulary.short(event.get("bizStep", "")),
                 organisation=ctx.organisation, jurisdiction=ctx.jurisdiction)

    def _retract(self, ctx: Context, digest_hex: str, event: dict[str, Any]) -> None:
        ni = event_hash.ni_uri(bytes.fromhex(digest_hex))
        original = ctx.get(records.event_key(digest_hex))
        ctx.require(original is not None, Code.EVENT_UNKNOWN,
                    f"no captured event has hash {ni}: an errorDeclaration must repeat the event it retracts")
        ctx.require(not ctx.has(records.retraction_key(digest_hex)), Code.EVENT_RETRACTED, f"event {ni} is already retracted")
        same = original["organisation"] == ctx.organisation if original["organisation"] else original["recorder"] == ctx.sender
        ctx.require(same, Code.PERMISSION_DENIED,
                    f"only {original['organisation'] or original['recorder']}, who recorded event {ni}, may retract it")
        ctx.put(records.retraction_key(digest_hex), {
            **event["errorDeclaration"], "declaredBy": ctx.sender, "organisation": ctx.organisation,
            "jurisdiction": ctx.jurisdiction, "recordTime": ctx.time_ns, "height": ctx.height, "tx": ctx.tx_hash})
        ctx.emit("retracted", hash=ni, organisation=ctx.organisation)

    # -- views ------------------------------------------------------------------------------

    @view
    def event(self, ctx: Context, hash: str) -> Any:
        """One event record by its hash ID (ni:///sha-256;...?ver=CBV2.0 or hex), with its retraction."""
        record = records.event(ctx.get, event_hash.parse_hash(hash).hex())
        ctx.require(record is not None, Code.NOT_FOUND, f"no event {hash}")
        return record

    @view
    def events(self, ctx: Context, epc: str = "", biz_step: str = "", from_time: str = "", to_time: str = "",
               include_retracted: bool = False, start: int = 0, limit: int = 100) -> Any:
        """Events naming an EPC, class or lot (`epc`: URN or Digital Link), of a business step, and/or
        with eventTime in [from_time, to_time) — the EPCIS query parameters MATCH_epc, EQ_bizStep,
        GE_eventTime, LT_eventTime. Ordered by eventTime; paged by `start` and `limit`."""
        ctx.require(0 < limit <= MAX_PAGE and start >= 0, Code.BAD_ARGUMENTS, f"limit: 1-{MAX_PAGE}; start >= 0")
        step = vocabulary.expand("bizStep", biz_step) if biz_step else ""
        low = epcis.canonical_time(from_time, "from_time") if from_time else ""
        high = epcis.canonical_time(to_time, "to_time") if to_time else ""
        if epc:
            found = records.events_of(ctx.get, "id", _identifier(epc), include_retracted=include_retracted)
        elif step:
            found = records.events_of(ctx.get, "step", step, include_retracted=include_retracted)
        elif low and high:
            found = []
            for day in _days(low, high):
                found.extend(records.events_of(ctx.get, "day", day, include_retracted=include_retracted))
        else:
            raise BaychainError(Code.BAD_ARGUMENTS, "give epc, biz_step, or both from_time and to_time")
        selected = [r for r in found
                    if (not step or r["event"].get("bizStep") == step)
                    and (not low or r["event"]["eventTime"] >= low) and (not high or r["event"]["eventTime"] < high)]
        return {"events": selected[start:start + limit], "total": len(selected)}

    @view
    def history(self, ctx: Context, gtin: str, lot: str) -> Any:
        """The events of a lot (GTIN + lot number), ordered by eventTime, retracted ones marked."""
        identifier = graph.lot_id(gtin, lot)
        return {"lot": identifier, "events": records.events_of(ctx.get, "id", identifier, include_retracted=True)}

    @view
    def trace(self, ctx: Context, epc: str, direction: str = graph.FORWARD) -> Any:
        """Everything downstream (`forward`) or upstream (`backward`) of an EPC, class or lot, through
        aggregations, transformations and lot commissioning."""
        ctx.require(direction in (graph.FORWARD, graph.BACKWARD), Code.BAD_ARGUMENTS, "direction: forward or backward")
        return graph.trace(ctx.get, _identifier(epc), direction)

    @view
    def recall(self, ctx: Context, gtin: str, lot: str) -> Any:
        """Every object downstream of a lot with its last known location (and whether the lot
        carries the `recalled` disposition)."""
        return graph.recall(ctx.get, gtin, lot)

    @view
    def sensor(self, ctx: Context, epc: str, sensor_type: str = "Temperature", unit: str = "", places: int = 2) -> Any:
        """Sensor readings of events naming an EPC, class or lot, of one type (e.g. Temperature), with
        each value also converted exactly into `unit` (e.g. CEL, FAH, KEL; rounded to `places`)."""
        wanted = sensor_type if ":" in sensor_type else vocabulary.GS1_VOC + sensor_type
        readings = []
        for record in records.events_of(ctx.get, "id", _identifier(epc)):
            for element in record["event"].get("sensorElementList", []):
                meta = element.get("sensorMetadata", {})
                for report in element["sensorReport"]:
                    if report.get("type") != wanted or "value" not in report:
                        continue
                    reading = {"event": record["hash"], "time": report.get("time") or meta.get("time") or record["event"]["eventTime"],
                               "value": report["value"], "uom": report.get("uom", ""), "device": report.get("deviceID") or meta.get("deviceID", "")}
                    if unit:
                        reading["converted"] = units.convert(report["value"], report.get("uom", ""), unit, places)
                        reading["unit"] = unit
                    readings.append(reading)
        return {"epc": _identifier(epc), "type": wanted, "readings": readings}


def _identifier(text: str) -> str:
    """An EPC URN, Digital Link (any resolver) or class as the canonical id the indexes use."""
    return epcis.canonical_epc(text, "epc")


def _days(low: str, high: str) -> list[str]:
    """The UTC dates from `low` up to `high` (exclusive end moment), at most MAX_DAYS."""
    first, last = date.fromisoformat(low[:10]), date.fromisoformat(high[:10])
    count = (last - first).days + 1
    if count > MAX_DAYS or count < 1:
        raise BaychainError(Code.BAD_ARGUMENTS, f"a time range spans 1-{MAX_DAYS} days")
    return [(first + timedelta(days=i)).isoformat() for i in range(count)]

