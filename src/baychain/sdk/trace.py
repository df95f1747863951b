"""Traceability from Python: capture EPCIS events, query them, and verify a product's history.

    from baychain.sdk import Client, Key
    from baychain.sdk import trace

    with Client(url) as client:
        hashes = trace.capture(client, key, epcis_document)          # JSON-LD text or dict
        story = trace.verify_lot(client, "06901234000028", "JC-0501")  # proof-checked

`verify_lot` is what a consumer's app does with the QR code on a package: it fetches
the lot's story with its Merkle proofs (GET /v1/trace/verify) and `check_story`
verifies it against a block's app hash — given, from a light client (so no node is
trusted), or else the one this node reports for that block. The check replays the
story's walk (`baychain.trace.graph.story`) over the proven entries alone and
recomputes every event's CBV 2.0 hash from its content, so a dropped, altered or
invented event raises PROOF_INVALID.
"""

from __future__ import annotations

import json
from typing import Any

from baychain import encoding
from baychain.contracts.context import contract_key
from baychain.errors import BaychainError, Code
from baychain.sdk.client import Client, Receipt, jsonable
from baychain.sdk.keys import Key
from baychain.state.proofs import Proof, verify_proof
from baychain.trace import event_hash, graph

CONTRACT = "trace"


def capture(client: Client, key: Key, document: str | dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    """Capture an EPCIS 2.0 document (or one event); returns [{"hash", "retracted"}] per event."""
    text = document if isinstance(document, str) else json.dumps(document)
    receipt: Receipt = client.call(key, CONTRACT, "capture", {"document": text}, **kwargs)
    return receipt.data


def event(client: Client, hash_id: str) -> dict[str, Any]:
    return client.view(CONTRACT, "event", {"hash": hash_id})


def events(client: Client, **filters: Any) -> dict[str, Any]:
    """Query events: epc, biz_step, from_time, to_time, include_retracted, start, limit."""
    return client.view(CONTRACT, "events", filters)


def history(client: Client, gtin: str, lot: str) -> dict[str, Any]:
    return client.view(CONTRACT, "history", {"gtin": gtin, "lot": lot})


def trace(client: Client, epc: str, direction: str = graph.FORWARD) -> dict[str, Any]:
    return client.view(CONTRACT, "trace", {"epc": epc, "direction": direction})


def recall(client: Client, gtin: str, lot: str) -> dict[str, Any]:
    return client.view(CONTRACT, "recall", {"gtin": gtin, "lot": lot})


def sensor(client: Client, epc: str, unit: str = "", sensor_type: str = "Temperature", places: int = 2) -> dict[str, Any]:
    return client.view(CONTRACT, "sensor", {"epc": epc, "unit": unit, "sensor_type": sensor_type, "places": places})


def verify_lot(client: Client, gtin: str, lot: str, *, app_hash: bytes | None = None, light: Any = None) -> dict[str, Any]:
    """A lot's story, proof-checked (see the module docstring); raises PROOF_INVALID on any mismatch."""
    doc = client.request("GET", "/v1/trace/verify", params={"gtin": gtin, "lot": lot})
    height = doc.get("height")
    if type(height) is not int or height < 1:
        raise BaychainError(Code.PROOF_INVALID, "the node's answer names no committed height")
    light = light if light is not None else client.light
    if app_hash is None and light is not None:
        app_hash = light.verified_app_hash(height, wait=max(client.timeout, 10.0))
    elif app_hash is None:
        app_hash = bytes.fromhex(client.block(height)["app_hash"])
    return check_story(doc, app_hash)


def check_story(doc: dict[str, Any], app_hash: bytes) -> dict[str, Any]:
    """Check a verification answer against a trusted app hash; return the proven story."""
    try:
        proven: dict[str, Any] = {}
        for entry in doc["proofs"]:
            key, proof = entry["key"], Proof.from_bytes(bytes.fromhex(entry["proof"]))
            if proof.key != contract_key(CONTRACT, key):
                raise _invalid(f"the proof for {key!r} is for another key")
            if not verify_proof(app_hash, proof):
                raise _invalid(f"the proof for {key!r} does not verify against app hash {app_hash.hex()}")
            proven[key] = None if proof.value is None else encoding.decode(proof.value, Code.PROOF_INVALID)
        gtin, lot = doc["story"]["gtin"], doc["story"]["lot_number"]
    except (KeyError, TypeError, ValueError):
        raise _invalid("the node's verification answer is malformed") from None

    def read(key: str) -> Any:
        if key not in proven:
            raise _invalid(f"the answer proves no entry {key!r}, which the history needs")
        return proven[key]

    for key, record in proven.items():
        if key.startswith("ev/") and record is not None and event_hash.digest(record["event"]).hex() != key[3:]:
            raise _invalid(f"event {key[3:]} does not hash to its own identifier")
    story = jsonable(graph.story(read, gtin, lot))
    if story != doc["story"]:
        raise _invalid("the history the node sent differs from the one its proofs show")
    return story


def _invalid(message: str) -> BaychainError:
    return BaychainError(Code.PROOF_INVALID, message)
