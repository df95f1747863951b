"""The authenticated, versioned key-value store whose root is the app hash.

Version N is the state after block N (version 0 is the empty state). Its root is the
root hash of the 16-ary Merkle radix trie described in baychain.state.proofs; that
module is the specification of every hash, this one is the storage.

On disk (named databases in the caller's LMDB environment, all starting ``state.``)::

    state.meta    b"format"                      -> b"1"
    state.roots   version (8 BE)                 -> root reference (below)
    state.nodes   version (8 BE) || nibble path  -> internal node
    state.leaves  version (8 BE) || leaf hash    -> leaf
    state.stale   since (8 BE) || tag || key     -> b""   (tag b"N": state.nodes, b"L": state.leaves)
    state.latest  key                            -> latest committed value (flat table)

* A *reference* to a node (a root, or a child inside an internal node) is the version
  that wrote the node plus the node's hash; whether it is a leaf is known from the
  parent's leaf bitmap (or the root record's kind byte). Root record:
  ``b"\\x00"`` (empty), ``b"\\x01" || version || hash`` (leaf), ``b"\\x02" || version || hash``
  (internal).
* An *internal node* lives at ``version || nibble path`` (one byte per nibble, 0..15):
  ``bitmap (2 BE) || leaf bitmap (2 BE) || child versions (8 each) || child hashes (32
  each)``, children in nibble order. Its hash is SHA-256(0x01 || bitmap || child
  hashes), a contiguous slice of the stored bytes.
* A *leaf* lives at ``version || leaf hash``: ``key length (2 BE) || key || value``.
  Because a leaf is keyed by its hash and not by its position, a leaf that moves up
  or down when neighbours come and go is never rewritten.
* Nothing is ever overwritten: a block writes new nodes under its own version, and
  records each node it supersedes in ``state.stale`` under the block's version. A
  node stale since version S is needed only by versions below S, so once every
  version below S is pruned, the node is deleted.

A block's changes are applied as one batch: the changed keys are sorted by key path
and the trie is rewritten top-down in a single pass, so each touched node is read,
rebuilt and hashed exactly once per block; cost is O(changed keys x depth).
That pass, and the per-key work before it (checks, old values, hashes, records), is
native code (``baychain_native.trie_stage``, native/src/trie.rs); LMDB stays here: it
calls back into this module only on cache misses (a node, a leaf, a flat value). It
returns every record already in key order, so write() appends them in batches
(putmulti) without sorting.

In memory, bounded, and filled only from committed state (a discarded or failed
block leaves nothing behind): internal nodes, decoded, by node key (``cache_nodes``);
and per recently changed key its latest value and key path (``cache_keys``), which
spare a flat-table read and a SHA-256 when the key changes again. Leaves are not
cached (a block reads a leaf only when a new key must push it one level down).

Keys are 1..511 bytes (LMDB's key size limit, fixed here so that every node accepts
and rejects the same keys); values are any byte strings, including empty ones.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from operator import eq as _eq
from operator import itemgetter
from operator import not_ as _not

import baychain_native
import lmdb

from baychain.errors import BaychainError, Code
from baychain.state.proofs import EMPTY_ROOT, OtherLeaf, Proof, ProofStep

if not hasattr(baychain_native, "trie_stage"):  # installed from older sources than native/src
    raise ImportError("baychain's native module predates native/src/trie.rs: run `make install` to rebuild it")

MAX_KEY_BYTES = 511
FORMAT = b"1"

_sha256 = hashlib.sha256
_HEX_TO_NIBBLES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))

_TAG_NODE = b"N"  # state.stale tags (the native staging writes them; pruning reads them)
_ROOT_EMPTY = b"\x00"
_ROOT_LEAF = b"\x01"
_ROOT_INTERNAL = b"\x02"

# A reference to a node: (is_leaf, version (8 bytes), hash (32 bytes)); None = empty slot.
Ref = tuple[bool, bytes, bytes]
_TAG_AT = itemgetter(8)  # of a state.stale key: since (8) || tag || node key
_AFTER_TAG = itemgetter(slice(9, None))


def _nibbles(path: bytes) -> bytes:
    """A 32-byte key path as 64 bytes, one nibble (0..15) each."""
    return path.hex().encode().translate(_HEX_TO_NIBBLES)


def _ver8(version: int) -> bytes:
    return version.to_bytes(8, "big")


def _encode_root(ref: Ref | None) -> bytes:
    if ref is None:
        return _ROOT_EMPTY
    return (_ROOT_LEAF if ref[0] else _ROOT_INTERNAL) + ref[1] + ref[2]


def _decode_root(record: bytes) -> Ref | None:
    if record == _ROOT_EMPTY:
        return None
    return (record[:1] == _ROOT_LEAF, record[1:9], record[9:41])


def _split_leaf(entry: bytes) -> tuple[bytes, bytes]:
    """A stored leaf as (key, value)."""
    key_len = int.from_bytes(entry[:2], "big")
    return entry[2 : 2 + key_len], entry[2 + key_len :]


@dataclass
class _Staged:
    """One block's changes, computed by stage() (natively) and persisted by write().

    Records are in the order they are appended; the cache fields are for committed().
    """

    version: int
    root_ref: Ref | None
    values_missed: int = 0  # how many keys the value cache's young generation did not hold
    new_paths: tuple[Sequence[bytes], Sequence[bytes]] | None = None  # for the path cache: keys, key paths
    changed_keys: Sequence[bytes] = ()  # for the value cache: the keys changed, ...
    changed_values: Sequence[bytes | None] = ()  # ... and their new values (None: deleted)
    flat_keys: Sequence[bytes] = ()  # flat table: keys written, ...
    flat_values: Sequence[bytes] = ()  # ... their values, aligned
    flat_deletes: Sequence[bytes] = ()
    leaf_keys: Sequence[bytes] = ()  # new leaves (sorted), ...
    leaf_records: Sequence[bytes] = ()  # ... and their stored bytes, aligned
    node_keys: Sequence[bytes] = ()  # new internal nodes (sorted), ...
    node_raws: Sequence[bytes] = ()  # ... and their stored bytes, aligned
    stale_keys: Sequence[bytes] = ()  # state.stale entries (sorted): the nodes and leaves replaced
    restoring: bool = False  # part of a snapshot's restore: records may sort before existing ones
    written: bool = False


class _Cache:
    """Bounded cache (internal nodes by node key; latest values or key paths by key).

    Two generations of dicts: lookups of nodes promote into the young one; when it
    fills up, the old generation is dropped whole. Approximately LRU, O(1), no
    per-entry bookkeeping, and never more than `capacity` entries.
    """

    def __init__(self, capacity: int) -> None:
        self.half = max(1, capacity // 2)
        self.enabled = capacity > 0
        self.young: dict = {}
        self.old: dict = {}

    def put(self, key: bytes, value: object) -> None:
        if not self.enabled:
            return
        young = self.young
        young[key] = value
        if len(young) >= self.half:
            self.old = young
            self.young = {}

    def put_many(self, items: Iterable[tuple[bytes, object]], count: int, added: int) -> None:
        """put() each of `count` (key, value) pairs; same bound, one C-level update when they fit.

        added: at least the number of those keys that are not in the young generation.
        """
        if not self.enabled or not count:
            return
        if count >= self.half:
            for key, value in items:
                self.put(key, value)
            return
        if len(self.young) + added >= self.half:
            self.old = self.young
            self.young = {}
        self.young.update(items)

    def __len__(self) -> int:
        return len(self.young) + len(self.old)


class StateStore:
    """Versioned Merkle key-value store kept in named databases of an LMDB environment.

    One block's life: stage(changes, N) -> write(txn) inside the caller's write
    transaction -> caller commits -> committed(). If anything fails before the
    commit, discard() (or simply stage again).
    """

    def __init__(
        self, env: lmdb.Environment, *, keep_versions: int = 1000, cache_nodes: int = 200_000, cache_keys: int = 100_000
    ) -> None:
        """Opens its own named DBs in env (names start with b'state.'; env is opened by the caller with max_dbs>=32).

        cache_nodes bounds the internal nodes kept in memory; cache_keys bounds the
        recently changed keys whose latest value and key path are kept in memory
        (saving a flat-table read and a SHA-256 when they change again).
        """
        if type(keep_versions) is not int or keep_versions < 0:
            raise ValueError("keep_versions must be a non-negative integer")
        if type(cache_nodes) is not int or cache_nodes < 0:
            raise ValueError("cache_nodes must be a non-negative integer")
        if type(cache_keys) is not int or cache_keys < 0:
            raise ValueError("cache_keys must be a non-negative integer")
        if env.max_key_size() < MAX_KEY_BYTES:
            raise BaychainError(Code.INTERNAL, f"LMDB build supports keys up to {env.max_key_size()} bytes only")
        self._env = env
        self.keep_versions = keep_versions
        self._meta = env.open_db(b"state.meta")
        self._roots = env.open_db(b"state.roots")
        self._nodes = env.open_db(b"state.nodes")
        self._leaves = env.open_db(b"state.leaves")
        self._stale = env.open_db(b"state.stale")
        self._flat = env.open_db(b"state.latest")
        with env.begin(write=True) as txn:
            found = txn.get(b"format", db=self._meta)
            if found is None:
                txn.put(b"format", FORMAT, db=self._meta)
                txn.put(_ver8(0), _ROOT_EMPTY, db=self._roots)
            elif found != FORMAT:
                raise BaychainError(Code.INTERNAL, f"state store format {found!r} is not {FORMAT!r}")
        with env.begin(db=self._roots) as txn:
            cursor = txn.cursor()
            if not cursor.last():
                raise BaychainError(Code.INTERNAL, "state store has no committed root")
            self._version = int.from_bytes(cursor.key(), "big")
            self._root_ref = _decode_root(cursor.value())
        self._cache = _Cache(cache_nodes)
        # Per recently changed key: its latest committed value (None: absent; kept in step
        # by committed(), the only thing that changes state.latest), and its key path.
        self._values = _Cache(cache_keys)
        self._paths = _Cache(cache_keys)
        self._staged: _Staged | None = None
        self._restoring: int | None = None  # the version a restore in progress writes in parts

    # -- reading -------------------------------------------------------------------
    @property
    def version(self) -> int:
        """last committed version (0 for a new store)"""
        return self._version

    def root(self, version: int | None = None) -> bytes:
        """root hash of a committed version (latest by default); raises HEIGHT_UNAVAILABLE if pruned or unknown"""
        if version is None:
            ref = self._root_ref
        else:
            with self._env.begin() as txn:
                ref = self._root_at(txn, version)
        return EMPTY_ROOT if ref is None else ref[2]

    def get(self, key: bytes, version: int | None = None) -> bytes | None:
        """latest committed value (fast flat-table read) or value at a past version"""
        if type(key) is not bytes:
            raise BaychainError(Code.BAD_ARGUMENTS, "state keys are bytes")
        if version is None:
            if not 0 < len(key) <= MAX_KEY_BYTES:
                return None
            with self._env.begin(db=self._flat) as txn:
                return txn.get(key)
        with self._env.begin() as txn:
            ref = self._root_at(txn, version)
            npath = _nibbles(_sha256(key).digest())
            depth = 0
            while ref is not None:
                is_leaf, node_version, node_hash = ref
                if is_leaf:
                    stored_key, value = _split_leaf(self._load_leaf(txn, node_version + node_hash))
                    return value if stored_key == key else None
                ref = _child(self._load_node(txn, node_version + npath[:depth]), npath[depth])
                depth += 1
            return None

    @contextmanager
    def latest_reader(self, overlay: Mapping[bytes, bytes | None] | None = None) -> Iterator[Callable[[bytes], bytes | None]]:
        """`get(key)` for latest committed values, all served by one read snapshot; with
        `overlay` (pending writes, None for a deletion), its entries first. One function
        either way: a block's execution reads through it several times per transaction."""
        with self._env.begin(db=self._flat) as txn:
            txn_get = txn.get

            if overlay is None:
                def get(key: bytes) -> bytes | None:
                    if type(key) is not bytes:
                        raise BaychainError(Code.BAD_ARGUMENTS, "state keys are bytes")
                    if not 0 < len(key) <= MAX_KEY_BYTES:
                        return None
                    return txn_get(key)
            else:
                def get(key: bytes) -> bytes | None:
                    if key in overlay:
                        return overlay[key]
                    if type(key) is not bytes:
                        raise BaychainError(Code.BAD_ARGUMENTS, "state keys are bytes")
                    if not 0 < len(key) <= MAX_KEY_BYTES:
                        return None
                    return txn_get(key)

            yield get

    def latest_items(self) -> "LatestItems":
        """Every (key, value) of the latest committed version in key order, from a read
        snapshot opened now: it may be read later, from another thread, while newer
        versions are committed (an LMDB reader keeps seeing the version it began at)."""
        return LatestItems(self._env.begin(db=self._flat))

    def scan(self, prefix: bytes, *, start_after: bytes | None = None, limit: int = 100) -> list[tuple[bytes, bytes]]:
        """latest committed entries whose key starts with prefix, in key byte order"""
        if type(prefix) is not bytes or (start_after is not None and type(start_after) is not bytes):
            raise BaychainError(Code.BAD_ARGUMENTS, "scan prefix and start_after are bytes")
        if limit <= 0 or len(prefix) > MAX_KEY_BYTES:
            return []
        start = prefix
        if start_after is not None and start_after > start:
            start = start_after[:MAX_KEY_BYTES]
        out: list[tuple[bytes, bytes]] = []
        with self._env.begin(db=self._flat) as txn:
            cursor = txn.cursor()
            positioned = cursor.set_range(start) if start else cursor.first()
            if not positioned:
                return out
            for key, value in cursor:
                if not key.startswith(prefix):
                    break
                if start_after is not None and key <= start_after:
                    continue
                out.append((key, value))
                if len(out) >= limit:
                    break
        return out

    def prove(self, key: bytes, version: int | None = None) -> Proof:
        """inclusion proof (key present) or absence proof for key at a committed version"""
        if type(key) is not bytes:
            raise BaychainError(Code.BAD_ARGUMENTS, "state keys are bytes")
        if version is None:
            version = self._version
        with self._env.begin() as txn:
            ref = self._root_at(txn, version)
            path = _sha256(key).digest()
            npath = _nibbles(path)
            steps: list[ProofStep] = []
            depth = 0
            while ref is not None:
                is_leaf, node_version, node_hash = ref
                if is_leaf:
                    stored_key, value = _split_leaf(self._load_leaf(txn, node_version + node_hash))
                    if stored_key == key:
                        return Proof(key, value, steps)
                    other = OtherLeaf(_sha256(stored_key).digest(), _sha256(value).digest())
                    return Proof(key, None, steps, other)
                node = self._load_node(txn, node_version + npath[:depth])
                bitmap = (node[0] << 8) | node[1]
                hashes = node[4 + 8 * bitmap.bit_count() :]
                siblings = [hashes[i : i + 32] for i in range(0, len(hashes), 32)]
                nib = npath[depth]
                if bitmap >> nib & 1:
                    del siblings[(bitmap & ((1 << nib) - 1)).bit_count()]
                steps.append(ProofStep(bitmap, tuple(siblings)))
                ref = _child(node, nib)
                depth += 1
            return Proof(key, None, steps)

    # -- one block: stage -> write -> committed ------------------------------------
    def stage(self, changes: dict[bytes, bytes | None], version: int, *, restoring: bool = False) -> bytes:
        """Compute the root of `version` (must be self.version + 1) = committed state + changes.

        None deletes; deleting a missing key is a no-op. Nothing is persisted.
        Returns the new root. Calling stage again replaces the previous staged batch
        (a block may be re-executed). `restoring` stages part of a snapshot's state as
        version H >= 1: the first part into an empty store, each next one (written and
        committed in turn) onto the version H the previous parts made, until the state
        is whole (state sync; the versions below H never exist here).
        """
        self._staged = None
        continuing = False
        if restoring:
            continuing = self._restoring == version and self._version == version
            empty = self._version == 0 and self._root_ref is None
            if not (continuing or empty) or type(version) is not int or version < 1:
                raise BaychainError(Code.INTERNAL, f"cannot restore version {version!r} into a store at version {self._version}")
        elif type(version) is not int or version != self._version + 1:
            raise BaychainError(Code.INTERNAL, f"cannot stage version {version!r}: the next version is {self._version + 1}")
        cache = self._cache
        with self._env.begin(db=self._flat) as txn:
            nodes_db = self._nodes
            txn_get = txn.get

            def load_node(node_key: bytes) -> bytes:
                raw = txn_get(node_key, db=nodes_db)
                if raw is None:
                    raise BaychainError(Code.INTERNAL, f"state node {node_key.hex()} is missing")
                return raw

            staged = baychain_native.trie_stage(
                changes,
                _ver8(version),
                self._root_ref,
                (self._values.young, self._values.old, txn_get),
                (self._paths.young, self._paths.old),
                (cache.young, cache.old, load_node, partial(self._load_leaf, txn)),
            )
        if staged is None:
            _raise_first_invalid(changes)
        self._staged = _Staged(version, *staged, restoring=restoring)
        if continuing:
            # A node the previous part wrote under this same version is rewritten in place
            # (same version, same path: same key), not superseded: it must not be pruned.
            this = _ver8(version)
            self._staged.stale_keys = [k for k in self._staged.stale_keys if k[8:9] != b"N" or k[9:17] != this]
        return EMPTY_ROOT if self._staged.root_ref is None else self._staged.root_ref[2]

    def write(self, txn: lmdb.Transaction) -> None:
        """Persist the staged version inside the CALLER's write transaction.

        Also prunes versions older than version - keep_versions.
        """
        staged = self._staged
        if staged is None:
            raise BaychainError(Code.INTERNAL, "nothing staged to write")
        put = _put_sorted if staged.restoring else _append_sorted  # a restore's parts share one version
        put(txn, self._nodes, zip(staged.node_keys, staged.node_raws), len(staged.node_keys))
        put(txn, self._leaves, zip(staged.leaf_keys, staged.leaf_records), len(staged.leaf_keys))
        put(txn, self._stale, zip(staged.stale_keys, repeat(b"")), len(staged.stale_keys))
        flat_db = self._flat
        if staged.flat_keys:
            with txn.cursor(db=flat_db) as cursor:
                cursor.putmulti(zip(staged.flat_keys, staged.flat_values))
        for key in staged.flat_deletes:
            txn.delete(key, db=flat_db)
        if staged.restoring:
            txn.put(_ver8(staged.version), _encode_root(staged.root_ref), db=self._roots)
        elif not txn.put(_ver8(staged.version), _encode_root(staged.root_ref), db=self._roots, append=True):
            raise BaychainError(Code.INTERNAL, f"state version {staged.version} already exists")
        self._prune(txn, staged.version - self.keep_versions)
        staged.written = True

    def committed(self) -> None:
        """Called after the caller's txn committed: the staged version becomes the committed one."""
        staged = self._staged
        if staged is None or not staged.written:
            raise BaychainError(Code.INTERNAL, "committed() without a written staged version")
        self._version = staged.version
        self._root_ref = staged.root_ref
        self._restoring = staged.version if staged.restoring else None
        keys = staged.node_keys
        self._cache.put_many(zip(keys, staged.node_raws), len(keys), len(keys))  # all new keys
        if staged.restoring:  # a restore's keys are not hot: the key caches stay for the blocks
            self._staged = None
            return
        keys = staged.changed_keys
        self._values.put_many(zip(keys, staged.changed_values), len(keys), staged.values_missed)
        if staged.new_paths:
            keys, paths = staged.new_paths
            self._paths.put_many(zip(keys, paths), len(keys), len(keys))
        self._staged = None

    def discard(self) -> None:
        """Drop a staged batch (e.g. the txn failed)."""
        self._staged = None

    def erase(self, txn: lmdb.Transaction) -> None:
        """Empty every table inside the caller's write transaction; open a new StateStore
        after the commit (this one's version and caches are stale)."""
        for db in (self._meta, self._roots, self._nodes, self._leaves, self._stale, self._flat):
            txn.drop(db, delete=False)

    # -- internals -----------------------------------------------------------------
    def _root_at(self, txn: lmdb.Transaction, version: int) -> Ref | None:
        if type(version) is not int or version < 0 or version > self._version:
            raise BaychainError(Code.HEIGHT_UNAVAILABLE, f"state version {version!r} is not committed")
        record = txn.get(_ver8(version), db=self._roots)
        if record is None:
            raise BaychainError(Code.HEIGHT_UNAVAILABLE, f"state version {version} has been pruned")
        return _decode_root(record)

    def _load_node(self, txn: lmdb.Transaction, node_key: bytes) -> bytes:
        cache = self._cache
        node = cache.young.get(node_key)
        if node is None:
            node = cache.old.get(node_key)
            if node is None:
                raw = txn.get(node_key, db=self._nodes)
                if raw is None:
                    raise BaychainError(Code.INTERNAL, f"state node {node_key.hex()} is missing")
                node = raw
            cache.put(node_key, node)
        return node

    def _load_leaf(self, txn: lmdb.Transaction, leaf_key: bytes) -> bytes:
        entry = txn.get(leaf_key, db=self._leaves)
        if entry is None:
            raise BaychainError(Code.INTERNAL, f"state leaf {leaf_key.hex()} is missing")
        return entry

    def _prune(self, txn: lmdb.Transaction, first_kept: int) -> None:
        """Delete versions below `first_kept` and every node only they needed."""
        if first_kept <= 0:
            return
        first8 = _ver8(first_kept)
        cursor = txn.cursor(db=self._roots)
        while cursor.first() and cursor.key() < first8:
            cursor.delete()
        # A node stale since S serves versions < S only: delete it once S <= first_kept.
        limit = _ver8(first_kept + 1)
        cursor = txn.cursor(db=self._stale)
        if not cursor.first():
            return
        keys = []
        add = keys.append
        for key in cursor.iternext(keys=True, values=False):
            if key >= limit:
                break
            add(key)
        if not keys:
            return
        # Keys are since (8) || tag (1) || node key; every tag is N or L.
        is_node = list(map(_eq, map(_TAG_AT, keys), repeat(_TAG_NODE[0])))
        node_keys = map(_AFTER_TAG, compress(keys, is_node))
        leaf_keys = map(_AFTER_TAG, compress(keys, map(_not, is_node)))
        delete = txn.delete
        deque(map(delete, node_keys, repeat(b""), repeat(self._nodes)), 0)
        deque(map(delete, leaf_keys, repeat(b""), repeat(self._leaves)), 0)
        # The entries themselves are the first len(keys) of state.stale.
        cursor.first()
        cursor_delete = cursor.delete
        for _ in repeat(None, len(keys)):
            cursor_delete()


class LatestItems:
    """`StateStore.latest_items`: iterate once, then `close()` (ends the read snapshot)."""

    def __init__(self, txn: lmdb.Transaction) -> None:
        self._txn: lmdb.Transaction | None = txn

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        if self._txn is None:
            raise BaychainError(Code.INTERNAL, "the state snapshot was closed")
        return self._txn.cursor().iternext()

    def close(self) -> None:
        if self._txn is not None:
            self._txn.abort()
            self._txn = None


def _child(raw: bytes, nib: int) -> Ref | None:
    """The reference an internal node holds at nibble `nib`, or None."""
    bitmap = (raw[0] << 8) | raw[1]
    bit = 1 << nib
    if not bitmap & bit:
        return None
    count = bitmap.bit_count()
    pos = (bitmap & (bit - 1)).bit_count()
    leafmap = (raw[2] << 8) | raw[3]
    hashes = 4 + 8 * count
    return (bool(leafmap & bit), raw[4 + 8 * pos : 12 + 8 * pos], raw[hashes + 32 * pos : hashes + 32 * pos + 32])


def _append_sorted(txn: lmdb.Transaction, db: lmdb._Database, items: Iterable[tuple[bytes, bytes]], count: int) -> None:
    """Write `count` records, in key order, whose keys all sort after every existing key (they start with the new version)."""
    if not count:
        return
    with txn.cursor(db=db) as cursor:
        consumed, added = cursor.putmulti(items, append=True)
    if added != count:
        raise BaychainError(Code.INTERNAL, "state records out of order: a newer version already exists on disk")


def _put_sorted(txn: lmdb.Transaction, db: lmdb._Database, items: Iterable[tuple[bytes, bytes]], count: int) -> None:
    """Write `count` records in key order, replacing any with the same key (a restore's parts)."""
    if count:
        with txn.cursor(db=db) as cursor:
            cursor.putmulti(items)


def _raise_first_invalid(changes: dict) -> None:
    """Raise the error for the first malformed change, in the changes' order."""
    for key, value in changes.items():
        if type(key) is not bytes:
            raise BaychainError(Code.BAD_ARGUMENTS, "state keys are bytes")
        if not 0 < len(key) <= MAX_KEY_BYTES:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"state keys are 1..{MAX_KEY_BYTES} bytes, got {len(key)}")
        if value is not None and type(value) is not bytes:
            raise BaychainError(Code.BAD_ARGUMENTS, "state values are bytes (or None to delete)")
