"""Shared pieces for the ABCI tests: a tiny key-value application implementing the
server's `AbciApplication` protocol, and a raw socket client speaking the wire format."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time

import pytest

from baychain.app.types import (
    BlockRequest,
    CommitResult,
    Event,
    FinalizeResult,
    InfoResult,
    InitChainRequest,
    InitChainResult,
    QueryResult,
    TxResult,
)


class KVApp:
    """Transactions are b"key=value". The app hash chains the previous hash and the txs.

    It also records every call and asserts that no two calls ever overlap.
    """

    def __init__(self, finalize_delay_s: float = 0.0) -> None:
        self.store: dict[bytes, bytes] = {}
        self.height = 0
        self.app_hash = b""
        self.pending: tuple[int, bytes, dict[bytes, bytes]] | None = None
        self.calls: list[str] = []
        self.app_hashes: dict[int, bytes] = {}
        self.init_request: InitChainRequest | None = None
        self.last_block: BlockRequest | None = None
        self.rechecks = 0
        self.finalize_delay_s = finalize_delay_s
        self._busy = threading.Lock()

    def _enter(self, name: str) -> None:
        if not self._busy.acquire(blocking=False):
            raise AssertionError(f"{name} called while another app call was running")
        self.calls.append(name)

    def _leave(self) -> None:
        self._busy.release()

    def info(self) -> InfoResult:
        self._enter("info")
        try:
            return InfoResult(last_height=self.height, last_app_hash=self.app_hash, version="kv-test")
        finally:
            self._leave()

    def init_chain(self, req: InitChainRequest) -> InitChainResult:
        self._enter("init_chain")
        try:
            self.init_request = req
            return InitChainResult(validators=[], app_hash=b"")
        finally:
            self._leave()

    def check_tx(self, raw: bytes, recheck: bool = False) -> TxResult:
        self._enter("check_tx")
        try:
            self.rechecks += recheck
            if raw == b"boom":
                raise RuntimeError("check_tx exploded")
            if b"=" not in raw:
                return TxResult(code=7, log="a tx is key=value")
            return TxResult(compute_used=len(raw))
        finally:
            self._leave()

    def prepare_proposal(
        self, txs: list[bytes], max_tx_bytes: int, height: int, time_ns: int
    ) -> list[bytes]:
        self._enter("prepare_proposal")
        try:
            out, total = [], 0
            for tx in txs:
                total += len(tx)
                if total > max_tx_bytes:
                    break
                out.append(tx)
            return out
        finally:
            self._leave()

    def process_proposal(self, block: BlockRequest) -> bool:
        self._enter("process_proposal")
        try:
            return all(b"=" in tx for tx in block.txs)
        finally:
            self._leave()

    def finalize_block(self, block: BlockRequest) -> FinalizeResult:
        self._enter("finalize_block")
        try:
            if self.finalize_delay_s:
                time.sleep(self.finalize_delay_s)
            self.last_block = block
            writes: dict[bytes, bytes] = {}
            results = []
            h = hashlib.sha256(self.app_hash + block.height.to_bytes(8, "big"))
            for tx in block.txs:
                key, sep, value = tx.partition(b"=")
                if not sep:
                    results.append(TxResult(code=7, log="a tx is key=value"))
                    continue
                writes[key] = value
                h.update(hashlib.sha256(tx).digest())
                results.append(
                    TxResult(
                        data=value,
                        compute_used=len(tx),
                        events=[Event("kv", [("key", key.decode()), ("value", value.decode())])],
                    )
                )
            app_hash = h.digest()
            self.pending = (block.height, app_hash, writes)
            return FinalizeResult(
                tx_results=results,
                events=[Event("block", [("height", str(block.height))])],
                validator_updates=[],
                app_hash=app_hash,
            )
        finally:
            self._leave()

    def commit(self) -> CommitResult:
        self._enter("commit")
        try:
            assert self.pending is not None, "commit without finalize_block"
            self.height, self.app_hash, writes = self.pending
            self.store.update(writes)
            self.app_hashes[self.height] = self.app_hash
            self.pending = None
            return CommitResult(retain_height=0)
        finally:
            self._leave()

    def query(self, path: str, data: bytes, height: int, prove: bool) -> QueryResult:
        self._enter("query")
        try:
            if path != "/store":
                return QueryResult(code=3, log=f"unknown path {path}")
            value = self.store.get(data)
            if value is None:
                return QueryResult(code=4, log="not found", key=data, height=self.height)
            return QueryResult(
                key=data, value=value, height=self.height, proof=b"proof:" + data if prove else b""
            )
        finally:
            self._leave()


@pytest.fixture
def kv_app() -> KVApp:
    return KVApp()


@pytest.fixture
def kv_app_class() -> type[KVApp]:
    return KVApp


class AbciClient:
    """A raw ABCI socket client: writes framed Requests, reads framed Responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from baychain.abci.codec import FrameDecoder

        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder()
        self.ready: list[bytes] = []

    @classmethod
    async def connect(cls, host: str, port: int) -> "AbciClient":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def call(self, *requests):
        """Send all requests in one write; return their responses in order."""
        from baychain.abci.codec import encode_frame
        from baychain.abci.pb import abci_pb

        self.writer.write(b"".join(encode_frame(r.SerializeToString()) for r in requests))
        await self.writer.drain()
        while len(self.ready) < len(requests):
            data = await asyncio.wait_for(self.reader.read(65536), timeout=10)
            if not data:
                raise ConnectionError("server closed the connection")
            self.ready += self.decoder.feed(data)
        out, self.ready = self.ready[: len(requests)], self.ready[len(requests) :]
        responses = []
        for payload in out:
            response = abci_pb.Response()
            response.ParseFromString(payload)
            responses.append(response)
        return responses

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


@pytest.fixture
def abci_client_class() -> type[AbciClient]:
    return AbciClient
