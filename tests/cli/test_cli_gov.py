"""`baychain gov` and `baychain regulator` against a real node whose genesis names a
committee of two organisations and one regulator."""

from __future__ import annotations

import json
import time

import pytest

from baychain.chain.genesis import Genesis
from baychain.sdk.testing import local_node

from support import Cli

CHAIN_ID = "gov-cli-test"
PASSPHRASE = "gov passphrase"


@pytest.fixture(scope="module")
def governed(tmp_path_factory):
    """(cli, keys): a node started from a genesis written by `gov genesis`."""
    base = tmp_path_factory.mktemp("gov-cli")
    cli = Cli("http://127.0.0.1:1", base / "keys", PASSPHRASE)
    keys = {name: cli.new_key(name) for name in ("alice", "bob", "reg", "mallory", "carol")}
    home = base / "node"
    home.mkdir()
    Genesis(chain_id=CHAIN_ID, time_ns=time.time_ns()).save(home / "genesis.json")
    out = cli("gov", "genesis", "--member", "alice=Bank of Guangzhou", "--member", "bob=HK Trade Bank:1",
              "--regulator", "reg", "--into", str(home / "genesis.json"))
    assert out.exit_code == 0, out.output
    doc = json.loads((home / "genesis.json").read_text())
    assert [m["account"] for m in doc["app_state"]["governance"]["members"]] == [keys["alice"].address, keys["bob"].address]
    with local_node(home, chain_id=CHAIN_ID) as node:
        cli.url = node.url
        yield cli, keys


def test_a_proposal_goes_from_propose_to_votes_to_execution_on_the_command_line(governed) -> None:
    cli, keys = governed
    mallory = keys["mallory"].address
    proposed = cli.json("gov", "propose", "policy.freeze", "-a", f"account={mallory}", "-a", "reason=court order 7",
                        "--title", "Freeze mallory", "-k", "alice")
    pid = proposed["id"]
    assert proposed["actions"] == [{"contract": "policy", "method": "freeze", "args": {"account": mallory, "reason": "court order 7"}}]
    assert cli.json("gov", "vote", str(pid), "-k", "alice")["status"] == "open"  # 1 of 2: under two thirds
    assert cli.json("gov", "vote", str(pid), "-k", "bob")["status"] == "executed"
    status = cli.json("regulator", "status", "mallory")
    assert status["frozen"]["reason"] == "court order 7" and status["listed"] is None
    refused = cli("tx", "send", "notary", "notarize", "-a", "digest=" + "00" * 32, "-k", "mallory")
    assert refused.exit_code == 1 and "ACCOUNT_FROZEN" in refused.output
    shown = cli("gov", "show", str(pid))
    assert shown.exit_code == 0 and "policy.freeze" in shown.output and "executed" in shown.output
    assert [p["id"] for p in cli.json("gov", "list", "--status", "executed")["proposals"]] == [pid]


def test_non_members_double_votes_and_parameters(governed) -> None:
    cli, keys = governed
    pid = cli.json("gov", "propose", "governance.set_param", "-a", "name=scf.max_term_days", "-a", "value=180",
                   "--title", "Shorter terms", "-k", "bob")["id"]
    out = cli("gov", "vote", str(pid), "-k", "carol")
    assert out.exit_code == 1 and "NOT_A_MEMBER" in out.output
    cli.json("gov", "vote", str(pid), "-k", "bob")
    out = cli("gov", "vote", str(pid), "-k", "bob", "--no")
    assert out.exit_code == 1 and "ALREADY_VOTED" in out.output
    cli.json("gov", "vote", str(pid), "-k", "alice")
    assert cli.json("gov", "params")["scf.max_term_days"] == 180  # typed: an int, not the text "180"
    assert {m["organisation"] for m in cli.json("gov", "members")["members"]} == {"Bank of Guangzhou", "HK Trade Bank"}
    out = cli("gov", "propose", "points.transfer", "-a", "symbol=X", "--title", "not governed", "-k", "alice")
    assert out.exit_code == 1 and "BAD_ARGUMENTS" in out.output


def test_the_regulator_freezes_at_once_and_every_action_is_on_record(governed) -> None:
    cli, keys = governed
    carol = keys["carol"].address
    frozen = cli.json("regulator", "freeze", "carol", "--reason", "suspected fraud", "-k", "reg")
    assert frozen["account"] == carol and frozen["until_ns"] > time.time_ns()
    cli.json("regulator", "blacklist", "org:Shady Trading Ltd", "--reason", "fraud case 9", "-k", "reg")
    out = cli("regulator", "freeze", "bob", "--reason", "x", "-k", "alice")  # not a regulator
    assert out.exit_code == 1 and "NOT_AUTHORIZED" in out.output
    actions = cli.json("regulator", "actions")["actions"]
    assert [(a["action"], a["target"]) for a in actions][-2:] == [("freeze", carol), ("blacklist", "org:Shady Trading Ltd")]
    assert cli.json("regulator", "status", "org:Shady Trading Ltd")["listed"]["reason"] == "fraud case 9"
    cli.json("regulator", "lift", "carol", "-k", "reg")
    assert cli.json("regulator", "status", "carol")["frozen"] is None
    assert cli.json("regulator", "alerts")["count"] == 0


def test_following_alerts_takes_transaction_and_block_alerts_of_the_kind_asked() -> None:
    from baychain.cli.gov import is_alert
    from baychain.sdk.client import StreamEvent

    double = StreamEvent("tx_event", {"type": "scf.alert", "attributes": {"kind": "double_financing"}})
    evidence = StreamEvent("block_event", {"type": "network.alert", "attributes": {"kind": "validator_misbehavior"}})
    block = StreamEvent("block", {"height": 3})
    assert [is_alert(e) for e in (double, evidence, block)] == [True, True, False]
    assert [is_alert(e, "validator_misbehavior") for e in (double, evidence)] == [False, True]
