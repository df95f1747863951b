"""Block store: blocks, transactions with their receipts, and indexes.

It lives in the same LMDB environment as the state, and `write` runs inside the
caller's write transaction, so a block, its receipts, its indexes, the new state
version and the last-height marker are committed by one atomic LMDB commit. After a
crash the node has either all of a block or none of it.

Tables (keys big-endian so LMDB's byte order is height order):
    chain.blocks   height(8)                        -> block record (canonical CBOR)
    chain.hashes   block hash                       -> height(8)
    chain.txs      height(8) index(4)               -> tx record with receipt
    chain.txhash   tx hash                          -> height(8) index(4)
    chain.events   "<type>\\0" height(8) index(4)    -> (empty)
                   "<type>.<attr>=<value>\\0" ...    -> (empty)
    chain.signers  address height(8) index(4)       -> (empty)
    chain.meta     b"last"                          -> [height, app_hash]
                   b"base"                          -> [height, time_ns] (restored from a snapshot)
                   b"history"                       -> height(8): the lowest block held, once filled in

A node restored from a state-sync snapshot of height H (baychain.chain.snapshots)
starts its history there: `base` holds H and its block time, and the tables hold only
the blocks after H, until the blocks up to H are filled in from other members, newest
first (`write_history`, baychain.network.backfill); `history` then says how far down.

Records are keyed by position, so they are appended in key order; only the small
hash and index entries land at random places in their B-trees. Random inserts dirty a
page each and LMDB writes every dirty page at commit, so keeping them small is what
keeps the commit cheap as history grows (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import baychain_native
import cbor2
import lmdb

from baychain import encoding
from baychain.app.types import Event

_HI = struct.Struct(">QI")
_H = struct.Struct(">Q")
MAX_INDEXED_VALUE = 256


@dataclass(slots=True)
class TxRecord:
    """A committed transaction with its receipt, as the store keeps it."""

    hash: bytes
    height: int
    index: int
    raw: bytes
    sender: str
    contract: str
    method: str
    code: int
    log: str
    data: bytes
    events: list[Event]
    compute_used: int

    def to_value(self) -> list[Any]:
        events = [[e.type, [[k, v] for k, v in e.attributes]] for e in self.events]
        return [self.hash, self.height, self.index, self.raw, self.sender, self.contract, self.method,
                self.code, self.log, self.data, events, self.compute_used]

    @classmethod
    def from_value(cls, value: list[Any]) -> "TxRecord":
        tx_hash, height, index, raw, sender, contract, method, code, log, data, events, compute = value
        evs = [Event(t, [(k, v) for k, v in attrs]) for t, attrs in events]
        return cls(tx_hash, height, index, raw, sender, contract, method, code, log, data, evs, compute)


def record_bytes(rec: TxRecord) -> bytes:
    """`rec.to_value()` as canonical CBOR.

    Written natively in one pass (baychain_native.cbor_encode, the writer behind
    `encoding.encode`: ~1.6 us a transfer's receipt against ~5.4 for the Python writer
    it replaced); integers outside CBOR's heads, which no receipt holds, fall back to
    cbor2. tests/chain pins the bytes to cbor2's canonical output.
    """
    value = rec.to_value()
    try:
        return baychain_native.cbor_encode(value, encoding.MAX_DEPTH)
    except baychain_native.CborError:
        return cbor2.dumps(value, canonical=True)


class BlockStore:
    """Durable, indexed history of the chain."""

    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        self._blocks = env.open_db(b"chain.blocks")
        self._hashes = env.open_db(b"chain.hashes")
        self._txs = env.open_db(b"chain.txs")
        self._txhash = env.open_db(b"chain.txhash")
        self._events = env.open_db(b"chain.events")
        self._signers = env.open_db(b"chain.signers")
        self._meta = env.open_db(b"chain.meta")
        with env.begin() as txn:
            last = txn.get(b"last", db=self._meta)
            base = txn.get(b"base", db=self._meta)
        self.last_height, self.last_app_hash = encoding.decode(last) if last else (0, b"")
        self.base: tuple[int, int] | None = tuple(encoding.decode(base)) if base else None  # (height, time_ns)

    # -- writing (inside the caller's transaction) ---------------------------------

    def write(self, txn: lmdb.Transaction, block: dict[str, Any], txs: list[TxRecord]) -> None:
        """Stage one block with its transactions and indexes into `txn`.

        Entries are gathered per table and written with one `putmulti` each (a C loop
        instead of a Python call per entry); the records go in key order, appended.
        A transaction repeated in one block (only a faulty proposer makes one) keeps its
        last position in chain.txhash, as one put per record would.
        """
        self._put(txn, block, encoding.encode(block), txs, map(record_bytes, txs), append=True)
        txn.put(b"last", encoding.encode([block["height"], block["app_hash"]]), db=self._meta)

    def write_history(self, txn: lmdb.Transaction, block_bytes: bytes, tx_bytes: list[bytes]) -> None:
        """Stage, into `txn`, the block just below this store's history as its members
        recorded it (the stored bytes of the block record and of each transaction record),
        with its indexes, and move the history's start down to it: a node restored from a
        snapshot filling in the blocks before it, newest first (baychain.network.backfill,
        which verifies them first)."""
        block = encoding.decode(block_bytes)
        if block["height"] != self.history_from(txn) - 1:
            raise ValueError(f"history starts at height {self.history_from(txn)}: block {block['height']} does not extend it")
        txs = [TxRecord.from_value(encoding.decode(raw)) for raw in tx_bytes]
        self._put(txn, block, block_bytes, txs, tx_bytes, append=False)
        txn.put(b"history", _H.pack(block["height"]), db=self._meta)

    def _put(self, txn: lmdb.Transaction, block: dict[str, Any], block_bytes: bytes, txs: list[TxRecord],
             tx_bytes: Iterable[bytes], *, append: bool) -> None:
        height = block["height"]
        hkey = _H.pack(height)
        txn.put(hkey, block_bytes, db=self._blocks)
        txn.put(block["hash"], hkey, db=self._hashes)
        positions = [_HI.pack(height, rec.index) for rec in txs]
        position_of = dict(zip([rec.hash for rec in txs], positions))
        signers = [rec.sender.encode() + pos for rec, pos in zip(txs, positions)]
        events: list[bytes] = []
        add = events.append
        for rec, pos in zip(txs, positions):
            tail = b"\0" + pos
            for ev in rec.events:
                add(ev.type.encode() + tail)
                prefix = ev.type + "."
                for key, value in ev.attributes:
                    if len(value) <= MAX_INDEXED_VALUE and "\0" not in value:
                        add((prefix + key + "=" + value).encode() + tail)
        # Keys only, sorted (neighbouring inserts share B-tree pages), paired lazily by
        # zip: no tuple per entry for the garbage collector to count and scan.
        tx_hashes = sorted(position_of)
        signers.sort()
        events.sort()
        for db, items, in_order in ((self._txs, zip(positions, tx_bytes), append),
                                    (self._txhash, zip(tx_hashes, map(position_of.__getitem__, tx_hashes)), False),
                                    (self._signers, zip(signers, repeat(b"")), False),
                                    (self._events, zip(events, repeat(b"")), False)):
            with txn.cursor(db=db) as cursor:
                cursor.putmulti(items, append=in_order)

    def history_from(self, txn: lmdb.Transaction | None = None) -> int:
        """The lowest height whose block this store holds (1, or for a node restored from
        a snapshot of height H, H + 1 until blocks before it are filled in). Read from the
        environment each time: another process may be filling in the history."""
        if txn is None:
            with self.env.begin() as own:
                return self.history_from(own)
        filled = txn.get(b"history", db=self._meta)
        if filled is not None:
            return _H.unpack(filled)[0]
        return self.base[0] + 1 if self.base else 1

    def history(self, height: int) -> tuple[bytes, list[bytes]] | None:
        """The stored bytes of block `height`'s record and of its transactions' records, as
        another node's backfill fetches them (None if this store does not hold the block)."""
        with self.env.begin() as txn:
            block_bytes = txn.get(_H.pack(height), db=self._blocks)
            if block_bytes is None:
                return None
            cursor = txn.cursor(db=self._txs)
            tx_bytes: list[bytes] = []
            if cursor.set_range(_H.pack(height)):
                for key, value in cursor:
                    if key[:8] != _H.pack(height):
                        break
                    tx_bytes.append(value)
        return block_bytes, tx_bytes

    def restored(self, txn: lmdb.Transaction, height: int, app_hash: bytes, time_ns: int) -> None:
        """Record, inside the caller's transaction, that history starts after `height`, whose
        state a snapshot restored; open a new BlockStore after the commit."""
        if self.last_height:
            raise ValueError(f"a block store at height {self.last_height} cannot take a snapshot")
        txn.put(b"base", encoding.encode([height, time_ns]), db=self._meta)
        txn.put(b"last", encoding.encode([height, app_hash]), db=self._meta)

    def erase(self, txn: lmdb.Transaction) -> None:
        """Empty every table inside the caller's write transaction; open a new BlockStore after the commit."""
        for db in (self._blocks, self._hashes, self._txs, self._txhash, self._events, self._signers, self._meta):
            txn.drop(db, delete=False)

    def committed(self, height: int, app_hash: bytes) -> None:
        """Called after the caller's transaction committed."""
        self.last_height, self.last_app_hash = height, app_hash

    # -- reading -------------------------------------------------------------------

    def block(self, height: int) -> dict[str, Any] | None:
        with self.env.begin() as txn:
            raw = txn.get(_H.pack(height), db=self._blocks)
        return encoding.decode(raw) if raw else None

    def block_by_hash(self, block_hash: bytes) -> dict[str, Any] | None:
        with self.env.begin() as txn:
            hkey = txn.get(block_hash, db=self._hashes)
            raw = txn.get(hkey, db=self._blocks) if hkey else None
        return encoding.decode(raw) if raw else None

    def tx(self, tx_hash: bytes) -> TxRecord | None:
        with self.env.begin() as txn:
            pos = txn.get(tx_hash, db=self._txhash)
            raw = txn.get(pos, db=self._txs) if pos else None
        return TxRecord.from_value(encoding.decode(raw)) if raw else None

    def txs_by_signer(self, address: str, *, limit: int = 100, from_height: int = 0) -> list[TxRecord]:
        return self._scan_index(self._signers, address.encode(), limit, from_height)

    def txs_by_event(
        self, event_type: str, attr: str | None = None, value: str | None = None, *, limit: int = 100, from_height: int = 0
    ) -> list[TxRecord]:
        """Transactions that emitted an event of `event_type` (with attr=value if given)."""
        if attr is None:
            prefix = event_type.encode() + b"\0"
        else:
            prefix = f"{event_type}.{attr}={value}".encode() + b"\0"
        return self._scan_index(self._events, prefix, limit, from_height)

    def _scan_index(self, db: Any, prefix: bytes, limit: int, from_height: int) -> list[TxRecord]:
        """Records whose index key is prefix || position, in chain order."""
        out: list[TxRecord] = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=db)
            if not cur.set_range(prefix + _H.pack(from_height)):
                return out
            for key in cur.iternext(values=False):
                if len(out) >= limit or not key.startswith(prefix) or len(key) != len(prefix) + _HI.size:
                    break
                raw = txn.get(key[len(prefix):], db=self._txs)
                if raw is not None:
                    out.append(TxRecord.from_value(encoding.decode(raw)))
        return out
