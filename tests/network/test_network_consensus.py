"""Four validators on 127.0.0.1, each a real node process (application, ABCI server,
API) supervising a real `cometbft node`: agreement, liveness with one validator down,
a safe halt without a quorum, and crash recovery with kill -9 under load.

The tests share one network (starting four nodes costs seconds on two cores); each
test starts with every node up and leaves the network agreeing at every height. They
run twice: with CometBFT's mempool, and with the nodes keeping their own (`net init`'s
default; CometBFT's `nop` mempool, docs/NETWORK.md).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import shutil
import signal
import threading
import time

import httpx
import pytest

from baychain.contracts.context import contract_key
from baychain.runtime.contracts import notary_record_key as record_key
from baychain.errors import BaychainError, Code
from baychain.network.light import ApiRelay, LightClient, LightError, verify_signed_header
from baychain.network import cometbft
from baychain.network.home import NodeHome, NodeSettings
from baychain.network.manifest import PORT_NAMES
from baychain.network.ports import free_ports
from baychain.network.processes import start_node, stop_node
from baychain.network.rpc import CometRpc
from baychain.sdk import Client, Key
from netsupport import ForkingWitness, LocalNetwork, conflicting_header, kill_strays, running_network, wait_group_gone
from support import Signer, eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

CHAIN_ID = "baychain-net-test"


@pytest.fixture(scope="module", params=["cometbft", "app"], ids=["cometbft-mempool", "app-mempool"])
def net(request, tmp_path_factory):
    with running_network(tmp_path_factory.mktemp("net"), CHAIN_ID, mempool=request.param) as network:
        yield network


@pytest.fixture
def all_up(net):
    """Every test starts with all four nodes running and committing blocks."""
    down = [n for n in net.names if net.pid(n) is None]
    net.start(*down)
    net.wait_healthy(timeout=90)
    return net


def notarize_txs(count: int, label: str) -> list[bytes]:
    """Signed transactions from fresh accounts (nonce 0 each, so none depends on another)."""
    return [
        Signer(CHAIN_ID).tx("notary", "notarize", digest=os.urandom(32), metadata={"test": label, "n": i}).raw
        for i in range(count)
    ]


def submit_batch(net: LocalNetwork, node: str, raws: list[bytes]) -> list[dict]:
    return net.post(node, "/v1/txs/batch", {"txs": [r.hex() for r in raws]})["results"]


def committed_everywhere(net: LocalNetwork, names: list[str], tx_hashes: list[str]) -> bool:
    for name in names:
        for h in tx_hashes:
            if net.clients[name].get(f"/v1/txs/{h}/receipt").status_code != 200:
                return False
    return True


class Load:
    """Background load: batches of fresh-account transactions to some nodes, until stopped.
    Submissions to a node that is down simply fail; admitted hashes are remembered."""

    def __init__(self, net: LocalNetwork, targets: list[str], batch: int = 10, pause: float = 0.05) -> None:
        self.net, self.targets, self.batch, self.pause = net, targets, batch, pause
        self.admitted: dict[str, list[str]] = {t: [] for t in targets}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            target = self.targets[i % len(self.targets)]
            i += 1
            try:
                results = submit_batch(self.net, target, notarize_txs(self.batch, f"load-{i}"))
            except Exception:  # noqa: BLE001 - the node may be dead right now
                time.sleep(0.1)
                continue
            self.admitted[target] += [r["hash"] for r in results if r["code"] == 0]
            time.sleep(self.pause)

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


def test_four_validators_commit_signed_transactions_and_agree_on_every_app_hash(all_up) -> None:
    net = all_up
    gd, hk, mo, reg = net.names
    urls = {n.name: n.api_url for n in net.manifest.nodes}
    issuer, holders = Key.generate(), {hk: Key.generate(), mo: Key.generate(), reg: Key.generate()}

    # An issuer on the Guangdong bank's node creates points and issues them to three
    # holders; each holder then transfers through its own organisation's node.
    with Client(urls[gd], timeout=20) as client:
        assert client.status()["engine"] == "cometbft"
        client.call(issuer, "points", "create", {"symbol": "GBA", "title": "Bay points"})
        for key in holders.values():
            client.call(issuer, "points", "issue", {"symbol": "GBA", "to": key.address, "amount": 1000})

    errors: list[BaseException] = []

    def transfers(node: str) -> None:
        try:
            others = [k.address for n, k in holders.items() if n != node]
            with Client(urls[node], timeout=20) as c:
                for i in range(4):
                    receipt = c.call(holders[node], "points", "transfer",
                                     {"symbol": "GBA", "to": others[i % 2], "amount": 10 + i})
                    assert receipt.ok and receipt.height > 0
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=transfers, args=(n,)) for n in holders]
    for t in threads:
        t.start()
    # Meanwhile a batch of notarizations goes in through the regulator's node.
    raws = notarize_txs(40, "batch")
    results = submit_batch(net, reg, raws)
    assert [r["code"] for r in results] == [0] * len(raws), results
    for t in threads:
        t.join(60)
    assert not errors, errors

    hashes = [r["hash"] for r in results]
    net.wait_for(lambda: committed_everywhere(net, net.names, hashes), "the batch on every node", 60)

    # Every node reports the same balances (proof-checked reads), and they sum to the supply.
    tip = min(net.heights().values())
    for node in net.names:
        with Client(urls[node]) as c:
            balances = [c.points_balance("GBA", k.address, height=tip) for k in holders.values()]
            assert sum(balances) == 3000, (node, balances)
            assert balances == [c.points_balance("GBA", k.address, height=tip) for k in holders.values()]
    receipts = {n: net.api(n, f"/v1/txs/{hashes[0]}/receipt") for n in net.names}
    assert len({(r["height"], r["index"], r["code"]) for r in receipts.values()}) == 1, receipts
    assert net.assert_agree() > 5

    if net.home(gd).load().mempool == "app":
        return  # the nodes relay transactions themselves (test_network_app_mempool.py): CometBFT gossips none
    # With CometBFT's mempool transactions flood by default: each CometBFT relays them to all three of its peers.
    eventually(lambda: all(net.gossip(n) == (3, 3) for n in net.names), "every node relaying to its three peers", 60,
               lambda: f"(peers, relayed to) per node: {({n: net.gossip(n) for n in net.names})}\n{net.logs()}")


def test_chain_goes_on_with_one_validator_killed_and_it_catches_up(all_up) -> None:
    net = all_up
    gd, hk, mo, reg = net.names

    # kill -9 of the node's Python process alone: its cometbft child must not survive it.
    pid = net.pid(reg)
    os.kill(pid, signal.SIGKILL)
    assert wait_group_gone(pid), "the regulator's cometbft outlived its node process"
    assert net.pid(reg) is None

    live = [gd, hk, mo]
    start = max(h for h in net.heights(live).values() if h is not None)
    raws = notarize_txs(20, "one-down")
    assert all(r["code"] == 0 for r in submit_batch(net, hk, raws))
    net.wait_height(live, start + 5, timeout=60)
    net.assert_agree(live)

    net.start(reg)
    target = max(h for h in net.heights(live).values() if h is not None)
    net.wait_height([reg], target + 2, timeout=90)
    net.assert_agree(net.names)


def test_chain_halts_without_a_quorum_and_resumes_without_forking(all_up) -> None:
    net = all_up
    gd, hk, mo, reg = net.names
    net.kill(hk)
    net.kill(mo)
    live = [gd, reg]
    time.sleep(2)  # a block that was already being committed may still land
    halted_at = net.heights(live)

    # A transaction is still admitted to the mempool, but nothing commits.
    raws = notarize_txs(1, "during-halt")
    (result,) = submit_batch(net, gd, raws)
    assert result["code"] == 0, result
    time.sleep(5)
    assert net.heights(live) == halted_at, f"heights moved without a quorum: {halted_at} -> {net.heights(live)}"
    assert all(net.api(n, "/health")["status"] == "ok" for n in live)

    # One validator returns: three of four are a quorum again, and the waiting tx commits.
    net.start(hk)
    live = [gd, reg, hk]
    top = max(halted_at.values())
    net.wait_height(live, top + 3, timeout=90)
    net.wait_for(lambda: committed_everywhere(net, live, [result["hash"]]), "the tx submitted during the halt", 30)
    net.assert_agree(live)

    net.start(mo)
    target = max(h for h in net.heights(live).values() if h is not None)
    net.wait_height([mo], target + 2, timeout=90)
    net.assert_agree(net.names)


def test_kill_9_at_random_moments_under_load_recovers_without_reset_or_fork(all_up) -> None:
    """Crash recovery, no manual reset: a validator's node and cometbft are SIGKILLed
    together at random moments while every node takes transactions, then simply
    restarted; each time it must come back (the ABCI handshake replays whatever the
    application lacks) and every node must end with identical blocks and app hashes."""
    net = all_up
    gd, hk, mo, reg = net.names
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    witness = hk  # never killed: everything it admits must end up committed everywhere
    with Load(net, targets=[gd, hk, mo, reg], batch=10, pause=0.02) as load:
        for round_ in range(5):
            victim = rng.choice([gd, mo, reg])
            time.sleep(rng.uniform(0.1, 1.5))
            net.kill(victim)
            time.sleep(rng.uniform(0.0, 1.0))
            net.start(victim)
            try:
                net.wait_healthy(victim, timeout=60)
            except Exception as exc:
                raise AssertionError(f"{victim} did not recover in round {round_} (seed {seed})") from exc
        time.sleep(1.0)
    target = max(h for h in net.heights().values() if h is not None)
    net.wait_height(net.names, target + 2, timeout=90)

    admitted = load.admitted[witness]
    assert len(admitted) >= 20, f"too little load was admitted: {len(admitted)} (seed {seed})"
    net.wait_for(lambda: committed_everywhere(net, net.names, admitted), f"the witness's txs everywhere (seed {seed})", 60)
    assert net.assert_agree(net.names) >= target
    for name in net.names:
        log = _log(net, name)
        for fatal in ("CONSENSUS FAILURE", "wrong Block.Header.AppHash", "app block height", "panic:"):
            assert fatal not in log, f"{name} logged {fatal!r} (seed {seed})"


def test_a_node_outside_the_member_registry_is_refused_by_every_member(all_up, tmp_path) -> None:
    """filter_peers = true: members ask their application about each peer; a node whose
    id is not in the genesis member list gets no connection, hence no blocks."""
    net = all_up
    member_homes = [net.home(n) for n in net.names]
    outsider = NodeHome(tmp_path / "outsider")
    keys = cometbft.init_home(outsider.cometbft)
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES))))
    cometbft.set_config(
        outsider.cometbft,
        cometbft.node_settings(moniker="outsider", ports=ports, filter_peers=True,
                               persistent_peers=[e.p2p_address for e in net.manifest.nodes]),
    )
    shutil.copyfile(member_homes[0].cometbft / "config" / "genesis.json", outsider.cometbft / "config" / "genesis.json")
    outsider.save(NodeSettings(name="outsider", api_port=ports["api"]))

    # Each member's application answers CometBFT's filter queries.
    member_id = net.manifest.nodes[1].node_id
    with CometRpc(net.manifest.nodes[0].rpc_url) as rpc:
        ok = rpc.call("abci_query", path=f"/p2p/filter/id/{member_id}")["response"]
        refused = rpc.call("abci_query", path=f"/p2p/filter/id/{keys.node_id}")["response"]
    assert ok.get("code", 0) == 0, ok
    assert refused["code"] == int(Code.NOT_AUTHORIZED), refused

    start_node(outsider)
    try:
        url = f"http://127.0.0.1:{ports['api']}"
        net.wait_for(lambda: httpx.get(url + "/health", timeout=2).json()["status"] == "ok", "the outsider's API", 60)
        member_rpcs = [CometRpc(e.rpc_url) for e in net.manifest.nodes]
        try:
            with CometRpc(f"http://127.0.0.1:{ports['rpc']}") as rpc:
                net.wait_for(lambda: rpc.status(), "the outsider's CometBFT", 30)
                # Several redial rounds (every 2 s at most). The outsider may see a member
                # for an instant (it accepts members) until the member hangs up; no member
                # ever adds the outsider as a peer, and the outsider never gets a block.
                deadline = time.monotonic() + 6
                while time.monotonic() < deadline:
                    for member in member_rpcs:
                        peer_ids = {p["node_info"]["id"] for p in member.net_info()["peers"]}
                        assert keys.node_id not in peer_ids, f"{member.url} accepted the outsider"
                    time.sleep(0.3)
                assert int(rpc.status()["sync_info"]["latest_block_height"]) == 0
            assert all(int(m.net_info()["n_peers"]) == 3 for m in member_rpcs)
        finally:
            for member in member_rpcs:
                member.close()
        assert any(f"node {keys.node_id} is not a member" in h.log_file.read_text(errors="replace") for h in member_homes)
    finally:
        stop_node(outsider)
        kill_strays(outsider.path)


def test_light_client_trusts_an_app_hash_only_with_two_thirds_of_validator_signatures(all_up) -> None:
    """A state proof checked against an app hash taken from a header that more than 2/3
    of the genesis validators signed: the relaying node need not be trusted."""
    net = all_up
    gd, hk, mo, reg = net.names
    entries = {e.name: e for e in net.manifest.nodes}
    genesis = json.loads((net.home(gd).cometbft / "config" / "genesis.json").read_text())
    digest = os.urandom(32)
    with Client(entries[gd].api_url, timeout=20) as client:
        receipt = client.notarize(Key.generate(), digest, {"title": "light client"})
    height = receipt.height
    net.wait_height([hk], height + 1)

    with CometRpc(entries[hk].rpc_url) as rpc:  # headers relayed by another member's node
        light = LightClient(rpc, genesis)
        app_hash = light.verified_app_hash(height)
        assert app_hash.hex() == net.api(reg, f"/v1/blocks/{height}")["app_hash"]
        with Client(entries[reg].api_url) as client:  # state read from a third node
            proven = client.prove_state(contract_key("notary", record_key(digest)), height=height, app_hash=app_hash)
            assert proven.exists and proven.decoded()["digest"] == digest
            with pytest.raises(BaychainError) as wrong_root:
                client.prove_state(contract_key("notary", record_key(digest)), height=height, app_hash=bytes(32))
            assert wrong_root.value.code == Code.PROOF_INVALID

        signed = rpc.call("commit", height=str(height + 1))["signed_header"]
        verify_signed_header(CHAIN_ID, signed, light.validators)

        forged = copy.deepcopy(signed)
        forged["header"]["app_hash"] = "00" * 32
        with pytest.raises(LightError, match="hashes to"):
            verify_signed_header(CHAIN_ID, forged, light.validators)

        forged = copy.deepcopy(signed)
        sig = next(s for s in forged["commit"]["signatures"] if s["block_id_flag"] == 2)
        raw = bytearray(base64.b64decode(sig["signature"]))
        raw[0] ^= 1
        sig["signature"] = base64.b64encode(bytes(raw)).decode()
        with pytest.raises(LightError, match="bad precommit signature"):
            verify_signed_header(CHAIN_ID, forged, light.validators)

        forged = copy.deepcopy(signed)
        committed = [s for s in forged["commit"]["signatures"] if s["block_id_flag"] == 2]
        for s in committed[2:]:
            s["block_id_flag"] = 1  # absent
        with pytest.raises(LightError, match="more than 2/3"):
            verify_signed_header(CHAIN_ID, forged, light.validators)

        with pytest.raises(LightError, match="chain"):
            verify_signed_header("another-chain", signed, light.validators)
        with pytest.raises(LightError, match="validator set"):
            verify_signed_header(CHAIN_ID, signed, light.validators[:3])


def test_light_client_witnesses_expose_a_fork_and_set_aside_a_lying_witness(all_up) -> None:
    """Headers are compared with witnesses': the same header passes, a different one
    without valid signatures marks its witness faulty, and a different one that more than
    2/3 of the validators signed (validators signing twice) stops the client."""
    net = all_up
    gd, hk, mo, reg = net.names
    entries = {e.name: e for e in net.manifest.nodes}
    genesis = json.loads((net.home(gd).cometbft / "config" / "genesis.json").read_text())
    height = net.height(gd)
    net.wait_height([hk, mo], height + 1)

    with CometRpc(entries[hk].rpc_url) as rpc:
        honest = [entries[mo].rpc_url, ApiRelay(entries[reg].api_url), "http://127.0.0.1:1"]  # the last one: unreachable
        with LightClient(rpc, genesis, witnesses=honest) as light:
            expected = light.verified_app_hash(height)
            assert expected.hex() == net.api(reg, f"/v1/blocks/{height}")["app_hash"]
            assert light.faulty_witnesses == []
        signed = rpc.call("commit", height=str(height + 1))["signed_header"]

        liar = ForkingWitness(rpc, conflicting_header(signed, net, sign=False))
        with LightClient(rpc, genesis, witnesses=[liar]) as light:
            assert light.verified_app_hash(height) == expected  # the sources' header stands
            (faulty,) = light.faulty_witnesses
            assert faulty.startswith(f"forking-witness at height {height + 1}: bad precommit signature")

        fork = ForkingWitness(rpc, conflicting_header(signed, net, sign=True))
        verify_signed_header(CHAIN_ID, fork.signed, LightClient(rpc, genesis).validators)  # the forged header verifies alone
        with LightClient(rpc, genesis, witnesses=[fork]) as light:
            with pytest.raises(LightError) as forked:
                light.verified_app_hash(height)
            assert forked.value.code == Code.FORK_DETECTED and f"height {height + 1}" in forked.value.message
            with pytest.raises(LightError) as again:
                light.verified_header(height + 1)
            assert again.value.code == Code.FORK_DETECTED


def _log(net: LocalNetwork, name: str) -> str:
    return net.home(name).log_file.read_text(errors="replace")
