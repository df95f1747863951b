"""Helpers for the multi-node tests: a local network of real node processes.

`LocalNetwork` wraps what `baychain net init/up/down` do (baychain.network) and adds
what tests need: kill -9 of a node's whole process group, heights, and a check that
every running node has the same block hash and app hash at every height — in its own
block store (API) and in CometBFT's headers (RPC).
"""

from __future__ import annotations

import base64
import copy
import os
import signal
import time
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

import httpx

from baychain.network.cometbft import TxGossip, read_keys
from baychain.network.cometbft import validator_seed as cometbft_validator_seed
from baychain.network.committee import local_committee
from baychain.network.create import init_network
from baychain.crypto.suites import ED25519
from baychain.network.home import NodeHome
from baychain.network.light import header_hash, vote_sign_bytes
from baychain.network.manifest import NetworkManifest
from baychain.network.processes import NODE_MODULE, kill_node, log_tail, running_pid, start_node, stop_node, wait_healthy
from baychain.network.rpc import CometRpc
from support import eventually, pinned_cometbft


def cometbft_binary() -> str:
    """The pinned cometbft binary, or skip (bare local run) / fail (make test, CI) with the reason."""
    return pinned_cometbft()


@contextmanager
def running_network(directory: Path, chain_id: str, validators: int = 4,
                    tx_gossip: TxGossip = TxGossip.FLOOD, snapshot_interval: int = 1000,
                    mempool: str = "cometbft") -> Iterator["LocalNetwork"]:
    """A local network started and healthy for the duration of the block; killed after."""
    cometbft_binary()
    network = LocalNetwork(directory, validators=validators, chain_id=chain_id, tx_gossip=tx_gossip,
                           snapshot_interval=snapshot_interval, mempool=mempool)
    try:
        network.start()
        network.wait_healthy(timeout=90)
        yield network
    finally:
        network.down()


def committee_decides(net: "LocalNetwork", node: str, method: str, **args: Any) -> dict:
    """The founding committee (whose keys the local network holds) proposes a registry change and
    votes it through; the proposal's summary (`decided_height`: the block that ran it)."""
    from baychain.sdk import Client
    from baychain.sdk.governance import Governance, action

    with Client(net.manifest.node(node).api_url, timeout=20) as client:
        summary = Governance(client).decide(local_committee(net.directory), [action("network", method, **args)])
    assert summary["status"] == "executed", summary
    return summary


class LocalNetwork:
    def __init__(
        self, directory: Path, validators: int = 4, chain_id: str = "baychain-net-test",
        tx_gossip: TxGossip = TxGossip.FLOOD, snapshot_interval: int = 1000, mempool: str = "cometbft",
    ) -> None:
        self.directory = directory
        self.manifest: NetworkManifest = init_network(
            directory, validators=validators, chain_id=chain_id, log_level="consensus:info,state:info,p2p:error,*:error",
            tx_gossip=tx_gossip, snapshot_interval=snapshot_interval, mempool=mempool,
        )
        self.clients = {n.name: httpx.Client(base_url=n.api_url, timeout=10) for n in self.manifest.nodes}

    # -- processes -----------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return self.manifest.names

    def home(self, name: str) -> NodeHome:
        return NodeHome(self.manifest.home(name))

    def start(self, *names: str) -> None:
        for name in names or self.names:
            start_node(self.home(name))

    def wait_healthy(self, *names: str, timeout: float = 60, advance: int = 1) -> dict[str, int]:
        return wait_healthy(self.manifest, list(names) or None, timeout=timeout, advance=advance)

    def kill(self, name: str) -> None:
        """SIGKILL the node's process group: the Python node and its cometbft child at once."""
        assert kill_node(self.home(name)), f"{name} was not running"

    def stop(self, name: str) -> None:
        stop_node(self.home(name))

    def pid(self, name: str) -> int | None:
        return running_pid(self.home(name))

    def running(self) -> list[str]:
        return [n for n in self.names if self.pid(n) is not None]

    def down(self) -> None:
        """Kill every node (finalizer: fast and unconditional), including any node
        process whose pid file went missing."""
        for name in self.names:
            try:
                kill_node(self.home(name))
            except Exception:  # noqa: BLE001 - keep killing the others
                pass
        kill_strays(self.directory)
        for client in self.clients.values():
            client.close()

    def logs(self, *names: str, lines: int = 25) -> str:
        return "\n".join(
            f"--- {n} ---\n{log_tail(self.home(n).log_file, lines)}" for n in (names or self.names)
        )

    # -- reads ---------------------------------------------------------------------------

    def api(self, name: str, path: str, **params: Any) -> Any:
        resp = self.clients[name].get(path, params=params)
        resp.raise_for_status()
        return resp.json()

    def post(self, name: str, path: str, body: Any) -> Any:
        return self.clients[name].post(path, json=body).json()

    def gossip(self, name: str) -> tuple[int, int]:
        """(peers, peers it relays transactions to), from the node's CometBFT metrics."""
        text = httpx.get(f"http://127.0.0.1:{self.manifest.node(name).ports['prometheus']}/metrics", timeout=10).text
        values = {line.split("{")[0]: int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                  if line.startswith(("cometbft_p2p_peers{", "cometbft_mempool_active_outbound_connections{"))}
        return values.get("cometbft_p2p_peers", -1), values.get("cometbft_mempool_active_outbound_connections", -1)

    def height(self, name: str) -> int | None:
        try:
            return int(self.api(name, "/v1/status")["height"])
        except (httpx.HTTPError, KeyError, ValueError):
            return None

    def heights(self, names: list[str] | None = None) -> dict[str, int | None]:
        return {n: self.height(n) for n in (names or self.names)}

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        return eventually(predicate, what, timeout, self.logs, poll=0.2)

    def wait_height(self, names: list[str], height: int, timeout: float = 60) -> None:
        self.wait_for(
            lambda: all((self.height(n) or 0) >= height for n in names),
            f"{', '.join(names)} to reach height {height} (now {self.heights(names)})",
            timeout,
        )

    def block_hashes(self, name: str, upto: int) -> dict[int, tuple[str, str]]:
        """height -> (block hash, app hash after the block) from the node's own block store."""
        out = {}
        for h in range(1, upto + 1):
            block = self.api(name, f"/v1/blocks/{h}")
            out[h] = (block["hash"].upper(), block["app_hash"].upper())
        return out

    def header_hashes(self, name: str, upto: int) -> dict[int, tuple[str, str]]:
        """height -> (block hash, app hash in the header) from CometBFT's block store."""
        out = {}
        with CometRpc(self.manifest.node(name).rpc_url) as rpc:
            low = 1
            while low <= upto:
                high = min(upto, low + 19)
                metas = rpc.call("blockchain", minHeight=str(low), maxHeight=str(high))["block_metas"]
                for meta in metas:
                    out[int(meta["header"]["height"])] = (meta["block_id"]["hash"], meta["header"]["app_hash"])
                low = high + 1
        return out

    def assert_agree(self, names: list[str] | None = None) -> int:
        """Every node in `names` has identical blocks and app hashes at every height up to
        the lowest height among them, and CometBFT's header at H+1 carries the app hash
        the application computed at H. Returns the height checked up to."""
        names = names or self.running()
        upto = min(self.height(n) or 0 for n in names)
        assert upto > 0, f"no blocks yet: {self.heights(names)}"
        reference = self.block_hashes(names[0], upto)
        for name in names[1:]:
            mine = self.block_hashes(name, upto)
            diverged = [h for h in range(1, upto + 1) if mine[h] != reference[h]]
            assert not diverged, (
                f"{name} differs from {names[0]} at heights {diverged[:5]}: "
                f"{mine[diverged[0]]} vs {reference[diverged[0]]}"
            )
        for name in names:
            headers = self.header_hashes(name, upto)
            for h in range(1, upto + 1):
                assert headers[h][0] == reference[h][0], f"{name}: CometBFT block {h} is {headers[h][0]}, app has {reference[h][0]}"
                if h + 1 <= upto:
                    assert headers[h + 1][1] == reference[h][1], (
                        f"{name}: header {h + 1} app_hash {headers[h + 1][1]} != app hash after block {h} {reference[h][1]}"
                    )
        return upto



def validator_seed(home: NodeHome) -> tuple[str, bytes]:
    """(address in upper-case hex, Ed25519 seed) of the node's validator key."""
    return read_keys(home.cometbft).validator_address.upper(), cometbft_validator_seed(home.cometbft)


class ForkingWitness:
    """A byzantine witness: serves `signed` as the header of its height, anything else
    from a real node."""

    def __init__(self, rpc: CometRpc, signed: dict) -> None:
        self.url = "forking-witness"
        self.rpc = rpc
        self.signed = signed

    def call(self, method: str, **params):
        if method == "commit" and int(params["height"]) == int(self.signed["header"]["height"]):
            return {"signed_header": self.signed}
        return self.rpc.call(method, **params)


def conflicting_header(signed: dict, net: LocalNetwork, *, sign: bool) -> dict:
    """The same height with another app hash; with `sign`, precommitted again by every
    validator's real key, as validators signing twice would."""
    forged = copy.deepcopy(signed)
    forged["header"]["app_hash"] = "AB" * 32
    forged["commit"]["block_id"]["hash"] = header_hash(forged["header"]).hex().upper()
    if sign:
        keys = dict(validator_seed(net.home(name)) for name in net.names)
        commit = forged["commit"]
        for sig in commit["signatures"]:
            if sig["block_id_flag"] == 2:
                message = vote_sign_bytes(forged["header"]["chain_id"], int(commit["height"]), int(commit["round"]),
                                          commit["block_id"], sig["timestamp"])
                sig["signature"] = base64.b64encode(ED25519.sign(keys[sig["validator_address"].upper()], message)).decode()
    return forged


def group_alive(pgid: int) -> list[int]:
    """Pids of live (non-zombie) processes in process group `pgid`."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(stat.parent.name))
    return alive


def wait_group_gone(pgid: int, timeout: float = 15) -> bool:
    try:
        os.waitpid(pgid, os.WNOHANG)  # reap the node if it is our own child
    except ChildProcessError:
        pass
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def kill_strays(directory: Path) -> None:
    """SIGKILL the process group of every node process whose home is under `directory`."""
    marker = str(directory.resolve()).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if NODE_MODULE.encode() in argv and any(a.startswith(marker) for a in argv):
            pid = int(cmdline.parent.name)
            try:
                if os.getpgid(pid) == pid:  # `net up` starts each node as its own group leader
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
