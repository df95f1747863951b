"""`baychain net` and `baychain node` as an operator runs them (real processes, real cometbft)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import psutil
import pytest

from baychain.network.home import NodeHome
from baychain.network.manifest import NetworkManifest
from baychain.network.processes import kill_node
from netsupport import cometbft_binary, kill_strays, wait_group_gone

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def run(module: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED="0", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout, env=env)


def net(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return run("baychain.cli.net", *args, timeout=timeout)


def config(home: Path) -> dict:
    with open(home / "cometbft" / "config" / "config.toml", "rb") as f:
        return tomllib.load(f)


def test_net_init_writes_four_wired_validator_homes_with_one_genesis(tmp_path) -> None:
    cometbft_binary()
    directory = tmp_path / "net"
    out = net("init", "--dir", str(directory), "--chain-id", "gba-test", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["chain_id"] == "gba-test"
    manifest = NetworkManifest.load(directory)
    assert [(n.member.jurisdiction, n.member.role) for n in manifest.nodes] == [
        ("GD", "member"), ("HK", "member"), ("MO", "member"), ("GD", "regulator"),
    ]
    ports = [p for n in manifest.nodes for p in n.ports.values()]
    assert len(set(ports)) == len(ports) == 20

    genesis_docs = [(directory / n.home / "cometbft" / "config" / "genesis.json").read_text() for n in manifest.nodes]
    assert len(set(genesis_docs)) == 1, "every node must have the very same genesis"
    genesis = json.loads(genesis_docs[0])
    assert genesis["chain_id"] == "gba-test"
    assert [v["address"] for v in genesis["validators"]] == [n.validator.address for n in manifest.nodes]
    members = genesis["app_state"]["network"]["members"]
    assert [(m["name"], m["jurisdiction"], m["node_id"]) for m in members] == [
        (n.name, n.member.jurisdiction, n.node_id) for n in manifest.nodes
    ]

    for entry in manifest.nodes:
        home = directory / entry.home
        cfg = config(home)
        assert cfg["p2p"]["unconditional_peer_ids"] == ""  # transactions flood by default
        assert cfg["mempool"]["experimental_max_gossip_connections_to_persistent_peers"] == 0
        peers = cfg["p2p"]["persistent_peers"].split(",")
        assert sorted(peers) == sorted(e.p2p_address for e in manifest.nodes if e is not entry)
        assert cfg["p2p"]["allow_duplicate_ip"] is True and cfg["p2p"]["addr_book_strict"] is False
        assert cfg["proxy_app"] == f"tcp://127.0.0.1:{entry.ports['abci']}"
        assert cfg["rpc"]["laddr"] == f"tcp://127.0.0.1:{entry.ports['rpc']}"
        assert cfg["p2p"]["laddr"] == f"tcp://127.0.0.1:{entry.ports['p2p']}"
        assert cfg["consensus"]["timeout_commit"] == "300ms"
        assert cfg["consensus"]["peer_gossip_sleep_duration"] == "10ms"
        assert cfg["instrumentation"]["prometheus_listen_addr"] == f"127.0.0.1:{entry.ports['prometheus']}"
        assert cfg["instrumentation"]["prometheus"] is True
        node_id = subprocess.run(
            [cometbft_binary(), "show-node-id", "--home", str(home / "cometbft")], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        assert node_id == entry.node_id
        settings = json.loads((home / "node.json").read_text())
        assert settings["api_port"] == entry.ports["api"]
        assert settings["admission_workers"] == 0  # the nodes share this machine: checks run in place
        assert settings["mempool"] == "app"  # the nodes keep the mempool, each relaying to all the others
        assert settings["relay_peers"] == [e.api_url for e in manifest.nodes if e is not entry]

    again = net("init", "--dir", str(directory))
    assert again.returncode == 1 and "ALREADY_EXISTS" in again.stderr

    quiet = tmp_path / "quiet"
    assert net("init", "--validators", "1", "--dir", str(quiet), "--no-cometbft-metrics").returncode == 0
    (entry,) = NetworkManifest.load(quiet).nodes
    assert config(quiet / entry.home)["instrumentation"]["prometheus"] is False  # the port stays reserved

    ring = tmp_path / "ring"
    assert net("init", "--dir", str(ring), "--tx-gossip", "ring").returncode == 0
    nodes = NetworkManifest.load(ring).nodes
    for i, entry in enumerate(nodes):
        cfg = config(ring / entry.home)
        assert cfg["p2p"]["unconditional_peer_ids"] == nodes[(i + 1) % 4].node_id  # the next one, in genesis order
        assert cfg["mempool"]["experimental_max_gossip_connections_to_persistent_peers"] == 1
        assert json.loads((ring / entry.home / "node.json").read_text())["mempool"] == "cometbft"  # the ring is its gossip
    bad = net("init", "--dir", str(tmp_path / "bad"), "--tx-gossip", "rumour")
    assert bad.returncode != 0 and "rumour" in bad.stdout + bad.stderr
    clash = net("init", "--dir", str(tmp_path / "clash"), "--tx-gossip", "ring", "--mempool", "app")
    assert clash.returncode == 1 and "BAD_REQUEST" in clash.stderr and "ring" in clash.stderr
    bad = net("init", "--dir", str(tmp_path / "bad2"), "--mempool", "gossip")
    assert bad.returncode == 1 and "BAD_REQUEST" in bad.stderr


def test_net_up_status_logs_down_run_a_network_end_to_end(tmp_path) -> None:
    cometbft_binary()
    directory = tmp_path / "net"
    assert net("init", "--validators", "1", "--dir", str(directory)).returncode == 0
    manifest = NetworkManifest.load(directory)
    home = NodeHome(manifest.home("gd-bank"))
    try:
        up = net("up", "--dir", str(directory), "--health-timeout", "60")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "healthy" in up.stdout
        pid = int(home.pid_file.read_text())

        status = net("status", "--dir", str(directory), "--json")
        assert status.returncode == 0, status.stderr
        (node,) = json.loads(status.stdout)["nodes"]
        assert node["pid"] == pid and node["health"] == "ok" and node["height"] >= 1 and node["peers"] == 0
        assert len(node["app_hash"]) == 64
        metrics = httpx.get(f"http://127.0.0.1:{manifest.node('gd-bank').ports['prometheus']}/metrics", timeout=10)
        assert "cometbft_consensus_height" in metrics.text  # CometBFT's own endpoint serves
        (child,) = [p for p in psutil.Process(pid).children() if p.name() == "cometbft"]
        assert child.environ().get("GOGC") == os.environ.get("GOGC", "400")  # the node's GC target for its child

        human = net("status", "--dir", str(directory))
        assert "gd-bank" in human.stdout and "ok" in human.stdout

        logs = net("logs", "gd-bank", "--dir", str(directory), "-n", "200")
        assert logs.returncode == 0 and "ABCI server listening" in logs.stdout

        assert net("up", "--dir", str(directory)).returncode == 0  # idempotent: already running
        assert int(home.pid_file.read_text()) == pid

        down = net("down", "--dir", str(directory))
        assert down.returncode == 0 and "stopped" in down.stdout
        assert not home.pid_file.exists()
        log = home.log_file.read_text()
        assert "node gd-bank stopped" in log
        assert wait_group_gone(pid), "the node or its cometbft child outlived `net down`"

        stopped = json.loads(net("status", "--dir", str(directory), "--json").stdout)["nodes"][0]
        assert stopped["health"] == "down" and stopped["pid"] is None

        unknown = net("logs", "nobody", "--dir", str(directory))
        assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
    finally:
        kill_node(home)
        kill_strays(directory)


def test_node_cards_make_a_genesis_for_members_on_separate_machines(tmp_path) -> None:
    """The multi-machine flow: each member inits its own node and shares only its card."""
    cometbft_binary()
    cards = []
    for i, (name, org, jurisdiction) in enumerate(
        [("gd-bank", "Guangdong Bay Commercial Bank", "GD"), ("hk-bank", "Hong Kong Harbour Bank", "HK"),
         ("mo-finance", "Macao Pearl Finance", "MO"), ("sz-supplier", "Shenzhen Parts Supplier", "GD")]
    ):
        home = tmp_path / name
        out = run("baychain.cli.node_cmd", "init", "--home", str(home), "--name", name, "--organisation", org,
                  "--jurisdiction", jurisdiction, "--external-host", f"node{i}.example", "--json",
                  *(["--rpc-host", "0.0.0.0"] if name == "sz-supplier" else []))
        assert out.returncode == 0, out.stderr
        card = json.loads(out.stdout)
        assert card["p2p_address"] == f"node{i}.example:26656" and len(card["node_id"]) == 40
        assert "priv" not in json.dumps(card).lower()
        cards.append(home / "node-card.json")

    genesis = tmp_path / "genesis.json"
    out = net("genesis", *[a for c in cards for a in ("--card", str(c))], "--chain-id", "gba-2", "-o", str(genesis), "--json")
    assert out.returncode == 0, out.stderr
    peers = json.loads(out.stdout)["peers"]
    doc = json.loads(genesis.read_text())
    assert doc["chain_id"] == "gba-2" and len(doc["validators"]) == 4

    for i, name in enumerate(["gd-bank", "hk-bank", "mo-finance", "sz-supplier"]):
        out = run("baychain.cli.node_cmd", "join", "--home", str(tmp_path / name), "--genesis", str(genesis),
                  *[a for j, p in enumerate(peers) if j != i for a in ("--peer", p)], "--tx-gossip", "ring", "--json")
        assert out.returncode == 0, out.stderr
        joined = json.loads(out.stdout)
        successor = peers[(i + 1) % 4].partition("@")[0]
        assert joined["validator"] is True and joined["gossip_to"] == successor  # the ring, in genesis order
        cfg = config(tmp_path / name)
        assert cfg["p2p"]["unconditional_peer_ids"] == successor
        assert cfg["mempool"]["experimental_max_gossip_connections_to_persistent_peers"] == 1
    flood = run("baychain.cli.node_cmd", "join", "--home", str(tmp_path / "gd-bank"), "--genesis", str(genesis),
                *[a for p in peers[1:] for a in ("--peer", p)], "--json")
    assert flood.returncode == 0 and json.loads(flood.stdout)["gossip_to"] is None  # the default: to every peer
    cfg = config(tmp_path / "gd-bank")
    assert cfg["p2p"]["unconditional_peer_ids"] == ""
    assert cfg["mempool"]["experimental_max_gossip_connections_to_persistent_peers"] == 0
    assert cfg["p2p"]["persistent_peers"] == ",".join(peers[1:])
    assert cfg["p2p"]["laddr"] == "tcp://0.0.0.0:26656" and cfg["p2p"]["external_address"] == "node0.example:26656"
    assert cfg["p2p"]["addr_book_strict"] is True and cfg["rpc"]["laddr"] == "tcp://127.0.0.1:26657"
    assert cfg["instrumentation"]["prometheus"] is True

    self_peer = run("baychain.cli.node_cmd", "join", "--home", str(tmp_path / "gd-bank"), "--genesis", str(genesis),
                    "--peer", peers[0])
    assert self_peer.returncode == 1 and "itself" in self_peer.stderr

    # State sync needs two members' RPC, a duration, and members that answer (none run here).
    sync = ("baychain.cli.node_cmd", "state-sync", "--home", str(tmp_path / "sz-supplier"))
    one = run(*sync, "--rpc", "http://127.0.0.1:9")
    assert one.returncode == 1 and "BAD_REQUEST" in one.stderr and "at least two" in one.stderr
    period = run(*sync, "--rpc", "http://127.0.0.1:9", "--rpc", "http://127.0.0.1:10", "--trust-period", "a week")
    assert period.returncode == 1 and "BAD_REQUEST" in period.stderr and "trust period" in period.stderr
    down = run(*sync, "--rpc", "http://127.0.0.1:9", "--rpc", "http://127.0.0.1:10")
    assert down.returncode == 1 and "UNAVAILABLE" in down.stderr and "Traceback" not in down.stderr
    assert config(tmp_path / "sz-supplier")["statesync"]["enable"] is False  # nothing written
    assert config(tmp_path / "sz-supplier")["rpc"]["laddr"] == "tcp://0.0.0.0:26657"  # reachable by the members

    settings_file = tmp_path / "gd-bank" / "node.json"
    settings = json.loads(settings_file.read_text())
    assert (settings["admission_workers"], settings["cometbft_events"]) == (2, False)  # a node of its own
    assert (settings["snapshot_interval"], settings["snapshot_keep"]) == (1000, 2)  # snapshots for nodes joining later
    settings_file.write_text(json.dumps({**settings, "admission_workers": -1}))
    bad = run("baychain.cli.node_cmd", "start", "--home", str(tmp_path / "gd-bank"))
    assert bad.returncode == 1 and "BAD_REQUEST" in bad.stderr and "admission_workers" in bad.stderr
    assert "Traceback" not in bad.stderr
