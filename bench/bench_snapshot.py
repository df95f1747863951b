"""State-sync snapshots: how long a node takes to write one, and a new node to restore it.

Fills a real application's state (LMDB, the native trie) with --keys keys of --value
bytes each, committed as --blocks blocks of the application's own state store, then:

- **write**: `SnapshotStore.create` from one LMDB read snapshot (what the background
  thread does after a block whose height is a multiple of `snapshot_interval`), CPU and
  wall time, chunks and bytes;
- **restore**: an empty application is offered the snapshot and applies every chunk
  (hash check, decode, order check), the last one staging the whole state into its
  store and committing it, CPU and wall time, peak memory of this process.

    python bench/bench_snapshot.py                       # 200,000 keys of 100 bytes
    python bench/bench_snapshot.py --keys 1000000 --value 200

This is a script, not a test; results are in docs/PERFORMANCE.md ("State-sync snapshots").
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402

from baychain.app.application import Application  # noqa: E402
from baychain.app.types import ApplyResult, OfferResult  # noqa: E402
from baychain.chain.snapshots import FORMAT  # noqa: E402


def fill(app: Application, keys: int, value: int, blocks: int) -> None:
    """Commit `keys` keys through the state store (the application's own tables)."""
    per_block = -(-keys // blocks)
    for block in range(blocks):
        changes = {hashlib.sha256(i.to_bytes(8, "big")).digest(): (hashlib.sha256(b"v%d" % i).digest() * (value // 32 + 1))[:value]
                   for i in range(block * per_block, min(keys, (block + 1) * per_block))}
        app.state.stage(changes, app.state.version + 1)
        with app.env.begin(write=True) as txn:
            app.state.write(txn)
        app.state.committed()


def timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--value", type=int, default=100, help="bytes per value")
    ap.add_argument("--blocks", type=int, default=20, help="blocks the keys are committed in")
    args = ap.parse_args(argv)

    print(f"machine: {machine_line()}")
    base = Path(tempfile.mkdtemp(prefix="baychain-snapshot-bench-"))
    try:
        source = Application(base / "source", keep_versions=2)
        fill(source, args.keys, args.value, args.blocks)
        height, root = source.state.version, source.state.root()
        items = source.state.latest_items()
        snapshot, cpu, wall = timed(lambda: source.snapshots.create(height, 0, items))
        items.close()
        size = sum(p.stat().st_size for p in (source.snapshots.directory / str(height)).iterdir())
        print(f"state: {args.keys:,} keys of {args.value} bytes at version {height}")
        print(f"write:   {snapshot.chunks} chunks, {size / 2**20:.1f} MiB in {wall:.2f} s wall, {cpu:.2f} s CPU "
              f"({cpu / args.keys * 1e6:.1f} us CPU per key)")
        chunks = [source.load_snapshot_chunk(height, FORMAT, i) for i in range(snapshot.chunks)]
        source.close()

        fresh = Application(base / "fresh")
        assert fresh.offer_snapshot(snapshot, root) is OfferResult.ACCEPT

        def apply_all() -> list[ApplyResult]:
            return [fresh.apply_snapshot_chunk(i, c, "bench").result for i, c in enumerate(chunks)]

        results, cpu, wall = timed(apply_all)
        assert results == [ApplyResult.ACCEPT] * len(chunks) and fresh.info().last_app_hash == root, results[-1]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"restore: {wall:.2f} s wall, {cpu:.2f} s CPU ({cpu / args.keys * 1e6:.1f} us CPU per key), "
              f"root checked; peak RSS of this process {peak:.0f} MiB")
        fresh.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
