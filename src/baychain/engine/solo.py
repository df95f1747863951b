"""The solo engine: an embedded, in-process block producer for one node.

It plays CometBFT's part for a single node: admits transactions through the
application's check_tx into a mempool, and every `block_interval` seconds (or as soon
as a full block is waiting) proposes, finalizes and commits a block, then rechecks
what is left in the mempool. Block time is the engine's clock, strictly increasing;
the application only ever sees it through the block header.

One lock serializes every call into the application, as CometBFT's ABCI connections
are serialized by the ABCI server. If a block cannot be committed the engine halts
(`error` is set) rather than skipping it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from baychain import encoding
from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest, TxResult
from baychain.chain.genesis import Genesis
from baychain.crypto.hashing import sha256
from baychain.engine.mempool import Mempool
from baychain.errors import Code

log = logging.getLogger("baychain.solo")


class SoloEngine:
    def __init__(
        self,
        app: Application,
        *,
        block_interval: float = 0.2,
        max_block_txs: int = 10_000,
        max_block_bytes: int = 16 * 1024 * 1024,
        mempool: Mempool | None = None,
        create_empty_blocks: bool = False,
    ) -> None:
        self.app = app
        self.block_interval = block_interval
        self.max_block_txs = max_block_txs
        self.max_block_bytes = max_block_bytes
        self.mempool = mempool or Mempool()
        self.create_empty_blocks = create_empty_blocks
        self.lock = threading.RLock()
        self.error: BaseException | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        last = app.blocks.block(app.height) if app.height else None
        self._last_hash: bytes = last["hash"] if last else b""
        self._last_time_ns: int = last["time_ns"] if last else 0

    # -- lifecycle ---------------------------------------------------------------------

    def init_chain(self, genesis: Genesis) -> None:
        """Run genesis if the application has no block yet (safe to call on every start)."""
        with self.lock:
            if self.app.info().last_height == 0:
                self.app.init_chain(
                    InitChainRequest(
                        chain_id=genesis.chain_id,
                        time_ns=genesis.time_ns,
                        initial_height=1,
                        validators=[],
                        app_state=genesis.app_state_bytes(),
                    )
                )
                self._last_time_ns = max(self._last_time_ns, genesis.time_ns)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="solo-engine", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self.error is None

    # -- submission --------------------------------------------------------------------

    def submit(self, raw: bytes) -> TxResult:
        return self.submit_many([raw])[0]

    def submit_many(self, raws: list[bytes]) -> list[TxResult]:
        """Admit transactions to the mempool; each gets a result (code 0 = admitted)."""
        if self.error is not None:
            err = TxResult(code=int(Code.INTERNAL), log=f"engine halted: {self.error}")
            return [err for _ in raws]
        raws = [raw if type(raw) is bytes else bytes(raw) for raw in raws]  # keys of the mempool
        # Decoding and signature checks need no lock: done first (on worker processes
        # for big batches), they overlap block production instead of stalling it.
        self.app.preverify(raws)
        with self.lock:
            results = self.mempool.admit(self.app, raws)
            if len(self.mempool) >= self.max_block_txs:
                self._wake.set()
        return results

    # -- block production --------------------------------------------------------------

    def produce_block(self) -> dict[str, Any] | None:
        """Finalize and commit one block from the mempool now; None if there was nothing to do."""
        with self.lock:
            raws = self.mempool.take(self.max_block_txs, self.max_block_bytes)
            if not raws and not self.create_empty_blocks:
                return None
            height = self.app.height + 1
            time_ns = max(time.time_ns(), self._last_time_ns + 1)
            raws = self.app.prepare_proposal(raws, self.max_block_bytes, height, time_ns)
            header = [self.app.chain_id, height, time_ns, self._last_hash, self.app.blocks.last_app_hash,
                      sha256(b"".join(sha256(r) for r in raws))]
            block_hash = sha256(encoding.encode(header))
            block = BlockRequest(height=height, time_ns=time_ns, hash=block_hash, proposer=b"solo", txs=raws)
            self.app.finalize_block(block)
            self.app.commit()
            self._last_hash, self._last_time_ns = block_hash, time_ns
            self.mempool.settle(self.app, raws)
            return self.app.blocks.block(height)

    def _run(self) -> None:
        next_at = time.monotonic() + self.block_interval
        while not self._stop.is_set():
            wait = next_at - time.monotonic()
            if wait > 0 and len(self.mempool) < self.max_block_txs:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            try:
                self.produce_block()
            except BaseException as exc:  # a block that cannot commit halts the node
                log.exception("block production failed; engine halted")
                self.error = exc
                return
            # Like CometBFT's timeout_commit, the interval runs from the end of a commit:
            # submitters get the lock between blocks, so under load blocks fill up.
            next_at = time.monotonic() + self.block_interval
