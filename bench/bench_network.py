"""Four CometBFT validators on this machine: baychain against CometBFT's kvstore.

What is measured, for each application on the same 4-validator layout (`baychain net
init` homes: loopback ports, full-mesh peers, the shipped consensus timeouts and
config), with the same load shape:

- **the load generator** is one asyncio process: `--clients` clients, each with its own
  persistent HTTP connection to one node (client i -> node i mod 4): kvstore's CometBFT
  RPC, each request one JSON-RPC batch of `broadcast_tx_async` calls (`--broadcast sync`
  waits for CheckTx instead); baychain's API (`POST /v1/txs/batch`, answered once the
  node admitted them) when its nodes keep their own mempool (`net init`'s default,
  `--mempool app`), else the RPC as kvstore (`--via api` for the API). Transactions are
  signed before the clock starts, so the
  client's own CPU (~70 us per transaction, printed) is JSON and HTTP, and it competes
  for the same two cores as the nodes, for both applications alike;
- **saturation**: each client sends its next batch of `--batch` as soon as the last
  one is answered, while at most `--max-pending` transactions are uncommitted
  (CometBFT's mempool holds 5,000 per node; "mempool is full" is retried). Printed:
  committed tx/s (all transactions / first submission -> last commit), p50/p99;
- **offered load** (`--rate`, default 1,000 tx/s for `--rate-seconds`): open loop —
  batch k of `--rate-batch` is due at k x rate-batch / rate seconds and is sent then,
  round-robin over the nodes, whatever earlier answers took. Printed: the rate actually
  sent, the committed rate, p50/p99 latency, and how many transactions never committed
  ("lost"; the mempool counters below and a resend of a few of them say why);
- CometBFT's own timers, scraped from node 1's Prometheus endpoint before and after
  each phase (time per ABCI method, per consensus step, the mean block interval), and
  every node's mempool counters (refused, evicted by recheck, rechecks);
- CPU over each phase (psutil; user+sys seconds / wall seconds, so 1.00 is one core
  busy): per node the baychain node process with its admission workers ("app":
  application, ABCI server, API) and its cometbft child; the load client; the whole
  machine (so other users' share is known); and CPU per committed transaction. With
  both apps, the ratio of their CPU per committed transaction at saturation too: when
  both are bound by CPU their rates follow it, and it moves less with the host's speed.

Latency runs from the moment a transaction's batch is sent until node 0 announces the
block that holds it (a NewBlockHeader event on its websocket; the block's transactions
are then read with one `block` call). baychain's transactions are Ed25519-signed
`notary.notarize` calls from fresh accounts (so no nonce orders one client's
transactions); kvstore's are `key=value` byte strings of the same length. After each
phase every block's results are read back (untimed) and failed transactions reported.
Every cometbft of both networks runs with the environment a baychain node gives its
child (`engine.cometbft.cometbft_environment`: GOGC=400 unless the caller sets GOGC).

    python bench/bench_network.py                          # both apps, both phases
    python bench/bench_network.py --txs 10000 --rate 1000 --rate-seconds 10
    python bench/bench_network.py --only baychain --rate 0 --profile /tmp/prof   # + py-spy of one node
    python bench/bench_network.py --set mempool.recheck=false  # extra config.toml settings, both apps
    python bench/bench_network.py --set instrumentation.prometheus=false  # CometBFT's metrics off, both apps
    python bench/bench_network.py --tx-gossip ring         # transactions relayed around a ring, both apps
    python bench/bench_network.py --via api                # baychain through its HTTP API instead
    python bench/bench_network.py --socket-kvstore         # + kvstore over the ABCI socket (abci-cli, built on first use)
    python bench/bench_network.py --mempool cometbft       # baychain with CometBFT's mempool (CheckTx over the socket)
    GOGC=100 python bench/bench_network.py                 # Go's default GC target for every cometbft

Needs the pinned cometbft binary (scripts/install-cometbft.sh); py-spy for --profile.
This is a script, not a test; see docs/PERFORMANCE.md, "Four validators (CometBFT)".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from baychain import transactions as txs
from baychain.abci.version import COMETBFT_VERSION
from baychain.crypto.suites import ED25519
from baychain.engine.cometbft import cometbft_environment
from baychain.network import cometbft
from baychain.network.create import init_network
from baychain.network.home import NodeHome
from baychain.network.manifest import NetworkManifest
from baychain.network.ports import free_ports
from baychain.network.processes import kill_node, log_tail, running_pid, start_node, wait_healthy
from baychain.network.rpc import CometRpc, RpcError

from machine import machine_line  # bench/machine.py (bench/ is on sys.path when run as a script)

CHAIN_ID = "bench-net"
APPS = ("baychain", "kvstore", "kvstore-socket")
EXPIRY = 2**40
POLL = 0.01
STALL = 15.0  # seconds without a new commit after which a phase stops waiting
PROFILE_HZ = 250  # py-spy's sampling rate (100 gave ~150 busy samples of a node per run: too few to rank)


# -- the machine -------------------------------------------------------------------------


# -- transactions --------------------------------------------------------------------------


def baychain_txs(count: int) -> list[bytes]:
    """Signed notarizations, each from a fresh account (nonce 0)."""
    out = []
    for _ in range(count):
        private = ED25519.generate()
        tx = txs.build(chain_id=CHAIN_ID, suite=ED25519.suite_id, signer=ED25519.public_key(private), nonce=0,
                       expiry_height=EXPIRY, contract="notary", method="notarize", args={"digest": os.urandom(32)})
        out.append(txs.sign(tx, private).raw)
    return out


def kvstore_txs(count: int, size: int, tag: str) -> list[bytes]:
    """`key=value` transactions of `size` bytes with unique keys."""
    out = []
    for i in range(count):
        key = f"{tag}-{i}-{os.urandom(6).hex()}".encode()
        out.append(key + b"=" + os.urandom(max(1, (size - len(key) - 1) // 2)).hex().encode()[: max(1, size - len(key) - 1)])
    return out


# -- one network's processes ----------------------------------------------------------------


def abci_cli_binary() -> str:
    """CometBFT's `abci-cli` of the pinned release (it serves the kvstore example over an
    ABCI socket), built with `go install` into .tools/abci-cli/<version>/ on first use."""
    directory = cometbft.REPO_ROOT / ".tools" / "abci-cli" / COMETBFT_VERSION
    binary = directory / "abci-cli"
    if not binary.exists():
        print(f"  building abci-cli {COMETBFT_VERSION} (go install) ...", flush=True)
        subprocess.run(["go", "install", f"github.com/cometbft/cometbft/abci/cmd/abci-cli@{COMETBFT_VERSION}"],
                       env={**os.environ, "GOBIN": str(directory)}, check=True)
    return str(binary)


def wait_listening(address: str, timeout: float = 30.0) -> None:
    """Until something accepts TCP connections at `address` ("tcp://host:port")."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens at {address} after {timeout:.0f} s") from None
            time.sleep(0.1)


class Nodes:
    """Four validators: baychain nodes (python + cometbft child), bare `cometbft
    --proxy_app=kvstore` (the kvstore inside cometbft), or `kvstore-socket`: cometbft
    with CometBFT's kvstore example served by `abci-cli kvstore` over the ABCI socket
    baychain uses (that one keeps its state in goleveldb, as `persistent_kvstore`)."""

    def __init__(self, directory: Path, app: str, log_level: str, settings: dict[tuple[str, str], Any],
                 pprof_port: int = 0, tx_gossip: str = "flood", mempool: str | None = None) -> None:
        self.app = app
        self.manifest: NetworkManifest = init_network(directory, validators=4, chain_id=CHAIN_ID, log_level=log_level,
                                                      tx_gossip=cometbft.TxGossip(tx_gossip),
                                                      mempool=mempool if app == "baychain" else "cometbft")
        self.mempool = self.home(self.names[0]).load().mempool  # net init's choice when not given
        for name in self.manifest.names:
            if settings:
                cometbft.set_config(NodeHome(self.manifest.home(name)).cometbft, settings)
        if pprof_port:  # Go's profiler on node 1 (the one whose timers are scraped)
            cometbft.set_config(self.home(self.names[1]).cometbft, {("rpc", "pprof_laddr"): f"127.0.0.1:{pprof_port}"})
        self.binary = cometbft.find_binary()
        self.kv_procs: dict[str, subprocess.Popen] = {}
        self.abci_procs: dict[str, subprocess.Popen] = {}  # kvstore-socket: the abci-cli servers
        self.pprof_port = pprof_port

    @property
    def names(self) -> list[str]:
        return self.manifest.names

    def home(self, name: str) -> NodeHome:
        return NodeHome(self.manifest.home(name))

    def rpc_url(self, name: str) -> str:
        return self.manifest.node(name).rpc_url

    def start(self) -> None:
        if self.app == "baychain":
            for name in self.names:
                start_node(self.home(name))
            wait_healthy(self.manifest, timeout=120, advance=2)
            return
        for name in self.names:
            home = self.home(name)
            log = open(home.log_file, "ab")
            command = [self.binary, "node", "--home", str(home.cometbft)]
            if self.app == "kvstore":
                command.append("--proxy_app=kvstore")
            else:  # its config's proxy_app: the address a baychain node would serve
                abci_address = cometbft.endpoints(home.cometbft)[0]
                self.abci_procs[name] = subprocess.Popen(
                    [abci_cli_binary(), "kvstore", "--address", abci_address, "--persist", str(home.path / "kvstore")],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                wait_listening(abci_address)
            self.kv_procs[name] = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=cometbft_environment(),  # the GOGC a baychain node gives its cometbft: same runtime for both
            )
        deadline = time.monotonic() + 120
        rpcs = [CometRpc(self.rpc_url(n), timeout=3) for n in self.names]
        try:
            while True:
                try:
                    if all(r.height() >= 3 for r in rpcs):
                        return
                except RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("kvstore network did not start\n" + log_tail(self.home(self.names[0]).log_file))
                time.sleep(0.3)
        finally:
            for r in rpcs:
                r.close()

    def processes(self) -> dict[str, dict[str, list[psutil.Process]]]:
        """Per node: {"app": the Python node process and its admission workers,
        "cometbft": its cometbft child} or {"cometbft": the kvstore node}."""
        out: dict[str, dict[str, list[psutil.Process]]] = {}
        for name in self.names:
            if self.app == "baychain":
                proc = psutil.Process(running_pid(self.home(name)))
                family = proc.children(recursive=True)
                comet = [p for p in family if p.name().startswith("cometbft")]
                out[name] = {"app": [proc, *(p for p in family if p not in comet)], "cometbft": comet}
            else:
                out[name] = {"cometbft": [psutil.Process(self.kv_procs[name].pid)]}
                if name in self.abci_procs:
                    out[name]["app"] = [psutil.Process(self.abci_procs[name].pid)]
        return out

    def stop(self) -> None:
        if self.app == "baychain":
            for name in self.names:
                kill_node(self.home(name))
        for proc in [*self.kv_procs.values(), *self.abci_procs.values()]:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


class CpuMeter:
    """user+sys CPU seconds between start() and stop(): each node's processes, this
    benchmark process (the load clients), and the whole machine (so other users'
    share of the two cores is known). The processes are listed afresh at every sample:
    a node starts its admission workers at its first large CheckTx burst, inside the
    phase, and all of their CPU since then belongs to it."""

    def __init__(self, processes: Callable[[], dict[str, dict[str, list[psutil.Process]]]]) -> None:
        self.processes = processes
        self.me = psutil.Process()

    @staticmethod
    def _cpu(procs: list[psutil.Process]) -> float:
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    @staticmethod
    def _machine() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)

    def _sample(self) -> tuple[float, dict[tuple[str, str], float], float, float]:
        return (time.monotonic(), {(n, k): self._cpu(p) for n, d in self.processes().items() for k, p in d.items()},
                self._cpu([self.me]), self._machine())

    def start(self) -> None:
        self.first = self.last = self._sample()

    def mark(self) -> None:
        """Called at each commit: the phase's figures end at its last commit, so the
        wait for stragglers (lost transactions) does not dilute them."""
        self.last = self._sample()

    def stop(self) -> dict[str, Any]:
        (t0, c0, me0, m0), (t1, c1, me1, m1) = self.first, self.last
        wall = max(1e-9, t1 - t0)
        per = {key: (c1[key] - c0[key]) / wall for key in c0}
        return {"wall": wall, "per": per, "client": (me1 - me0) / wall, "machine": (m1 - m0) / wall}


# -- CometBFT's own metrics ----------------------------------------------------------------------


def scrape(url: str) -> dict[tuple[str, str], float]:
    """Prometheus text format -> {(metric name, labels): value} (chain_id label dropped)."""
    out: dict[tuple[str, str], float] = {}
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return out
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        labels = ",".join(l for l in labels.rstrip("}").split(",") if l and not l.startswith("chain_id"))
        try:
            out[(name, labels)] = float(value)
        except ValueError:
            pass
    return out


def metric_report(before: dict, after: dict) -> list[str]:
    """Where one node's consensus time went between two scrapes (CometBFT's own timers)."""
    def delta(name: str, labels: str = "") -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    lines = []
    abci = []
    for (name, labels) in sorted(after):
        if name == "cometbft_abci_connection_method_timing_seconds_count":
            n = delta(name, labels)
            if n:
                total = delta("cometbft_abci_connection_method_timing_seconds_sum", labels)
                method = dict(kv.split("=", 1) for kv in labels.split(",")).get("method", "?").strip('"')
                kind = dict(kv.split("=", 1) for kv in labels.split(",")).get("type", "?").strip('"')
                abci.append(f"{method}/{kind} {int(n)}x {total / n * 1000:.2f} ms = {total:.2f} s")
    if abci:
        lines.append("ABCI calls (CometBFT's timer): " + "; ".join(abci))
    steps = []
    for (name, labels) in sorted(after):
        if name == "cometbft_consensus_step_duration_seconds_count":
            n = delta(name, labels)
            if n:
                total = delta("cometbft_consensus_step_duration_seconds_sum", labels)
                step = labels.split("=", 1)[1].strip('"') if "=" in labels else labels
                steps.append(f"{step} {total / n * 1000:.0f} ms")
    if steps:
        lines.append("consensus step durations (mean per height): " + "; ".join(steps))
    blocks = delta("cometbft_consensus_block_interval_seconds_count")
    if blocks:
        lines.append(f"blocks {int(blocks)}, mean interval {delta('cometbft_consensus_block_interval_seconds_sum') / blocks * 1000:.0f} ms")
    return lines


MEMPOOL_COUNTERS = {"failed_txs": "refused by CheckTx", "rejected_txs": "refused (full or duplicate)",
                    "evicted_txs": "evicted by recheck", "recheck_times": "rechecks"}


def mempool_report(names: list[str], before: list[dict], after: list[dict]) -> str:
    """Per node: CometBFT's mempool counters over the phase (why transactions were dropped)."""
    cells = []
    for name, b, a in zip(names, before, after):
        counts = {label: int(a.get((f"cometbft_mempool_{key}", ""), 0) - b.get((f"cometbft_mempool_{key}", ""), 0))
                  for key, label in MEMPOOL_COUNTERS.items()}
        cells.append(f"{name} " + ", ".join(f"{label} {n}" for label, n in counts.items()))
    return "; ".join(cells)


# -- load ----------------------------------------------------------------------------------


@dataclass
class Run:
    submitted: dict[str, float] = field(default_factory=dict)  # tx (base64) -> time its batch was sent
    committed: dict[str, float] = field(default_factory=dict)  # tx (base64) -> time its block was seen
    heights: list[int] = field(default_factory=list)
    refused: collections.Counter = field(default_factory=collections.Counter)
    first_submit: float = 0.0
    last_submit: float = 0.0
    last_commit: float = 0.0
    done: int = 0  # submitted transactions seen committed
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)  # notified per committed block

    def pending(self) -> int:
        return len(self.submitted) - self.done

    async def committed_down_to(self, limit: int) -> None:
        """Wait until at most `limit` transactions are pending: woken per block, not by
        polling (eight clients polling every 5 ms cost the machine ~0.05 of a core)."""
        async with self.progress:
            await self.progress.wait_for(lambda: self.pending() <= limit)

    async def notify(self) -> None:
        async with self.progress:
            self.progress.notify_all()


async def monitor(url: str, run: Run, start_height: int, halt: asyncio.Event, meter: CpuMeter) -> None:
    """When each block (and so each of its transactions) is committed on node 0.

    Node 0 pushes a NewBlockHeader event over CometBFT's websocket as it commits a
    block; that moment is the block's commit time, and the block's transactions are
    then read with one `block` call. (Subscribing to NewBlock instead would make node 0
    JSON-encode every block with all its results: ~0.15 of a core at 2,000 tx/s.)
    Heights the stream skipped are fetched and timed when the gap is seen.
    """
    ws_url = url.replace("http://", "ws://") + "/websocket"
    query = {"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"query": "tm.event='NewBlockHeader'"}}
    expected = start_height + 1
    async with websockets.connect(ws_url, max_size=None, ping_interval=None) as ws, httpx.AsyncClient(base_url=url, timeout=30) as http:
        await ws.send(json.dumps(query))

        async def record(height: int, now: float) -> None:
            doc = (await http.post("/", json={"jsonrpc": "2.0", "id": 2, "method": "block",
                                              "params": {"height": str(height)}})).json()
            txs_b64 = doc["result"]["block"]["data"]["txs"] or []
            for tx in txs_b64:
                if tx in run.submitted and tx not in run.committed:
                    run.done += 1
                run.committed.setdefault(tx, now)
            if txs_b64:
                run.last_commit = now
                meter.mark()
                await run.notify()
            run.heights.append(height)

        while not halt.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 0.2)
            except asyncio.TimeoutError:
                continue
            now = time.monotonic()
            value = json.loads(message).get("result", {}).get("data", {}).get("value")
            if not value:
                continue  # the subscription's acknowledgement
            height = int(value["header"]["height"])
            for h in range(expected, height + 1):
                await record(h, now if h == height else time.monotonic())
            expected = max(expected, height + 1)


class Sender:
    """Broadcasts batches to one node over persistent HTTP connections: one JSON-RPC
    batch of `method` calls per HTTP request (or the API's /v1/txs/batch)."""

    def __init__(self, url: str, method: str, via: str, connections: int) -> None:
        self.method = method
        self.via = via
        self.http = httpx.AsyncClient(base_url=url, timeout=60,
                                      limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))

    async def send(self, keys: list[str]) -> list[str | None]:
        """None per admitted transaction, else the error text."""
        try:
            if self.via == "api":
                body = {"txs": [base64.b64decode(k).hex() for k in keys]}
                results = (await self.http.post("/v1/txs/batch", json=body)).json()["results"]
                return [None if r["code"] == 0 else ("mempool is full" if r["error"] == "MEMPOOL_FULL" else f"{r['error']}: {r['message']}")
                        for r in results]
            body = [{"jsonrpc": "2.0", "id": i, "method": self.method, "params": {"tx": k}} for i, k in enumerate(keys)]
            answers = (await self.http.post("/", json=body)).json()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return [f"unreachable: {exc or type(exc).__name__}"] * len(keys)
        if isinstance(answers, dict):  # a batch of one is answered with a bare object
            answers = [answers]
        out: list[str | None] = []
        for a in sorted(answers, key=lambda a: a.get("id", 0)):
            if "error" in a:
                out.append(str(a["error"].get("data") or a["error"].get("message")))
            elif int(a["result"].get("code", 0)):
                out.append(f"code {a['result']['code']}: {a['result'].get('log', '')}")
            else:
                out.append(None)
        return out

    async def close(self) -> None:
        await self.http.aclose()


async def submit(sender: Sender, keys: list[str], run: Run) -> list[str]:
    """Send one batch; the transactions to send again (the mempool was full)."""
    sent = time.monotonic()
    run.first_submit = run.first_submit or sent
    run.last_submit = max(run.last_submit, sent)
    for k in keys:
        run.submitted[k] = sent
    errors = await sender.send(keys)
    retry = []
    for k, err in zip(keys, errors):
        if err is None:
            continue
        del run.submitted[k]
        if "full" in err:
            retry.append(k)
        else:
            run.refused[err[:80]] += 1
    return retry


async def drive(nodes: Nodes, raws: list[bytes], *, clients: int, batch: int, max_pending: int, rate: float,
                via: str, timeout: float, method: str) -> tuple[Run, dict[str, Any]]:
    """Send `raws` and wait for every commit (or until commits stall for `STALL` seconds).

    Saturation (`rate` 0): `clients` closed-loop clients (client i -> node i mod 4), each
    sending its next batch as soon as the previous one is answered, while at most
    `max_pending` transactions are uncommitted. Offered load: open loop — batch k is due
    at k * batch / rate seconds and is sent then (round-robin over the nodes), whatever
    the answer times of earlier batches.
    """
    run = Run()
    keys = [base64.b64encode(r).decode() for r in raws]
    with CometRpc(nodes.rpc_url(nodes.names[0])) as rpc:
        start_height = rpc.height()
    halt = asyncio.Event()
    meter = CpuMeter(nodes.processes)
    meter.start()
    watcher = asyncio.create_task(monitor(nodes.rpc_url(nodes.names[0]), run, start_height, halt, meter))
    await asyncio.sleep(0.3)  # subscribed before the first submission
    per_node = max(1, clients // len(nodes.names))
    senders = [Sender(nodes.manifest.node(n).api_url if via == "api" else nodes.rpc_url(n), method, via, per_node)
               for n in nodes.names]
    prom = f"http://127.0.0.1:{nodes.manifest.node(nodes.names[1]).ports['prometheus']}/metrics"
    metrics_before = scrape(prom)
    proms = [f"http://127.0.0.1:{nodes.manifest.node(n).ports['prometheus']}/metrics" for n in nodes.names]
    mempools_before = [scrape(u) for u in proms]
    chunks = collections.deque(keys[j:j + batch] for j in range(0, len(keys), batch))

    async def closed_loop(sender: Sender) -> None:
        while chunks:
            await run.committed_down_to(max_pending)
            if not chunks:
                return
            retry = await submit(sender, chunks.popleft(), run)
            if retry:
                await asyncio.sleep(0.05)
                chunks.appendleft(retry)

    async def offered(sender: Sender, chunk: list[str]) -> None:
        while chunk:
            chunk = await submit(sender, chunk, run)
            if chunk:
                await asyncio.sleep(0.05)

    meter.start()  # again: the figures start with the first submission
    if not rate:
        await asyncio.gather(*(closed_loop(senders[i % len(senders)]) for i in range(clients)))
    else:
        tasks = []
        t0 = time.monotonic() + 0.1
        for k in range(len(chunks)):
            pause = t0 + k * batch / rate - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            tasks.append(asyncio.create_task(offered(senders[k % len(senders)], chunks[k])))
        await asyncio.gather(*tasks)
    last_count, last_change = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.done < len(run.submitted):
        if run.done != last_count:
            last_count, last_change = run.done, time.monotonic()
        elif time.monotonic() - last_change > STALL:
            break
        await asyncio.sleep(0.05)
    cpu = meter.stop()
    cpu["metrics"] = metric_report(metrics_before, scrape(prom))
    cpu["mempool"] = mempool_report(nodes.names, mempools_before, [scrape(u) for u in proms])
    cpu["metrics_node"] = nodes.names[1]
    halt.set()
    await watcher
    for s in senders:
        await s.close()
    return run, cpu


def failed_in_blocks(url: str, heights: list[int]) -> int:
    """Transactions in these blocks whose result code is not 0 (read after the run)."""
    failed = 0
    with CometRpc(url, timeout=30) as rpc:
        for h in heights:
            for r in rpc.call("block_results", height=str(h)).get("txs_results") or []:
                failed += int(r.get("code", 0)) != 0
    return failed


def explain_lost(nodes: Nodes, run: Run, sample: int = 3) -> str:
    """Why transactions never committed: each mempool's size now, and what node 0's
    CheckTx says to a few of them when sent again (read after the run)."""
    lost = [k for k in run.submitted if k not in run.committed][:sample]
    if not lost:
        return ""
    sizes, answers = [], []
    for name in nodes.names:
        with CometRpc(nodes.rpc_url(name), timeout=10) as rpc:
            sizes.append(f"{name} {rpc.num_unconfirmed_txs()}")
    with CometRpc(nodes.rpc_url(nodes.names[0]), timeout=10) as rpc:
        for k in lost:
            answer = rpc.batch([("broadcast_tx_sync", {"tx": k})])[0]
            answers.append(str(answer.get("error") or {c: answer["result"].get(c) for c in ("code", "log")})[:120])
    return f"mempools: {', '.join(sizes)}; lost txs sent again to {nodes.names[0]}: {'; '.join(answers)}"


def summarize(run: Run) -> dict[str, Any]:
    lat = sorted(run.committed[k] - t for k, t in run.submitted.items() if k in run.committed)
    n = len(lat)
    span = run.last_commit - run.first_submit if n else 0.0
    return {
        "submitted": len(run.submitted),
        "committed": n,
        "lost": len(run.submitted) - n,
        "tps": n / span if span > 0 else 0.0,
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": lat[min(n - 1, int(n * 0.99))] if lat else float("nan"),
        "blocks": len([h for h in run.heights]),
        "sent_rate": len(run.submitted) / (run.last_submit - run.first_submit) if run.last_submit > run.first_submit else 0.0,
        "refused": dict(run.refused),
    }


# -- profile ---------------------------------------------------------------------------------


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    """py-spy of one process: only threads holding the GIL are sampled (its Python CPU)."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        print("  (py-spy not found: no profile)")
        return None
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(PROFILE_HZ), "--gil", "--threads",
         "--nonblocking", "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def start_pprof(port: int, seconds: float, out: Path) -> threading.Thread:
    """Fetch a CPU profile of node 1's cometbft (Go's pprof) in the background."""
    def fetch() -> None:
        try:
            out.write_bytes(httpx.get(f"http://127.0.0.1:{port}/debug/pprof/profile", params={"seconds": int(seconds)},
                                      timeout=seconds + 30).content)
        except httpx.HTTPError as exc:
            print(f"  (pprof failed: {exc})")
    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    return thread


def pprof_report(binary: str, path: Path, top: int = 25) -> str:
    """`go tool pprof -top` of a saved profile (cumulative and flat CPU per function)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not path.exists() or not os.access(go, os.X_OK):
        return "(no pprof profile, or no go tool to read it)"
    out = subprocess.run([go, "tool", "pprof", "-top", f"-nodecount={top}", binary, str(path)],
                         capture_output=True, text=True, timeout=120)
    return out.stdout or out.stderr


IDLE = ("EpollSelector.select", "_PollLikeSelector.select", "_worker", "Condition.wait", "Event.wait", "Thread._wait_for_tstate_lock")
ENTRY_POINTS = ("Application.finalize_block", "Application.commit", "Application.check_txs", "Application.process_proposal",
                "Application.prepare_proposal", "Application.query", "Application._deliver", "StateStore.stage",
                "StateStore.write", "BlockStore.write", "Application._decode_verified", "Checker.check",
                "AbciServer.handle_many", "AbciServer.handle", "finalize_block_response", "check_tx_response",
                "block_request_from_pb", "CommitHub.on_commit", "NodeMetrics.on_commit")


def _function(frame: str) -> str:
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


def profile_report(path: Path, seconds: float, top: int = 20) -> str:
    """Where one node process spent its busy samples: entry points (inclusive) and
    functions (self), idle waits left out."""
    if not path.exists():
        return "(no profile written)"
    self_t: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    threads: collections.Counter = collections.Counter()
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        leaf = frames[-1].split(" (")[0]
        if leaf in IDLE:
            continue
        busy += n
        threads[frames[0].split(": ", 1)[-1]] += n
        self_t[_function(frames[-1])] += n
        for f in dict.fromkeys(_function(f) for f in frames[1:]):
            incl[f] += n
    if not busy:
        return "(no busy samples)"
    possible = seconds * PROFILE_HZ
    lines = [f"busy samples: {busy} in {seconds:.0f} s at {PROFILE_HZ} Hz (~{busy / possible:.2f} threads busy on average)"]
    lines.append("by thread: " + ", ".join(f"{t} {n / busy:.0%}" for t, n in threads.most_common(4)))
    lines.append("inclusive, entry points (share of busy samples):")
    for frame, n in incl.most_common():
        if frame.split(" (")[0] in ENTRY_POINTS:
            lines.append(f"  {n / busy:6.1%}  {frame}")
    lines.append(f"self time, top {top}:")
    for frame, n in self_t.most_common(top):
        lines.append(f"  {n / busy:6.1%}  {frame}")
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------


def bench_app(app: str, args: argparse.Namespace, base: Path, tx_size: int | None) -> dict[str, Any]:
    print(f"\n== {app}: 4 validators ==", flush=True)
    nodes = Nodes(base / app, app, args.log_level, parse_settings(args.set), pprof_port=free_ports(1)[0] if args.profile else 0,
                  tx_gossip=args.tx_gossip, mempool=args.mempool)
    result: dict[str, Any] = {"app": app}
    try:
        t = time.monotonic()
        if app == "baychain":
            sat_raws, off_raws = baychain_txs(args.txs), baychain_txs(int(args.rate * args.rate_seconds))
            result["tx_size"] = statistics.median(len(r) for r in sat_raws)
            print(f"  signed {len(sat_raws) + len(off_raws)} transactions in {time.monotonic() - t:.1f} s "
                  f"(median {result['tx_size']:.0f} bytes)", flush=True)
        else:
            size = int(tx_size or 250)
            sat_raws, off_raws = kvstore_txs(args.txs, size, "sat"), kvstore_txs(int(args.rate * args.rate_seconds), size, "off")
            result["tx_size"] = size
        nodes.start()
        print(f"  network up ({', '.join(nodes.names)})", flush=True)
        time.sleep(1.0)
        profiler = None
        if args.profile and app == "baychain":
            pid = nodes.processes()[nodes.names[1]]["app"][0].pid  # a validator that is not the monitor's
            est = min(args.profile_seconds, max(5.0, args.txs / 1500))  # within the saturation phase
            profiler = start_profile(pid, est, Path(args.profile) / "baychain-node.txt")
            result["profile_seconds"] = est
        pprof = None
        if args.profile and nodes.pprof_port:
            pprof = start_pprof(nodes.pprof_port, min(args.profile_seconds, max(5.0, args.txs / 1500)),
                                Path(args.profile) / f"cometbft-{app}.pprof")
        method = f"broadcast_tx_{args.broadcast}"
        via = ("api" if nodes.mempool == "app" else args.via) if app == "baychain" else "rpc"
        run, cpu = asyncio.run(drive(nodes, sat_raws, clients=args.clients, batch=args.batch, max_pending=args.max_pending,
                                     rate=0, via=via, timeout=args.timeout, method=method))
        if profiler is not None:
            profiler.wait(60)
        if pprof is not None:
            pprof.join(60)
            report = pprof_report(nodes.binary, Path(args.profile) / f"cometbft-{app}.pprof")
            (Path(args.profile) / f"cometbft-{app}.txt").write_text(report)
            print(f"  cometbft CPU profile of {nodes.names[1]} (saturation): {args.profile}/cometbft-{app}.txt", flush=True)
        sat = summarize(run)
        sat["failed"] = failed_in_blocks(nodes.rpc_url(nodes.names[0]), run.heights)
        result["saturation"], result["saturation_cpu"] = sat, cpu
        if sat["lost"]:
            print("  " + explain_lost(nodes, run), flush=True)
        print(f"  saturation: {sat['committed']} committed in {sat['blocks']} blocks, {sat['tps']:.0f} tx/s, "
              f"p50 {sat['p50'] * 1000:.0f} ms, p99 {sat['p99'] * 1000:.0f} ms, failed {sat['failed']}, lost {sat['lost']}"
              + (f", refused {sat['refused']}" if sat["refused"] else ""), flush=True)
        if args.rate:
            time.sleep(1.0)
            run, cpu = asyncio.run(drive(nodes, off_raws, clients=args.clients, batch=args.rate_batch, max_pending=10**9,
                                         rate=args.rate, via=via, timeout=args.timeout, method=method))
            off = summarize(run)
            off["failed"] = failed_in_blocks(nodes.rpc_url(nodes.names[0]), run.heights)
            result["offered"], result["offered_cpu"] = off, cpu
            if off["lost"]:
                print("  " + explain_lost(nodes, run), flush=True)
            print(f"  offered {args.rate:.0f} tx/s (sent at {off['sent_rate']:.0f}): {off['tps']:.0f} tx/s committed, p50 {off['p50'] * 1000:.0f} ms, "
                  f"p99 {off['p99'] * 1000:.0f} ms, failed {off['failed']}, lost {off['lost']}", flush=True)
    finally:
        nodes.stop()
    return result


def parse_settings(items: list[str]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        section, _, name = key.rpartition(".")
        parsed: Any = value
        if value in ("true", "false"):
            parsed = value == "true"
        elif value.isdigit():
            parsed = int(value)
        out[(section, name)] = parsed
    return out


def print_cpu(result: dict[str, Any], phase: str) -> None:
    """Cores busy per process over the phase, and CPU per committed transaction."""
    cpu = result.get(f"{phase}_cpu")
    if not cpu:
        return
    per = cpu["per"]
    names = sorted({n for n, _ in per})
    cells = []
    for n in names:
        parts = [f"{k} {per[(n, k)]:.2f}" for k in ("app", "cometbft") if (n, k) in per]
        cells.append(f"{n}: " + " + ".join(parts))
    total = sum(per.values())
    print(f"  CPU ({phase}, cores): " + "; ".join(cells) + f"; all nodes {total:.2f}; load client {cpu['client']:.2f}; "
          f"whole machine {cpu['machine']:.2f} (others {max(0.0, cpu['machine'] - total - cpu['client']):.2f})")
    committed = result[phase]["committed"]
    if committed:
        result[f"{phase}_cpu_per_tx"] = (total + cpu["client"]) * cpu["wall"] / committed * 1e6
        per_tx = {kind: sum(v for (_, k), v in per.items() if k == kind) * cpu["wall"] / committed * 1e6 for kind in ("app", "cometbft")}
        print(f"  CPU per committed tx ({phase}): all nodes {total * cpu['wall'] / committed * 1e6:.0f} us "
              f"(cometbft {per_tx['cometbft']:.0f}" + (f", applications {per_tx['app']:.0f}" if per_tx["app"] else "")
              + f"), load client {cpu['client'] * cpu['wall'] / committed * 1e6:.0f} us")
    for line in cpu.get("metrics", []):
        print(f"    [{cpu.get('metrics_node', '?')}] {line}")
    if cpu.get("mempool"):
        print(f"    mempools: {cpu['mempool']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=20_000, help="transactions in the saturation phase")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients, each with its own connection (spread over the 4 nodes)")
    ap.add_argument("--batch", type=int, default=100, help="transactions per JSON-RPC batch (saturation)")
    ap.add_argument("--max-pending", type=int, default=3_000,
                    help="most submitted-but-uncommitted transactions (saturation); CometBFT's mempool holds 5,000 and with "
                         "async broadcasts a transaction whose CheckTx answer finds it full is dropped")
    ap.add_argument("--rate", type=float, default=1_000, help="offered load in tx/s for the second phase (0 = skip)")
    ap.add_argument("--rate-batch", type=int, default=20, help="transactions per JSON-RPC batch (offered load)")
    ap.add_argument("--broadcast", choices=("async", "sync"), default="async",
                    help="RPC call, both phases and apps (async: answered once CometBFT queued the CheckTx; "
                         "sync: once CheckTx answered, which over the ABCI socket waits for its 20 ms flush)")
    ap.add_argument("--rate-seconds", type=float, default=20, help="length of the offered-load phase")
    ap.add_argument("--only", choices=APPS, help="run one application only")
    ap.add_argument("--socket-kvstore", action="store_true",
                    help="also run kvstore-socket: the kvstore served by `abci-cli kvstore` over the ABCI socket (a diagnostic "
                         "beside the baseline: what an out-of-process application pays in CometBFT's socket client)")
    ap.add_argument("--via", choices=("rpc", "api"), default="rpc", help="baychain submissions: CometBFT RPC (as kvstore) or the node's HTTP API")
    ap.add_argument("--mempool", choices=("cometbft", "app"),
                    help="baychain's mempool as `net init --mempool` (its default: app, or cometbft with --tx-gossip ring). "
                         "app: CometBFT's nop mempool, the nodes admit, relay and propose themselves, submissions go to "
                         "the nodes' API; cometbft: its mempool, submissions --via rpc or api")
    ap.add_argument("--profile", metavar="DIR", help="py-spy one baychain node and Go's pprof of one cometbft during saturation; "
                                                     "raw stacks, profiles and summaries in DIR")
    ap.add_argument("--profile-seconds", type=float, default=10, help="longest py-spy recording")
    ap.add_argument("--log-level", default="*:error", help="CometBFT log level of the nodes")
    ap.add_argument("--gomaxprocs", type=int, default=0,
                    help="GOMAXPROCS of every cometbft process, both apps (0: Go's default, one per core); with four "
                         "nodes on two cores, 1 stops Go's idle threads from spinning for work")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for the last commits of a phase")
    ap.add_argument("--keep", action="store_true", help="keep the network directories")
    ap.add_argument("--tx-gossip", choices=("flood", "ring"), default="flood",
                    help="how nodes relay transactions, both apps (`baychain net init --tx-gossip`)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="extra config.toml setting for every node of both networks, e.g. mempool.size=20000 (repeatable)")
    args = ap.parse_args(argv)
    if args.gomaxprocs:
        os.environ["GOMAXPROCS"] = str(args.gomaxprocs)  # inherited by node processes and their cometbft

    print("machine:", machine_line())
    print(f"load: {args.clients} clients, batches of {args.batch}, saturation {args.txs} txs (max {args.max_pending} pending), "
          f"offered {args.rate:.0f} tx/s for {args.rate_seconds:.0f} s in batches of {args.rate_batch}; broadcast_tx_{args.broadcast}; "
          f"submissions via {args.via} (baychain, api with its own mempool), rpc (kvstore); baychain mempool {args.mempool or 'as net init'}"
          + f"; tx gossip {args.tx_gossip}"
          + (f"; config {' '.join(args.set)}" if args.set else "")
          + (f"; GOMAXPROCS={args.gomaxprocs}" if args.gomaxprocs else "")
          + f"; cometbft GOGC={cometbft_environment()['GOGC']}")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="bench-net-"))
    results = []
    try:
        size = None
        for app in APPS:
            if (args.only and app != args.only) or (app == "kvstore-socket" and not (args.socket_kvstore or args.only)):
                continue
            results.append(bench_app(app, args, base, size))
            size = results[-1].get("tx_size", size)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"network directories kept in {base}")

    print("\n== summary ==")
    print(f"{'app':9} {'committed tx/s':>14} {'p50':>8} {'p99':>8} | {'offered':>8} {'sent':>6} {'committed':>9} {'p50':>8} {'p99':>8}")
    for r in results:
        s, o = r["saturation"], r.get("offered")
        line = f"{r['app']:9} {s['tps']:14.0f} {s['p50'] * 1000:6.0f}ms {s['p99'] * 1000:6.0f}ms |"
        if o:
            line += f" {args.rate:8.0f} {o['sent_rate']:6.0f} {o['tps']:9.0f} {o['p50'] * 1000:6.0f}ms {o['p99'] * 1000:6.0f}ms"
        print(line)
    for r in results:
        print(r["app"])
        print_cpu(r, "saturation")
        print_cpu(r, "offered")
    by = {r["app"]: r for r in results}
    if "baychain" in by and "kvstore" in by:
        ratio = by["baychain"]["saturation"]["tps"] / max(1e-9, by["kvstore"]["saturation"]["tps"])
        print(f"baychain / kvstore (saturation): {ratio:.0%}")
        b, k = by["baychain"].get("saturation_cpu_per_tx"), by["kvstore"].get("saturation_cpu_per_tx")
        if b and k:  # when both are bound by CPU the rates follow this; it moves less with the host's speed
            print(f"kvstore / baychain CPU per committed tx, load client included (saturation): {k / b:.0%} ({k:.0f} / {b:.0f} us)")
    if "baychain" in by and "kvstore-socket" in by:  # a diagnostic: the target's baseline is the kvstore above
        ratio = by["baychain"]["saturation"]["tps"] / max(1e-9, by["kvstore-socket"]["saturation"]["tps"])
        print(f"baychain / kvstore-socket (saturation, diagnostic): {ratio:.0%}")
    if args.profile and "baychain" in by:
        report = profile_report(Path(args.profile) / "baychain-node.txt", by["baychain"].get("profile_seconds", 0) or 1)
        (Path(args.profile) / "summary.txt").write_text(report + "\n")
        print("\n== profile of one baychain node (py-spy, saturation phase) ==")
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
