"""Misbehaviour on the record, with four real validators on 127.0.0.1.

A validator that signs two different votes for one height and round is caught: the
evidence (built here with the validator's own key, as CometBFT builds it when it sees
both votes) goes to one node's RPC; CometBFT verifies it, gossips it and a proposer
commits it; every node's application then records one `validator_misbehavior` alert
naming the registered node, in the same block, in the audit log the regulator reads,
and streams it to a regulator watching live.
"""

from __future__ import annotations

import base64
import json
import queue
import threading

import pytest

from baychain.abci.proto_gen.tendermint.types import types_pb2
from baychain.crypto.hashing import sha256
from baychain.crypto.suites import ED25519
from baychain.network.cometbft import read_keys
from baychain.network.home import NodeHome
from baychain.network.light import vote_sign_bytes
from baychain.network.rpc import CometRpc, RpcError
from baychain.sdk import Client
from baychain.sdk.governance import Governance
from netsupport import LocalNetwork, running_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CHAIN_ID = "baychain-evidence-test"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_network(tmp_path_factory.mktemp("evidence"), CHAIN_ID) as network:
        yield network


def double_sign(home: NodeHome, rpc: CometRpc, height: int, *, forge: bool = False) -> dict:
    """Duplicate-vote evidence against the validator of `home` at `height`: two prevotes
    it signs for two different blocks, in CometBFT's JSON (`forge`: the second signature
    is another key's)."""
    key = json.loads((home.cometbft / "config" / "priv_validator_key.json").read_text())
    seed = base64.b64decode(key["priv_key"]["value"])[:32]
    address = key["address"].upper()
    header_time = rpc.call("block", height=str(height))["block"]["header"]["time"]
    validators = rpc.call("validators", height=str(height), per_page="100")["validators"]
    index = [v["address"] for v in validators].index(address)
    votes = []
    for n in (1, 2):
        block_id = {"hash": sha256(b"fork %d" % n).hex().upper(),
                    "parts": {"total": 1, "hash": sha256(b"part %d" % n).hex().upper()}}
        signer = ED25519.generate() if forge and n == 2 else seed
        message = vote_sign_bytes(CHAIN_ID, height, 0, block_id, header_time, type_=types_pb2.SIGNED_MSG_TYPE_PREVOTE)
        votes.append({"type": types_pb2.SIGNED_MSG_TYPE_PREVOTE, "height": str(height), "round": 0,
                      "block_id": block_id, "timestamp": header_time, "validator_address": address,
                      "validator_index": index, "signature": base64.b64encode(ED25519.sign(signer, message)).decode()})
    votes.sort(key=lambda v: bytes.fromhex(v["block_id"]["hash"]))  # CometBFT wants them in block-id order
    return {"type": "tendermint/DuplicateVoteEvidence", "value": {
        "vote_a": votes[0], "vote_b": votes[1],
        "TotalVotingPower": str(sum(int(v["voting_power"]) for v in validators)),
        "ValidatorPower": validators[index]["voting_power"], "Timestamp": header_time}}


def misbehavior_alerts(net: LocalNetwork, name: str) -> list[dict]:
    return net.api(name, "/v1/regulator/alerts", kind="validator_misbehavior")["alerts"]


def test_a_validator_signing_twice_is_recorded_on_every_node_and_streamed(net: LocalNetwork) -> None:
    faulty = net.names[1]
    watcher = net.names[3]
    rpc = CometRpc(net.manifest.node(net.names[0]).rpc_url)
    net.wait_height(net.names, 3)
    height = net.height(net.names[0]) - 1

    # Evidence whose second vote another key signed is refused by CometBFT: nothing recorded.
    with pytest.raises(RpcError, match="(?i)signature"):
        rpc.call("broadcast_evidence", evidence=double_sign(net.home(faulty), rpc, height, forge=True))

    streamed: queue.Queue = queue.Queue()

    def watch() -> None:  # the regulator, following `*.alert` live on another node
        with Client(net.manifest.node(watcher).api_url, timeout=20) as client:
            for event in Governance(client).stream_alerts(read_timeout=60):
                if event.event == "block_event":
                    streamed.put(event.data)
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    net.wait_for(lambda: net.height(watcher), "the watcher's API")  # the stream is open before the evidence goes in
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
