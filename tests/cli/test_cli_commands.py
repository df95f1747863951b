"""The `baychain` command line against a real node."""

from __future__ import annotations

import json
import stat

from baychain.contracts.context import contract_key
from baychain.sdk import Client, Key
from baychain.state.proofs import Proof, verify_proof


def test_keys_new_list_show(cli):
    made = cli("keys", "new", "alice")
    assert made.exit_code == 0, made.output
    assert "address" in made.stdout
    path = cli.keys_dir / "alice.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = cli.json("keys", "show", "alice")
    assert shown["name"] == "alice" and shown["address"].startswith("bc1") and len(shown["public_key"]) == 64
    assert Key.load(path, "test passphrase").address == shown["address"]
    assert cli("keys", "new", "bob").exit_code == 0
    listed = cli.json("keys", "list")
    assert [k["name"] for k in listed["keys"]] == ["alice", "bob"]
    human = cli("keys", "list")
    assert "alice" in human.stdout and shown["address"] in human.stdout


def test_keys_new_prompts_for_the_passphrase_twice(cli):
    env = cli.env()
    del env["BAYCHAIN_PASSPHRASE"]
    result = cli("keys", "new", "carol", input="s3cret\ns3cret\n", env=env)
    assert result.exit_code == 0, result.output
    assert Key.load(cli.keys_dir / "carol.json", "s3cret").address == cli.json("keys", "show", "carol")["address"]


def test_keys_new_refuses_an_existing_name(cli):
    assert cli("keys", "new", "dup").exit_code == 0
    again = cli("keys", "new", "dup")
    assert again.exit_code == 1
    assert "error ALREADY_EXISTS (code 206)" in again.stderr


def test_tx_send_commits_and_tx_get_shows_it(cli):
    alice = cli.new_key("alice")
    sent = cli("tx", "send", "--key", "alice", "points", "create", "--arg", "symbol=CLI", "--arg", "title=Bay points")
    assert sent.exit_code == 0, sent.output
    assert "committed at height" in sent.stdout and "OK" in sent.stdout
    receipt = cli.json("tx", "send", "-k", "alice", "points", "issue", "-a", "symbol=CLI",
                       "-a", f"to={alice.address}", "-a", "amount=42")
    assert receipt["status"] == "committed" and receipt["code"] == 0
    assert receipt["events"][0]["attributes"] == {"symbol": "CLI", "to": alice.address, "amount": "42"}
    tx = cli.json("tx", "get", receipt["hash"])
    assert tx["decoded"]["args"] == {"symbol": "CLI", "to": alice.address, "amount": 42}  # typed as an int
    assert tx["decoded"]["nonce"] == 1
    human = cli("tx", "get", receipt["hash"])
    assert "points.issue" in human.stdout


def test_tx_send_with_json_args_and_hex_bytes(cli, tmp_path):
    cli.new_key("notary-user")
    digest = "ab" * 32
    receipt = cli.json("tx", "send", "-k", "notary-user", "notary", "notarize",
                       "--args-json", json.dumps({"digest": digest, "metadata": {"kind": "invoice"}}))
    assert receipt["code"] == 0
    record = cli.json("query", "notary", "lookup", "--arg", f"digest={digest}")["value"]
    assert record["digest"] == digest and record["metadata"] == {"kind": "invoice"}


def test_tx_send_no_wait_returns_pending_then_the_receipt_appears(cli, node):
    cli.new_key("async")
    pending = cli.json("tx", "send", "-k", "async", "--no-wait", "points", "create", "-a", "symbol=ASYNC", "-a", "title=t")
    assert pending["status"] == "pending"
    with Client(node.url) as client:
        receipt = client.wait_for_receipt(pending["hash"])
    assert receipt.ok
    assert cli.json("tx", "receipt", pending["hash"])["height"] == receipt.height


def test_query_calls_a_view(cli):
    alice = cli.new_key("alice")
    assert cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=QRY", "-a", "title=q").exit_code == 0
    assert cli("tx", "send", "-k", "alice", "points", "issue", "-a", "symbol=QRY", "-a", f"to={alice.address}",
               "-a", "amount=9").exit_code == 0
    result = cli("query", "points", "balance", "--arg", "symbol=QRY", "--arg", f"account={alice.address}")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "9"
    assert cli.json("query", "points", "info", "-a", "symbol=QRY")["value"]["supply"] == 9
    balance = cli.json("points", "balance", "QRY", "alice")
    assert balance == {"symbol": "QRY", "account": alice.address, "balance": 9,
                       "height": balance["height"], "verified": True}


def test_state_get_prove_verifies_and_says_so(cli):
    cli.new_key("alice")
    assert cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=STATE", "-a", "title=s").exit_code == 0
    key_hex = contract_key("points", "prog/STATE").hex()
    human = cli("state", "get", key_hex, "--prove")
    assert human.exit_code == 0, human.output
    assert "VERIFIED" in human.stdout and '"symbol": "STATE"' in human.stdout
    out = cli.json("state", "get", key_hex, "--prove")
    assert out["verified"] is True and out["decoded"]["symbol"] == "STATE"
    # the printed proof checks out independently against the block's app hash
    block = cli.json("block", str(out["height"]))
    proof = Proof.from_bytes(bytes.fromhex(out["proof"]))
    assert proof.key.hex() == key_hex
    assert verify_proof(bytes.fromhex(block["app_hash"]), proof)
    same = cli.json("state", "get", "--contract", "points", "prog/STATE")
    assert same["verified"] is False and same["decoded"] == out["decoded"]
    absent = cli("state", "get", "00ff00", "--prove")
    assert absent.exit_code == 0 and "absent" in absent.stdout and "VERIFIED: absence" in absent.stdout


def test_notary_notarize_then_verify_and_a_modified_file_fails(cli, tmp_path):
    cli.new_key("alice")
    doc = tmp_path / "contract.pdf"
    doc.write_bytes(b"%PDF-1.7 supply contract between A and B")
    done = cli("notary", "notarize", "--key", "alice", str(doc), "--meta", "kind=contract")
    assert done.exit_code == 0, done.output
    assert "notarized at height" in done.stdout
    ok = cli("notary", "verify", str(doc))
    assert ok.exit_code == 0, ok.output
    assert "VERIFIED" in ok.stdout and cli.json("keys", "show", "alice")["address"] in ok.stdout
    assert cli.json("notary", "verify", str(doc))["record"]["metadata"] == {"kind": "contract"}

    doc.write_bytes(b"%PDF-1.7 supply contract between A and C")
    bad = cli("notary", "verify", str(doc))
    assert bad.exit_code == 1
    assert "error NOT_FOUND (code 205)" in bad.stderr and "NOT notarized" in bad.stderr
    assert "Traceback" not in bad.output

    again = cli("notary", "notarize", "--key", "alice", str(tmp_path / "missing.pdf"))
    assert again.exit_code == 2 and "error BAD_REQUEST" in again.stderr


def test_notarizing_the_same_file_twice_reports_the_contract_error(cli, tmp_path):
    cli.new_key("alice")
    doc = tmp_path / "twice.txt"
    doc.write_text("same content")
    assert cli("notary", "notarize", "-k", "alice", str(doc)).exit_code == 0
    second = cli("--json", "notary", "notarize", "-k", "alice", str(doc))
    assert second.exit_code == 1
    body = json.loads(second.stdout)
    assert body["error"] == "ALREADY_EXISTS" and body["code"] == 206 and body["receipt"]["height"] > 0


def test_status_block_and_contracts_output_json(cli):
    cli.new_key("alice")
    assert cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=STAT", "-a", "title=s").exit_code == 0
    status = cli.json("status")
    assert status["chain_id"] == "baychain-dev" and status["node"] == cli.url
    assert cli("status").stdout.startswith("node")
    contracts = cli.json("contracts")["contracts"]
    assert {"accounts", "notary", "points"} <= {c["name"] for c in contracts}
    assert "issue" in cli("contracts").stdout
    latest = cli.json("block")
    assert latest["height"] >= status["height"] > 0 and len(latest["app_hash"]) == 64
    assert f"height         {status['height']}" in cli("block", str(status["height"])).stdout


def test_events_search_finds_emitted_events(cli):
    alice = cli.new_key("alice")
    assert cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=EVCLI", "-a", "title=e").exit_code == 0
    found = cli.json("events", "search", "points.created", "--attr", "symbol", "--value", "EVCLI")["txs"]
    assert len(found) == 1 and found[0]["events"][0]["attributes"]["issuer"] == alice.address
    listed = cli.json("tx", "list", "alice")["txs"]
    assert [t["decoded"]["method"] for t in listed] == ["create"]
