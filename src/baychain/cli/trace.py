"""`baychain trace`: capture EPCIS 2.0 events, query them, trace and recall lots, and verify
a lot's history the way a consumer's QR code does (proof-checked against the app hash)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from baychain.cli.keys import KeysDir, Passphrase, load_key
from baychain.cli.output import emit_json, kv, settings, table
from baychain.sdk import trace as sdk
from baychain.trace import digital_link, vocabulary

app = typer.Typer(help="GS1 EPCIS 2.0 traceability: capture, query, trace, recall, verify.", no_args_is_help=True)


def _rows(events: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for record in events:
        event = record["event"]
        where = (event.get("bizLocation") or event.get("readPoint") or {}).get("id", "")
        step = vocabulary.short(event.get("bizStep", "")) + (" (retracted)" if record.get("retracted") else "")
        rows.append([event["eventTime"], event["type"], step, record.get("organisation") or record.get("recorder"),
                     record.get("jurisdiction", ""), where, record["hash"]])
    return rows


def _events_table(events: list[dict[str, Any]], title: str) -> None:
    table(["event time", "type", "step", "recorded by", "jur.", "where", "hash"], _rows(events), title)


@app.command("capture")
def capture(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="EPCIS 2.0 JSON-LD document or event"),
    key: str = typer.Option(..., "--key", "-k", help="Signing key: a name in the key directory or a key file path"),
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Capture the events of FILE; an event with errorDeclaration retracts the event it repeats."""
    s = settings(ctx)
    signer = load_key(key, keys_dir, passphrase)
    with s.client() as client:
        results = sdk.capture(client, signer, file.read_text(), timeout=min(s.timeout, 120.0))
    if s.json:
        emit_json({"events": results})
        return
    for r in results:
        kv([("event", r["hash"]), ("status", "retracted" if r["retracted"] else "captured")])


@app.command("event")
def event(ctx: typer.Context, hash_id: str = typer.Argument(..., help="ni:///sha-256;<hex>?ver=CBV2.0 or 64 hex digits")) -> None:
    """One captured event with who recorded it and whether it was retracted."""
    s = settings(ctx)
    with s.client() as client:
        record = sdk.event(client, hash_id)
    if s.json:
        emit_json(record)
        return
    _events_table([record], "event")


@app.command("history")
def history(
    ctx: typer.Context,
    epc: str = typer.Option("", help="EPC, class or lot: EPC URN or Digital Link"),
    gtin: str = typer.Option("", help="GTIN of a lot (with --lot)"),
    lot: str = typer.Option("", help="Lot number (with --gtin)"),
    step: str = typer.Option("", "--step", help="Business step (CBV term such as shipping, or a URI)"),
    from_time: str = typer.Option("", "--from", help="eventTime >= this (ISO 8601 with zone)"),
    to_time: str = typer.Option("", "--to", help="eventTime < this"),
    retracted: bool = typer.Option(False, "--retracted", help="Include retracted events"),
    limit: int = typer.Option(100, min=1, max=500),
) -> None:
    """Events by EPC or lot, business step and event time (EPCIS MATCH_epc, EQ_bizStep, GE/LT_eventTime)."""
    s = settings(ctx)
    if gtin or lot:
        epc = digital_link.lot_link(gtin, lot)
    with s.client() as client:
        found = sdk.events(client, epc=epc, biz_step=step, from_time=from_time, to_time=to_time,
                           include_retracted=retracted, limit=limit)
    if s.json:
        emit_json(found)
        return
    _events_table(found["events"], f"{found['total']} event(s)")


@app.command("trace")
def trace(
    ctx: typer.Context,
    epc: str = typer.Argument(..., help="EPC, class or lot (EPC URN or Digital Link)"),
    backward: bool = typer.Option(False, "--backward", help="Upstream (where it came from) instead of downstream"),
) -> None:
    """Everything downstream (or upstream) through aggregations, transformations and lots."""
    s = settings(ctx)
    with s.client() as client:
        walk = sdk.trace(client, epc, "backward" if backward else "forward")
    if s.json:
        emit_json(walk)
        return
    table(["depth", "id", "link", "from"], [[n["depth"], n["id"], n["kind"] or "-", n["from"] or "-"] for n in walk["nodes"]],
          f"{walk['direction']} from {walk['start']}")


@app.command("recall")
def recall(ctx: typer.Context, gtin: str = typer.Argument(...), lot: str = typer.Argument(...)) -> None:
    """Every object downstream of a lot and its last known location."""
    s = settings(ctx)
    with s.client() as client:
        result = sdk.recall(client, gtin, lot)
    if s.json:
        emit_json(result)
        return
    rows = [[i["id"], i["kind"] or "lot", i["last_seen"]["location"] or "unknown", i["last_seen"]["time"] or "-",
             i["last_seen"].get("via_container", "-")] for i in result["items"]]
    table(["id", "reached by", "last location", "at", "via container"], rows,
          f"recall of {result['lot']}" + (" (disposition: recalled)" if result["recalled"] else ""))


@app.command("link")
def link(
    gtin: str = typer.Argument(...),
    lot: str = typer.Argument(...),
    resolver: str = typer.Option("https://id.gs1.org", help="The resolver the QR code points at (e.g. this node's API URL)"),
) -> None:
    """Print the GS1 Digital Link URI of a lot (what to put in the QR code)."""
    typer.echo(digital_link.lot_link(gtin, lot, resolver))


@app.command("verify")
def verify(ctx: typer.Context, gtin: str = typer.Argument(...), lot: str = typer.Argument(...)) -> None:
    """A lot's history as a consumer sees it, every entry proven against the block's app hash."""
    s = settings(ctx)
    with s.client() as client:
        story = sdk.verify_lot(client, gtin, lot)
    if s.json:
        emit_json(story)
        return
    _events_table(story["events"], f"{story['lot']}: {len(story['events'])} event(s), VERIFIED"
                  + (" — RECALLED" if story["recalled"] else ""))
