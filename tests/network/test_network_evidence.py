"""Misbehaviour on the record, with four real validators on 127.0.0.1.

A validator that signs two different votes for one height and round is caught: the
evidence (built here with the validator's own key, as CometBFT builds it when it sees
both votes) goes to one node's RPC; CometBFT verifies it, gossips it and a proposer
commits it; every node's application then records one `validator_misbehavior` alert
naming the registered node, in the same block, in the audit log the regulator reads,
and streams it to a regulator watching live.

Validators that sign a header conflicting with the chain are caught by a light client:
shown that header by a witness, it refuses with FORK_DETECTED and submits the fork as
`LightClientAttackEvidence` through a node's API; the chain commits it and every node
names each validator that signed.
"""

from __future__ import annotations

import base64
import json
import queue
import threading

import pytest
from typer.testing import CliRunner

from baychain.cli.main import app as cli_app
from baychain.network.cometbft import read_keys
from baychain.network.home import NodeHome
from baychain.errors import Code
from baychain.network import evidence
from baychain.network.light import ApiRelay, LightClient, LightError
from baychain.network.rpc import CometRpc, RpcError
from baychain.sdk import Client
from baychain.sdk.governance import Governance
from netsupport import ForkingWitness, LocalNetwork, conflicting_header, running_network, validator_seed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CHAIN_ID = "baychain-evidence-test"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_network(tmp_path_factory.mktemp("evidence"), CHAIN_ID) as network:
        yield network


def double_sign(home: NodeHome, rpc: CometRpc, height: int, *, forge: bool = False) -> dict:
    """Duplicate-vote evidence against the validator of `home` at `height` (`forge`: the
    second vote signed by another key)."""
    header_time = rpc.call("header", height=str(height))["header"]["time"]
    validators = rpc.call("validators", height=str(height), per_page="100")["validators"]
    return evidence.duplicate_vote(CHAIN_ID, validator_seed(home)[1], height, header_time, validators, forge=forge)


def misbehavior_alerts(net: LocalNetwork, name: str) -> list[dict]:
    return net.api(name, "/v1/regulator/alerts", kind="validator_misbehavior")["alerts"]


def test_a_validator_signing_twice_is_recorded_on_every_node_and_streamed(net: LocalNetwork) -> None:
    faulty = net.names[1]
    watcher = net.names[3]
    rpc = CometRpc(net.manifest.node(net.names[0]).rpc_url)
    net.wait_height(net.names, 3)
    height = net.height(net.names[0]) - 1

    # Evidence whose second vote another key signed is refused by CometBFT, through the RPC or a
    # node's API relay: nothing is recorded.
    forged = double_sign(net.home(faulty), rpc, height, forge=True)
    with pytest.raises(RpcError, match="(?i)signature"):
        rpc.call("broadcast_evidence", evidence=forged)
    refused = net.clients[net.names[2]].post("/v1/cometbft/evidence", json={"evidence": forged})
    assert refused.status_code == 400 and refused.json()["code"] == Code.BAD_REQUEST
    assert refused.json()["message"].startswith("evidence refused:") and "signature" in refused.json()["message"].lower()

    streamed: queue.Queue = queue.Queue()

    subscribed = threading.Event()

    def watch() -> None:  # the regulator, following `*.alert` live on another node
        with Client(net.manifest.node(watcher).api_url, timeout=20) as client:
            for event in Governance(client).stream_alerts(read_timeout=60):
                subscribed.set()  # a "block" comes with every commit, alerts or not
                if event.event == "block_event":
                    streamed.put(event.data)
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert subscribed.wait(30), "the regulator's stream never delivered a block"  # open before the evidence goes in
    submitted = rpc.call("broadcast_evidence", evidence=double_sign(net.home(faulty), rpc, height))
    assert len(base64.b64decode(submitted["hash"])) == 32

    alerts = {n: net.wait_for(lambda n=n: misbehavior_alerts(net, n), f"{n} to record the evidence", 60)
              for n in net.names}
    reference = alerts[net.names[0]]
    assert all(a == reference for a in alerts.values()), alerts
    (alert,) = reference
    keys = read_keys(net.home(faulty).cometbft)
    member = net.manifest.node(faulty).member
    assert alert["contract"] == "network" and alert["tx"] == "" and alert["signer"] == ""
    assert alert["attributes"] == {
        "misbehavior": "duplicate_vote", "validator": keys.validator_address.lower(), "node_id": keys.node_id,
        "name": faulty, "organisation": member.organisation, "jurisdiction": member.jurisdiction,
        "evidence_height": str(height), "evidence_time_ns": alert["attributes"]["evidence_time_ns"],
        "power": "10", "total_power": "40"}

    # The regulator's command line lists it by kind.
    out = CliRunner().invoke(cli_app, ["--node", net.manifest.node(watcher).api_url, "--json", "regulator", "alerts",
                                       "--kind", "validator_misbehavior"])
    assert out.exit_code == 0, out.output
    assert [a["attributes"]["name"] for a in json.loads(out.output)["alerts"]] == [faulty]

    # The block that committed the evidence carries it in CometBFT's block and in baychain's record.
    committed = alert["height"]
    (evidence,) = rpc.call("block", height=str(committed))["block"]["evidence"]["evidence"]
    assert evidence["type"] == "tendermint/DuplicateVoteEvidence"
    block = net.api(net.names[2], f"/v1/blocks/{committed}")
    assert [e["attributes"]["validator"] for e in block["events"]] == [keys.validator_address.lower()]

    event = streamed.get(timeout=60)
    assert event["height"] == committed and event["type"] == "network.alert"
    assert event["attributes"]["kind"] == "validator_misbehavior" and event["attributes"]["name"] == faulty

    # The fault is recorded, not punished: the validator still votes, the chain goes on, all agree.
    with CometRpc(net.manifest.node(net.names[0]).rpc_url) as rpc2:
        assert keys.validator_address.upper() in [v["address"] for v in rpc2.call("validators")["validators"]]
    net.wait_height(net.names, committed + 2)
    net.assert_agree()
    rpc.close()


def test_a_light_client_reports_a_fork_and_every_node_names_the_validators_that_signed_it(net: LocalNetwork) -> None:
    gd, hk, mo, reg = net.names
    genesis = json.loads((net.home(gd).cometbft / "config" / "genesis.json").read_text())
    height = net.height(gd)
    net.wait_height([hk], height + 1)
    with CometRpc(net.manifest.node(hk).rpc_url) as rpc:
        signed = rpc.call("commit", height=str(height + 1))["signed_header"]
        fork = ForkingWitness(rpc, conflicting_header(signed, net, sign=True))  # all four signed a second header
        source = ApiRelay(net.manifest.node(mo).api_url)  # the chain, reached through a node's API only
        with LightClient(source, genesis, witnesses=[fork]) as light:
            with pytest.raises(LightError) as forked:
                light.verified_app_hash(height)
            reports = light.evidence_reports
        source.close()
    assert forked.value.code == Code.FORK_DETECTED
    assert "evidence accepted by 1 of 2 node(s)" in forked.value.message
    to_chain, to_witness = reports
    assert (to_chain.node, to_chain.height, to_chain.accepted) == (source.url, height + 1, True)
    # The witness's side is the real chain here: the sources' header is its own, so it refuses.
    assert to_witness.node == "forking-witness" and not to_witness.accepted
    assert "matches the evidence's conflicting header" in to_witness.detail

    def attack_alerts(name: str) -> list[dict]:
        alerts = net.api(name, "/v1/regulator/alerts", kind="validator_misbehavior")["alerts"]
        return [a for a in alerts if a["attributes"]["misbehavior"] == "light_client_attack"]

    named = {n: net.wait_for(lambda n=n: attack_alerts(n), f"{n} to record the attack", 60) for n in net.names}
    assert all(alerts == named[gd] for alerts in named.values()), named
    # Each validator whose signature is on the conflicting commit is named once, at the common height.
    signers = {sig["validator_address"].lower() for sig in fork.signed["commit"]["signatures"] if sig["block_id_flag"] == 2}
    assert len(signers) >= 3
    assert sorted(a["attributes"]["validator"] for a in named[gd]) == sorted(signers)
    by_address = {read_keys(net.home(n).cometbft).validator_address.lower(): n for n in net.names}
    assert sorted(a["attributes"]["name"] for a in named[gd]) == sorted(by_address[v] for v in signers)
    assert {a["attributes"]["evidence_height"] for a in named[gd]} == {str(height)}
    assert len({a["height"] for a in named[gd]}) == 1  # all in the block that committed the evidence
    net.assert_agree()


def test_a_double_signing_drill_from_the_command_line(net: LocalNetwork) -> None:
    drilled = net.names[2]
    out = CliRunner().invoke(cli_app, ["--json", "net", "drill-double-sign", drilled, "--dir", str(net.directory)])
    assert out.exit_code == 0, out.output
    alert = json.loads(out.output)
    assert (alert["kind"], alert["attributes"]["name"], alert["attributes"]["misbehavior"]) == (
        "validator_misbehavior", drilled, "duplicate_vote")
    assert alert in net.api(net.names[0], "/v1/regulator/alerts", kind="validator_misbehavior")["alerts"]
    missing = CliRunner().invoke(cli_app, ["--json", "net", "drill-double-sign", "nobody", "--dir", str(net.directory)])
    assert missing.exit_code != 0 and "NOT_FOUND" in missing.output
