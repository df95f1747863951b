"""Consumer verification over HTTP: the QR code's Digital Link answers with the lot's story
and Merkle proofs; the SDK's check accepts exactly the honest answer."""

from __future__ import annotations

import copy
import json

import pytest
from fastapi.testclient import TestClient

import trace_documents as D
from baychain.api.server import create_api
from baychain.errors import BaychainError, Code
from baychain.node import NodeConfig, SoloNode
from baychain.sdk import Client, Key
from baychain.sdk import trace as sdk_trace
from baychain.sdk.testing import local_node
from support import Signer

BOTTLES = [1, 2]


@pytest.fixture
def api(tmp_path):
    node = SoloNode(NodeConfig(home=tmp_path / "node", chain_id="trace-api", block_interval=0.02))
    node.start()
    farm, works, shipper = (Signer(node.app.chain_id) for _ in range(3))
    with TestClient(create_api(node), raise_server_exceptions=False) as client:
        for signer, doc in [(farm, D.document(D.harvest())),
                            (works, D.document(D.press(), D.bottle_up(BOTTLES), D.pack(BOTTLES))),
                            (shipper, D.document(D.ship([("2024-05-03T09:00:00+08:00", 39.2, "FAH")])))]:
            tx = signer.tx("trace", "capture", document=json.dumps(doc))
            resp = client.post("/v1/txs", json={"tx": tx.raw.hex(), "wait": True})
            assert resp.status_code == 200 and resp.json()["code"] == 0, resp.json()
        yield client
    node.stop()


def verification(client, path=None):
    resp = client.get(path or f"/v1/trace/verify?gtin={D.gtin(D.JUICE)}&lot={D.JUICE_LOT}")
    assert resp.status_code == 200, resp.json()
    doc = resp.json()
    app_hash = bytes.fromhex(client.get(f"/v1/blocks/{doc['height']}").json()["app_hash"])
    return doc, app_hash


def test_the_digital_link_answers_with_a_history_that_checks_out(api):
    doc, app_hash = verification(api, f"/01/{D.gtin(D.JUICE)}/10/{D.JUICE_LOT}")
    story = sdk_trace.check_story(doc, app_hash)
    steps = [e["event"].get("bizStep", "").rsplit("-", 1)[-1] for e in story["events"]]
    assert steps == ["commissioning", "commissioning", "commissioning", "packing", "shipping"]  # farm to ship
    upstream = [n["id"] for n in story["upstream"]["nodes"]]
    assert upstream[-1] == f"https://id.gs1.org/01/{D.gtin(D.ORANGES)}/10/{D.ORANGE_LOT}"
    assert D.PALLET_DL in [n["id"] for n in story["downstream"]["nodes"]]
    assert story["recalled"] is False and doc["link"].endswith(f"/10/{D.JUICE_LOT}")


def test_the_same_answer_with_the_query_parameters(api):
    by_link, _ = verification(api, f"/01/{D.gtin(D.JUICE)}/10/{D.JUICE_LOT}")
    by_query, _ = verification(api)
    assert by_link == by_query


def _tamper_value(doc):
    doc["story"]["events"][0]["event"]["eventTime"] = "2024-04-01T00:00:00.000Z"


def _drop_event(doc):
    doc["story"]["events"].pop()


def _drop_proof(doc):
    doc["proofs"] = [p for p in doc["proofs"] if not p["key"].startswith("ev/")][:-1] + [
        p for p in doc["proofs"] if p["key"].startswith("ev/")][1:]


def _corrupt_proof(doc):
    entry = next(p for p in doc["proofs"] if p["key"].startswith("ev/"))
    raw = bytearray.fromhex(entry["proof"])
    raw[-5] ^= 0x01
    entry["proof"] = raw.hex()


def _swap_recorder(doc):
    doc["story"]["events"][1]["organisation"] = "Someone Else"


@pytest.mark.parametrize("tamper", [_tamper_value, _drop_event, _drop_proof, _corrupt_proof, _swap_recorder])
def test_a_tampered_answer_fails_the_check(api, tamper):
    doc, app_hash = verification(api)
    bad = copy.deepcopy(doc)
    tamper(bad)
    with pytest.raises(BaychainError) as exc:
        sdk_trace.check_story(bad, app_hash)
    assert exc.value.code in (Code.PROOF_INVALID, Code.MALFORMED_TX)


def test_the_check_needs_the_right_app_hash(api):
    doc, app_hash = verification(api)
    with pytest.raises(BaychainError) as exc:
        sdk_trace.check_story(doc, bytes(32))
    assert exc.value.code == Code.PROOF_INVALID


def test_an_unknown_lot_is_proven_empty(api):
    doc, app_hash = verification(api, f"/v1/trace/verify?gtin={D.gtin(D.JUICE)}&lot=NOPE")
    story = sdk_trace.check_story(doc, app_hash)
    assert story["events"] == [] and all(p["key"].startswith("ix/") for p in doc["proofs"])


def test_a_browser_gets_a_readable_page(api):
    resp = api.get(f"/01/{D.gtin(D.JUICE)}/10/{D.JUICE_LOT}", headers={"accept": "text/html"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert f"Lot {D.JUICE_LOT}" in resp.text and "packing" in resp.text


def test_a_bad_gtin_is_refused_with_its_code(api):
    resp = api.get(f"/01/{D.gtin(D.JUICE)[:-1]}0/10/{D.JUICE_LOT}")
    body = resp.json()
    assert resp.status_code == 400 and body["error"] == "GS1_CHECK_DIGIT"


def test_sdk_capture_and_verify_against_a_real_node(tmp_path):
    with local_node(tmp_path / "node", block_interval=0.05) as node, Client(node.url, timeout=10) as client:
        key = Key.generate()
        (result,) = sdk_trace.capture(client, key, D.document(D.harvest()))
        assert result["retracted"] is False and result["hash"].startswith("ni:///sha-256;")
        story = sdk_trace.verify_lot(client, D.gtin(D.ORANGES), D.ORANGE_LOT)
        assert [e["hash"] for e in story["events"]] == [result["hash"]]
        assert sdk_trace.history(client, D.gtin(D.ORANGES), D.ORANGE_LOT)["events"][0]["hash"] == result["hash"]
        recalled = D.harvest(time="2024-05-09T00:00:00+08:00") | {"action": "OBSERVE", "disposition": "recalled"}
        sdk_trace.capture(client, key, D.document(recalled))
        assert sdk_trace.verify_lot(client, D.gtin(D.ORANGES), D.ORANGE_LOT)["recalled"] is True
