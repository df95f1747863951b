"""Four CometBFT validators on this machine: baychain against CometBFT's kvstore.

What is measured, for each application on the same 4-validator layout (`baychain net
init` homes: loopback ports, full-mesh peers, the shipped consensus timeouts and
config), with the same load shape:

- **saturation**: `--clients` concurrent client threads, each bound to one node's
  CometBFT RPC (client i -> node i mod 4), send JSON-RPC batches of `--batch`
  `broadcast_tx_sync` calls as fast as the chain takes them, keeping at most
  `--max-pending` submitted-but-uncommitted transactions (CometBFT's mempool holds
  5,000 per node; a "mempool is full" answer is retried). Printed: committed tx/s
  (all transactions / first submission -> last commit) and p50/p99 latency;
- **offered load** (`--rate`, default 1,000 tx/s for `--rate-seconds`): open loop —
  batch k of `--batch` transactions is due at k x batch / rate seconds and is sent then
  by a free one of `--senders` threads (round-robin over the nodes), with
  `broadcast_tx_async` by default (CheckTx still runs on every node, but the client does
  not wait for it, so it offers exactly the rate; `--offered-broadcast sync` waits).
  Printed: the rate actually sent, the committed rate, p50/p99 latency, and how many
  transactions never committed ("lost": refused or dropped by a full mempool);
- CometBFT's own timers, scraped from node 1's Prometheus endpoint before and after
  each phase: time per ABCI method, per consensus step, and the mean block interval;
- CPU per node over each phase (psutil; user+sys seconds / wall seconds, so 1.00 is one
  core busy): the baychain node process (application, ABCI server, API) and its
  cometbft child separately; the benchmark process itself too (signing is done before
  the clock starts, so the client's share is JSON-RPC and polling).

Latency runs from the moment a transaction's batch is sent until a monitor thread,
polling node 0's RPC every 10 ms, sees the block that holds it. baychain's
transactions are Ed25519-signed `notary.notarize` calls from fresh accounts (so no
nonce orders one client's transactions); kvstore's are `key=value` byte strings of the
same length. After each phase every block's results are read back (untimed) and any
transaction that failed is reported.

    python bench/bench_network.py                          # both apps, both phases
    python bench/bench_network.py --txs 20000 --rate 1000 --rate-seconds 20
    python bench/bench_network.py --only baychain --profile /tmp/prof   # + py-spy of one node
    python bench/bench_network.py --set mempool.size=20000     # extra config.toml settings, both apps
    python bench/bench_network.py --via api                # baychain through its HTTP API instead

Needs the pinned cometbft binary (scripts/install-cometbft.sh); py-spy for --profile.
This is a script, not a test; see docs/PERFORMANCE.md, "Four validators (CometBFT)".
"""

from __future__ import annotations

import argparse
import base64
import collections
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import psutil

from baychain import transactions as txs
from baychain.crypto.suites import ED25519
from baychain.network import cometbft
from baychain.network.create import init_network
from baychain.network.home import NodeHome
from baychain.network.manifest import NetworkManifest
from baychain.network.processes import kill_node, log_tail, running_pid, start_node, wait_healthy
from baychain.network.rpc import CometRpc, RpcError

from machine import machine_line  # bench/machine.py (bench/ is on sys.path when run as a script)

CHAIN_ID = "bench-net"
EXPIRY = 2**40
POLL = 0.01
STALL = 15.0  # seconds without a new commit after which a phase stops waiting


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


class Nodes:
    """Four validators: baychain nodes (python + cometbft child) or bare `cometbft --proxy_app=kvstore`."""

    def __init__(self, directory: Path, app: str, log_level: str, settings: dict[tuple[str, str], Any]) -> None:
        self.app = app
        self.manifest: NetworkManifest = init_network(directory, validators=4, chain_id=CHAIN_ID, log_level=log_level)
        for name in self.manifest.names:
            if settings:
                cometbft.set_config(NodeHome(self.manifest.home(name)).cometbft, settings)
        self.binary = cometbft.find_binary()
        self.kv_procs: dict[str, subprocess.Popen] = {}

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
            self.kv_procs[name] = subprocess.Popen(
                [self.binary, "node", "--home", str(home.cometbft), "--proxy_app=kvstore"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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

    def processes(self) -> dict[str, dict[str, psutil.Process]]:
        """Per node: {"app": python node process, "cometbft": its child} or {"cometbft": kvstore node}."""
        out: dict[str, dict[str, psutil.Process]] = {}
        for name in self.names:
            if self.app == "baychain":
                pid = running_pid(self.home(name))
                proc = psutil.Process(pid)
                children = proc.children()
                out[name] = {"app": proc, **({"cometbft": children[0]} if children else {})}
            else:
                out[name] = {"cometbft": psutil.Process(self.kv_procs[name].pid)}
        return out

    def stop(self) -> None:
        if self.app == "baychain":
            for name in self.names:
                kill_node(self.home(name))
        for proc in self.kv_procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)


class CpuMeter:
    """user+sys CPU seconds of each process between start() and stop()."""

    def __init__(self, procs: dict[str, dict[str, psutil.Process]]) -> None:
        self.procs = procs
        self.me = psutil.Process()

    @staticmethod
    def _cpu(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = {(n, k): self._cpu(p) for n, d in self.procs.items() for k, p in d.items()}
        self.me0 = self._cpu(self.me)

    def stop(self) -> dict[str, Any]:
        wall = time.monotonic() - self.t0
        per = {(n, k): (self._cpu(p) - self.c0[(n, k)]) / wall for n, d in self.procs.items() for k, p in d.items()}
        return {"wall": wall, "per": per, "client": (self._cpu(self.me) - self.me0) / wall}


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
    lock: threading.Lock = field(default_factory=threading.Lock)


class Monitor(threading.Thread):
    """Polls node 0's RPC and records when each block (and so each of its txs) is committed."""

    def __init__(self, url: str, run: Run, start_height: int) -> None:
        super().__init__(daemon=True, name="monitor")
        self.rpc = CometRpc(url, timeout=10)
        self.run_ = run
        self.next = start_height + 1
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                top = self.rpc.height()
                while self.next <= top:
                    block = self.rpc.block(self.next)
                    now = time.monotonic()
                    data = block["block"]["data"]["txs"] or []
                    with self.run_.lock:
                        for tx in data:
                            self.run_.committed.setdefault(tx, now)
                        if data:
                            self.run_.last_commit = now
                    self.run_.heights.append(self.next)
                    self.next += 1
            except RpcError:
                pass
            time.sleep(POLL)
        self.rpc.close()


def submit(sender: Callable[[list[bytes]], list[str | None]], batch: list[bytes], run: Run) -> list[bytes]:
    """Send one batch; the transactions to retry (mempool full)."""
    keys = [base64.b64encode(r).decode() for r in batch]
    sent = time.monotonic()
    with run.lock:
        if not run.first_submit:
            run.first_submit = sent
        run.last_submit = max(run.last_submit, sent)
        for k in keys:
            run.submitted[k] = sent
    errors = sender(batch)
    retry = []
    with run.lock:
        for raw, k, err in zip(batch, keys, errors):
            if err is None:
                continue
            del run.submitted[k]
            if "full" in err:
                retry.append(raw)
            else:
                run.refused[err[:80]] += 1
    return retry


def rpc_sender(url: str, method: str = "broadcast_tx_sync") -> tuple[Callable[[list[bytes]], list[str | None]], Callable[[], None]]:
    rpc = CometRpc(url, timeout=30)

    def send(batch: list[bytes]) -> list[str | None]:
        try:
            answers = rpc.batch([(method, {"tx": base64.b64encode(r).decode()}) for r in batch])
        except RpcError as exc:
            return [str(exc)] * len(batch)
        out: list[str | None] = []
        for a in answers:
            if "error" in a:
                out.append(str(a["error"].get("data") or a["error"].get("message")))
            elif int(a["result"].get("code", 0)):
                out.append(f"code {a['result']['code']}: {a['result'].get('log', '')}")
            else:
                out.append(None)
        return out

    return send, rpc.close


def api_sender(url: str) -> tuple[Callable[[list[bytes]], list[str | None]], Callable[[], None]]:
    http = httpx.Client(base_url=url, timeout=30)

    def send(batch: list[bytes]) -> list[str | None]:
        try:
            results = http.post("/v1/txs/batch", json={"txs": [r.hex() for r in batch]}).json()["results"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return [str(exc)] * len(batch)
        return [None if r["code"] == 0 else ("mempool is full" if r["error"] == "MEMPOOL_FULL" else f"{r['error']}: {r['message']}")
                for r in results]

    return send, http.close


def drive(nodes: Nodes, raws: list[bytes], *, clients: int, batch: int, max_pending: int, rate: float,
          via: str, timeout: float, senders: int = 16, method: str = "broadcast_tx_sync") -> tuple[Run, dict[str, Any]]:
    """Send `raws` and wait for every commit (or until commits stall for `STALL` seconds).

    Saturation (`rate` 0): `clients` closed-loop threads, each bound to one node, send a
    batch, wait for its CheckTx answers, send the next, while at most `max_pending`
    transactions are uncommitted. Offered load: open loop — batch k is due at
    k * batch / rate seconds and is sent then by whichever of `clients` sender threads is
    free (`senders` threads), whatever the chain's answer times, so the offered rate does not sag when
    admission slows down (a sender that is late is reported as a lower "sent" rate).
    """
    run = Run()
    with CometRpc(nodes.rpc_url(nodes.names[0])) as rpc:
        start_height = rpc.height()
    monitor = Monitor(nodes.rpc_url(nodes.names[0]), run, start_height)
    monitor.start()
    meter = CpuMeter(nodes.processes())
    prom = f"http://127.0.0.1:{nodes.manifest.node(nodes.names[1]).ports['prometheus']}/metrics"
    metrics_before = scrape(prom)
    local = threading.local()
    opened: list[Callable[[], None]] = []

    def sender_for(name: str) -> Callable[[list[bytes]], list[str | None]]:
        cache = getattr(local, "senders", None)
        if cache is None:
            cache = local.senders = {}
        if name not in cache:
            if via == "api":
                send, close = api_sender(nodes.manifest.node(name).api_url)
            else:
                send, close = rpc_sender(nodes.rpc_url(name), method)
            cache[name] = send
            opened.append(close)
        return cache[name]

    def send_all(name: str, chunks: collections.deque) -> None:
        send = sender_for(name)
        while chunks:
            if not rate:
                while len(run.submitted) - len(run.committed) > max_pending:
                    time.sleep(0.005)
            chunk = chunks.popleft()
            retry = submit(send, chunk, run)
            if retry:
                time.sleep(0.05)
                chunks.appendleft(retry)

    meter.start()
    if not rate:
        shares = [raws[i::clients] for i in range(clients)]
        threads = [
            threading.Thread(target=send_all, args=(nodes.names[i % 4], collections.deque(
                shares[i][j:j + batch] for j in range(0, len(shares[i]), batch))), name=f"client-{i}")
            for i in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        from concurrent.futures import ThreadPoolExecutor

        chunks = [raws[j:j + batch] for j in range(0, len(raws), batch)]
        t0 = time.monotonic() + 0.2
        with ThreadPoolExecutor(senders, thread_name_prefix="sender") as pool:
            for k, chunk in enumerate(chunks):
                pause = t0 + k * batch / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                pool.submit(send_all, nodes.names[k % 4], collections.deque([chunk]))
    last_count, last_change = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with run.lock:
            done = sum(1 for k in run.submitted if k in run.committed)
            if done == len(run.submitted):
                break
        if done != last_count:
            last_count, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > STALL:
            break
        time.sleep(0.05)
    cpu = meter.stop()
    cpu["metrics"] = metric_report(metrics_before, scrape(prom))
    cpu["metrics_node"] = nodes.names[1]
    monitor.halt.set()
    monitor.join(10)
    for close in opened:
        close()
    return run, cpu


def failed_in_blocks(url: str, heights: list[int]) -> int:
    """Transactions in these blocks whose result code is not 0 (read after the run)."""
    failed = 0
    with CometRpc(url, timeout=30) as rpc:
        for h in heights:
            for r in rpc.call("block_results", height=str(h)).get("txs_results") or []:
                failed += int(r.get("code", 0)) != 0
    return failed


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
    spy = shutil.which("py-spy")
    if spy is None:
        print("  (py-spy not found: no profile)")
        return None
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100", "--threads",
         "--nonblocking", "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


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
    possible = seconds * 100
    lines = [f"busy samples: {busy} in {seconds:.0f} s at 100 Hz (~{busy / possible:.2f} threads busy on average)"]
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
    nodes = Nodes(base / app, app, args.log_level, parse_settings(args.set))
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
            pid = nodes.processes()[nodes.names[1]]["app"].pid  # a validator that is not the monitor's
            est = max(5.0, args.txs / 1500)
            profiler = start_profile(pid, est, Path(args.profile) / "baychain-node.txt")
            result["profile_seconds"] = est
        run, cpu = drive(nodes, sat_raws, clients=args.clients, batch=args.batch, max_pending=args.max_pending,
                         rate=0, via=args.via if app == "baychain" else "rpc", timeout=args.timeout)
        if profiler is not None:
            profiler.wait(60)
        sat = summarize(run)
        sat["failed"] = failed_in_blocks(nodes.rpc_url(nodes.names[0]), run.heights)
        result["saturation"], result["saturation_cpu"] = sat, cpu
        print(f"  saturation: {sat['committed']} committed in {sat['blocks']} blocks, {sat['tps']:.0f} tx/s, "
              f"p50 {sat['p50'] * 1000:.0f} ms, p99 {sat['p99'] * 1000:.0f} ms, failed {sat['failed']}, lost {sat['lost']}"
              + (f", refused {sat['refused']}" if sat["refused"] else ""), flush=True)
        if args.rate:
            time.sleep(1.0)
            run, cpu = drive(nodes, off_raws, clients=args.clients, batch=args.batch, senders=args.senders,
                             method=f"broadcast_tx_{args.offered_broadcast}",
                             max_pending=10**9, rate=args.rate, via=args.via if app == "baychain" else "rpc", timeout=args.timeout)
            off = summarize(run)
            off["failed"] = failed_in_blocks(nodes.rpc_url(nodes.names[0]), run.heights)
            result["offered"], result["offered_cpu"] = off, cpu
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
    print(f"  CPU ({phase}, cores): " + "; ".join(cells) + f"; all nodes {total:.2f}; bench client {cpu['client']:.2f}")
    for line in cpu.get("metrics", []):
        print(f"    [{cpu.get('metrics_node', '?')}] {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=20_000, help="transactions in the saturation phase")
    ap.add_argument("--clients", type=int, default=64, help="concurrent client threads (spread over the 4 nodes)")
    ap.add_argument("--batch", type=int, default=10, help="transactions per JSON-RPC batch")
    ap.add_argument("--max-pending", type=int, default=4_000, help="most submitted-but-uncommitted transactions (saturation)")
    ap.add_argument("--rate", type=float, default=1_000, help="offered load in tx/s for the second phase (0 = skip)")
    ap.add_argument("--senders", type=int, default=16, help="sender threads of the offered-load phase (open loop)")
    ap.add_argument("--offered-broadcast", choices=("async", "sync"), default="async",
                    help="RPC call of the offered-load phase (async: the client never waits for CheckTx, so it offers "
                         "exactly --rate; sync needs hundreds of threads in flight, which a 2-core machine cannot spare)")
    ap.add_argument("--rate-seconds", type=float, default=20, help="length of the offered-load phase")
    ap.add_argument("--only", choices=("baychain", "kvstore"), help="run one application only")
    ap.add_argument("--via", choices=("rpc", "api"), default="rpc", help="baychain submissions: CometBFT RPC (as kvstore) or the node's HTTP API")
    ap.add_argument("--profile", metavar="DIR", help="py-spy one baychain node during saturation; raw stacks and a summary in DIR")
    ap.add_argument("--log-level", default="*:error", help="CometBFT log level of the nodes")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for the last commits of a phase")
    ap.add_argument("--keep", action="store_true", help="keep the network directories")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="extra config.toml setting for every node of both networks, e.g. mempool.size=20000 (repeatable)")
    args = ap.parse_args(argv)

    print("machine:", machine_line())
    print(f"load: {args.clients} clients, batches of {args.batch}, saturation {args.txs} txs (max {args.max_pending} pending), "
          f"offered {args.rate:.0f} tx/s for {args.rate_seconds:.0f} s (broadcast_tx_{args.offered_broadcast}); "
          f"submissions via {args.via} (baychain), rpc (kvstore)"
          + (f"; config {' '.join(args.set)}" if args.set else ""))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="bench-net-"))
    results = []
    try:
        size = None
        for app in ("baychain", "kvstore"):
            if args.only and app != args.only:
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
    if args.profile and "baychain" in by:
        report = profile_report(Path(args.profile) / "baychain-node.txt", by["baychain"].get("profile_seconds", 0) or 1)
        (Path(args.profile) / "summary.txt").write_text(report + "\n")
        print("\n== profile of one baychain node (py-spy, saturation phase) ==")
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
