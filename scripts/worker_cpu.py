"""Run bench/bench_solo.py and report the CPU its admission worker processes use per transaction.

The bench reports its own process's CPU; the admission workers are separate processes
(children of the forkserver), so this script watches them from outside: it reads the
CPU time of every descendant of the bench from /proc (through psutil) when the bench
says the timed run is about to start, and again when it reports the result.

    python scripts/worker_cpu.py -- --txs 100000
    PYTHONPATH=/path/to/other/src python scripts/worker_cpu.py -- --txs 100000   # other code
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_solo.py"


def descendants_cpu(pid: int) -> float:
    """User + system seconds of every live descendant of `pid` (the bench process excluded)."""
    total = 0.0
    for child in psutil.Process(pid).children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench_args", nargs="*", help="arguments for bench_solo.py (after --)")
    args = parser.parse_args()
    proc = subprocess.Popen([sys.executable, str(BENCH), *args.bench_args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    before = after = None
    committed = 0
    for line in proc.stdout:
        print(line, end="", flush=True)
        if line.startswith("signed ") and before is None:
            before = descendants_cpu(proc.pid)
        elif line.startswith("committed:"):
            after = descendants_cpu(proc.pid)
            committed = int(re.match(r"committed: ([\d,]+)", line).group(1).replace(",", ""))  # type: ignore[union-attr]
    code = proc.wait()
    if before is not None and after is not None and committed:
        print(f"admission workers: {after - before:.1f} s CPU during the timed run = "
              f"{(after - before) / committed * 1e6:.0f} us CPU per committed tx")
    return code


if __name__ == "__main__":
    sys.exit(main())
