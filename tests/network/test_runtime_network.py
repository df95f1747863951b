"""Deployed contracts on four real CometBFT validators: the committee approves a contract,
anyone deploys it, and hostile calls are stopped with the same code and the same app hash
on every node."""

from __future__ import annotations

from pathlib import Path

import pytest

from baychain.errors import Code
from baychain.network.committee import local_committee
from baychain.runtime.contracts import source
from baychain.sdk import Client
from baychain.sdk.contracts import Contracts
from baychain.sdk.governance import Governance
from netsupport import LocalNetwork, running_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CHAIN_ID = "baychain-runtime-net"
HOSTILE = (Path(__file__).parent.parent / "runtime" / "hostile_contract.py").read_text()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_network(tmp_path_factory.mktemp("runtime-net"), CHAIN_ID) as network:
        yield network


def test_hostile_contracts_are_stopped_alike_on_four_validators(net: LocalNetwork) -> None:
    committee = local_committee(net.directory)
    first, second = net.names[0], net.names[1]
    with Client(net.manifest.node(first).api_url, timeout=30) as client:
        registry, gov = Contracts(client, timeout=60), Governance(client, timeout=60)
        for name, text in (("token", source("token")), ("hostile", HOSTILE)):
            pid = registry.propose(committee[0], name, text)
            for member in committee:
                summary = gov.vote(member, pid)
                if summary["status"] != "open":
                    break
            assert summary["status"] == "executed", summary
            assert registry.deploy(committee[0], name, text).ok
        me = committee[0]
        client.call(me, "token", "mint", {"to": me.address, "amount": 10}, timeout=60)
        calls = [("hostile", "loop", {}), ("hostile", "bomb", {}), ("hostile", "spam", {}), ("hostile", "leak", {}),
                 ("hostile", "steal", {}), ("hostile", "deep", {}), ("token", "transfer", {"to": me.address, "amount": 11})]
        nonce = client.next_nonce(me.address)
        raws = [client.build_tx(me, c, m, a, nonce=nonce + i).raw for i, (c, m, a) in enumerate(calls)]
        admitted = client.submit_batch(raws)
        assert [r["code"] for r in admitted] == [0] * len(raws), admitted
        receipts = [client.wait_for_receipt(r["hash"], timeout=60) for r in admitted]
    assert [r.code for r in receipts] == [Code.OUT_OF_COMPUTE, Code.MEMORY_LIMIT, Code.EVENT_LIMIT, Code.CONTRACT_ERROR,
                                          Code.CONTRACT_ERROR, Code.CALL_DEPTH_EXCEEDED, Code.INSUFFICIENT_BALANCE]
    last = max(r.height for r in receipts)
    net.wait_height(net.names, last + 2)
    for name in net.names:  # every node: the same outcome, nothing kept
        with Client(net.manifest.node(name).api_url, timeout=30) as c:
            assert [c.receipt(r.hash).code for r in receipts] == [r.code for r in receipts]
            assert c.view("token", "balance_of", {"account": me.address}) == 10
            assert all(c.view("hostile", "mark", {"name": m}) == 0 for m in ("loop", "bomb", "spam", "leak", "steal"))
    assert net.assert_agree() >= last
    with Client(net.manifest.node(second).api_url, timeout=30) as c:
        assert {x["name"] for x in c.contracts() if "runtime" in x} >= {"token", "hostile", "notary", "accounts"}
