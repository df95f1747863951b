"""Traceability in the HTTP API: the consumer verification a package's QR code opens.

    GET /01/{gtin}/10/{lot}                  GS1 Digital Link path (this node as resolver)
    GET /v1/trace/verify?gtin=...&lot=...    the same answer

The answer is the lot's story (`baychain.trace.graph.story`: upstream, downstream,
every event with who recorded it) read at one committed height, and a Merkle proof for
every state entry the story was read from, absent ones included. Anyone can check it
against the block's app hash with `baychain.sdk.trace.check_story`, which replays the
same walk over the proven entries only: a missing, altered or omitted event fails the
check. A browser (Accept: text/html) gets a minimal readable page instead of JSON.
"""

from __future__ import annotations

import html
from typing import Any

import cbor2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from baychain.api.views import jsonable
from baychain.contracts.context import contract_key
from baychain.errors import BaychainError, Code
from baychain.node import ApiNode
from baychain.trace import digital_link, graph, vocabulary
from baychain.trace.records import Reader

CONTRACT = "trace"


def proven_story(node: ApiNode, gtin: str, lot: str) -> dict[str, Any]:
    """The lot's story and the proofs of every entry it was read from, at the latest height."""
    digital_link.lot_link(gtin, lot)  # checks the GTIN and the lot before any read
    app_ = node.app
    with node.engine.lock:
        height = app_.height
        if height < 1:
            raise BaychainError(Code.HEIGHT_UNAVAILABLE, "no block is committed yet")
        proofs: dict[str, str] = {}

        def read(key: str) -> Any:
            res = app_.query("/store", contract_key(CONTRACT, key), height, True)
            if res.code not in (0, int(Code.NOT_FOUND)):
                raise BaychainError(Code(res.code), res.log)
            proofs[key] = res.proof.hex()
            return cbor2.loads(res.value) if res.code == 0 else None

        story = graph.story(_cached(read), gtin, lot)
        block = app_.blocks.block(height)
    return {"height": height, "app_hash": block["app_hash"].hex() if block else None,
            "link": digital_link.lot_link(gtin, lot), "story": jsonable(story),
            "proofs": [{"key": k, "proof": p} for k, p in proofs.items()]}


def _cached(read: Reader) -> Reader:
    seen: dict[str, Any] = {}

    def cached(key: str) -> Any:
        if key not in seen:
            seen[key] = read(key)
        return seen[key]

    return cached


def trace_router(node: ApiNode) -> APIRouter:
    """The traceability routes of one node's API."""
    router = APIRouter(tags=["traceability"])

    @router.get("/v1/trace/verify", summary="A lot's history with Merkle proofs anyone can check")
    def verify(request: Request, gtin: str = Query(...), lot: str = Query(..., min_length=1, max_length=20)) -> Response:
        return _answer(request, proven_story(node, gtin, lot))

    @router.get("/01/{gtin}/10/{lot}", summary="GS1 Digital Link of a lot: what the QR code on the package opens")
    def resolve(request: Request, gtin: str, lot: str) -> Response:
        return _answer(request, proven_story(node, gtin, lot))

    return router


def _answer(request: Request, doc: dict[str, Any]) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(render_html(doc))
    from fastapi.responses import JSONResponse

    return JSONResponse(doc)


def render_html(doc: dict[str, Any]) -> str:
    """A minimal page for a phone: the product's steps, who recorded them, and the proof height."""
    story = doc["story"]
    rows = []
    for record in story["events"]:
        event = record["event"]
        step = vocabulary.short(event.get("bizStep", "")) or event["type"]
        where = (event.get("bizLocation") or event.get("readPoint") or {}).get("id", "")
        status = " (retracted)" if record["retracted"] else ""
        rows.append(f"<tr><td>{html.escape(event['eventTime'])}</td><td>{html.escape(step)}{status}</td>"
                    f"<td>{html.escape(record['organisation'] or record['recorder'])} ({html.escape(record['jurisdiction'])})</td>"
                    f"<td>{html.escape(where)}</td></tr>")
    banner = "<p><strong>RECALLED: do not consume.</strong></p>" if story["recalled"] else ""
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Product history</title></head><body>"
            f"<h1>Lot {html.escape(story['lot_number'])} of GTIN {html.escape(story['gtin'])}</h1>{banner}"
            "<table><tr><th>time (UTC)</th><th>step</th><th>recorded by</th><th>where</th></tr>"
            + "".join(rows) + "</table>"
            f"<p>Proven against block {doc['height']}, app hash <code>{html.escape(doc['app_hash'] or '')}</code>; "
            "check it with baychain.sdk.trace.check_story.</p></body></html>")
