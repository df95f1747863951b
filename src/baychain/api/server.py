"""The node's HTTP API (FastAPI). The OpenAPI document is served at /openapi.json.

Every error, whatever its source (a rejected transaction, a bad query, a malformed
request body), is answered with the same JSON shape and a stable code:

    {"code": 203, "error": "BAD_ARGUMENTS", "message": "transfer: missing argument 'to'"}
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from baychain import __version__, encoding
from baychain.api.hub import CommitHub
from baychain.api.metrics import NodeMetrics
from baychain.api.trace import trace_router
from baychain.api.views import block_json, jsonable, receipt_json, tx_json
from baychain.chain.blockstore import TxRecord
from baychain.crypto.hashing import sha256
from baychain.crypto.suites import is_address
from baychain.errors import BaychainError, Code
from baychain.network.rpc import RpcError
from baychain.node import ApiNode, SoloNode

MAX_BATCH = 10_000
AUDIT_EVENT_TYPES = tuple(sorted(
    [f"governance.{t}" for t in ("proposed", "voted", "passed", "rejected", "executed", "failed", "cancelled",
                                 "member_added", "member_removed", "weight_set", "param_set")]
    + [f"policy.{t}" for t in ("frozen", "unfrozen", "blacklisted", "unblacklisted", "rule_set", "rule_cleared")]
    + [f"identity.{t}" for t in ("org_registered", "org_removed", "org_suspended", "org_reinstated", "ca_added",
                                 "ca_revoked", "revoked", "crl_published", "bound", "rotated")]
    + [f"network.{t}" for t in ("node_added", "node_removed", "power_set")]
))
_STATUS = {
    Code.NOT_FOUND: 404,
    Code.HEIGHT_UNAVAILABLE: 404,
    Code.MEMPOOL_FULL: 503,
    Code.TIMEOUT: 504,
    Code.INTERNAL: 500,
}


class SubmitRequest(BaseModel):
    tx: str = Field(description="Signed transaction bytes, hex")
    wait: bool = Field(False, description="Answer only once the transaction is committed")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds to wait for the commit")


class BatchRequest(BaseModel):
    txs: list[str] = Field(max_length=MAX_BATCH, description="Signed transactions, hex")


class EvidenceRequest(BaseModel):
    evidence: dict[str, Any] = Field(description="CometBFT evidence JSON: {\"type\": \"tendermint/...Evidence\", \"value\": {...}}")


class ViewRequest(BaseModel):
    args: dict[str, Any] = Field(default_factory=dict)
    height: int = Field(0, ge=0, description="0 = latest committed")


MAX_RELAY_BYTES = 64 * 1024 * 1024
"""The largest relay a node takes (a peer sends at most 5,000 transactions at a time)."""


def error_response(exc: BaychainError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=_STATUS.get(exc.code, 400))


MAX_KEY_BYTES = 1024


_HEX_DIGITS = re.compile(r"[0-9a-fA-F]*")


def _hex(value: str, code: Code, what: str, size: int | None = None) -> bytes:
    """Strict hex (optional 0x, no whitespace), optionally of an exact byte length."""
    text = value.removeprefix("0x")
    if not _HEX_DIGITS.fullmatch(text) or len(text) % 2:
        raise BaychainError(code, f"{what} must be hex")
    data = bytes.fromhex(text)
    if size is not None and len(data) != size:
        raise BaychainError(code, f"{what} must be {size} bytes ({2 * size} hex digits)")
    return data


def create_api(node: ApiNode) -> FastAPI:
    """Build the API of one node (solo or CometBFT engine); the engine must be started separately."""
    hub = CommitHub()
    metrics = NodeMetrics()
    app_ = node.app
    engine = node.engine
    app_.on_commit(hub.on_commit)
    app_.on_commit(metrics.on_commit)
    cometbft_rpc = getattr(engine, "rpc", None)  # CometEngine: the node's CometBFT RPC client

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        yield

    api = FastAPI(title="baychain node API", version=__version__, lifespan=lifespan)

    @api.exception_handler(BaychainError)
    async def _baychain_error(_: Request, exc: BaychainError) -> JSONResponse:
        return error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(BaychainError(Code.BAD_REQUEST, f"{where}: {first.get('msg', 'invalid request')}"))

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = Code.NOT_FOUND if exc.status_code == 404 else Code.BAD_REQUEST
        return JSONResponse({"code": int(code), "error": code.name, "message": str(exc.detail)}, status_code=exc.status_code)

    def _submit(raws: list[bytes]) -> list[Any]:
        results = engine.submit_many(raws)
        for res in results:
            metrics.admitted.labels("ok" if res.code == 0 else Code(res.code).name).inc()
        metrics.mempool.set(len(engine.mempool))
        return results

    # -- transactions --------------------------------------------------------------------

    @api.post("/v1/txs", summary="Submit a signed transaction")
    async def submit(body: SubmitRequest) -> dict[str, Any]:
        raw = _hex(body.tx, Code.MALFORMED_TX, "tx")
        tx_hash = sha256(raw)
        fut = hub.wait_for(tx_hash) if body.wait else None
        try:
            (res,) = await run_in_threadpool(_submit, [raw])
            if res.code != 0:
                raise BaychainError(Code(res.code), res.log)
            if fut is None:
                return {"hash": tx_hash.hex(), "code": 0, "status": "pending"}
            try:
                rec: TxRecord = await asyncio.wait_for(asyncio.shield(fut), body.timeout)
            except asyncio.TimeoutError:
                raise BaychainError(Code.TIMEOUT, f"not committed within {body.timeout} s; it may still be") from None
            return {"status": "committed", **receipt_json(rec)}
        finally:
            if fut is not None:
                hub.forget(tx_hash, fut)

    @api.post("/v1/relay", summary="Transactions another node admitted (the application's mempool; CBOR)")
    async def relay(request: Request) -> dict[str, Any]:
        """A canonical CBOR array of transactions a peer relays (baychain.engine.relay):
        each is checked as a submitted one and kept if admitted, not relayed again."""
        receive = getattr(engine, "receive", None)
        if receive is None:
            raise BaychainError(Code.NOT_FOUND, "this node's mempool takes no relayed transactions")
        body = await request.body()
        if len(body) > MAX_RELAY_BYTES:
            raise BaychainError(Code.BAD_REQUEST, f"a relay is at most {MAX_RELAY_BYTES} bytes")
        raws = encoding.decode(body, Code.BAD_REQUEST)
        if type(raws) is not list or not all(type(r) is bytes for r in raws):
            raise BaychainError(Code.BAD_REQUEST, "a relay is a CBOR array of transactions (byte strings)")
        results = await run_in_threadpool(receive, raws)
        return {"admitted": sum(1 for r in results if r.code == 0)}

    @api.post("/v1/txs/batch", summary="Submit many signed transactions at once")
    async def submit_batch(body: BatchRequest) -> dict[str, Any]:
        raws = [_hex(t, Code.MALFORMED_TX, "tx") for t in body.txs]
        results = await run_in_threadpool(_submit, raws)
        return {
            "results": [
                {"hash": sha256(r).hex(), "code": res.code, "error": None if res.code == 0 else Code(res.code).name, "message": res.log}
                for r, res in zip(raws, results)
            ]
        }

    def _record(tx_hash: str) -> TxRecord:
        rec = app_.blocks.tx(_hex(tx_hash, Code.BAD_REQUEST, "transaction hash", 32))
        if rec is None:
            raise BaychainError(Code.NOT_FOUND, f"no committed transaction {tx_hash}")
        return rec

    @api.get("/v1/txs/{tx_hash}", summary="A committed transaction with its receipt")
    def get_tx(tx_hash: str) -> dict[str, Any]:
        return tx_json(_record(tx_hash))

    @api.get("/v1/txs/{tx_hash}/receipt", summary="The receipt of a committed transaction")
    def get_receipt(tx_hash: str) -> dict[str, Any]:
        return receipt_json(_record(tx_hash))

    @api.get("/v1/txs", summary="Transactions signed by an account")
    def list_txs(signer: str, from_height: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        if not is_address(signer):
            raise BaychainError(Code.BAD_REQUEST, f"{signer!r} is not an account address")
        return {"txs": [tx_json(r) for r in app_.blocks.txs_by_signer(signer, limit=limit, from_height=from_height)]}

    @api.get("/v1/events", summary="Transactions that emitted an event, by type and attribute")
    def search_events(
        type: str, attr: str | None = None, value: str | None = None,
        from_height: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        if (attr is None) != (value is None):
            raise BaychainError(Code.BAD_REQUEST, "give both attr and value, or neither")
        records = app_.blocks.txs_by_event(type, attr, value, limit=limit, from_height=from_height)
        return {"txs": [receipt_json(r) for r in records]}

    # -- the regulator's view ------------------------------------------------------------------

    @api.get("/v1/regulator/alerts", summary="The on-chain alert log (stream new ones: /v1/events/stream?type=*.alert)")
    def regulator_alerts(start: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=500), kind: str = "") -> dict[str, Any]:
        with engine.lock:
            return jsonable(app_.view("audit", "alerts", {"start": start, "limit": limit, "kind": kind}))

    @api.get("/v1/regulator/audit", summary="Audit events: governance, policy, identity and membership changes, alerts")
    def regulator_audit(from_height: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        found: dict[tuple[int, int], TxRecord] = {}
        for event_type in AUDIT_EVENT_TYPES:
            for rec in app_.blocks.txs_by_event(event_type, None, None, limit=limit, from_height=from_height):
                found[(rec.height, rec.index)] = rec
        records = [found[k] for k in sorted(found)][:limit]
        return {"txs": [receipt_json(r) for r in records], "types": list(AUDIT_EVENT_TYPES)}

    # -- blocks and status -------------------------------------------------------------------

    @api.get("/v1/blocks/latest", summary="The last committed block")
    def latest_block() -> dict[str, Any]:
        return get_block(app_.height)

    @api.get("/v1/blocks/{height}", summary="A committed block")
    def get_block(height: int) -> dict[str, Any]:
        block = app_.blocks.block(height) if 0 <= height < 2**63 else None
        if block is None:
            raise BaychainError(Code.NOT_FOUND, f"no block at height {height}")
        return block_json(block)

    @api.get("/v1/history/{height}", summary="A committed block as stored, for another node's backfill (CBOR)",
             response_class=Response)
    def get_history(height: int) -> Response:
        """Canonical CBOR `[block record, [transaction records]]`, the bytes this node stores:
        a node restored from a snapshot fills in its history from them, after checking them
        against the signed headers (baychain.network.backfill)."""
        held = app_.blocks.history(height) if 0 <= height < 2**63 else None
        if held is None:
            raise BaychainError(Code.NOT_FOUND, f"no block at height {height}")
        return Response(encoding.encode([held[0], held[1]]), media_type="application/cbor")

    @api.get("/v1/status", summary="Chain and node status")
    def status() -> dict[str, Any]:
        return {
            "chain_id": app_.chain_id,
            "height": app_.height,
            "earliest_height": app_.blocks.history_from(),  # restored from a snapshot: the blocks filled in so far
            "app_hash": app_.blocks.last_app_hash.hex(),
            "block_time_ns": app_.last_block[1],
            "mempool_txs": len(engine.mempool),
            "engine": getattr(engine, "name", "solo"),
            "cometbft_rpc": cometbft_rpc.url if cometbft_rpc is not None else None,
            "version": __version__,
            **({"relay": {peer: {"sent": relay.sent[peer], "dropped": relay.dropped[peer]} for peer in relay.peers}}
               if (relay := getattr(engine, "relay", None)) is not None else {}),
        }

    @api.get("/v1/cometbft/{method}", summary="CometBFT's signed header, header or validator set, relayed for light clients")
    def cometbft_relay(
        method: str, height: int = Query(..., ge=1), page: int = Query(1, ge=1), per_page: int = Query(100, ge=1, le=100)
    ) -> dict[str, Any]:
        # Nothing relayed here needs trusting: light clients check the validators' signatures.
        if cometbft_rpc is None:
            raise BaychainError(Code.NOT_FOUND, "this node runs the solo engine: there are no CometBFT headers")
        if method not in ("commit", "header", "validators"):
            raise BaychainError(Code.NOT_FOUND, "relayed: commit, header, validators")
        params = {"height": str(height)}
        if method == "validators":
            params.update(page=str(page), per_page=str(per_page))
        try:
            return cometbft_rpc.call(method, **params)
        except RpcError as exc:
            code = Code.HEIGHT_UNAVAILABLE if "must be less than or equal" in str(exc) else Code.UNAVAILABLE
            raise BaychainError(code, str(exc)) from None

    @api.post("/v1/cometbft/evidence", summary="Submit evidence of validator misbehaviour to CometBFT (broadcast_evidence)")
    def submit_evidence(body: EvidenceRequest) -> dict[str, Any]:
        # Nothing here is trusted either: CometBFT verifies the evidence against its own blocks.
        if cometbft_rpc is None:
            raise BaychainError(Code.NOT_FOUND, "this node runs the solo engine: there is no evidence pool")
        try:
            result = cometbft_rpc.call("broadcast_evidence", evidence=body.evidence)
        except RpcError as exc:
            text = str(exc)
            code = Code.UNAVAILABLE if "unreachable" in text else Code.BAD_REQUEST
            raise BaychainError(code, f"evidence refused: {text}" if code == Code.BAD_REQUEST else text) from None
        return {"hash": result.get("hash", "")}

    # -- state ---------------------------------------------------------------------------

    @api.get("/v1/state/{key_hex}", summary="A state entry, with a Merkle proof on request")
    def get_state(key_hex: str, height: int = Query(0, ge=0), prove: bool = False) -> dict[str, Any]:
        key = _hex(key_hex, Code.BAD_REQUEST, "key")
        if not 0 < len(key) <= MAX_KEY_BYTES:
            raise BaychainError(Code.BAD_REQUEST, f"key must be 1 to {MAX_KEY_BYTES} bytes")
        with engine.lock:
            res = app_.query("/store", key, height, prove)
        if res.code not in (0, int(Code.NOT_FOUND)):
            raise BaychainError(Code(res.code), res.log)
        block = app_.blocks.block(res.height)
        out: dict[str, Any] = {
            "key": key.hex(),
            "height": res.height,
            "app_hash": block["app_hash"].hex() if block else None,
            "exists": res.code == 0,
            "value": res.value.hex() if res.code == 0 else None,
        }
        if res.code == 0:
            out["decoded"] = jsonable(encoding.decode(res.value, Code.INTERNAL))
        if prove:
            out["proof"] = res.proof.hex()
        return out

    @api.get("/v1/accounts/{address}", summary="An account's next nonce and registered profile")
    def get_account(address: str) -> dict[str, Any]:
        if not is_address(address):
            raise BaychainError(Code.BAD_REQUEST, f"{address!r} is not an account address")
        with engine.lock:
            nonce = app_.nonce(address)
            try:
                profile = app_.view("accounts", "get", {"address": address})
            except BaychainError:
                profile = None
        return {"address": address, "nonce": nonce, "profile": jsonable(profile)}

    @api.get("/v1/contracts", summary="Every contract's interface")
    def contracts() -> dict[str, Any]:
        with engine.lock:  # deployed contracts are read from state and loaded by the runtime
            return {"contracts": app_.describe_contracts()}

    @api.post("/v1/contracts/{contract}/{method}/query", summary="Call a read-only contract view")
    def query_view(contract: str, method: str, body: ViewRequest) -> dict[str, Any]:
        with engine.lock:
            m = app_.find_method(contract, method)  # built-in or deployed
            args = m.args_from_json(body.args) if m else body.args
            value = app_.view(contract, method, args, height=body.height)
        return {"value": jsonable(value), "height": body.height or app_.height}

    # -- events, health, metrics -----------------------------------------------------------------

    @api.get("/v1/events/stream", summary="Server-sent events: committed blocks and transaction events "
             "(type: an event type, or a pattern such as *.alert for every regulator alert)")
    async def stream(request: Request, type: str | None = None) -> StreamingResponse:
        queue = hub.subscribe()

        def wanted(event_type: str) -> bool:
            return type is None or event_type == type or ("*" in type and fnmatch.fnmatchcase(event_type, type))

        async def gen() -> AsyncIterator[str]:
            try:
                yield ": subscribed\n\n"
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), 15)
                    except asyncio.TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keep-alive\n\n"
                        continue
                    if item is None:
                        yield "event: overflow\ndata: {}\n\n"
                        return
                    block, records = item
                    head = {"height": block["height"], "hash": block["hash"].hex(), "app_hash": block["app_hash"].hex(), "num_txs": len(records)}
                    yield f"event: block\ndata: {json.dumps(head)}\n\n"
                    for ev in block.get("events", ()):  # the block's own: evidence of validator misbehaviour
                        if wanted(ev["type"]):
                            yield f"event: block_event\ndata: {json.dumps({'height': block['height'], **ev})}\n\n"
                    for rec in records:
                        for ev in rec.events:
                            if wanted(ev.type):
                                data = {"tx": rec.hash.hex(), "height": rec.height, **ev.to_dict()}
                                yield f"event: tx_event\ndata: {json.dumps(data)}\n\n"
            finally:
                hub.unsubscribe(queue)

        return StreamingResponse(gen(), media_type="text/event-stream")

    @api.get("/health", summary="Liveness: the engine is producing blocks")
    def health() -> JSONResponse:
        ok = engine.error is None
        body = {"status": "ok" if ok else "halted", "height": app_.height}
        if not ok:
            body["error"] = str(engine.error)
        return JSONResponse(body, status_code=200 if ok else 503)

    @api.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        metrics.mempool.set(len(engine.mempool))
        return PlainTextResponse(generate_latest(metrics.registry).decode(), media_type="text/plain; version=0.0.4")

    api.include_router(trace_router(node))  # GS1 Digital Link consumer verification (api/trace.py)

    return api


def serve(node: SoloNode, host: str = "127.0.0.1", port: int = 8545) -> None:
    """Run the node's engine and API until interrupted."""
    import uvicorn

    node.start()
    try:
        uvicorn.run(create_api(node), host=host, port=port, log_level="warning")
    finally:
        node.stop()
