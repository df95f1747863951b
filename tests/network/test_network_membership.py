"""Membership decided on chain, with four real validators on 127.0.0.1: a node outside
the registry is refused until the committee adds it, and cut off again when the committee
removes it; a validator whose power the committee sets
to 0 stops counting (two heights later CometBFT's set has three validators, and that
node's vote can no longer make a quorum); a light client anchored on the genesis follows
both validator-set changes and checks state proofs against headers it verified.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from baychain.cli.main import app as cli_app
from baychain.contracts.context import contract_key
from baychain.runtime.contracts import notary_record_key as record_key
from baychain.errors import BaychainError, Code
from baychain.network.cometbft import TxGossip
from baychain.network.create import new_member_home
from baychain.network.home import NodeHome
from baychain.network.light import ApiRelay, LightClient
from baychain.network.members import Member
from baychain.network.processes import start_node, stop_node
from baychain.network.rpc import CometRpc
from baychain.sdk import Client, Key
from baychain.sdk.governance import Governance, action
from netsupport import LocalNetwork, committee_decides, kill_strays, running_network

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHAIN_ID = "baychain-members-test"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    # Transactions travel the gossip ring here, so membership changes are tested with it.
    with running_network(tmp_path_factory.mktemp("members"), CHAIN_ID, tx_gossip=TxGossip.RING) as network:
        yield network


def genesis_of(net: LocalNetwork) -> dict:
    return json.loads((net.home(net.names[0]).cometbft / "config" / "genesis.json").read_text())


def rpc_of(net: LocalNetwork, name: str) -> CometRpc:
    return CometRpc(net.manifest.node(name).rpc_url)


def validator_set(net: LocalNetwork, name: str, height: int | None = None) -> list[str]:
    params = {"height": str(height)} if height else {}
    with rpc_of(net, name) as rpc:
        return sorted(v["address"] for v in rpc.call("validators", **params)["validators"])


def test_a_node_outside_the_registry_is_refused_until_the_committee_adds_it(net, tmp_path: Path) -> None:
    gd, hk, mo, reg = net.names
    entry = new_member_home(net.directory, Member("outsider", "Shenzhen Fintech Ltd", "GD"))  # not registered
    outsider, ports = NodeHome(net.directory / entry.home), entry.ports

    # Nobody registers it directly, and only committee members propose.
    with Client(net.manifest.node(hk).api_url, timeout=20) as client:
        args = {"node_id": entry.node_id, "name": "outsider", "organisation": "Shenzhen Fintech Ltd", "jurisdiction": "GD"}
        with pytest.raises(BaychainError) as refused:
            client.call(Key.generate(), "network", "add_node", args)
        assert refused.value.code == Code.GOVERNED_METHOD
        with pytest.raises(BaychainError) as refused:
            Governance(client).propose(Key.generate(), "let me in", [action("network", "add_node", **args)])
        assert refused.value.code == Code.NOT_A_MEMBER

    # The founders relay transactions around the ring: to their successor and one more peer.
    net.wait_for(lambda: all(net.gossip(n) == (3, 2) for n in net.names), "every founder relaying to two of three peers", 30)

    start_node(outsider)
    member_rpcs = [rpc_of(net, n) for n in net.names]
    try:
        url = f"http://127.0.0.1:{ports['api']}"
        net.wait_for(lambda: httpx.get(url + "/health", timeout=2).json()["status"] == "ok", "the outsider's API", 60)
        with CometRpc(f"http://127.0.0.1:{ports['rpc']}") as rpc:
            net.wait_for(lambda: rpc.status(), "the outsider's CometBFT", 30)
            deadline = time.monotonic() + 5  # a few redial rounds: every member refuses it
            while time.monotonic() < deadline:
                for member in member_rpcs:
                    assert entry.node_id not in {p["node_info"]["id"] for p in member.net_info()["peers"]}
                time.sleep(0.3)
            assert int(rpc.status()["sync_info"]["latest_block_height"]) == 0
            for member in member_rpcs:
                answer = member.call("abci_query", path=f"/p2p/filter/id/{entry.node_id}")["response"]
                assert answer["code"] == int(Code.NOT_AUTHORIZED), answer

            # The registry changes on chain: every member now accepts it, and it syncs.
            decided = committee_decides(net, gd, "add_node", node_id=entry.node_id, name="outsider",
                                        organisation="Shenzhen Fintech Ltd", jurisdiction="GD", role="member")
            net.wait_for(  # each member answers from its own state, once it has committed that block
                lambda: all(m.call("abci_query", path=f"/p2p/filter/id/{entry.node_id}")["response"].get("code", 0) == 0
                            for m in member_rpcs),
                "every member's registry to list the added node", 30,
            )
            net.wait_for(
                lambda: all(entry.node_id in {p["node_info"]["id"] for p in m.net_info()["peers"]} for m in member_rpcs),
                "every member to accept the added node", 60,
            )
            net.wait_for(lambda: int(rpc.status()["sync_info"]["latest_block_height"]) > decided["decided_height"],
                         "the added node to sync past the block that added it", 90)
            # Not in the founders' ring, it is an ordinary peer to them: it gets every transaction.
            net.wait_for(lambda: all(net.gossip(n) == (4, 3) for n in net.names),
                         "every founder relaying to the added node as well", 30)
            assert net.post(gd, "/v1/contracts/network/node/query", {"args": {"node_id": entry.node_id}})["value"]["name"] == "outsider"
            assert validator_set(net, gd) == sorted(e.validator.address for e in net.manifest.nodes)  # a member, not a validator

            # The committee removes it again. CometBFT filters peers only as they connect, so
            # each member restarts its cometbft in turn to cut the open connection; the node
            # is then refused like any outsider and falls behind.
            removed = committee_decides(net, hk, "remove_node", node_id=entry.node_id)
            net.wait_for(lambda: int(rpc.net_info()["n_peers"]) == 0, "every member to cut the removed node's connection", 90)
            for name in net.names:
                assert "restarting cometbft to cut their connections" in net.home(name).log_file.read_text(errors="replace")
            stalled = int(rpc.status()["sync_info"]["latest_block_height"])
            net.wait_height(net.names, max(stalled, removed["decided_height"]) + 3, timeout=60)
            assert int(rpc.net_info()["n_peers"]) == 0 and int(rpc.status()["sync_info"]["latest_block_height"]) == stalled
            for member in member_rpcs:
                assert entry.node_id not in {p["node_info"]["id"] for p in member.net_info()["peers"]}
            net.assert_agree(net.names)
    finally:
        for member in member_rpcs:
            member.close()
        stop_node(outsider)
        kill_strays(outsider.path)


def test_a_validator_set_to_power_zero_stops_counting_and_the_light_client_follows(net, tmp_path: Path) -> None:
    gd, hk, mo, reg = net.names
    entries = {e.name: e for e in net.manifest.nodes}
    all_four = sorted(e.validator.address for e in net.manifest.nodes)
    three = sorted(entries[n].validator.address for n in (gd, hk, reg))
    assert validator_set(net, gd) == all_four

    decided = committee_decides(net, hk, "set_power", node_id=entries[mo].node_id, power=0)
    changed_at = decided["decided_height"] + 2  # an update returned at H takes effect at H + 2
    net.wait_height(net.names, changed_at + 1)
    assert validator_set(net, gd, changed_at - 1) == all_four
    assert validator_set(net, gd, changed_at) == three
    assert validator_set(net, reg) == three
    with rpc_of(net, gd) as rpc:  # mo-finance still runs, but its precommits no longer sign blocks
        signers = {s["validator_address"] for s in rpc.call("commit", height=str(changed_at))["signed_header"]["commit"]["signatures"]}
        assert entries[mo].validator.address not in signers and len(signers) == 3

    # It stops counting: with it killed the other three go on; with hk-bank also down,
    # mo-finance back online cannot make a quorum (2 of 3 validators = 2/3, not more).
    net.kill(mo)
    top = max(net.heights([gd, hk, reg]).values())
    net.wait_height([gd, hk, reg], top + 3)
    net.kill(hk)
    net.start(mo)
    net.wait_for(lambda: net.height(mo) is not None, "mo-finance's API", 60)
    time.sleep(2)
    halted = net.heights([gd, reg])
    time.sleep(4)
    assert net.heights([gd, reg]) == halted, f"heights moved without a quorum of the new set: {halted} -> {net.heights([gd, reg])}"
    net.start(hk)
    net.wait_height([gd, hk, reg, mo], max(halted.values()) + 3, timeout=90)

    # A light client anchored on the genesis (4 validators) verifies a state proof of a
    # later height, reading headers through a node's API relay and another's RPC.
    digest = os.urandom(32)
    with Client(entries[reg].api_url, timeout=20) as client:
        notarized = client.notarize(Key.generate(), digest, {"title": "after the change"})
    net.wait_height(net.names, notarized.height + 1)
    light = LightClient([ApiRelay(entries[gd].api_url), CometRpc(entries[hk].rpc_url)], genesis_of(net))
    with Client(entries[mo].api_url, timeout=20, light=light) as client:
        proven = client.prove_state(contract_key("notary", record_key(digest)), height=notarized.height)
        assert proven.exists and proven.decoded()["digest"] == digest
        assert [(t.height, len(t.validators)) for t in light.trusted_sets] == [(1, 4), (changed_at, 3)]
        earlier_root = light.verified_app_hash(notarized.height - 1)  # verified, but of another height
        with pytest.raises(BaychainError) as wrong:
            client.prove_state(contract_key("notary", record_key(digest)), height=notarized.height, app_hash=earlier_root)
        assert wrong.value.code == Code.PROOF_INVALID

    # The CLI does the same: headers relayed by the node's API, trust from the genesis file.
    genesis_file = tmp_path / "genesis.json"
    genesis_file.write_text(json.dumps(genesis_of(net)))
    out = CliRunner().invoke(cli_app, ["--node", entries[mo].api_url, "--json", "state", "get", record_key(digest),
                                       "--contract", "notary", "--prove", "--light", "--genesis", str(genesis_file),
                                       "--witness", entries[gd].api_url, "--witness", entries[reg].api_url])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["verified"] and doc["exists"] and doc["height"] >= notarized.height
    lone = CliRunner().invoke(cli_app, ["--node", entries[mo].api_url, "state", "get", "00", "--witness", entries[gd].api_url])
    assert lone.exit_code != 0 and "BAD_REQUEST" in lone.output and "--light" in lone.output

    # Power back, through the CLI this time: four validators again, and the light client
    # follows the second change.
    out = CliRunner().invoke(cli_app, ["--node", entries[gd].api_url, "--json", "net", "set-power", entries[mo].node_id,
                                       "10", "--dir", str(net.directory)])
    assert out.exit_code == 0, out.output
    decided = json.loads(out.output)
    assert decided["status"] == "executed"
    listed = CliRunner().invoke(cli_app, ["--node", entries[gd].api_url, "--json", "net", "members"])
    assert listed.exit_code == 0, listed.output
    assert {n["name"]: n["power"] for n in json.loads(listed.output)["nodes"]}[mo] == 10
    net.wait_height([gd], decided["decided_height"] + 3)
    assert validator_set(net, gd, decided["decided_height"] + 2) == all_four
    light.verified_app_hash(decided["decided_height"] + 2)
    assert [(t.height, len(t.validators)) for t in light.trusted_sets] == [(1, 4), (changed_at, 3), (decided["decided_height"] + 2, 4)]
    light.close()
    net.wait_height(net.names, decided["decided_height"] + 4, timeout=60)
    net.assert_agree(net.names)
