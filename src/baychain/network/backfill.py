"""Fill in the history of a node restored from a snapshot: the blocks before it, from members.

A node that joined by state sync holds the state of its snapshot's height H and the
blocks after H, not blocks 1..H (docs/NETWORK.md, "Joining a running network"). This
fetches those blocks, newest first, from other members' APIs (`GET /v1/history/{h}`: the
block record and transaction records exactly as the member stores them) and keeps each
only after checking it against CometBFT's signed headers, so a member cannot make up
history:

- The chain of headers is anchored on this node's own lowest block, which it executed
  (or filled in) itself: the header of that height must hash to the block's hash, and
  each header below to the `last_block_id` of the one above. No signature is needed
  below a trusted header; the hash chain fixes every header under it.
- Each block record must agree with its header (hash, height, chain id, time, proposer,
  the app hash before it) and with the header above (the app hash after it); its
  transactions with the header's `data_hash` (the Merkle root of their hashes) and each
  hash with its transaction's bytes; their results with the header above's
  `last_results_hash` (code, data and compute used, as CometBFT hashes them); sender,
  contract and method with the transaction itself (decoded and its signature checked as
  the chain did: one that failed that check has none, and its code and log are that
  failure's).
- What no header covers — each transaction's log and events, the block's events (its
  regulator alerts) — must be byte-identical from every member asked: with two or more
  sources, no single member can alter them.

Blocks are written in batches, each in one LMDB transaction with the new start of the
history (`BlockStore.write_history`), so an interrupted backfill keeps what it finished
and resumes below it. The state of those heights is not filled in: queries of state
before H stay HEIGHT_UNAVAILABLE on this node. LMDB lets this run beside the node's own
process, whose API serves each block as soon as its batch is committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from baychain import encoding
from baychain.abci.pb import abci_pb
from baychain.app import admission
from baychain.chain.blockstore import BlockStore, TxRecord
from baychain.errors import BaychainError, Code
from baychain.network.light import ApiRelay, header_hash, header_time, merkle_root
from baychain.state.lmdb_env import open_env
from baychain.transactions import Transaction

BATCH = 50
"""Blocks per LMDB transaction: small enough not to hold the write lock long while the
node commits its own blocks, large enough that the commits' fsyncs do not dominate."""


@dataclass(frozen=True)
class BackfillResult:
    filled: int  # blocks written by this run
    history_from: int  # the lowest height the node now holds


class _Member:
    """One member's API: its stored blocks, and its CometBFT headers (relayed)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self.relay = ApiRelay(self.url, timeout=timeout)

    def history(self, height: int) -> tuple[bytes, list[bytes]] | None:
        """The stored block and transaction records of `height`, or None if it holds none."""
        try:
            response = self.http.get(f"/v1/history/{height}")
        except httpx.HTTPError as exc:
            raise BaychainError(Code.UNAVAILABLE, f"{self.url}: {exc}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise BaychainError(Code.UNAVAILABLE, f"{self.url}: block {height}: HTTP {response.status_code}")
        try:
            block_bytes, tx_bytes = encoding.decode(response.content, Code.PROOF_INVALID)
            if type(block_bytes) is not bytes or type(tx_bytes) is not list or any(type(t) is not bytes for t in tx_bytes):
                raise ValueError("not [bytes, [bytes]]")
        except (BaychainError, ValueError) as exc:
            raise BaychainError(Code.PROOF_INVALID, f"{self.url}: block {height} is malformed: {exc}") from None
        return block_bytes, tx_bytes

    def header(self, height: int) -> dict[str, Any]:
        return self.relay.call("header", height=str(height))["header"]

    def close(self) -> None:
        self.http.close()
        self.relay.close()


def backfill(data_dir: str | Path, sources: list[str], *, down_to: int = 1, timeout: float = 10.0,
             progress: Callable[[int], None] | None = None) -> BackfillResult:
    """Fill in the blocks below this node's history, down to `down_to`, from `sources`
    (members' API URLs; every one that holds a block must serve the same bytes).
    `progress(height)` is called after each batch with the new start of the history."""
    if not sources:
        raise BaychainError(Code.BAD_REQUEST, "backfill needs at least one member's API URL")
    env = open_env(Path(data_dir) / "chain")
    members = [_Member(url, timeout) for url in sources]
    try:
        blocks = BlockStore(env)
        start = blocks.history_from()
        if start > blocks.last_height:
            raise BaychainError(Code.UNAVAILABLE, "this node has no block of its own yet: start it and let it execute "
                                                  "a block after its snapshot, whose hash anchors the history below")
        own = blocks.block(start)
        above = _header(members, start, own["hash"])  # trusted: it hashes to a block this node holds
        chain_id, filled, last = own["chain_id"], 0, max(down_to, 1)
        batch: list[tuple[bytes, list[bytes]]] = []

        def write() -> None:
            nonlocal filled, batch
            if batch:
                with env.begin(write=True) as txn:
                    for block_bytes, tx_bytes in batch:
                        blocks.write_history(txn, block_bytes, tx_bytes)
                filled += len(batch)
                batch = []
                if progress is not None:
                    progress(blocks.history_from())

        try:
            for height in range(start - 1, last - 1, -1):
                block_bytes, tx_bytes = _agreed(members, height)
                header = _header(members, height, _hex(above["last_block_id"]["hash"]))
                _check(chain_id, height, block_bytes, tx_bytes, header, above)
                batch.append((block_bytes, tx_bytes))
                above = header
                if len(batch) >= BATCH:
                    write()
        finally:
            write()  # what was checked before a failure is kept
        return BackfillResult(filled, blocks.history_from())
    finally:
        for member in members:
            member.close()
        env.close()


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except (TypeError, ValueError):
        raise BaychainError(Code.PROOF_INVALID, f"not a hex hash: {text!r}") from None


def _header(members: list[_Member], height: int, expected: bytes) -> dict[str, Any]:
    """Header `height` from the first member that serves one hashing to `expected`."""
    problems = []
    for member in members:
        try:
            header = member.header(height)
            if header_hash(header) == expected and int(header["height"]) == height:
                return header
            problems.append(f"{member.url}: a header that is not block {height}'s")
        except (BaychainError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"{member.url}: {exc}")
    raise BaychainError(Code.UNAVAILABLE, f"no member served the header of block {height} ({expected.hex()}): "
                                          + "; ".join(problems))


def _agreed(members: list[_Member], height: int) -> tuple[bytes, list[bytes]]:
    """Block `height` as every member holding it stores it: they must agree byte for byte
    (logs and events are covered by no header)."""
    found: list[tuple[str, tuple[bytes, list[bytes]]]] = []
    for member in members:
        held = member.history(height)
        if held is not None:
            found.append((member.url, held))
    if not found:
        raise BaychainError(Code.UNAVAILABLE, f"no member holds block {height} (each restored from a later snapshot?)")
    first_url, first = found[0]
    for url, held in found[1:]:
        if held != first:
            raise BaychainError(Code.PROOF_INVALID, f"block {height}: {first_url} and {url} serve different records")
    return first


def _check(chain_id: str, height: int, block_bytes: bytes, tx_bytes: list[bytes], header: dict[str, Any],
           above: dict[str, Any]) -> None:
    """PROOF_INVALID unless the served block is the one the headers commit to."""
    def fail(what: str) -> BaychainError:
        return BaychainError(Code.PROOF_INVALID, f"block {height} as served: {what}")

    try:
        block = encoding.decode(block_bytes, Code.PROOF_INVALID)
        records = [TxRecord.from_value(encoding.decode(raw, Code.PROOF_INVALID)) for raw in tx_bytes]
        fields = (block["chain_id"], block["height"], block["hash"], block["time_ns"], block["proposer"],
                  block["last_app_hash"], block["app_hash"], block["txs"])
    except (BaychainError, KeyError, TypeError, ValueError) as exc:
        raise fail(f"not a block and transaction records ({exc})") from None
    if fields[:3] != (chain_id, height, header_hash(header)):
        raise fail("its chain id, height or hash is not the header's")
    if block["time_ns"] != header_time(header) or block["proposer"] != _hex(header["proposer_address"]):
        raise fail("its time or proposer is not the header's")
    before = b"" if height == 1 else _hex(header["app_hash"])  # block 1's record: none (the header's is InitChain's)
    if block["last_app_hash"] != before or block["app_hash"] != _hex(above["app_hash"]):
        raise fail("its app hashes are not the headers'")
    if merkle_root(list(block["txs"])) != _hex(header["data_hash"]):
        raise fail("its transactions are not the header's data hash")
    if [r.hash for r in records] != list(block["txs"]) or [(r.height, r.index) for r in records] != [
            (height, i) for i in range(len(records))]:
        raise fail("its transaction records are not its transactions, in order")
    results = [abci_pb.ExecTxResult(code=r.code, data=r.data, gas_wanted=r.compute_used,
                                    gas_used=r.compute_used).SerializeToString() for r in records]
    if merkle_root(results) != _hex(above["last_results_hash"]):
        raise fail("its results (code, data, compute) are not the next header's results hash")
    for record, checked in zip(records, admission.check([r.raw for r in records])):
        if hashlib.sha256(record.raw).digest() != record.hash:
            raise fail(f"transaction {record.index}'s bytes do not hash to its hash")
        if isinstance(checked, Transaction):
            if (record.sender, record.contract, record.method) != (checked.sender, checked.contract, checked.method):
                raise fail(f"transaction {record.index}'s sender, contract or method is not the transaction's")
        elif (record.sender, record.contract, record.method, record.code, record.log) != (
                "", "", "", int(checked.code), checked.message):
            raise fail(f"transaction {record.index} failed its decoding or signature check, not as recorded")
