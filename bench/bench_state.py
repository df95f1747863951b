"""Benchmark the state store on the block hot path.

Grows a store to --keys keys in blocks of --batch changed keys (a fraction of them
updates of existing keys, the rest new keys), and prints per block the time to stage
(compute the new root), write (inside the block's LMDB transaction, including
pruning), and commit (fsync); then get() and prove() latencies, peak RSS, on-disk
size and the machine.

    python bench/bench_state.py --keys 200000 --batch 10000
    python bench/bench_state.py --keys 1000000 --profile   # cProfile one late block

--transfers runs the chain's hot workload instead: points transfers between
--accounts accounts, --txs transfers per block, each changing the sender's and the
receiver's balance and the sender's nonce (so ~2-3 distinct changed keys per tx once
a block's repeats collapse), over a store prefilled with --prefill other keys. It
prints stage / write / committed (and the LMDB commit with its fsync, which is not
StateStore code) in microseconds per changed key and per transfer. keep_versions is 2
there unless given, so that every timed block also prunes, as a node does in steady
state. --baseline runs the same blocks through another copy of store.py as well
(its own database, alternating which goes first), for before/after figures taken
under the same machine load:

    python bench/bench_state.py --transfers --accounts 10000 --txs 5000 --prefill 30000
    python bench/bench_state.py --transfers --accounts 50000 --prefill 1000000 --profile
    git show HEAD:src/baychain/state/store.py > /tmp/store_before.py
    python bench/bench_state.py --transfers --baseline /tmp/store_before.py
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import platform
import pstats
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from baychain.state import StateStore, open_env, verify_proof


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def _proc_status_mb(field: str) -> float:
    """A memory figure from /proc/self/status (Linux), in MiB; -1 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1.0


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000, help="grow the store to this many keys")
    parser.add_argument("--batch", type=int, default=10_000, help="changed keys per block")
    parser.add_argument("--updates", type=float, default=0.2, help="fraction of each batch that updates existing keys")
    parser.add_argument("--keep-versions", type=int, default=None, help="default 100; 2 with --transfers, so every timed block also prunes")
    parser.add_argument("--cache-nodes", type=int, default=200_000)
    parser.add_argument("--dir", help="database directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--profile", action="store_true", help="cProfile the last block and print the top functions")
    parser.add_argument("--every", type=int, default=5, help="print every N-th block")
    group = parser.add_argument_group("transfer workload (--transfers)")
    group.add_argument("--transfers", action="store_true", help="run the points-transfer workload instead")
    group.add_argument("--accounts", type=int, default=10_000, help="accounts transfers run between")
    group.add_argument("--txs", type=int, default=5_000, help="transfers per block")
    group.add_argument("--blocks", type=int, default=10, help="timed blocks (after 2 warm-up blocks)")
    group.add_argument("--prefill", type=int, default=30_000, help="other keys in the store besides the accounts'")
    group.add_argument("--baseline", metavar="STORE_PY", help="also run the StateStore of this copy of store.py, block by block")
    group.add_argument("--cache-keys", type=int, help="StateStore cache_keys (current store only; default: its default)")
    group.add_argument("--cpu-time", action="store_true", help="time with the thread's CPU clock (steadier on a busy machine; excludes fsync waits)")
    args = parser.parse_args()
    if args.keep_versions is None:
        args.keep_versions = 2 if args.transfers else 100
    if args.transfers:
        transfers(args)
        return

    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-state-"))
    env = open_env(directory / "db")
    store = StateStore(env, keep_versions=args.keep_versions, cache_nodes=args.cache_nodes)
    rng = random.Random(42)
    count = 0
    totals = {"stage": 0.0, "write": 0.0, "commit": 0.0}
    blocks = 0
    print(f"{'block':>5} {'keys':>9} {'stage ms':>9} {'write ms':>9} {'fsync ms':>9} {'total ms':>9} {'keys/s':>9}")
    profiler = None
    try:
        while count < args.keys:
            updates = min(count, int(args.batch * args.updates))
            fresh = args.batch - updates
            changes: dict[bytes, bytes | None] = {}
            for i in rng.sample(range(count), updates) if updates else ():
                changes[b"acct/%010d" % i] = rng.randbytes(32)
            for i in range(count, count + fresh):
                changes[b"acct/%010d" % i] = rng.randbytes(32)
            count += fresh
            last = count >= args.keys
            if last and args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
            t0 = time.perf_counter()
            store.stage(changes, store.version + 1)
            t1 = time.perf_counter()
            txn = env.begin(write=True)
            store.write(txn)
            t2 = time.perf_counter()
            txn.commit()
            store.committed()
            t3 = time.perf_counter()
            if profiler:
                profiler.disable()
            blocks += 1
            totals["stage"] += t1 - t0
            totals["write"] += t2 - t1
            totals["commit"] += t3 - t2
            if blocks % args.every == 0 or last:
                total = t3 - t0
                print(
                    f"{blocks:>5} {count:>9} {1e3 * (t1 - t0):>9.1f} {1e3 * (t2 - t1):>9.1f} {1e3 * (t3 - t2):>9.1f}"
                    f" {1e3 * total:>9.1f} {len(changes) / total:>9.0f}",
                    flush=True,
                )

        total = sum(totals.values())
        print(
            f"\naverage over {blocks} blocks of {args.batch} keys: stage {1e3 * totals['stage'] / blocks:.1f} ms,"
            f" write {1e3 * totals['write'] / blocks:.1f} ms, fsync {1e3 * totals['commit'] / blocks:.1f} ms,"
            f" {blocks * args.batch / total:.0f} keys/s"
        )

        sample = [b"acct/%010d" % rng.randrange(count) for _ in range(20_000)]
        t0 = time.perf_counter()
        for key in sample:
            store.get(key)
        latest = (time.perf_counter() - t0) / len(sample)
        past = store.version - 1
        t0 = time.perf_counter()
        for key in sample[:5000]:
            store.get(key, past)
        historical = (time.perf_counter() - t0) / 5000
        t0 = time.perf_counter()
        proofs = [store.prove(key) for key in sample[:2000]]
        prove = (time.perf_counter() - t0) / 2000
        root = store.root()
        t0 = time.perf_counter()
        assert all(verify_proof(root, p) for p in proofs)
        verify = (time.perf_counter() - t0) / 2000
        size = len(proofs[0].to_bytes())
        print(
            f"get latest {1e6 * latest:.1f} us, get at version {past} {1e6 * historical:.1f} us,"
            f" prove {1e6 * prove:.1f} us, verify {1e6 * verify:.1f} us, proof size ~{size} bytes"
        )
        print(
            f"peak RSS {_rss_mb():.0f} MiB (of which now: anonymous {_proc_status_mb('RssAnon'):.0f} MiB,"
            f" LMDB pages mapped from the file {_proc_status_mb('RssFile'):.0f} MiB)"
        )
        print(f"database {_dir_mb(directory / 'db'):.0f} MiB, node cache {len(store._cache)} entries")
        print(
            f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
        )
        if profiler:
            print("\nprofile of the last block (stage + write + commit):")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    finally:
        env.close()
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)


def _account(i: int) -> bytes:
    return b"bc1q%036x" % (i * 0x9E3779B97F4A7C15 % (1 << 144))  # address-like, 40 bytes


def _load_store_class(path: str) -> type:
    """StateStore from another copy of store.py (e.g. `git show HEAD:src/baychain/state/store.py > /tmp/old.py`)."""
    spec = importlib.util.spec_from_file_location("baychain.state._bench_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.StateStore


def transfers(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Points transfers: per block, stage/write/commit/committed in us per changed key.

    With --baseline, the same blocks also run through the StateStore of that file, in
    its own database, alternating which store goes first, so both see the same load.
    Returns per store the averages (us per changed key: "stage", "write", "commit",
    "committed"; and "keys_per_tx") over the timed blocks.
    """
    runs = [("current", StateStore)]
    if args.baseline:
        runs.insert(0, ("baseline", _load_store_class(args.baseline)))
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-state-"))
    envs = [open_env(directory / name) for name, _ in runs]
    caches = {"cache_nodes": args.cache_nodes}
    if args.cache_keys is not None:
        caches["cache_keys"] = args.cache_keys
    stores = [
        cls(env, keep_versions=args.keep_versions, **(caches if name == "current" else {"cache_nodes": args.cache_nodes}))
        for (name, cls), env in zip(runs, envs)
    ]
    rng = random.Random(42)
    accounts = [_account(i) for i in range(args.accounts)]
    balance_keys = [b"c/points/bal/PTS/" + a for a in accounts]
    nonce_keys = [b"sys/nonce/" + a for a in accounts]
    balances = [1_000_000] * args.accounts
    nonces = [0] * args.accounts

    clock = time.thread_time if args.cpu_time else time.perf_counter

    def commit(env, store, changes: dict[bytes, bytes | None]) -> tuple[float, float, float, float]:
        t0 = clock()
        store.stage(changes, store.version + 1)
        t1 = clock()
        txn = env.begin(write=True)
        store.write(txn)
        t2 = clock()
        txn.commit()
        t3 = clock()
        store.committed()
        t4 = clock()
        return t1 - t0, t2 - t1, t3 - t2, t4 - t3

    def commit_all(changes: dict[bytes, bytes | None], order: list[int]) -> dict[int, tuple[float, float, float, float]]:
        return {i: commit(envs[i], stores[i], changes) for i in order}

    everyone = list(range(len(runs)))
    try:
        t0 = time.perf_counter()
        chunk = 50_000
        for start in range(0, args.prefill, chunk):
            commit_all({b"misc/%010d" % i: rng.randbytes(24) for i in range(start, min(args.prefill, start + chunk))}, everyone)
        for start in range(0, args.accounts, chunk):
            part = range(start, min(args.accounts, start + chunk))
            changes = {balance_keys[i]: b"%d" % balances[i] for i in part}
            changes.update({nonce_keys[i]: b"0" for i in part})
            commit_all(changes, everyone)
        version = stores[0].version
        print(
            f"store: {args.prefill + 2 * args.accounts} keys ({args.accounts} accounts), prefilled in"
            f" {time.perf_counter() - t0:.1f} s; blocks of {args.txs} transfers; keep_versions={args.keep_versions}"
            f" ({'every timed block prunes' if version + 3 > args.keep_versions else 'no pruning in the timed blocks'})"
        )
        names = [name for name, _ in runs]
        print(
            f"{'block':>5} {'keys':>6} {'store':>9} {'stage':>7} {'write':>7} {'commit':>7} {'cmtd':>7}"
            f"   us per changed key ({'thread CPU time' if args.cpu_time else 'wall time'})"
        )
        sums = [{"stage": 0.0, "write": 0.0, "commit": 0.0, "committed": 0.0} for _ in runs]
        per_block: list[list[float]] = [[] for _ in runs]
        keys_total = 0
        profiler = cProfile.Profile() if args.profile else None
        warmup = 2
        for block in range(warmup + args.blocks):
            changes = {}
            for _ in range(args.txs):
                src = rng.randrange(args.accounts)
                dst = rng.randrange(args.accounts - 1)
                dst += dst >= src
                amount = rng.randrange(1, 100)
                balances[src] -= amount
                balances[dst] += amount
                nonces[src] += 1
                changes[balance_keys[src]] = b"%d" % balances[src]
                changes[balance_keys[dst]] = b"%d" % balances[dst]
                changes[nonce_keys[src]] = b"%d" % nonces[src]
            order = everyone[::-1] if block % 2 else everyone
            if profiler and block >= warmup:
                profiler.enable()
            timings = commit_all(changes, order)
            if profiler:
                profiler.disable()
            n = len(changes)
            per = 1e6 / n
            for i, name in enumerate(names):
                stage, write, commit_s, committed = timings[i]
                print(
                    f"{block + 1 - warmup:>5} {n:>6} {name:>9} {stage * per:>7.2f} {write * per:>7.2f} {commit_s * per:>7.2f}"
                    f" {committed * per:>7.2f}{'   (warm-up)' if block < warmup else ''}",
                    flush=True,
                )
                if block >= warmup:
                    for phase, seconds in zip(sums[i], timings[i]):
                        sums[i][phase] += seconds
                    per_block[i].append((stage + write + committed) * per)
            if block >= warmup:
                keys_total += n
        roots = {store.root() for store in stores}
        if len(roots) != 1:
            raise SystemExit("the stores disagree on the root")
        results = {}
        print(f"\naverage over {args.blocks} blocks, {keys_total / (args.blocks * args.txs):.2f} changed keys per transfer:")
        for i, name in enumerate(names):
            result = {phase: 1e6 * seconds / keys_total for phase, seconds in sums[i].items()}
            result["keys_per_tx"] = keys_total / (args.blocks * args.txs)
            own = result["stage"] + result["write"] + result["committed"]
            print(
                f"  {name:>9}: stage {result['stage']:.2f}, write {result['write']:.2f}, committed {result['committed']:.2f}"
                f" us per changed key = StateStore {own:.2f} (median block {statistics.median(per_block[i]):.2f}),"
                f" {own * result['keys_per_tx']:.1f} us per transfer; LMDB commit+fsync {result['commit']:.2f}"
            )
            results[name] = result
        if args.baseline:
            own = [r["stage"] + r["write"] + r["committed"] for r in results.values()]
            print(f"  baseline / current: {own[0] / own[1]:.2f}x (median blocks {statistics.median(per_block[0]) / statistics.median(per_block[1]):.2f}x)")
        print(
            f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"
        )
        if profiler:
            print("\nprofile of the timed blocks (stage + write + commit + committed):")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return results
    finally:
        for env in envs:
            env.close()
        if not args.dir:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
