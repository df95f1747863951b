"""Deployed contracts on a chain: governed lifecycle, calls, rollback, and nodes that agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from baychain.errors import Code
from baychain.runtime.contracts import source
from runtime_chain_support import CHAIN_ID, Chain
from governance_support import action, decide
from support import Signer

TOKEN = source("token")

HOSTILE = (Path(__file__).parent / "hostile_contract.py").read_text()  # every way to misbehave, one method each


@pytest.fixture
def members():
    return [Signer(CHAIN_ID) for _ in range(3)]


@pytest.fixture
def chain(tmp_path, members):
    c = Chain([tmp_path / "node0"], members)
    yield c
    c.close()


@pytest.fixture
def nodes(tmp_path, members):
    c = Chain([tmp_path / "node0", tmp_path / "node1"], members)
    yield c
    c.close()


def test_a_contract_is_deployed_only_after_a_proposal_passes_its_hash(chain, members):
    alice = members[0]
    assert chain.run(alice.tx("contracts", "deploy", name="token", source=TOKEN)).code == Code.CODE_NOT_APPROVED
    from baychain.runtime.deployed import code_hash

    direct = chain.run(alice.tx("contracts", "approve", name="token", code_hash=code_hash(TOKEN)))
    assert direct.code == Code.GOVERNED_METHOD
    assert chain.run(alice.tx("token", "transfer", to=members[1].address, amount=1)).code == Code.UNKNOWN_CONTRACT
    assert chain.deploy("token", TOKEN) == {"name": "token", "version": 1, "code_hash": code_hash(TOKEN)}
    chain.ok(alice.tx("token", "mint", to=alice.address, amount=100))
    chain.ok(alice.tx("token", "transfer", to=members[1].address, amount=30))
    assert chain.app.view("token", "balance_of", {"account": alice.address}) == 70
    assert chain.run(alice.tx("token", "transfer", to=members[1].address, amount=71)).code == Code.INSUFFICIENT_BALANCE
    described = {c["name"]: c for c in chain.app.describe_contracts()}
    transfer = next(m for m in described["token"]["methods"] if m["name"] == "transfer")
    assert transfer["params"] == [{"name": "to", "type": "str", "required": True},
                                  {"name": "amount", "type": "int", "required": True}]
    assert described["token"]["runtime"]["version"] == 1


def test_an_upgrade_keeps_storage_and_versions(chain, members):
    alice = members[0]
    chain.deploy("token", TOKEN)
    chain.ok(alice.tx("token", "mint", to=alice.address, amount=100))
    v2 = TOKEN.replace('"""A token', '"""Version 2 of a token')
    assert chain.deploy("token", v2)["version"] == 2
    assert chain.app.view("token", "balance_of", {"account": alice.address}) == 100
    assert [v["version"] for v in chain.app.view("contracts", "versions", {"name": "token"})] == [1, 2]
    assert chain.app.view("contracts", "source", {"name": "token", "version": 1}) == TOKEN


def test_a_disabled_contract_refuses_every_call_until_enabled(chain, members):
    alice = members[0]
    chain.deploy("token", TOKEN)
    summary = decide(chain.run, members, [action("contracts", "disable", name="token", reason="audit")])
    assert summary["status"] == "executed"
    assert chain.run(alice.tx("token", "mint", to=alice.address, amount=1)).code == Code.CONTRACT_DISABLED
    decide(chain.run, members, [action("contracts", "enable", name="token")])
    chain.ok(alice.tx("token", "mint", to=alice.address, amount=1))


def test_hostile_calls_roll_back_and_two_nodes_agree(nodes, members):
    alice, bob = members[0], members[1]
    nodes.deploy("token", TOKEN)
    nodes.deploy("hostile", HOSTILE)
    nodes.ok(alice.tx("token", "mint", to=alice.address, amount=10))
    nodes.restart(1)  # one node with cold caches: compiled code must behave the same
    hostile = [alice.tx("hostile", "loop"), alice.tx("hostile", "bomb"), alice.tx("hostile", "spam"),
               alice.tx("hostile", "leak"), alice.tx("hostile", "steal"),
               alice.tx("hostile", "deep"), alice.tx("hostile", "usurp"),
               bob.tx("token", "transfer", to=alice.address, amount=5)]
    results = nodes.block(*hostile)
    assert [r.code for r in results] == [Code.OUT_OF_COMPUTE, Code.MEMORY_LIMIT, Code.EVENT_LIMIT,
                                         Code.CONTRACT_ERROR, Code.CONTRACT_ERROR, Code.CALL_DEPTH_EXCEEDED,
                                         Code.GOVERNED_METHOD, Code.INSUFFICIENT_BALANCE]
    assert all(r.compute_used > 0 for r in results[:7])
    assert nodes.app.view("contracts", "approval", {"name": "evil"}) is None
    for name in ("loop", "bomb", "spam", "leak", "steal", "deep", "usurp"):
        assert nodes.app.view("hostile", "mark", {"name": name}) == 0
    assert nodes.app.view("token", "balance_of", {"account": alice.address}) == 10
    nodes.ok(alice.tx("token", "transfer", to=bob.address, amount=4))
    assert nodes.apps[1].view("token", "balance_of", {"account": bob.address}) == 4


def test_accounts_and_notary_are_built_in_contracts_on_the_runtime(chain, members):
    from baychain.runtime.deployed import code_hash

    described = {c["name"]: c for c in chain.app.describe_contracts()}
    for name in ("accounts", "notary"):
        assert described[name]["runtime"]["code_hash"] == code_hash(source(name)).hex()
    assert "runtime" not in described["points"]  # native: see docs/ARCHITECTURE.md
    summary = decide(chain.run, members, [action("contracts", "approve", name="notary", code_hash=code_hash(TOKEN))])
    assert summary["status"] == "failed"  # a built-in name cannot be taken over
    digest = bytes(range(32))
    chain.ok(members[0].tx("notary", "notarize", digest=digest))
    record = chain.app.view("notary", "lookup", {"digest": digest})
    assert record["owner"] == members[0].address and record["metadata"] == {}
    assert chain.run(members[1].tx("notary", "notarize", digest=digest)).code == Code.ALREADY_EXISTS


def test_runtime_budgets_are_set_by_the_committee(chain, members):
    alice = members[0]
    chain.deploy("hostile", HOSTILE)
    before = chain.run(alice.tx("hostile", "loop"))
    assert before.code == Code.OUT_OF_COMPUTE and before.compute_used > 1_000_000
    summary = decide(chain.run, members, [action("governance", "set_param", name="runtime.max_compute", value=20_000)])
    assert summary["status"] == "executed"
    after = chain.run(alice.tx("hostile", "loop"))
    assert after.code == Code.OUT_OF_COMPUTE and 20_000 < after.compute_used < 30_000
    assert "20000 compute units" in after.log
