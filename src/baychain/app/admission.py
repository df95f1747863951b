"""Admission checks run beside the node: strict decoding and signature checks in workers.

Decoding a transaction strictly and verifying its signature are pure functions of its
bytes, and together they are most of what admitting a transaction costs. A node that
ran them on its main interpreter would spend its one GIL on them; here a pool of
worker processes does them for large batches, the main process rebuilds the accepted
transactions from their (already checked) bytes, and small batches are checked in
place where the round trip to a worker would cost more than it saves.

The outcome is the same wherever the check runs, so where it ran never affects state.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from baychain import transactions as txs
from baychain.errors import BaychainError, Code
from baychain.transactions import Transaction

log = logging.getLogger("baychain.admission")

POOL_BATCH_MIN = 256  # below this, checking in place is cheaper than a round trip
CHUNK = 512

Checked = Transaction | BaychainError


def check_bytes(raws: list[bytes]) -> list[tuple[int, str] | None]:
    """Worker side: None for a transaction that decodes strictly and verifies, else (code, why)."""
    out: list[tuple[int, str] | None] = []
    for raw in raws:
        try:
            tx = txs.decode(raw)
        except BaychainError as exc:
            out.append((int(exc.code), exc.message))
            continue
        out.append(None if tx.verify_signature() else (int(Code.BAD_SIGNATURE), "signature does not verify"))
    return out


def check_in_place(raw: bytes) -> Checked:
    try:
        tx = txs.decode(raw)
    except BaychainError as exc:
        return exc
    return tx if tx.verify_signature() else BaychainError(Code.BAD_SIGNATURE, "signature does not verify")


class Checker:
    """Checks batches of raw transactions, on worker processes when the batch is large."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()  # check() runs on submitter threads and the engine thread alike

    def check(self, raws: list[bytes]) -> list[Checked]:
        if self.workers < 1 or len(raws) < POOL_BATCH_MIN:
            return [check_in_place(raw) for raw in raws]
        try:
            pool = self._pool or self._start()
            chunks = [raws[i : i + CHUNK] for i in range(0, len(raws), CHUNK)]
            verdicts = [v for part in pool.map(check_bytes, chunks) for v in part]
        except (BrokenProcessPool, OSError):
            log.exception("admission workers failed; checking in place")
            self.close()
            return [check_in_place(raw) for raw in raws]
        return [txs.decode_trusted(raw) if v is None else BaychainError(Code(v[0]), v[1]) for raw, v in zip(raws, verdicts)]

    def _start(self) -> ProcessPoolExecutor:
        with self._starting:
            if self._pool is None:
                # forkserver: never fork a process that runs threads (the engine, the API)
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("forkserver"))
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
