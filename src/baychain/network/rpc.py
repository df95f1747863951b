"""A small client of CometBFT's JSON-RPC (HTTP POST, loopback), on httpx.

Only what baychain needs: node status and peers for `net status`, blocks for tests,
the mempool size, and `broadcast_tx_sync` — which returns once the node's own CheckTx
has admitted or refused the transaction, with the application's code and log.

Many transactions go out as several JSON-RPC batches sent concurrently. CometBFT
answers the calls of one batch one after another, and each `broadcast_tx_sync` waits
for its CheckTx, which CometBFT's ABCI socket client sends on its next buffer flush
(every 20 ms): one batch of 500 would take 500 x 20 ms. Spread over `PARALLEL`
concurrent requests, the CheckTx requests of one flush carry one transaction from
each, and the application checks them together.
"""

from __future__ import annotations

import base64
import itertools
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import httpx

from baychain.app.types import TxResult
from baychain.errors import Code

BATCH = 500
BATCH_BYTES = 8 * 1024 * 1024
PARALLEL = 32  # concurrent broadcast requests (each a JSON-RPC batch)
UNAVAILABLE = Code.__members__.get("UNAVAILABLE", Code.INTERNAL)

# CometBFT refuses some transactions before the application sees them; its RPC
# reports those as errors whose text is stable across v0.38 releases.
_MEMPOOL_ERRORS = (
    ("tx already exists in cache", Code.DUPLICATE_TX, "transaction is already in the mempool or was recently seen"),
    ("mempool is full", Code.MEMPOOL_FULL, "the mempool is full; try again shortly"),
    ("tx too large", Code.TX_TOO_LARGE, "transaction is larger than the mempool accepts"),
)


class RpcError(RuntimeError):
    """CometBFT answered with a JSON-RPC error (or not at all)."""


class CometRpc:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout,
            limits=httpx.Limits(max_connections=PARALLEL + 8, max_keepalive_connections=PARALLEL),
        )
        self._ids = itertools.count(1)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self) -> "CometRpc":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- JSON-RPC ------------------------------------------------------------------------

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One call; its `result`, or RpcError."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            resp = self._http.post("/", json=body)
            doc = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RpcError(f"CometBFT RPC at {self.url} unreachable: {exc or type(exc).__name__}") from None
        if "error" in doc:
            raise RpcError(_error_text(doc["error"]))
        return doc["result"]

    def batch(self, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Several calls in one HTTP request; per call either {"result": ...} or {"error": ...}."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls)]
        try:
            resp = self._http.post("/", json=body)
            doc = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RpcError(f"CometBFT RPC at {self.url} unreachable: {exc or type(exc).__name__}") from None
        if isinstance(doc, dict):
            if doc.get("id") in ids:  # CometBFT answers a batch of one with a bare object
                doc = [doc]
            else:  # the whole batch was refused (e.g. too many calls)
                raise RpcError(_error_text(doc.get("error", doc)))
        by_id = {item.get("id"): item for item in doc}
        return [by_id.get(i, {"error": {"message": "no response in batch"}}) for i in ids]

    # -- what baychain uses ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self.call("status")

    def height(self) -> int:
        return int(self.status()["sync_info"]["latest_block_height"])

    def net_info(self) -> dict[str, Any]:
        return self.call("net_info")

    def block(self, height: int) -> dict[str, Any]:
        return self.call("block", height=str(height))

    def num_unconfirmed_txs(self) -> int:
        return int(self.call("num_unconfirmed_txs")["n_txs"])

    def broadcast(self, raws: list[bytes], lane_of: Callable[[bytes], str] | None = None) -> list[TxResult]:
        """`broadcast_tx_sync` each transaction; one TxResult per transaction, in order.

        The transactions are spread over up to `PARALLEL` concurrent batches. With
        `lane_of` (e.g. a transaction's sender), transactions with the same lane key go
        in one batch in their given order — so one account's consecutive nonces reach
        CheckTx in order; without it they are dealt round-robin.
        """
        if len(raws) <= 1:
            return self._broadcast_sequential(raws)
        lanes = min(PARALLEL, len(raws))
        if lane_of is None:
            assignment = [i % lanes for i in range(len(raws))]
        else:
            assignment = [zlib.crc32(lane_of(raw).encode()) % lanes for raw in raws]
        parts: list[list[int]] = [[] for _ in range(lanes)]
        for index, lane in enumerate(assignment):
            parts[lane].append(index)
        parts = [p for p in parts if p]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="broadcast")
        answers = self._pool.map(lambda idx: self._broadcast_sequential([raws[i] for i in idx]), parts)
        results: list[TxResult] = [TxResult()] * len(raws)
        for idx, answer in zip(parts, answers):
            for i, result in zip(idx, answer):
                results[i] = result
        return results

    def _broadcast_sequential(self, raws: list[bytes]) -> list[TxResult]:
        results: list[TxResult] = []
        start = 0
        while start < len(raws):
            end, size = start, 0
            while end < len(raws) and end - start < BATCH and (size == 0 or size + len(raws[end]) <= BATCH_BYTES):
                size += len(raws[end])
                end += 1
            chunk = raws[start:end]
            try:
                answers = self.batch([("broadcast_tx_sync", {"tx": base64.b64encode(r).decode()}) for r in chunk])
            except RpcError as exc:
                results.extend(TxResult(code=int(UNAVAILABLE), log=str(exc)) for _ in chunk)
            else:
                results.extend(tx_result(a) for a in answers)
            start = end
        return results


def tx_result(answer: dict[str, Any]) -> TxResult:
    """The outcome of one broadcast_tx_sync answer, with baychain's stable codes."""
    if "error" in answer:
        text = _error_text(answer["error"])
        for needle, code, sentence in _MEMPOOL_ERRORS:
            if needle in text:
                return TxResult(code=int(code), log=sentence)
        return TxResult(code=int(Code.INTERNAL), log=f"CometBFT refused the transaction: {text}")
    result = answer.get("result") or {}
    code = int(result.get("code", 0))
    if code == 0:
        return TxResult()
    log = result.get("log", "")
    if result.get("codespace", "baychain") not in ("baychain", "") or code not in Code._value2member_map_:
        return TxResult(code=int(Code.INTERNAL), log=f"code {code} ({result.get('codespace', '')}): {log}")
    return TxResult(code=code, log=log)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        parts = [str(error.get("message", "")), str(error.get("data", ""))]
        return ": ".join(p for p in parts if p)
    return str(error)
