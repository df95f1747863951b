"""`baychain trace` against a real node: capture, history, trace, recall, link, verify, and a
refused capture's stable error output."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import trace_documents as D
from baychain.cli.main import app
from baychain.sdk import Key, KeyStore
from baychain.sdk.testing import local_node

PASSPHRASE = "test passphrase"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    home = tmp_path_factory.mktemp("trace-cli")
    KeyStore(home / "keys").save("works", Key.generate(), PASSPHRASE, scrypt_n=2**12)
    with local_node(home / "node", block_interval=0.05) as node:
        env = {"BAYCHAIN_NODE": node.url, "BAYCHAIN_KEYS_DIR": str(home / "keys"),
               "BAYCHAIN_PASSPHRASE": PASSPHRASE, "COLUMNS": "250"}
        runner = CliRunner()

        def invoke(*args: str):
            return runner.invoke(app, list(args), env=env)

        doc = home / "chain.jsonld"
        doc.write_text(json.dumps(D.document(D.harvest(), D.press(), D.bottle_up([1, 2]), D.pack([1, 2]))))
        result = invoke("--json", "trace", "capture", str(doc), "--key", "works")
        assert result.exit_code == 0, result.output
        invoke.captured = json.loads(result.stdout)["events"]
        invoke.home = home
        yield invoke


def test_capture_reports_every_event_hash(run):
    assert len(run.captured) == 4 and all(e["hash"].startswith("ni:///sha-256;") for e in run.captured)


def test_history_by_lot_and_by_step(run):
    out = json.loads(run("--json", "trace", "history", "--gtin", D.gtin(D.JUICE), "--lot", D.JUICE_LOT).stdout)
    assert [e["hash"] for e in out["events"]] == [run.captured[1]["hash"], run.captured[2]["hash"]]
    human = run("trace", "history", "--step", "packing")
    assert human.exit_code == 0 and "packing" in human.stdout and "1 event(s)" in human.stdout


def test_trace_recall_link_and_verify(run):
    back = json.loads(run("--json", "trace", "trace", D.bottle(1), "--backward").stdout)
    assert back["nodes"][-1]["id"].endswith(f"/10/{D.ORANGE_LOT}")
    recall = json.loads(run("--json", "trace", "recall", D.gtin(D.ORANGES), D.ORANGE_LOT).stdout)
    assert {i["id"] for i in recall["items"]} >= {D.PALLET_DL}
    link = run("trace", "link", D.gtin(D.JUICE), D.JUICE_LOT, "--resolver", "https://verify.example.hk")
    assert link.stdout.strip() == f"https://verify.example.hk/01/{D.gtin(D.JUICE)}/10/{D.JUICE_LOT}"
    verified = run("trace", "verify", D.gtin(D.JUICE), D.JUICE_LOT)
    assert verified.exit_code == 0 and "VERIFIED" in verified.stdout


def test_a_refused_capture_prints_its_code(run):
    bad = run.home / "bad.jsonld"
    event = D.pack([1])
    del event["parentID"]
    bad.write_text(json.dumps(D.document(event)))
    result = run("--json", "trace", "capture", str(bad), "--key", "works")
    assert result.exit_code != 0 and "EPCIS_INVALID" in result.output and "parentID" in result.output
    again = run("trace", "capture", str(run.home / "chain.jsonld"), "--key", "works")
    assert again.exit_code != 0 and "EVENT_EXISTS" in again.output
