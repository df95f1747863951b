"""State-sync snapshots: the whole state at one height, in chunks a new node fetches from
its peers instead of replaying the chain from height 1.

Format 1. The snapshot of height H is state version H: every (key, value) of the state,
in key order, cut into chunks of about `CHUNK_BYTES`, each the canonical CBOR array of
`[key, value]` pairs. Its metadata is the canonical CBOR map
`{"chunks": [SHA-256 of each chunk], "time_ns": block H's time}`, and its hash the
SHA-256 of the metadata. Every node cuts the same state the same way, so the members'
snapshots of one height are identical and a new node can fetch each chunk from any of
them.

What a restoring node trusts: CometBFT's light client hands the offer the app hash of
height H (from the header of H+1, signed by more than 2/3 of the validators). The
metadata comes from a peer: each chunk is checked against its hash there as it arrives
(a chunk that does not match is fetched again, from another peer), and the state the
chunks make up is kept only if its Merkle root is that app hash. The restoring node
writes the state in parts as the chunks arrive (`Restore.take_batch`), so it never
holds the whole state in memory. The block time in the
metadata is not covered by the app hash; the node uses it only until its first block
(admission's expiry checks and read-only views), never in a block's execution.

On disk, one directory per snapshot under the node's data directory:
`snapshots/<height>/metadata` and `snapshots/<height>/<index>`, written into a hidden
temporary directory and renamed into place, so a listed snapshot is always complete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from baychain import encoding
from baychain.app.types import Snapshot
from baychain.errors import BaychainError, Code
from baychain.state.store import MAX_KEY_BYTES

FORMAT = 1
CHUNK_BYTES = 4 << 20
"""A chunk closes once its pairs pass this size (CometBFT's p2p limit for one chunk is 16 MB)."""
RESTORE_BATCH_BYTES = 64 << 20
"""A restoring node stages and writes the pairs of its chunks in parts of about this size."""


class SnapshotError(BaychainError):
    """A snapshot (its metadata or a chunk whose hash matched) that cannot be restored."""

    def __init__(self, message: str) -> None:
        super().__init__(Code.BAD_REQUEST, message)


@dataclass(frozen=True, slots=True)
class Metadata:
    chunk_hashes: list[bytes]
    time_ns: int

    def encode(self) -> bytes:
        return encoding.encode({"chunks": self.chunk_hashes, "time_ns": self.time_ns})

    @classmethod
    def decode(cls, raw: bytes) -> "Metadata":
        try:
            value = encoding.decode(raw, Code.BAD_REQUEST)
        except BaychainError as exc:
            raise SnapshotError(f"snapshot metadata is not canonical CBOR: {exc.message}") from None
        if type(value) is not dict or set(value) != {"chunks", "time_ns"}:
            raise SnapshotError("snapshot metadata must be a map of chunks and time_ns")
        hashes, time_ns = value["chunks"], value["time_ns"]
        if type(hashes) is not list or not hashes or any(type(h) is not bytes or len(h) != 32 for h in hashes):
            raise SnapshotError("snapshot metadata must list one 32-byte SHA-256 per chunk, at least one")
        if type(time_ns) is not int or time_ns < 0:
            raise SnapshotError("snapshot metadata's time_ns must be a non-negative integer")
        return cls(hashes, time_ns)


def chunk_pairs(chunk: bytes) -> list[list[bytes]]:
    """The [key, value] pairs of one chunk, checked for shape (keys in order is the caller's part)."""
    try:
        pairs = encoding.decode(chunk, Code.BAD_REQUEST)
    except BaychainError as exc:
        raise SnapshotError(f"snapshot chunk is not canonical CBOR: {exc.message}") from None
    if type(pairs) is not list:
        raise SnapshotError("a snapshot chunk must be an array of [key, value] pairs")
    for pair in pairs:
        if (type(pair) is not list or len(pair) != 2 or type(pair[0]) is not bytes or type(pair[1]) is not bytes
                or not 0 < len(pair[0]) <= MAX_KEY_BYTES):
            raise SnapshotError("a snapshot chunk must hold [key, value] byte-string pairs with keys of 1..511 bytes")
    return pairs


LEASE_SECONDS = 180.0
"""A snapshot offered to a peer (listed, or a chunk of it served) within this many seconds
is not pruned yet, even when newer ones push it out of the `keep` newest."""


class SnapshotStore:
    """The snapshots this node serves to others: made after commits, the newest `keep` kept.

    A joining node lists the members' snapshots, spends CometBFT's discovery time (15 s)
    choosing one, then fetches it chunk by chunk; CometBFT v0.38 asks again and again for
    a chunk that every member has pruned meanwhile, and never moves on. So a snapshot
    offered within `lease` seconds (on this node's own clock: pruning is local, never part
    of consensus) outlives its turn until the lease runs out."""

    def __init__(self, directory: Path, *, keep: int = 2, chunk_bytes: int = CHUNK_BYTES,
                 lease: float = LEASE_SECONDS) -> None:
        if type(keep) is not int or keep < 1:
            raise ValueError("a node keeps at least one snapshot")
        self.directory = directory
        self.keep = keep
        self.chunk_bytes = chunk_bytes
        self.lease = lease
        self._offered: dict[int, float] = {}  # height -> when it was last listed or served (monotonic)
        if directory.exists():  # a snapshot cut short by a crash or a shutdown
            for leftover in directory.glob(".*.tmp"):
                shutil.rmtree(leftover, ignore_errors=True)

    def heights(self) -> list[int]:
        """Heights of the complete snapshots, oldest first."""
        if not self.directory.exists():
            return []
        return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit() and (p / "metadata").exists())

    def list(self) -> list[Snapshot]:
        out = []
        now = time.monotonic()
        for height in self.heights():
            self._offered[height] = now
            try:
                raw = (self.directory / str(height) / "metadata").read_bytes()
                out.append(Snapshot(height, FORMAT, len(Metadata.decode(raw).chunk_hashes), _sha256(raw), raw))
            except (OSError, SnapshotError):
                continue  # pruned meanwhile, or damaged on disk: not offered
        return out

    def chunk(self, height: int, format_: int, index: int) -> bytes:
        """A chunk's bytes, or b"" for a snapshot or chunk this node does not have."""
        if format_ != FORMAT or type(index) is not int or index < 0:
            return b""
        try:
            chunk = (self.directory / str(height) / str(index)).read_bytes()
        except (OSError, ValueError):
            return b""
        self._offered[height] = time.monotonic()
        return chunk

    def create(self, height: int, time_ns: int, items: Iterable[tuple[bytes, bytes]],
               stop: Callable[[], bool] = lambda: False) -> Snapshot | None:
        """Write the snapshot of `height` from the state's (key, value) pairs in key order;
        None if `stop()` turned true first (nothing is left behind)."""
        final = self.directory / str(height)
        if final.exists():
            return next((s for s in self.list() if s.height == height), None)
        tmp = self.directory / f".{height}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            hashes: list[bytes] = []
            pairs: list[list[bytes]] = []
            size = 0
            for key, value in items:
                pairs.append([key, value])
                size += len(key) + len(value) + 8
                if size >= self.chunk_bytes:
                    if stop():
                        shutil.rmtree(tmp, ignore_errors=True)
                        return None
                    hashes.append(_write(tmp / str(len(hashes)), encoding.encode(pairs)))
                    pairs, size = [], 0
            if pairs or not hashes:
                hashes.append(_write(tmp / str(len(hashes)), encoding.encode(pairs)))
            metadata = Metadata(hashes, time_ns).encode()
            _write(tmp / "metadata", metadata)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.prune()
        return Snapshot(height, FORMAT, len(hashes), _sha256(metadata), metadata)

    def prune(self) -> None:
        """Remove all but the newest `keep`, except those offered within the lease."""
        now = time.monotonic()
        for height in self.heights()[: -self.keep]:
            offered = self._offered.get(height)
            if offered is not None and now - offered < self.lease:
                continue  # a peer may be fetching it
            shutil.rmtree(self.directory / str(height), ignore_errors=True)
            self._offered.pop(height, None)


@dataclass
class Restore:
    """One offered snapshot being applied, chunk by chunk, in order."""

    height: int
    app_hash: bytes
    metadata: Metadata
    batch: dict[bytes, bytes] = field(default_factory=dict)
    """The pairs received and not yet taken (`take_batch`) to be written."""
    batch_bytes: int = 0
    applied: int = 0
    last_key: bytes = b""

    @classmethod
    def offered(cls, snapshot: Snapshot, app_hash: bytes) -> "Restore":
        if type(snapshot.height) is not int or snapshot.height < 1:
            raise SnapshotError(f"snapshot height {snapshot.height!r} is not a block height")
        if snapshot.hash != _sha256(snapshot.metadata):
            raise SnapshotError("the snapshot's hash is not the SHA-256 of its metadata")
        metadata = Metadata.decode(snapshot.metadata)
        if len(metadata.chunk_hashes) != snapshot.chunks:
            raise SnapshotError(f"snapshot says {snapshot.chunks} chunks, its metadata lists {len(metadata.chunk_hashes)}")
        if len(app_hash) != 32:
            raise SnapshotError("the trusted app hash must be 32 bytes")
        return cls(snapshot.height, app_hash, metadata)

    @property
    def complete(self) -> bool:
        return self.applied == len(self.metadata.chunk_hashes)

    def matches(self, index: int, chunk: bytes) -> bool:
        """Whether `chunk` is the one the metadata names at `index` (if not, fetch it again)."""
        hashes = self.metadata.chunk_hashes
        return 0 <= index < len(hashes) and _sha256(chunk) == hashes[index]

    def apply(self, index: int, chunk: bytes) -> None:
        """Add a chunk that `matches`; raises SnapshotError if the snapshot itself is bad."""
        if index != self.applied:
            raise SnapshotError(f"snapshot chunk {index} arrived before chunk {self.applied}")
        last = self.last_key
        batch = self.batch
        for key, value in chunk_pairs(chunk):
            if key <= last:
                raise SnapshotError("snapshot keys are not in strictly increasing order")
            batch[key] = value
            last = key
        self.last_key = last
        self.batch_bytes += len(chunk)
        self.applied += 1

    def take_batch(self) -> dict[bytes, bytes]:
        """The pairs received since the last call (keys after every earlier part's)."""
        batch, self.batch, self.batch_bytes = self.batch, {}, 0
        return batch


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _write(path: Path, data: bytes) -> bytes:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return _sha256(data)
