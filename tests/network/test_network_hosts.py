"""Four organisations on four machines, for real: each node runs in a network namespace
of its own with its own address on a private bridge (`ip netns`, veth), and the network
is formed exactly as docs/NETWORK.md tells four organisations to form it: `node init`
with the address the others dial, node cards, `net genesis`, `node join` with the
others as peers, `node start`. Nothing crosses loopback between nodes: p2p goes over the
bridge, every node uses the default ports, and a host can be cut off the network.

Checks: the four commit and agree on every block; a transaction sent to one host is
committed on all; a host cut off the bridge (its link down) falls behind while the
other three go on, and catches up once its link is back. Then a fifth organisation on a
fifth host joins as the docs tell it to: its card, the committee's vote registering it,
`node state-sync` against two members' RPC (served on their addresses with
`--rpc-host 0.0.0.0`), `node start`; it restores a snapshot across the bridge and
agrees with the members.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys

import httpx
import pytest

from baychain.runtime.contracts import notary_record_key as record_key
from baychain.contracts.context import contract_key
from baychain.sdk import Client, Key
from baychain.sdk.governance import Governance, action
from netsupport import cometbft_binary, wait_group_gone
from support import eventually, missing_tool

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHAIN_ID = "gba-hosts-test"
ORGS = [("gd-bank", "Guangdong Bay Commercial Bank", "GD"), ("hk-bank", "Hong Kong Harbour Bank", "HK"),
        ("mo-finance", "Macao Pearl Finance", "MO"), ("regulator", "Greater Bay Area Joint Regulator", "GD")]
API_PORT = 8545  # the defaults: every host has its own port space
RPC_PORT = 26657
SNAPSHOT_INTERVAL = 10


class Hosts:
    """Network namespaces joined by one bridge; the test process reaches them through the
    bridge's own address. Names and subnet carry this process's id, so runs do not collide."""

    def __init__(self, count: int) -> None:
        tag = os.getpid() % 100_000
        self.octet = 16 + os.getpid() % 200
        self.bridge = f"bcbr{tag}"
        self.names = [f"bc{tag}h{i}" for i in range(1, count + 1)]
        self.veths = [f"bc{tag}v{i}" for i in range(1, count + 1)]
        self.made: list[list[str]] = []  # undo commands

    def address(self, i: int) -> str:
        return f"10.{self.octet}.77.{i + 1}"

    def up(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.made.append(["link", "del", self.bridge])
        ip("addr", "add", f"10.{self.octet}.77.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i, (ns, veth) in enumerate(zip(self.names, self.veths)):
            ip("netns", "add", ns)
            self.made.append(["netns", "del", ns])
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", veth, "master", self.bridge, "up")
            ip("-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def start(self, i: int, name: str) -> None:
        """`node start` on host i, detached (as a supervisor would run it)."""
        log = open(self.base / f"{name}.log", "ab")
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.names[i],
                                            *node_cmd("start", "--home", str(self.base / name))],
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.base.glob("*.log")))

    def cut(self, i: int, connected: bool) -> None:
        """Take host i's link off the bridge (or put it back): a machine losing its network."""
        ip("link", "set", self.veths[i], "up" if connected else "down")

    def run(self, i: int, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.names[i], *args], capture_output=True, text=True,
                              timeout=120, **kwargs)

    def down(self) -> None:
        for undo in reversed(self.made):
            subprocess.run(["ip", *undo], capture_output=True)


def ip(*args: str) -> None:
    out = subprocess.run(["ip", *args], capture_output=True, text=True)
    assert out.returncode == 0, f"ip {' '.join(args)}: {out.stderr}"


def node_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "baychain.cli.node_cmd", *args]


def net_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "baychain.cli.main", "net", *args]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    cometbft_binary()
    if os.geteuid() != 0 or shutil.which("ip") is None:
        missing_tool("network namespaces need root and iproute2 (scripts/install-system.sh)")
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        missing_tool(f"ip netns is not usable here: {probe.stderr.strip()}")
    base = tmp_path_factory.mktemp("hosts")
    machines = Hosts(len(ORGS) + 1)  # the last host is for the organisation that joins later
    machines.base = base
    machines.procs = procs = []
    machines.committee = [Key.generate() for _ in ORGS]  # one committee member per founding organisation
    try:
        machines.up()
        cards = []
        for i, (name, org, jurisdiction) in enumerate(ORGS):  # 1. each organisation, on its own machine
            out = machines.run(i, *node_cmd("init", "--home", str(base / name), "--name", name, "--organisation", org,
                                            "--jurisdiction", jurisdiction, "--external-host", machines.address(i),
                                            "--api-host", "0.0.0.0", "--snapshot-interval", str(SNAPSHOT_INTERVAL),
                                            *(["--rpc-host", "0.0.0.0"] if i < 2 else []), "--json"))
            assert out.returncode == 0, out.stderr
            cards.append(base / name / "node-card.json")
        genesis = base / "genesis.json"  # 2. the coordinator, from the cards alone
        committee = [a for k, (_, org, _) in zip(machines.committee, ORGS) for a in ("--member", f"{k.address}={org}")]
        out = subprocess.run(net_cmd("genesis", *[a for c in cards for a in ("--card", str(c))], *committee,
                                     "--chain-id", CHAIN_ID, "-o", str(genesis), "--json"),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        machines.genesis = genesis
        machines.peers = peers = json.loads(out.stdout)["peers"]
        for i, (name, _, _) in enumerate(ORGS):  # 3. each member adopts it, with the others as peers, and starts
            out = machines.run(i, *node_cmd("join", "--home", str(base / name), "--genesis", str(genesis),
                                            *[a for j, p in enumerate(peers) if j != i for a in ("--peer", p)]))
            assert out.returncode == 0, out.stderr
            machines.start(i, name)
        yield machines
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in procs:
            proc.wait(timeout=30)
            wait_group_gone(proc.pid)
        machines.down()


def api(hosts: Hosts, i: int) -> str:
    return f"http://{hosts.address(i)}:{API_PORT}"


def height(hosts: Hosts, i: int) -> int:
    try:
        return int(httpx.get(api(hosts, i) + "/v1/status", timeout=3).json()["height"])
    except (httpx.HTTPError, KeyError, ValueError):
        return 0


def heights(hosts: Hosts, which: list[int]) -> dict[int, int]:
    return {i: height(hosts, i) for i in which}


def blocks(hosts: Hosts, i: int, upto: int) -> list[tuple[str, str]]:
    return [(b["hash"], b["app_hash"]) for b in
            (httpx.get(f"{api(hosts, i)}/v1/blocks/{h}", timeout=5).json() for h in range(1, upto + 1))]


def test_four_organisations_on_four_hosts_commit_agree_and_survive_a_host_cut_off(hosts: Hosts) -> None:
    everyone = list(range(len(ORGS)))
    eventually(lambda: min(heights(hosts, everyone).values()) >= 3, "the four hosts to commit blocks", 90, hosts.logs)
    # Each is peered with the other three over the bridge, from their own addresses (CometBFT's
    # RPC stays on each host's loopback, as the docs set it: asked from inside the host).
    def peer_addresses(i: int) -> list[str]:
        out = hosts.run(i, sys.executable, "-c",
                        "import httpx; print(httpx.get('http://127.0.0.1:26657/net_info', timeout=5).text)")
        assert out.returncode == 0, out.stderr
        return sorted(p["remote_ip"] for p in json.loads(out.stdout)["result"]["peers"])

    for i in everyone:  # (three of four suffice to commit: the last connection may still be dialling)
        others = sorted(hosts.address(j) for j in everyone if j != i)
        eventually(lambda i=i, others=others: peer_addresses(i) == others, f"host {i} to peer with {others}", 30,
                   lambda i=i: f"host {i} peers with {peer_addresses(i)}")
    key = Key.generate()
    digest = os.urandom(32)
    with Client(api(hosts, 2), timeout=30) as client:  # a transaction through the Macao host
        receipt = client.call(key, "notary", "notarize", {"digest": digest}, timeout=30)
    assert receipt.code == 0, receipt
    stored = contract_key("notary", record_key(digest)).hex()
    for i in everyone:
        eventually(lambda i=i: httpx.get(f"{api(hosts, i)}/v1/state/{stored}", timeout=5).status_code == 200,
                   f"host {i} to have the notarization", 30, hosts.logs)

    # The regulator's machine loses its network: the other three (30 of 40 power) go on.
    hosts.cut(3, connected=False)
    cut_at = height(hosts, 3)
    eventually(lambda: min(heights(hosts, [0, 1, 2]).values()) >= cut_at + 4, "three hosts to go on", 60, hosts.logs)
    assert height(hosts, 3) <= cut_at + 1  # it saw at most the block in flight
    hosts.cut(3, connected=True)
    target = min(heights(hosts, [0, 1, 2]).values())
    eventually(lambda: height(hosts, 3) >= target, "the regulator's host to catch up", 90, hosts.logs)
    upto = min(heights(hosts, everyone).values())
    reference = blocks(hosts, 0, upto)
    for i in everyone[1:]:
        assert blocks(hosts, i, upto) == reference, f"host {i} differs"


def test_a_fifth_organisation_joins_from_its_own_host_by_state_sync(hosts: Hosts) -> None:
    i, name, org = len(ORGS), "hk-logistics", "Kwai Chung Cold Chain Logistics"
    home = hosts.base / name
    out = hosts.run(i, *node_cmd("init", "--home", str(home), "--name", name, "--organisation", org, "--jurisdiction",
                                 "HK", "--external-host", hosts.address(i), "--api-host", "0.0.0.0", "--json"))
    assert out.returncode == 0, out.stderr
    card = json.loads(out.stdout)
    with Client(api(hosts, 0), timeout=30) as client:  # the committee registers it (members filter peers on chain)
        summary = Governance(client).decide(hosts.committee, [action(
            "network", "add_node", node_id=card["node_id"], name=name, organisation=org, jurisdiction="HK",
            role="member", validator_pub_key=base64.b64decode(card["validator_pub_key"]), power=0)])
    assert summary["status"] == "executed", summary
    members = list(range(len(ORGS)))
    eventually(lambda: min(heights(hosts, members).values()) >= 2 * SNAPSHOT_INTERVAL + 2,
               "the members to make snapshots", 90, hosts.logs)
    out = hosts.run(i, *node_cmd("join", "--home", str(home), "--genesis", str(hosts.genesis),
                                 *[a for p in hosts.peers for a in ("--peer", p)]))
    assert out.returncode == 0, out.stderr
    out = hosts.run(i, *node_cmd("state-sync", "--home", str(home), "--json",
                                 *[a for j in (0, 1) for a in ("--rpc", f"http://{hosts.address(j)}:{RPC_PORT}")]))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["trust_height"] >= 2 * SNAPSHOT_INTERVAL
    hosts.start(i, name)
    # A snapshot every 3-4 s here and two kept (the default): the one the joiner lists is
    # pruned before CometBFT's 15 s of discovery end, unless the members' lease keeps it.

    def caught_up() -> bool:
        status = httpx.get(api(hosts, i) + "/v1/status", timeout=3).json()
        return status["earliest_height"] > 1 and status["height"] >= min(heights(hosts, members).values())

    eventually(caught_up, "the fifth host to restore a snapshot and catch up", 120, hosts.logs)
    status = httpx.get(api(hosts, i) + "/v1/status", timeout=3).json()
    first = status["earliest_height"]
    assert (first - 1) % SNAPSHOT_INTERVAL == 0  # it restored a snapshot and executed no block before it
    upto = status["height"]
    theirs = httpx.get(f"{api(hosts, 0)}/v1/blocks/{upto}", timeout=5).json()
    mine = httpx.get(f"{api(hosts, i)}/v1/blocks/{upto}", timeout=5).json()
    assert (mine["hash"], mine["app_hash"]) == (theirs["hash"], theirs["app_hash"])
