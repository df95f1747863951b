"""Benchmark the state store on the block hot path.

Grows a store to --keys keys in blocks of --batch changed keys (a fraction of them
updates of existing keys, the rest new keys), and prints per block the time to stage
(compute the new root), write (inside the block's LMDB transaction, including
pruning), and commit (fsync); then get() and prove() latencies, peak RSS, on-disk
size and the machine.

    python bench/bench_state.py --keys 200000 --batch 10000
    python bench/bench_state.py --keys 1000000 --profile   # cProfile one late block
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import random
import resource
import shutil
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
    parser.add_argument("--keep-versions", type=int, default=100)
    parser.add_argument("--cache-nodes", type=int, default=200_000)
    parser.add_argument("--dir", help="database directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--profile", action="store_true", help="cProfile the last block and print the top functions")
    parser.add_argument("--every", type=int, default=5, help="print every N-th block")
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
