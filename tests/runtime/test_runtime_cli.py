"""`baychain contract` end to end: new, check, test, then propose, vote, deploy, call, query,
list, info and source against a real node whose genesis names a one-member committee."""

from __future__ import annotations

import time

import pytest

from baychain.chain.genesis import Genesis
from baychain.runtime.contracts import source as shipped
from baychain.runtime.deployed import code_hash
from baychain.sdk.testing import local_node

from support import Cli

PASSPHRASE = "test passphrase"


def test_new_check_and_test_work_offline(tmp_path):
    cli = Cli("http://127.0.0.1:1", tmp_path / "keys", PASSPHRASE)
    made = cli.json("contract", "new", "loyalty", "--dir", str(tmp_path))
    assert made["contract"].endswith("loyalty/loyalty.py")
    checked = cli.json("contract", "check", str(tmp_path / "loyalty" / "loyalty.py"))
    assert checked["code_hash"] == code_hash(shipped("token")).hex()
    assert {m["name"] for m in checked["methods"]} == {"mint", "transfer", "balance_of", "total_supply"}
    tested = cli.json("contract", "test", str(tmp_path / "loyalty"))
    assert (tested["passed"], tested["failed"]) == (3, 0)
    again = cli("contract", "new", "loyalty", "--dir", str(tmp_path))
    assert again.exit_code == 1 and "ALREADY_EXISTS" in again.output


def test_a_failing_contract_test_fails_the_command(tmp_path):
    cli = Cli("http://127.0.0.1:1", tmp_path / "keys", PASSPHRASE)
    cli.json("contract", "new", "loyalty", "--dir", str(tmp_path))
    contract = tmp_path / "loyalty" / "loyalty.py"
    contract.write_text(contract.read_text().replace("balances[to] += amount\n    emit(\"transferred\"",
                                                     "emit(\"transferred\""))  # transfers now burn tokens
    out = cli("contract", "test", str(tmp_path / "loyalty"))
    assert out.exit_code == 1 and "FAIL test_loyalty.py::test_mint_then_transfer" in out.output
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    out = cli("contract", "check", str(bad))
    assert out.exit_code == 1 and "CONTRACT_INVALID" in out.output and "line 1" in out.output


@pytest.fixture(scope="module")
def governed(tmp_path_factory):
    base = tmp_path_factory.mktemp("contract-cli")
    cli = Cli("http://127.0.0.1:1", base / "keys", PASSPHRASE)
    keys = {}
    for name in ("member", "dev"):
        keys[name] = cli.new_key(name)
    home = base / "node"
    home.mkdir()
    genesis = Genesis(chain_id="contract-cli", time_ns=time.time_ns(), app_state={"governance": {"members": [
        {"account": keys["member"].address, "organisation": "Bank of Guangzhou", "weight": 1}]}})
    genesis.save(home / "genesis.json")
    source = base / "token.py"
    source.write_text(shipped("token"))
    with local_node(home, chain_id="contract-cli") as node:
        cli.url = node.url
        yield cli, keys, source


def test_propose_vote_deploy_call_and_read_on_the_command_line(governed):
    cli, keys, source = governed
    refused = cli("contract", "deploy", "token", str(source), "-k", "dev")
    assert refused.exit_code == 1 and "CODE_NOT_APPROVED" in refused.output
    proposed = cli.json("contract", "propose", "token", str(source), "-k", "member")
    assert proposed["code_hash"] == code_hash(source.read_text()).hex()
    assert cli.json("gov", "vote", str(proposed["proposal"]), "-k", "member")["status"] == "executed"
    deployed = cli.json("contract", "deploy", "token", str(source), "-k", "dev")
    assert deployed["code"] == 0
    dev = keys["dev"].address
    assert cli.json("contract", "call", "token", "mint", "-a", f"to={dev}", "-a", "amount=50", "-k", "dev")["code"] == 0
    assert cli.json("contract", "query", "token", "balance_of", "-a", f"account={dev}")["value"] == 50
    listed = {c["name"]: c for c in cli.json("contract", "list")["contracts"]}
    assert listed["token"]["version"] == 1 and listed["token"]["status"] == "active" and "notary" in listed
    info = cli.json("contract", "info", "token")
    assert info["record"]["code_hash"] == code_hash(source.read_text()).hex()
    transfer = next(m for m in info["interface"]["methods"] if m["name"] == "transfer")
    assert [p["type"] for p in transfer["params"]] == ["str", "int"] and transfer["doc"]
    assert cli.json("contract", "source", "token")["source"] == source.read_text()
    human = cli("contract", "info", "token")
    assert human.exit_code == 0 and "balance_of" in human.output
    overdraft = cli("contract", "call", "token", "transfer", "-a", f"to={dev}", "-a", "amount=51", "-k", "dev")
    assert overdraft.exit_code == 1 and "INSUFFICIENT_BALANCE" in overdraft.output
