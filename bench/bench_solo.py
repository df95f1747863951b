"""End-to-end throughput of the embedded (solo) engine with signed transactions.

What is measured: points transfers between many accounts, each an Ed25519-signed
transaction, from the moment a batch is handed to `SoloEngine.submit_many` until the
block holding it is durably committed (one LMDB write transaction per block, opened
with sync=True, so the commit returns only after fsync). The application, engine,
mempool and store are the real ones; there is no HTTP in the path.

Load: a programme is created and issued to every account first (not timed), then
all transfers are signed up front (not timed). A feeder thread submits them in
batches through `submit_many` while the engine thread produces blocks
(`engine.start()`), and keeps the mempool backlog at most `--backlog-blocks` blocks;
a second submitter hands the next batches to the admission workers meanwhile
(`--verify-ahead`, as concurrent clients would), and latency starts at that hand-over.

Printed: committed tx/s, p50/p99 commit latency (submission -> commit acknowledged),
block sizes, CPU per transaction (and the kernel's share), time in the garbage
collector, peak RSS, the machine, and this machine's raw Ed25519 verifications per second with
one and two threads (libsodium, and the native module singly and in batches; all
release the GIL), measured in the same run as the ceiling for a node that verifies
every signature once.

    python bench/bench_solo.py                       # 200,000 transfers
    python bench/bench_solo.py --txs 50000 --profile /tmp/solo.prof
    python bench/bench_solo.py --memory-check        # 1,000,000 transfers, RSS every 100k

This is a script, not a test; see docs/PERFORMANCE.md for recorded figures.
"""

from __future__ import annotations

import argparse
import array
import cProfile
import gc
import os
import queue
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import baychain_native
import nacl.bindings

from baychain import encoding
from baychain import transactions as txs
from baychain.app.application import Application
from baychain.chain.genesis import Genesis
from baychain.crypto.suites import ED25519, address_of
from baychain.engine.mempool import Mempool
from baychain.engine.solo import SoloEngine

from machine import machine_line  # bench/machine.py (bench/ is on sys.path when run as a script)

CHAIN_ID = "bench-solo"
SYMBOL = "BENCH"
EXPIRY = 2**40
INITIAL_BALANCE = 10**12


# -- the machine -------------------------------------------------------------------------


def rss_mb(field: str = "VmRSS") -> float:
    """Resident set size of this process, MiB: VmRSS (all), RssAnon (heap) or RssFile
    (mapped file pages, here mostly the LMDB map, which the kernel can reclaim)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_line() -> str:
    return f"RSS {rss_mb():.0f} MiB (anon {rss_mb('RssAnon'):.0f}, file {rss_mb('RssFile'):.0f})"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class ThreadCpu:
    """CPU time of each of this process's threads during the timed run, by thread name,
    from /proc/self/task (sampled, so a thread that ends between samples loses at most
    one interval; the names say which part of the node or bench a thread is; the pool's
    "Thread-N" threads are those of the admission workers' executor and queue)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _read() -> dict[int, tuple[str, float]]:
        out: dict[int, tuple[str, float]] = {}
        tick = os.sysconf("SC_CLK_TCK")
        names = {t.native_id: t.name for t in threading.enumerate()}  # CPython leaves the OS names alone
        for task in Path("/proc/self/task").iterdir():
            try:
                name = names.get(int(task.name)) or (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
        return out

    def start(self) -> None:
        self._first = {tid: cpu for tid, (_, cpu) in self._read().items()}
        self._thread = threading.Thread(target=self._run, name="bench-thread-cpu", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._last.update(self._read())

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._last.update(self._read())
        by_name: dict[str, float] = {}
        for tid, (name, cpu) in self._last.items():
            by_name[name] = by_name.get(name, 0.0) + cpu - self._first.get(tid, 0.0)
        return by_name


# -- the ceiling: raw Ed25519 verification -------------------------------------------------


def ed25519_ceiling(seconds: float = 1.0) -> str:
    """Ed25519 verifications per second on one and two threads, measured back to back:
    libsodium (what the node used before), and the node's native rule (baychain_native,
    ZIP-215) one signature at a time and in batches. All of them release the GIL."""
    items = []
    for i in range(256):
        pk, sk = nacl.bindings.crypto_sign_seed_keypair(i.to_bytes(32, "big"))
        msg = os.urandom(180)
        items.append((pk, msg, nacl.bindings.crypto_sign(msg, sk)[:64]))
    opened = [(sig + msg, pk) for pk, msg, sig in items]
    sodium, single = nacl.bindings.crypto_sign_open, baychain_native.verify

    def libsodium() -> None:
        for signed, pk in opened:
            sodium(signed, pk)

    def native_single() -> None:
        for pk, msg, sig in items:
            single(pk, msg, sig)

    def native_batch() -> None:
        baychain_native.verify_batch(items)

    def rate(check, threads: int) -> float:  # type: ignore[no-untyped-def]
        def run(deadline: float) -> int:
            n = 0
            while time.perf_counter() < deadline:
                check()
                n += len(items)
            return n

        with ThreadPoolExecutor(threads) as pool:
            start = time.perf_counter()
            futures = [pool.submit(run, start + seconds) for _ in range(threads)]
            total = sum(f.result() for f in futures)
        return total / (time.perf_counter() - start)

    parts = [f"{name} {rate(check, 1):,.0f} / {rate(check, 2):,.0f}" for name, check in
             (("libsodium", libsodium), ("native", native_single), ("native batch", native_batch))]
    return (f"ed25519 verify ceiling, per second on 1 / 2 threads: {'; '.join(parts)} "
            f"(native: ZIP-215, {baychain_native.backend()}, batches of {baychain_native.BATCH_LEN})")


# -- accounts and transactions -------------------------------------------------------------


class Account:
    __slots__ = ("public_key", "secret_key", "address", "nonce")

    def __init__(self, seed: bytes) -> None:
        self.public_key, self.secret_key = nacl.bindings.crypto_sign_seed_keypair(seed)
        self.address = address_of(ED25519.suite_id, self.public_key)
        self.nonce = 0


def signed(account: Account, method: str, args: dict) -> bytes:
    """A signed transaction's bytes (same encoding as transactions.build + sign)."""
    tx = txs.build(chain_id=CHAIN_ID, suite=ED25519.suite_id, signer=account.public_key, nonce=account.nonce,
                   expiry_height=EXPIRY, contract="points", method=method, args=args)
    account.nonce += 1
    signature = nacl.bindings.crypto_sign(tx.sign_bytes(), account.secret_key)[:64]
    return encoding.encode([tx.body, signature])


def transfers(accounts: list[Account], count: int, rng: random.Random) -> list[bytes]:
    """`count` transfers, round-robin over senders to random recipients."""
    n = len(accounts)
    out = []
    for i in range(count):
        sender = accounts[i % n]
        to = accounts[(i % n + 1 + rng.randrange(n - 1)) % n]
        out.append(signed(sender, "transfer", {"symbol": SYMBOL, "to": to.address, "amount": 1}))
    return out


# -- the run -------------------------------------------------------------------------------


class GcMeter:
    """Time spent in the cyclic garbage collector (all threads), by generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.counts = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.counts[info["generation"]] += 1

    def reset(self) -> None:
        self.seconds = 0.0
        self.counts = [0, 0, 0]


class Meter:
    """Commit listener: latency of every transaction from submission to commit."""

    def __init__(self) -> None:
        self.submitted: dict[bytes, float] = {}  # by raw bytes: no hashing in the bench's own path
        self.latencies = array.array("d")  # 8 bytes a sample: 1M samples stay small
        self.committed = 0
        self.failed = 0
        self.blocks = 0
        self.block_sizes: list[int] = []
        self.first_fail = ""
        self.done = threading.Condition()

    def on_commit(self, block: dict, records: list) -> None:
        now = time.perf_counter()
        pop = self.submitted.pop
        lat = self.latencies.append
        for rec in records:
            t = pop(rec.raw, None)
            if t is not None:
                lat(now - t)
            if rec.code != 0:
                self.failed += 1
                if not self.first_fail:
                    self.first_fail = f"code {rec.code}: {rec.log}"
        with self.done:
            self.committed += len(records)
            self.blocks += 1
            self.block_sizes.append(len(records))
            self.done.notify_all()


def feed(engine: SoloEngine, meter: Meter, raws: list[bytes], batch: int, backlog: int, ahead: int = 1) -> int:
    """Submit `raws` in batches, keeping at most `backlog` transactions waiting; returns rejections.

    With `ahead` > 0 a second submitter thread hands the next batches to the node's
    admission workers (`app.preverify`, what `submit_many` does first, outside the
    engine lock) while this thread admits the current one, as concurrent clients
    would: decoding and signature checks overlap admission and block production.
    Batches are still admitted in order (nonces), and each is timed from its hand-over.
    """
    rejected = 0
    mempool = engine.mempool
    submitted = meter.submitted
    chunks = [raws[lo : lo + batch] for lo in range(0, len(raws), batch)]

    def wait_for_room() -> None:
        while len(mempool) >= backlog:
            with meter.done:
                meter.done.wait(0.005)
            if engine.error is not None:
                raise RuntimeError(f"engine halted: {engine.error}")

    def hand_over(chunk: list[bytes]) -> None:
        now = time.perf_counter()
        for raw in chunk:
            submitted[raw] = now

    ready: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=max(1, ahead))

    def verifier() -> None:
        try:
            for chunk in chunks:
                wait_for_room()
                hand_over(chunk)
                engine.app.preverify(chunk)
                ready.put(chunk)
        finally:
            ready.put(None)

    if ahead > 0:
        threading.Thread(target=verifier, name="bench-verify-ahead", daemon=True).start()
    for i in range(len(chunks)):
        if ahead > 0:
            chunk = ready.get()
            if chunk is None:
                raise RuntimeError("verify-ahead thread stopped early")
        else:
            chunk = chunks[i]
            wait_for_room()
            hand_over(chunk)
        for raw, res in zip(chunk, engine.submit_many(chunk)):
            if res.code != 0:
                rejected += 1
                submitted.pop(raw, None)
                if rejected <= 3:
                    print(f"  rejected: code {res.code} {res.log}", file=sys.stderr)
    return rejected


def feed_inline(engine: SoloEngine, meter: Meter, raws: list[bytes], batch: int, backlog: int) -> int:
    """Profiling variant: one thread alternates submitting and producing blocks, so
    cProfile (which sees only its own thread) sees the whole hot path. A block is
    produced whenever `backlog` transactions wait, so what stays behind is rechecked
    after each block, as in the threaded run."""
    rejected = 0
    submitted = meter.submitted
    for lo in range(0, len(raws), batch):
        chunk = raws[lo : lo + batch]
        now = time.perf_counter()
        for raw in chunk:
            submitted[raw] = now
        rejected += sum(1 for res in engine.submit_many(chunk) if res.code != 0)
        if len(engine.mempool) >= backlog:
            engine.produce_block()
    while engine.produce_block() is not None:
        pass
    return rejected


class StageTimer:
    """Wall time spent in each stage of the hot path, by wrapping the real methods of
    this run's objects (used with the one-thread loop, so stages do not overlap)."""

    STAGES = [("check_txs", "app", "check_txs"), ("  decode + verify", "app", "_decode_verified"),
              ("recheck (after blocks)", "app", "recheck"),
              ("finalize_block", "app", "finalize_block"), ("  state stage (trie)", "state", "stage"),
              ("commit", "app", "commit"), ("  block store write", "blocks", "write"),
              ("  state write", "state", "write")]

    def __init__(self, app: Application) -> None:
        owners = {"app": app, "state": app.state, "blocks": app.blocks}
        # (code before Application.recheck rechecks through check_txs: counted there)
        stages = [(label, owners[owner], name) for label, owner, name in self.STAGES if hasattr(owners[owner], name)]
        self.seconds = {label: 0.0 for label, _, _ in stages}
        for label, obj, name in stages:
            setattr(obj, name, self._timed(label, getattr(obj, name)))

    def _timed(self, label: str, func):  # type: ignore[no-untyped-def]
        seconds = self.seconds
        clock = time.perf_counter

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = clock()
            try:
                return func(*args, **kwargs)
            finally:
                seconds[label] += clock() - start

        timed.__wrapped__ = func  # type: ignore[attr-defined]
        return timed

    def report(self, count: int) -> str:
        return "\n".join(f"  {label:22s} {secs / count * 1e6:7.1f} us/tx" for label, secs in self.seconds.items())


def wait_committed(meter: Meter, target: int, engine: SoloEngine, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    with meter.done:
        while meter.committed < target:
            if engine.error is not None:
                raise RuntimeError(f"engine halted: {engine.error}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {meter.committed} of {target} committed in {timeout} s")
            meter.done.wait(0.05)


def setup(engine: SoloEngine, accounts: list[Account], issuer: Account) -> None:
    """Create the programme and give every account a balance (not timed)."""
    raws = [signed(issuer, "create", {"symbol": SYMBOL, "title": "bench points"})]
    raws += [signed(issuer, "issue", {"symbol": SYMBOL, "to": a.address, "amount": INITIAL_BALANCE}) for a in accounts]
    for lo in range(0, len(raws), 5_000):
        res = engine.submit_many(raws[lo : lo + 5_000])
        bad = [r for r in res if r.code != 0]
        if bad:
            raise RuntimeError(f"setup transaction rejected: {bad[0].code} {bad[0].log}")
        while engine.produce_block() is not None:
            pass


def check_conservation(app: Application, accounts: list[Account]) -> tuple[int, int]:
    """(supply, sum of balances) of the bench programme, from committed state."""
    total = 0
    for a in accounts:
        total += app.view("points", "balance", {"symbol": SYMBOL, "account": a.address})
    supply = app.view("points", "info", {"symbol": SYMBOL})["supply"]
    return supply, total


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--txs", type=int, default=200_000, help="transfers to commit (default 200,000)")
    p.add_argument("--accounts", type=int, default=10_000, help="distinct signing accounts (default 10,000)")
    p.add_argument("--block-txs", type=int, default=5_000, help="most transactions per block (default 5,000)")
    p.add_argument("--interval", type=float, default=0.05, help="engine block interval, seconds (default 0.05)")
    p.add_argument("--batch", type=int, default=2_500, help="transactions per submit_many call (default 2,500)")
    p.add_argument("--backlog-blocks", type=float, default=3.0, help="mempool backlog kept, in blocks (default 3)")
    p.add_argument("--verify-ahead", type=int, default=1,
                   help="batches a second submitter hands to the admission workers ahead of admission (0: one submitter)")
    p.add_argument("--verify-workers", type=int, default=2, help="application signature-verify threads (default 2)")
    p.add_argument("--memory-check", action="store_true", help="commit 1,000,000 transfers, print RSS every 100,000")
    p.add_argument("--profile", metavar="FILE", help="cProfile the hot path into FILE; submission and blocks then run in one thread")
    p.add_argument("--stages", action="store_true",
                   help="time each stage (admission, recheck, execution, trie, commit) per tx; runs in one "
                        "thread, producing a block whenever the backlog is full")
    p.add_argument("--data-dir", help="where to put the chain (default: a temporary directory, removed after)")
    p.add_argument("--switch-interval", type=float, default=None,
                   help="sys.setswitchinterval in seconds (CPython's default is 0.005)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.memory_check and args.txs == 200_000:
        args.txs = 1_000_000

    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    print(f"machine: {machine_line()}")
    print(ed25519_ceiling())

    rng = random.Random(args.seed)
    base = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="bench-solo-"))
    try:
        app = Application(base / "data", verify_workers=args.verify_workers)
        engine = SoloEngine(app, block_interval=args.interval, max_block_txs=args.block_txs,
                            mempool=Mempool(max_txs=max(100_000, 4 * args.block_txs)))
        engine.init_chain(Genesis(chain_id=CHAIN_ID, time_ns=1_700_000_000_000_000_000))

        t0 = time.perf_counter()
        issuer = Account(b"\xff" * 32)
        accounts = [Account(i.to_bytes(32, "big")) for i in range(args.accounts)]
        setup(engine, accounts, issuer)
        print(f"setup: {args.accounts:,} accounts funded in {time.perf_counter() - t0:.1f} s (height {app.height})")

        chunk = 100_000 if args.memory_check else args.txs
        meter = Meter()
        app.on_commit(meter.on_commit)
        backlog = int(args.backlog_blocks * args.block_txs)
        profiler = None
        rss_log: list[tuple[int, float]] = []
        gc_meter = GcMeter()
        cpu_s = sys_s = 0.0  # the node's CPU while transfers are timed (signing them is not counted)
        timed = 0.0
        done = 0
        rejected = 0
        one_thread = bool(args.profile or args.stages)
        stages = StageTimer(app) if args.stages else None
        thread_cpu = ThreadCpu()
        if not one_thread:
            engine.start()
        while done < args.txs:
            count = min(chunk, args.txs - done)
            t_sign = time.perf_counter()
            raws = transfers(accounts, count, rng)
            sign_s = time.perf_counter() - t_sign
            gc.collect()
            if done == 0:
                print(f"signed {count:,} transfers in {sign_s:.1f} s; {rss_line()} before the timed run")
            committed_before = meter.committed
            if done == 0:
                gc_meter.reset()
                thread_cpu.start()
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            if args.profile:
                profiler = profiler or cProfile.Profile()
                profiler.enable()
                rejected += feed_inline(engine, meter, raws, args.batch, backlog)
                profiler.disable()
            elif args.stages:
                rejected += feed_inline(engine, meter, raws, args.batch, backlog)
            else:
                rejected += feed(engine, meter, raws, args.batch, backlog, args.verify_ahead)
            wait_committed(meter, committed_before + count, engine)
            elapsed = time.perf_counter() - start
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            sys_s += cpu_after.ru_stime - cpu_before.ru_stime
            cpu_s += cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime - cpu_before.ru_stime
            timed += elapsed
            done += count
            del raws
            if args.memory_check:
                gc.collect()
                rss_log.append((done, rss_mb("RssAnon")))
                print(f"  {done:>9,} committed  {count / elapsed:>8,.0f} tx/s  {rss_line()}", flush=True)
        threads = thread_cpu.stop()
        engine.stop()

        lat = sorted(meter.latencies)
        print(f"committed: {done:,} transfers in {timed:.2f} s over {meter.blocks:,} blocks "
              f"(block-txs {args.block_txs}, interval {args.interval} s, batch {args.batch}, "
              f"backlog {backlog}, verify-ahead {args.verify_ahead})")
        sizes = meter.block_sizes
        if sizes:
            print(f"block sizes: mean {statistics.fmean(sizes):,.0f}, median {statistics.median(sizes):,.0f}, "
                  f"min {min(sizes):,}, max {max(sizes):,}")
        cpu_note = "" if args.memory_check else (
            f" (process CPU {cpu_s:.1f} s = {cpu_s / timed:.2f} cores busy, {cpu_s / done * 1e6:.0f} us CPU per tx, "
            f"of which kernel {sys_s / done * 1e6:.0f} us)")
        print(f"throughput: {done / timed:,.0f} committed tx/s{cpu_note}")
        if not args.memory_check:
            print("CPU per tx by thread: " + ", ".join(
                f"{name} {cpu / done * 1e6:.1f} us" for name, cpu in sorted(threads.items(), key=lambda kv: -kv[1])
                if cpu / done * 1e6 >= 0.1))
        print(f"latency (submit -> commit acknowledged): p50 {percentile(lat, 0.50) * 1000:.0f} ms, "
              f"p99 {percentile(lat, 0.99) * 1000:.0f} ms, max {lat[-1] * 1000 if lat else float('nan'):.0f} ms, "
              f"mean {statistics.fmean(lat) * 1000 if lat else float('nan'):.0f} ms")
        print(f"garbage collector: {gc_meter.seconds:.2f} s in {sum(gc_meter.counts)} collections "
              f"(generations 0/1/2: {'/'.join(map(str, gc_meter.counts))}) during the timed run")
        print(f"peak RSS: {peak_rss_mb():.0f} MiB (now: {rss_line()})")
        if stages is not None:
            print("time per committed tx, by stage (one thread, stages nest as indented):")
            print(stages.report(done))
        if rss_log:
            print("anonymous RSS (MiB) after every 100k: " + ", ".join(f"{n // 1000}k={m:.0f}" for n, m in rss_log))
        if rejected or meter.failed:
            print(f"WARNING: {rejected} rejected at submission, {meter.failed} failed in blocks ({meter.first_fail})")
        supply, total = check_conservation(app, accounts)
        print(f"check: supply {supply} == sum of balances {total}: {supply == total}; "
              f"height {app.height}; failed in blocks {meter.failed}")
        app.close()
        if profiler is not None:
            profiler.dump_stats(args.profile)
            print(f"profile written to {args.profile}")
        return 0 if supply == total and not meter.failed else 1
    finally:
        if not args.data_dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
