"""baychain's ABCI 2.0 socket server: how CometBFT drives the application.

CometBFT connects to the application over TCP (or a unix socket) and opens four
connections: consensus (InitChain, PrepareProposal, ProcessProposal, ExtendVote,
VerifyVoteExtension, FinalizeBlock, Commit), mempool (CheckTx), query (Info, Query) and
snapshot (state-sync calls). On each connection it writes `Request` messages, each a
uvarint length plus protobuf (see `baychain.abci.codec`), and expects one `Response`
per request, in order; a `Flush` request asks for everything buffered to be sent.

The server guarantees:

- per connection, requests are handled strictly one after another, in arrival order;
- across connections, calls into the application never overlap: every application
  call holds one lock (the application is single-threaded Python), so a CheckTx never
  runs in the middle of a FinalizeBlock or Commit;
- an unexpected exception in the application is logged with its traceback and
  answered with `ResponseException`. CometBFT then stops the node, which is the only
  safe reaction to a state machine that failed half way; nothing is swallowed. The
  exceptions are the read-only CheckTx and Query: their failures are answered with
  code 500 (INTERNAL), so that no client can halt validators with one bad input.

Methods the application does not implement are answered here: Echo, Flush and no-op
vote extensions (empty extension, always ACCEPT). State sync's four calls go to the
application (its snapshots, baychain.chain.snapshots).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from google.protobuf.message import DecodeError

from baychain.abci import convert
from baychain.abci.codec import MAX_MESSAGE_BYTES, FrameDecoder, FramingError, encode_frame
from baychain.abci.pb import abci_pb
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
from baychain.errors import Code

log = logging.getLogger("baychain.abci")

DEFAULT_ADDRESS = "tcp://127.0.0.1:26658"
_READ_CHUNK = 256 * 1024
_T = TypeVar("_T")


class AbciApplication(Protocol):
    """The calls the server makes into the application (see baychain.app.types)."""

    def info(self) -> InfoResult: ...

    def init_chain(self, req: InitChainRequest) -> InitChainResult: ...

    def check_tx(self, raw: bytes, recheck: bool = False) -> TxResult: ...

    def prepare_proposal(
        self, txs: list[bytes], max_tx_bytes: int, height: int, time_ns: int
    ) -> list[bytes]: ...

    def process_proposal(self, block: BlockRequest) -> bool: ...

    def finalize_block(self, block: BlockRequest) -> FinalizeResult: ...

    def commit(self) -> CommitResult: ...

    def query(self, path: str, data: bytes, height: int, prove: bool) -> QueryResult: ...

    def list_snapshots(self) -> list[Snapshot]: ...

    def load_snapshot_chunk(self, height: int, format_: int, index: int) -> bytes: ...

    def offer_snapshot(self, snapshot: Snapshot, app_hash: bytes) -> OfferResult: ...

    def apply_snapshot_chunk(self, index: int, chunk: bytes, sender: str) -> ApplyChunkResult: ...


def parse_address(address: str) -> tuple[str, str]:
    """Split "tcp://host:port", "host:port" or "unix:///path" into ("tcp", "host:port")
    or ("unix", "/path"), the forms CometBFT's `proxy_app` setting uses."""
    if address.startswith("unix://"):
        return "unix", address[len("unix://") :]
    if address.startswith("tcp://"):
        address = address[len("tcp://") :]
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"bad ABCI address {address!r}: expected tcp://host:port or unix:///path")
    return "tcp", f"{host.strip('[]') or '127.0.0.1'}:{port}"


INLINE_CHECKS = 255
"""CheckTx bursts up to this many transactions are checked on the event loop when the
application can take them at once (`check_txs_nowait`), instead of on the worker thread.
The hop to the thread and back costs ~50-100 us of CPU, as much as checking two to ten
transactions; CometBFT sends most CheckTx requests in bursts of a few to a few dozen,
and the offered-load phase of the network bench in bursts of ~20. Below the admission's
worker-process threshold (256) such a burst never waits on another process, and at
5-40 us per transaction it holds the loop for at most ~10 ms."""

_CHECK_TX_OK = abci_pb.Response(check_tx=abci_pb.ResponseCheckTx()).SerializeToString()
"""The answer to every admitted transaction without data, events or gas: built once."""


def _plain_ok(result: TxResult, events: bool) -> bool:
    return not (result.code or result.data or result.log or (events and result.events) or result.compute_used)


def _check_tx_fields(payload: bytes) -> tuple[bytes, int] | None:
    """(tx, type) of a `Request` that holds a `RequestCheckTx` laid out as CometBFT's
    socket client writes it (field 8; inside it the tx, then the type unless NEW), else
    None and the caller parses the message in full. Every transaction reaches a node as
    one such request and again as one per recheck: reading the two length prefixes here
    costs a third of a protobuf parse."""
    try:
        if payload[0] != 0x42:
            return None
        first = payload[1]
        if first < 0x80:
            pos = 2
            size = first
        elif payload[2] < 0x80:
            pos = 3
            size = (first & 0x7F) | (payload[2] << 7)
        else:
            return None
        end = len(payload)
        if pos + size != end or payload[pos] != 0x0A:
            return None
        first = payload[pos + 1]
        if first < 0x80:
            start = pos + 2
            stop = start + first
        elif payload[pos + 2] < 0x80:
            start = pos + 3
            stop = start + ((first & 0x7F) | (payload[pos + 2] << 7))
        else:
            return None
        if stop == end:
            return payload[start:stop], abci_pb.NEW
        if stop + 2 == end and payload[stop] == 0x10 and payload[stop + 1] == abci_pb.RECHECK:
            return payload[start:stop], abci_pb.RECHECK
    except IndexError:
        pass
    return None


def _parse(payload: bytes) -> Any:
    """A `Request` message, or None if the bytes are not one."""
    request = abci_pb.Request()
    try:
        request.ParseFromString(payload)
    except DecodeError:
        return None
    return request


class AbciServer:
    """Serves one application to CometBFT's ABCI socket client.

    `app_thread=False` (default) runs application calls in the event-loop thread: the
    fastest choice, and all four connections simply wait while the application works.
    `app_thread=True` runs them on one dedicated worker thread so the loop keeps
    reading and answering Echo/Flush meanwhile; either way calls never overlap.
    `halt_on_any_error=True` also answers failed CheckTx/Query calls with
    `ResponseException` (see `_error_response`). `events=False` leaves the events out of
    CheckTx and FinalizeBlock answers: they are not hashed, so nodes may differ in this,
    and CometBFT then neither decodes, stores nor publishes them (a baychain node serves
    its own from its block store).
    """

    def __init__(
        self,
        app: AbciApplication,
        *,
        app_thread: bool = False,
        halt_on_any_error: bool = False,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        events: bool = True,
    ) -> None:
        self.app = app
        self.events = events
        self.halt_on_any_error = halt_on_any_error
        self.app_errors = 0
        """Application calls that raised (each one logged with its traceback)."""
        self.max_message_bytes = max_message_bytes
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="abci-app") if app_thread else None
        )
        self._check_now: Callable[[list[bytes]], list[TxResult] | None] | None = (
            getattr(app, "check_txs_nowait", None) if app_thread else None
        )
        self.inline_checks = 0
        """CheckTx bursts answered on the event loop (for tests and profiles)."""
        self._lock = asyncio.Lock()
        self._server: asyncio.AbstractServer | None = None
        self._unix_path: str | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: dict[str, Callable[[Any], Any]] = {
            "echo": self._echo,
            "flush": self._flush,
            "info": self._info,
            "init_chain": self._init_chain,
            "query": self._query,
            "check_tx": self._check_tx,
            "commit": self._commit,
            "list_snapshots": self._list_snapshots,
            "offer_snapshot": self._offer_snapshot,
            "load_snapshot_chunk": self._load_snapshot_chunk,
            "apply_snapshot_chunk": self._apply_snapshot_chunk,
            "prepare_proposal": self._prepare_proposal,
            "process_proposal": self._process_proposal,
            "extend_vote": self._extend_vote,
            "verify_vote_extension": self._verify_vote_extension,
            "finalize_block": self._finalize_block,
        }
        self.request_counts: dict[str, int] = {}
        """Requests answered so far, by ABCI method name (for metrics and tests)."""
        self.address: str | None = None
        """The address actually listened on, e.g. "tcp://127.0.0.1:40123" (port 0 resolved)."""

    # ----------------------------------------------------------------- lifecycle

    async def start(self, address: str = DEFAULT_ADDRESS) -> str:
        """Start listening; return the bound address. Port 0 picks a free port."""
        if self._server is not None:
            raise RuntimeError("ABCI server already started")
        kind, target = parse_address(address)
        if kind == "unix":
            if os.path.exists(target):
                os.unlink(target)  # a stale socket from a previous run
            self._server = await asyncio.start_unix_server(
                self._serve_connection, path=target, limit=_READ_CHUNK
            )
            self._unix_path = target
            self.address = f"unix://{target}"
        else:
            host, _, port = target.rpartition(":")
            self._server = await asyncio.start_server(
                self._serve_connection, host=host, port=int(port), limit=_READ_CHUNK
            )
            bound = self._server.sockets[0].getsockname()
            self.address = f"tcp://{host}:{bound[1]}"
        log.info("ABCI server listening on %s", self.address)
        return self.address

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self.address is None or not self.address.startswith("tcp://"):
            raise RuntimeError("ABCI server is not listening on TCP")
        return int(self.address.rsplit(":", 1)[1])

    async def stop(self) -> None:
        """Stop listening, close every open connection and release the worker thread."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._connections):
            writer.close()
        for writer in list(self._connections):
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        if server is not None:
            await server.wait_closed()
        if self._unix_path and os.path.exists(self._unix_path):
            os.unlink(self._unix_path)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        log.info("ABCI server stopped")

    # -------------------------------------------------------------- connections

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername") or "unix socket"
        log.info("ABCI connection opened from %s", peer)
        self._connections.add(writer)
        decoder = FrameDecoder(self.max_message_bytes)
        try:
            while True:
                data = await reader.read(_READ_CHUNK)
                if not data:
                    break
                responses = await self.handle_many(decoder.feed(data))
                writer.write(b"".join(encode_frame(r) for r in responses))  # one write per read
                await writer.drain()
        except FramingError as exc:
            log.error("ABCI connection from %s sent a malformed frame: %s; closing", peer, exc)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("ABCI connection from %s lost: %s", peer, exc)
        finally:
            self._connections.discard(writer)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            log.info("ABCI connection from %s closed", peer)

    async def handle_many(self, payloads: list[bytes]) -> list[bytes]:
        """Answer requests that arrived together, in order.

        CometBFT's socket client sends CheckTx requests in bursts (it flushes its
        buffer every 20 ms, when 4 KiB are buffered, or when a synchronous call needs
        it), and after each block the whole mempool as one burst of rechecks. When the
        application has `check_txs(raws)` — the same verdicts as calling `check_tx` on
        each in turn — consecutive CheckTx requests go to it as one call: one hop to
        the application thread instead of one per transaction.
        """
        check_txs = getattr(self.app, "check_txs", None)
        out: list[bytes] = []
        run: list[tuple[bytes, int]] = []  # consecutive CheckTx requests: (tx, type)
        for payload in payloads:
            if check_txs is not None:
                fields = _check_tx_fields(payload)
                if fields is not None:
                    run.append(fields)
                    continue
            request = _parse(payload)
            if check_txs is not None and request is not None and request.WhichOneof("value") == "check_tx":
                run.append((request.check_tx.tx, request.check_tx.type))
                continue
            if run:
                out.extend(await self._check_tx_run(check_txs, run))
                run = []
            out.append(await self._answer(request, len(payload)))
        if run:
            out.extend(await self._check_tx_run(check_txs, run))
        return out

    async def _check_tx_run(self, check_txs: Callable[[list[bytes]], list[TxResult]],
                            run: list[tuple[bytes, int]]) -> list[bytes]:
        raws = [tx for tx, _ in run]
        try:
            results = None
            if self._check_now is not None and len(raws) <= INLINE_CHECKS:
                async with self._lock:  # no other application call is running (see INLINE_CHECKS)
                    results = self._check_now(raws)  # None: the application is busy elsewhere
                if results is not None:
                    self.inline_checks += 1
            if results is None:
                results = await self._call(check_txs, raws)
            if len(results) != len(run):
                raise ValueError(f"check_txs returned {len(results)} results for {len(run)} transactions")
        except Exception:  # noqa: BLE001 - answer each on its own, with the usual error handling
            log.exception("ABCI check_txs batch failed; checking its %d transactions one by one", len(run))
            return [await self._answer(abci_pb.Request(check_tx=abci_pb.RequestCheckTx(tx=tx, type=kind)), 0)
                    for tx, kind in run]
        self.request_counts["check_tx"] = self.request_counts.get("check_tx", 0) + len(run)
        events = self.events
        return [_CHECK_TX_OK if _plain_ok(r, events)
                else abci_pb.Response(check_tx=convert.check_tx_response(r, events)).SerializeToString()
                for r in results]

    async def _answer(self, request: Any, size: int) -> bytes:
        """The serialized `Response` to one parsed request (None: it did not parse)."""
        if request is None:
            log.error("undecodable ABCI request (%d bytes)", size)
            return abci_pb.Response(
                exception=abci_pb.ResponseException(error="cannot decode request")
            ).SerializeToString()
        kind = request.WhichOneof("value")
        handler = self._handlers.get(kind) if kind else None
        if handler is None:
            log.error("unknown ABCI request type %r", kind)
            return abci_pb.Response(
                exception=abci_pb.ResponseException(error=f"unknown request type {kind!r}")
            ).SerializeToString()
        self.request_counts[kind] = self.request_counts.get(kind, 0) + 1
        try:
            result = await handler(getattr(request, kind))
            response = abci_pb.Response()
            getattr(response, kind).CopyFrom(result)  # Response oneof names match Request's
        except Exception as exc:  # noqa: BLE001 - logged and reported, never lost
            self.app_errors += 1
            response = self._error_response(kind, exc)
        return response.SerializeToString()

    def _error_response(self, kind: str, exc: Exception):
        """Answer a request whose application call raised.

        State-machine calls get `ResponseException`, which makes CometBFT stop the node:
        the application may be half way through a block and must not go on. CheckTx and
        Query change no consensus state, and any peer or RPC client can send them, so by
        default their failures are answered with code INTERNAL instead; an exception
        there would let one malformed transaction or query halt every validator.
        """
        detail = f"{type(exc).__name__}: {exc}"
        if not self.halt_on_any_error and kind in ("check_tx", "query"):
            log.exception("ABCI %s failed; answering with code %d", kind, int(Code.INTERNAL))
            response = abci_pb.Response()
            getattr(response, kind).CopyFrom(
                getattr(abci_pb, "ResponseCheckTx" if kind == "check_tx" else "ResponseQuery")(
                    code=int(Code.INTERNAL), log=f"internal error: {detail}", codespace="baychain"
                )
            )
            return response
        log.exception("ABCI %s failed; answering with an exception (CometBFT will halt)", kind)
        return abci_pb.Response(exception=abci_pb.ResponseException(error=f"{kind}: {detail}"))

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Call into the application, never concurrently with another call."""
        async with self._lock:
            if self._executor is None:
                return fn(*args)
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # ------------------------------------------------------------------ handlers

    async def _echo(self, req):
        return abci_pb.ResponseEcho(message=req.message)

    async def _flush(self, req):
        return abci_pb.ResponseFlush()

    async def _info(self, req):
        log.debug(
            "Info from CometBFT %s (ABCI %s, block protocol %d, p2p protocol %d)",
            req.version, req.abci_version, req.block_version, req.p2p_version,
        )
        return convert.info_response(await self._call(self.app.info))

    async def _init_chain(self, req):
        result = await self._call(self.app.init_chain, convert.init_chain_request_from_pb(req))
        return convert.init_chain_response(result)

    async def _query(self, req):
        result = await self._call(self.app.query, req.path, req.data, req.height, req.prove)
        return convert.query_response(result)

    async def _check_tx(self, req):
        recheck = req.type == abci_pb.RECHECK
        return convert.check_tx_response(await self._call(self.app.check_tx, req.tx, recheck), self.events)

    async def _prepare_proposal(self, req):
        txs = await self._call(
            self.app.prepare_proposal,
            list(req.txs),
            req.max_tx_bytes,
            req.height,
            convert.timestamp_ns(req.time),
        )
        return abci_pb.ResponsePrepareProposal(txs=txs)

    async def _process_proposal(self, req):
        accept = await self._call(self.app.process_proposal, convert.block_request_from_pb(req))
        status = abci_pb.ResponseProcessProposal.ACCEPT if accept else abci_pb.ResponseProcessProposal.REJECT
        return abci_pb.ResponseProcessProposal(status=status)

    async def _extend_vote(self, req):
        return abci_pb.ResponseExtendVote(vote_extension=b"")

    async def _verify_vote_extension(self, req):
        return abci_pb.ResponseVerifyVoteExtension(
            status=abci_pb.ResponseVerifyVoteExtension.ACCEPT
        )

    async def _finalize_block(self, req):
        block = convert.block_request_from_pb(req)
        result = await self._call(self.app.finalize_block, block)
        return convert.finalize_block_response(result, len(block.txs), self.events)

    async def _commit(self, req):
        result = await self._call(self.app.commit)
        return abci_pb.ResponseCommit(retain_height=result.retain_height)

    async def _list_snapshots(self, req):
        return convert.list_snapshots_response(await self._call(self.app.list_snapshots))

    async def _offer_snapshot(self, req):
        snapshot = convert.snapshot_from_pb(req.snapshot)
        return convert.offer_snapshot_response(await self._call(self.app.offer_snapshot, snapshot, bytes(req.app_hash)))

    async def _load_snapshot_chunk(self, req):
        chunk = await self._call(self.app.load_snapshot_chunk, req.height, req.format, req.chunk)
        return abci_pb.ResponseLoadSnapshotChunk(chunk=chunk)

    async def _apply_snapshot_chunk(self, req):
        result = await self._call(self.app.apply_snapshot_chunk, req.index, bytes(req.chunk), req.sender)
        return convert.apply_snapshot_chunk_response(result)


async def serve(
    app: AbciApplication,
    host: str = "127.0.0.1",
    port: int = 26658,
    *,
    stop: asyncio.Event | None = None,
    started: Callable[[AbciServer], None] | None = None,
    app_thread: bool = False,
) -> None:
    """Serve `app` on host:port until `stop` is set or the task is cancelled.

    `started(server)` is called once listening (useful with port 0: `server.port`).
    """
    await serve_address(
        app, f"tcp://{host}:{port}", stop=stop, started=started, app_thread=app_thread
    )


async def serve_address(
    app: AbciApplication,
    address: str = DEFAULT_ADDRESS,
    *,
    stop: asyncio.Event | None = None,
    started: Callable[[AbciServer], None] | None = None,
    app_thread: bool = False,
) -> None:
    """Like `serve`, for an address string ("tcp://host:port" or "unix:///path")."""
    server = AbciServer(app, app_thread=app_thread)
    await server.start(address)
    try:
        if started is not None:
            started(server)
        await (stop or asyncio.Event()).wait()
    finally:
        await server.stop()


def run_abci_server(app: AbciApplication, address: str = DEFAULT_ADDRESS) -> None:
    """Process entry point: serve `app` at `address` until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # nodes run on Linux: the loop handles signals
            loop.add_signal_handler(sig, stop.set)
        await serve_address(app, address, stop=stop)

    asyncio.run(main())
