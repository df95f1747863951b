"""The CometBFT engine: the application driven by a `cometbft node` over ABCI.

In CometBFT mode a node is one Python process (see `baychain.network.runtime`): the
application, the ABCI server CometBFT connects to, and the HTTP API, supervising one
`cometbft node` child process. This module holds the two pieces between them:

- `CometEngine` gives the HTTP API the same surface as the solo engine
  (`submit_many`, `lock`, `mempool`, `error`): transactions go to CometBFT's RPC with
  `broadcast_tx_sync` (CometBFT runs the application's CheckTx and gossips what it
  admits), and `len(mempool)` is CometBFT's count of unconfirmed transactions. With
  node.json `mempool = "app"` the application keeps the mempool instead (CometBFT's
  `nop` mempool): admitted here, relayed to the peers, proposed by PrepareProposal.
  Committed blocks reach API waiters through `Application.on_commit`, as in solo mode.
- `LockedApplication` is the application as the ABCI server sees it: every call holds
  the engine's lock, the same lock API reads take, so a read never sees a block half
  committed. (The ABCI server's own asyncio lock already keeps its calls from
  overlapping each other; this lock extends that to the API's threads.)
- `CometbftProcess` starts, watches and stops the `cometbft node` child.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from baychain import transactions as txs
from baychain.app.application import Application
from baychain.app.types import (
    ApplyChunkResult,
    BlockRequest,
    CommitResult,
    FinalizeResult,
    InfoResult,
    InitChainRequest,
    InitChainResult,
    OfferResult,
    QueryResult,
    Snapshot,
    TxResult,
)
from baychain.engine.mempool import Mempool
from baychain.engine.relay import Relay
from baychain.errors import BaychainError, Code
from baychain.network.rpc import CometRpc, RpcError

log = logging.getLogger("baychain.cometbft")


class LockedApplication:
    """Forwards the ABCI calls to the application, each under `lock`.

    CometBFT's peer-filter queries (`/p2p/filter/...`, filter_peers = true) are
    ordinary queries: the application answers them from the on-chain node registry
    (see baychain.contracts.system.network).
    """

    def __init__(self, app: Any, lock: threading.RLock, pool: Mempool | None = None) -> None:
        """`pool`: the application's own mempool, when CometBFT's is `nop` (node.json
        `mempool = "app"`): PrepareProposal takes the block from it, and each commit
        settles it (the block's transactions out, the rest rechecked)."""
        self.app = app
        self.lock = lock
        self.pool = pool
        self._block_txs: list[bytes] = []  # the last finalized block's, for the pool at its commit

    def info(self) -> InfoResult:
        with self.lock:
            return self.app.info()

    def init_chain(self, req: InitChainRequest) -> InitChainResult:
        with self.lock:
            return self.app.init_chain(req)

    def check_tx(self, raw: bytes, recheck: bool = False) -> TxResult:
        with self.lock:
            return self.app.check_tx(raw, recheck)

    def check_txs(self, raws: list[bytes]) -> list[TxResult]:
        """A burst of CheckTx requests as one call (the ABCI server batches them)."""
        with self.lock:
            return self.app.check_txs(raws)

    def check_txs_nowait(self, raws: list[bytes]) -> list[TxResult] | None:
        """`check_txs` if the lock is free at once, else None: the ABCI server calls this on
        its event loop, which must not wait for an API read (see abci.server.INLINE_CHECKS)."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            return self.app.check_txs(raws)
        finally:
            self.lock.release()

    def prepare_proposal(self, txs: list[bytes], max_tx_bytes: int, height: int, time_ns: int) -> list[bytes]:
        with self.lock:
            if self.pool is not None:  # CometBFT's nop mempool hands over nothing
                txs = self.pool.take(len(self.pool), max_tx_bytes)
            return self.app.prepare_proposal(txs, max_tx_bytes, height, time_ns)

    def process_proposal(self, block: BlockRequest) -> bool:
        with self.lock:
            return self.app.process_proposal(block)

    def finalize_block(self, block: BlockRequest) -> FinalizeResult:
        with self.lock:
            result = self.app.finalize_block(block)
            self._block_txs = block.txs
            return result

    def commit(self) -> CommitResult:
        with self.lock:
            result = self.app.commit()
            if self.pool is not None:
                self.pool.settle(self.app, self._block_txs)
            return result

    def query(self, path: str, data: bytes, height: int, prove: bool) -> QueryResult:
        with self.lock:
            return self.app.query(path, data, height, prove)

    def list_snapshots(self) -> list[Snapshot]:
        return self.app.list_snapshots()  # finished snapshots are read-only files: no lock

    def load_snapshot_chunk(self, height: int, format_: int, index: int) -> bytes:
        return self.app.load_snapshot_chunk(height, format_, index)

    def offer_snapshot(self, snapshot: Snapshot, app_hash: bytes) -> OfferResult:
        with self.lock:
            return self.app.offer_snapshot(snapshot, app_hash)

    def apply_snapshot_chunk(self, index: int, chunk: bytes, sender: str) -> ApplyChunkResult:
        with self.lock:
            return self.app.apply_snapshot_chunk(index, chunk, sender)


class RpcMempool:
    """`len()` is CometBFT's number of unconfirmed transactions (0 if it cannot say),
    remembered for `ttl` seconds so that busy API endpoints do not flood the RPC."""

    def __init__(self, rpc: CometRpc, ttl: float = 0.5) -> None:
        self.rpc = rpc
        self.ttl = ttl
        self._value = 0
        self._at = 0.0

    def __len__(self) -> int:
        now = time.monotonic()
        if now - self._at >= self.ttl:
            try:
                self._value = self.rpc.num_unconfirmed_txs()
            except (RpcError, KeyError, ValueError):
                self._value = 0
            self._at = now
        return self._value


class CometEngine:
    """The API's view of a CometBFT-driven node (same surface as `SoloEngine`).

    Submitted transactions go to CometBFT's mempool (its RPC; CometBFT checks, gossips and
    proposes them), or with `relay_peers` given (node.json `mempool = "app"`) to the
    application's own: admitted here, relayed to those peers (baychain.engine.relay), and
    proposed from it by PrepareProposal while CometBFT runs its `nop` mempool."""

    name = "cometbft"

    def __init__(self, app: Application, rpc_url: str, *, lock: threading.RLock | None = None,
                 relay_peers: list[str] | None = None) -> None:
        self.app = app
        self.lock = lock or threading.RLock()
        self.rpc = CometRpc(rpc_url)
        self.pool = Mempool() if relay_peers is not None else None
        self.relay = Relay(relay_peers) if relay_peers is not None else None
        self.abci_app = LockedApplication(app, self.lock, self.pool)
        self.mempool: Mempool | RpcMempool = self.pool if self.pool is not None else RpcMempool(self.rpc)
        self.error: BaseException | None = None
        """Set when the node can no longer make progress (CometBFT exited or failed)."""

    def init_chain(self, genesis: Any = None) -> None:
        """Nothing to do: CometBFT calls InitChain itself, from its own genesis file."""

    @property
    def running(self) -> bool:
        return self.error is None

    def halt(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error

    def submit(self, raw: bytes) -> TxResult:
        return self.submit_many([raw])[0]

    def submit_many(self, raws: list[bytes]) -> list[TxResult]:
        """Hand transactions to the mempool; each result is the application's CheckTx
        verdict (code 0 = admitted to the mempool and sent on to the peers)."""
        if self.error is not None:
            err = TxResult(code=int(Code.INTERNAL), log=f"engine halted: {self.error}")
            return [err for _ in raws]
        if self.relay is not None:
            results = self.receive(raws)
            self.relay.send([raw for raw, res in zip(raws, results) if res.code == 0])
            return results
        preverify = getattr(self.app, "preverify", None)
        if preverify is not None and len(raws) > 1:
            # Check signatures here, in parallel and outside the lock, so that this
            # node's CheckTx (one transaction per ABCI call) finds them verified.
            preverify(raws)
        return self.rpc.broadcast(raws, lane_of=_sender_of)

    def receive(self, raws: list[bytes]) -> list[TxResult]:
        """Admit transactions into the application's own mempool, not relaying them: what
        a peer relays (`POST /v1/relay`), and the first step of a submission."""
        if self.pool is None:
            raise BaychainError(Code.NOT_FOUND, "this node's mempool is CometBFT's: it takes no relayed transactions")
        if self.error is not None:
            return [TxResult(code=int(Code.INTERNAL), log=f"engine halted: {self.error}") for _ in raws]
        raws = [raw if type(raw) is bytes else bytes(raw) for raw in raws]  # keys of the mempool
        self.app.preverify(raws)  # signatures outside the lock, as the solo engine does
        with self.lock:
            return self.pool.admit(self.app, raws)

    def close(self) -> None:
        if self.relay is not None:
            self.relay.close()
        self.rpc.close()


def _sender_of(raw: bytes) -> str:
    """The account that signed a transaction (its nonces must reach CheckTx in order)."""
    try:
        return txs.decode_trusted(raw).sender
    except Exception:  # noqa: BLE001 - undecodable: CheckTx will say why; any lane will do
        return ""


# -- the cometbft child process ---------------------------------------------------------------

GOGC = "400"
"""Go's GC target for the cometbft child unless the node's own environment sets GOGC.

CometBFT allocates per message and per transaction; with Go's default (100, a
collection whenever the heap doubles its live data) the collector took ~14 % of a
cometbft's CPU at saturation in the four-validator bench, and ~5 % at 400, for a heap
of ~130-180 MiB instead of ~70-90 MiB (docs/PERFORMANCE.md, session 7)."""


def cometbft_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a cometbft child runs with: the node's (`os.environ` by default),
    with GOGC set to `GOGC` unless it is set already (an operator's choice wins)."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault("GOGC", GOGC)
    return env


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - not Linux: the child then relies on CometBFT noticing the lost ABCI connection
        pass


class CometbftProcess:
    """One supervised `cometbft node --home <home>` child.

    The child dies with its parent (PR_SET_PDEATHSIG on Linux), so a node process
    killed with SIGKILL never leaves a consensus process behind; CometBFT would stop
    on its own anyway once its ABCI connections drop.
    """

    def __init__(self, binary: str, home: Path, *, stdout: IO[bytes] | int | None = None) -> None:
        self.binary = binary
        self.home = Path(home)
        self.stdout = stdout
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            self.binary, "node", "--home", str(self.home),
            stdin=asyncio.subprocess.DEVNULL, stdout=self.stdout, stderr=asyncio.subprocess.STDOUT,
            env=cometbft_environment(), preexec_fn=_die_with_parent if os.name == "posix" else None,
        )
        log.info("started cometbft node (pid %d) with home %s", self.process.pid, self.home)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (CometBFT shuts down cleanly), then SIGKILL after `timeout` seconds."""
        proc = self.process
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else None
        proc.terminate()
        try:
            return await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            log.warning("cometbft did not stop within %.0f s; killing it", timeout)
            proc.kill()
            return await proc.wait()
