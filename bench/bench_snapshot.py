"""State-sync snapshots: how long a node takes to write one, and a new node to restore it.

Fills a real application's state (LMDB, the native trie) with --keys keys of --value
bytes each, committed as --blocks blocks of the application's own state store, then:

- **write**: `SnapshotStore.create` from one LMDB read snapshot (what the background
  thread does after a block whose height is a multiple of `snapshot_interval`), CPU and
  wall time, chunks and bytes;
- **restore**, in a process of its own so that its peak memory is the restore's alone:
  an empty application is offered the snapshot and applies every chunk, read from disk
  one at a time as CometBFT hands them over (hash check, decode, order check), staging
  and committing them in parts of `restore_batch_bytes`, the last part checking the
  root; CPU and wall time, peak RSS, and the peak of its anonymous memory (its heap and
  LMDB's dirty pages, not its mapped file pages), sampled from outside. Baseline in the same run: the whole state staged
  as one part (what a restore did before parts, and still does for states under one
  part's size).

    python bench/bench_snapshot.py                       # 200,000 keys of 100 bytes
    python bench/bench_snapshot.py --keys 1000000 --value 200

This is a script, not a test; results are in docs/PERFORMANCE.md ("State-sync snapshots").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine_line  # noqa: E402

from baychain.app.application import Application  # noqa: E402
from baychain.app.types import ApplyResult, OfferResult  # noqa: E402
from baychain.chain.snapshots import RESTORE_BATCH_BYTES, SnapshotStore  # noqa: E402


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


def restore(snapshots: Path, height: int, root: bytes, part_bytes: int, work: Path) -> dict:
    """Restore the snapshot of `height` into a new application in `work` (this process)."""
    snapshot = next(s for s in SnapshotStore(snapshots).list() if s.height == height)
    fresh = Application(work)
    fresh.restore_batch_bytes = part_bytes
    assert fresh.offer_snapshot(snapshot, root) is OfferResult.ACCEPT

    def apply_all() -> list[ApplyResult]:
        return [fresh.apply_snapshot_chunk(i, (snapshots / str(height) / str(i)).read_bytes(), "bench").result
                for i in range(snapshot.chunks)]

    results, cpu, wall = timed(apply_all)
    assert results == [ApplyResult.ACCEPT] * snapshot.chunks and fresh.info().last_app_hash == root, results[-1]
    fresh.close()
    return {"cpu": cpu, "wall": wall, "peak_mib": _status_mib("VmHWM")}


def _status_mib(field: str, pid: int | str = "self") -> int:
    """A memory figure of a process from /proc/<pid>/status, in MiB (VmHWM: peak RSS since
    exec; getrusage's maxrss would include the parent's, inherited at fork)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    except OSError:  # exited meanwhile
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--value", type=int, default=100, help="bytes per value")
    ap.add_argument("--blocks", type=int, default=20, help="blocks the keys are committed in")
    ap.add_argument("--restore", nargs=5, metavar=("SNAPSHOTS", "HEIGHT", "ROOT", "PART_BYTES", "WORK"),
                    help=argparse.SUPPRESS)  # the child process's part
    args = ap.parse_args(argv)
    if args.restore:
        snapshots, height, root, part_bytes, work = args.restore
        print(json.dumps(restore(Path(snapshots), int(height), bytes.fromhex(root), int(part_bytes), Path(work))))
        return 0

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
        source.close()

        for label, part_bytes in (("one part (baseline)", 1 << 62), (f"parts of {RESTORE_BATCH_BYTES >> 20} MiB", RESTORE_BATCH_BYTES)):
            work = base / f"fresh-{part_bytes}"
            child = subprocess.Popen([sys.executable, __file__, "--restore", str(base / "source" / "snapshots"),
                                      str(height), root.hex(), str(part_bytes), str(work)],
                                     stdout=subprocess.PIPE, text=True)
            anon = 0
            while child.poll() is None:  # sampled from outside: the child's native staging holds its GIL
                anon = max(anon, _status_mib("RssAnon", child.pid))
                time.sleep(0.02)
            assert child.returncode == 0, child.returncode
            r = json.loads(child.stdout.read().strip().splitlines()[-1])
            print(f"restore, {label}: {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU "
                  f"({r['cpu'] / args.keys * 1e6:.1f} us CPU per key), root checked; restoring process: "
                  f"peak anonymous memory {anon} MiB (its heap and LMDB's dirty pages, sampled every 20 ms), "
                  f"peak RSS {r['peak_mib']} MiB (with LMDB's mapped file pages, which the kernel can drop)")
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
