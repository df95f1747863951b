"""The README's main job: `baychain demo` plays every scenario end to end against real nodes.

The fast test runs the walkthrough on the embedded engine; the slow one on four real
CometBFT validator processes (it fails under CI=true when the binary is missing, and
is skipped locally). Both check the outcomes the demo shows: the refused double
financing and duplicate reimbursement, the alerts they raised, the settlement, the
proof-checked consumer verification, and that the network is stopped afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from baychain.cli.main import app
from baychain.demo import run_demo
from baychain.demo.network import MARKER
from baychain.errors import BaychainError, Code
from baychain.sdk.keys import KeyStore
from support import eventually

sys.path.insert(0, str(Path(__file__).resolve().parent / "network"))


def check_outcome(outcome: dict, text: str) -> None:
    """What every run must show, whichever engine ran it."""
    assert outcome["refused"]["Hong Kong Harbour Bank financing " + outcome["scf"]["pieces"][1] + " again"] == "DOUBLE_FINANCING"
    assert outcome["refused"][f"a second employer locking {outcome['einvoice']['invoices'][0]} at the same moment"] == "INVOICE_LOCKED"
    assert outcome["einvoice_race"]["winner"] in ("hk-logistics", "mo-importer")
    assert set(outcome["refused"].values()) >= {"ACCOUNT_UNBOUND", "VOUCHER_CONSUMED", "ORDER_INVOICED", "INVOICE_REVERSED",
                                                 "TERM_EXCEEDED", "ACCOUNT_FROZEN"}
    assert outcome["alerts"] == {"double_financing": 1, "duplicate_reimbursement": 1, "reversed_invoice_presented": 1,
                                 "transfer_refused": 1}
    assert outcome["refused"]["sending the record to Hong Kong without a standard-contract filing"] == "FILING_MISSING"
    assert outcome["dataex"] == [("verification", "allowed"), ("verification", "allowed"), ("transfer", "refused")]
    kept, piece = outcome["scf"]["pieces"]
    assert [(p["voucher"], p["amount"]) for p in outcome["scf"]["payouts"]] == [(kept, 750_000_00), (piece, 450_000_00)]
    assert outcome["scf"]["payouts"][1]["holder"] == outcome["accounts"]["gd-bank"]  # the financing bank is paid
    assert outcome["einvoice"]["tax_report"]["net"] == 3_180_00 + 10_600_00 - 5_300_00
    assert outcome["trace"]["events"] == 11 and outcome["trace"]["recall_items"] > 0
    for shown in ("refused Hong Kong Harbour Bank financing", "DOUBLE_FINANCING (257)", "INVOICE_LOCKED (261)",
                  "the regulator was alerted", "verified", "matched", "no match", "settled", "double_financing",
                  "duplicate_reimbursement", "transfer_refused"):
        assert shown in text, shown


def test_without_cometbft_the_demo_says_so_and_plays_every_scenario_on_the_embedded_engine(tmp_path, monkeypatch):
    wrong = tmp_path / "cometbft"  # a binary that is not the pinned release: as good as none
    wrong.write_text("#!/bin/sh\necho 0.34.0\n")
    wrong.chmod(0o755)
    monkeypatch.setenv("BAYCHAIN_COMETBFT", str(wrong))
    console = Console(record=True, width=200, highlight=False)
    outcome = run_demo(tmp_path / "demo", engine="auto", port=0, serve=False, term_seconds=8, console=console)
    text = console.export_text()
    check_outcome(outcome, text)
    assert outcome["engine"] == "solo"
    assert "CometBFT is not available" in text and "Running on the embedded engine" in text and "0.34.0" in text
    assert outcome["freeze"]["confirmed"]["source"] == "committee" and outcome["freeze"]["confirmed"]["until_ns"] == 0
    assert KeyStore(tmp_path / "demo" / "wallet").names() == sorted(
        [f"{slug}-staff" for slug in outcome["accounts"]] + ["hk-logistics-driver"])
    with pytest.raises(httpx.HTTPError):  # --no-serve: the node stopped
        httpx.get(outcome["urls"]["api"] + "/health", timeout=2)


def test_demo_replaces_only_its_own_directory(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(BaychainError) as exc:
        run_demo(foreign, engine="solo", port=0, serve=False, console=Console(quiet=True))
    assert exc.value.code == Code.ALREADY_EXISTS and (foreign / "notes.txt").read_text() == "keep me"
    running = tmp_path / "running"  # a solo demo still serving from a directory is not pulled from under it
    running.mkdir()
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "baychain-demo"])
    try:
        (running / MARKER).write_text(json.dumps({"engine": "solo", "pid": server.pid}))
        cmdline = Path(f"/proc/{server.pid}/cmdline")
        while server.poll() is None and b"baychain-demo" not in cmdline.read_bytes():  # until it has exec'd
            time.sleep(0.01)
        with pytest.raises(BaychainError) as exc:
            run_demo(running, engine="solo", port=0, serve=False, console=Console(quiet=True))
        assert exc.value.code == Code.ALREADY_EXISTS and str(server.pid) in exc.value.message
    finally:
        server.kill()
        server.wait()
    assert (running / MARKER).exists()
    result = CliRunner().invoke(app, ["demo", "--engine", "quantum", "--no-serve"], env={"PYTHONHASHSEED": "0"})
    assert result.exit_code != 0 and "BAD_REQUEST" in result.output


@pytest.mark.slow
def test_demo_on_four_cometbft_validators(tmp_path):
    from netsupport import cometbft_binary

    from baychain.network.manifest import NetworkManifest
    from baychain.network.processes import running_pid, stop_node
    from baychain.network.home import NodeHome

    cometbft_binary()
    directory = tmp_path / "demo"
    console = Console(record=True, width=200, highlight=False)
    try:
        outcome = run_demo(directory, engine="cometbft", serve=True, term_seconds=20, console=console)
        text = console.export_text()
        check_outcome(outcome, text)
        assert outcome["engine"] == "cometbft" and f"baychain net down --dir {directory}" in text
        assert "more than 2/3 of the validators (light client" in text
        manifest = NetworkManifest.load(directory)
        assert len(manifest.nodes) == 5 and (directory / MARKER).exists()  # the founders and the node that joined
        assert outcome["joined"]["restored"] >= 50 and "joins from a state-sync snapshot" in text
        assert outcome["misbehavior"]["node"] == "mo-importer" and outcome["misbehavior"]["kind"] == "duplicate_vote"
        assert "A validator signs twice" in text and "validator_misbehavior" in text
        # the validators keep running and agree: every node has the demo's last block
        heights = {}
        for node in manifest.nodes:  # (the node that joined last may be a block behind)
            block = eventually(lambda: httpx.get(f"{node.api_url}/v1/blocks/{outcome['height']}", timeout=5).json()
                               .get("app_hash"), f"block {outcome['height']} on {node.name}", 30, lambda: "")
            assert block == outcome["app_hash"], node.name
            heights[node.name] = httpx.get(node.api_url + "/v1/status", timeout=5).json()["height"]
        assert min(heights.values()) >= outcome["height"]
        # the CLI works against it with the staff keys the demo leaves
        env = {"BAYCHAIN_NODE": outcome["urls"]["api"], "BAYCHAIN_KEYS_DIR": str(directory / "wallet"),
               "BAYCHAIN_PASSPHRASE": "baychain-local-network"}
        result = CliRunner().invoke(app, ["--json", "regulator", "alerts"], env=env)
        assert result.exit_code == 0 and '"transfer_refused"' in result.output, result.output
        assert '"validator_misbehavior"' in result.output, result.output
        result = CliRunner().invoke(app, ["--json", "scf", "tree", outcome["scf"]["voucher"]], env=env)
        assert result.exit_code == 0 and '"settled"' in result.output, result.output
        # the consumer link answers on another organisation's node too
        macao = manifest.node("mo-importer").api_url
        story = httpx.get(outcome["urls"]["consumer"].replace(outcome["urls"]["api"], macao), timeout=10).json()
        assert story["story"]["recalled"] is True
    finally:
        if (directory / "network.json").exists():
            manifest = NetworkManifest.load(directory)
            for name in manifest.names:
                stop_node(NodeHome(manifest.home(name)))
            assert all(running_pid(NodeHome(manifest.home(n))) is None for n in manifest.names)
