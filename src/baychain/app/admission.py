"""Admission checks run beside the node: strict decoding and signature checks in workers.

Decoding a transaction strictly and verifying its signature are pure functions of its
bytes, and together they are most of what admitting a transaction costs. A node that
ran them on its main interpreter would spend its one GIL on them; here a pool of
worker processes does them for large batches, the main process rebuilds the accepted
transactions from their (already checked) bytes with the hash and sender the worker
computed, and small batches are checked in place where the round trip to a worker would
cost more than it saves. Either way the signatures of a batch are verified as a batch
(`SignatureSuite.verify_many`).

The outcome is the same wherever the check runs and whichever batch a transaction is
in (the suite's rule guarantees it, docs/TRANSACTIONS.md), so neither affects state.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from baychain import transactions as txs
from baychain.crypto.suites import get_suite
from baychain.errors import BaychainError, Code
from baychain.transactions import Transaction

log = logging.getLogger("baychain.admission")

POOL_BATCH_MIN = 256  # below this, checking in place is cheaper than a round trip
CHUNK = 512

Checked = Transaction | BaychainError


def check(raws: list[bytes]) -> list[Checked]:
    """Decode each transaction strictly, then verify the signatures of each suite as one batch."""
    out: list[Checked] = []
    by_suite: dict[int, list[int]] = {}  # suite id -> positions of decoded transactions
    for raw in raws:
        try:
            tx = txs.decode(raw)
        except BaychainError as exc:
            out.append(exc)
            continue
        by_suite.setdefault(tx.suite, []).append(len(out))
        out.append(tx)
    for suite_id, positions in by_suite.items():
        decoded = [out[i] for i in positions]
        verdicts = get_suite(suite_id).verify_many([(t.signer, t.sign_bytes(), t.signature) for t in decoded])  # type: ignore[union-attr]
        for i, ok in zip(positions, verdicts):
            if not ok:
                out[i] = BaychainError(Code.BAD_SIGNATURE, "signature does not verify")
    return out


def check_bytes(raws: list[bytes]) -> list[tuple[bytes, str] | tuple[int, str]]:
    """Worker side of `check`: (tx hash, sender) for a good transaction, else (code, why).

    The hash and the sender's address go back so that the node need not compute them again.
    """
    return [(c.code.value, c.message) if isinstance(c, BaychainError) else (c.hash, c.sender) for c in check(raws)]


class Checker:
    """Checks batches of raw transactions, on worker processes when the batch is large."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()  # check() runs on submitter threads and the engine thread alike

    def check(self, raws: list[bytes]) -> list[Checked]:
        if self.workers < 1 or len(raws) < POOL_BATCH_MIN:
            return check(raws)
        try:
            pool = self._pool or self._start()
            chunks = [raws[i : i + CHUNK] for i in range(0, len(raws), CHUNK)]
            verdicts = [v for part in pool.map(check_bytes, chunks) for v in part]
        except (BrokenProcessPool, OSError):
            log.exception("admission workers failed; checking in place")
            self.close()
            return check(raws)
        return [
            BaychainError(Code(first), why) if type(first) is int else txs.decode_trusted(raw, first, why)
            for raw, (first, why) in zip(raws, verdicts)
        ]

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
