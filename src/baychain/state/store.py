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
Per-key work (checks, old values, hashes, records) runs as C-level loops (map,
compress, sorted); the per-node work splices the changed children into the cached,
already split node. New nodes come out in key order, so they are appended without
sorting; the writes are batched (putmulti).

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
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import eq as _eq
from operator import is_ as _is
from operator import is_not as _is_not
from operator import itemgetter
from operator import ne as _ne
from operator import not_ as _not

import lmdb

from baychain.errors import BaychainError, Code
from baychain.state.proofs import EMPTY_ROOT, OtherLeaf, Proof, ProofStep

MAX_KEY_BYTES = 511
FORMAT = b"1"

_sha256 = hashlib.sha256
_digest = type(_sha256()).digest  # unbound, for map(_digest, map(_sha256, items))
_join = b"".join
_LEAF_PREFIX = b"\x00"
_HEX_TO_NIBBLES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_ONLY_BYTES = {bytes}
_NONE_TYPE = type(None)
_BYTES_OR_NONE = {bytes, _NONE_TYPE}
_MISSING = object()
_UNUSED_SLOT = (None, None)

_NEXT_NIBBLE = [bytes((nib + 1,)) for nib in range(16)]  # sorts after every path continuing with nib
_KEY_LENGTH = [n.to_bytes(2, "big") for n in range(MAX_KEY_BYTES + 1)]
_TAG_NODE = b"N"
_TAG_LEAF = b"L"  # sorts before _TAG_NODE
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
    """One block's changes, computed by stage() and persisted by write()."""

    version: int
    root_ref: Ref | None
    # New internal nodes in key order, flat: node key, stored bytes, node key, ... (no
    # tuples: nothing here for the cyclic GC to track); a pair of Nones is a slot unused.
    nodes: list[bytes | None] = field(default_factory=list)
    node_keys: list[bytes] = field(default_factory=list)  # the nodes without the Nones (set by write), ...
    node_raws: list[bytes] = field(default_factory=list)  # ... and their stored bytes
    leaf_hashes: Sequence[bytes] = ()  # new leaves: hash, ...
    leaf_records: Sequence[bytes] = ()  # ... and stored bytes, aligned
    stale_nodes: list[bytes] = field(default_factory=list)  # node keys of the internal nodes replaced
    stale_leaves: list[bytes] = field(default_factory=list)  # leaf keys of the leaves replaced
    flat_keys: Sequence[bytes] = ()  # flat table: keys written, ...
    flat_values: Sequence[bytes] = ()  # ... their values, aligned
    flat_deletes: Sequence[bytes] = ()
    changed_keys: Sequence[bytes] = ()  # for the value cache: the keys changed, ...
    changed_values: Sequence[bytes | None] = ()  # ... and their new values (None: deleted)
    values_missed: int = 0  # how many keys the value cache's young generation did not hold
    new_paths: tuple[Sequence[bytes], Sequence[bytes]] | None = None  # for the path cache: keys, key paths
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
    def stage(self, changes: dict[bytes, bytes | None], version: int) -> bytes:
        """Compute the root of `version` (must be self.version + 1) = committed state + changes.

        None deletes; deleting a missing key is a no-op. Nothing is persisted.
        Returns the new root. Calling stage again replaces the previous staged batch
        (a block may be re-executed).
        """
        self._staged = None
        if type(version) is not int or version != self._version + 1:
            raise BaychainError(Code.INTERNAL, f"cannot stage version {version!r}: the next version is {self._version + 1}")
        ver8 = _ver8(version)
        staged = _Staged(version, self._root_ref)
        # Per-key work runs in C loops (map, compress, sorted), not in bytecode per key.
        keys: Sequence[bytes] = tuple(changes)
        values: Sequence[bytes | None] = tuple(changes.values())
        value_types = set(map(type, values))
        if keys and (
            set(map(type, keys)) != _ONLY_BYTES
            or not value_types <= _BYTES_OR_NONE
            or min(map(len, keys)) < 1
            or max(map(len, keys)) > MAX_KEY_BYTES
        ):
            _raise_first_invalid(changes)
        values_young = self._values.young
        paths_young = self._paths.young
        with self._env.begin(db=self._flat) as txn:
            # Latest values and key paths: from the caches, else from the flat table / SHA-256.
            olds = list(map(values_young.get, keys, repeat(_MISSING)))
            staged.values_missed = olds.count(_MISSING)
            if staged.values_missed:
                older = self._values.old.get
                olds = [older(key, _MISSING) if old is _MISSING else old for key, old in zip(keys, olds)]
                if _MISSING in olds:
                    flat_get = txn.get
                    olds = [flat_get(key) if old is _MISSING else old for key, old in zip(keys, olds)]
            paths = list(map(paths_young.get, keys))
            if None in paths:
                older = self._paths.old.get
                paths = [path or older(key) for key, path in zip(keys, paths)]
                if None in paths:
                    missing = tuple(compress(keys, map(_is, paths, repeat(None))))
                    staged.new_paths = (missing, tuple(map(_digest, map(_sha256, missing))))
                    computed = iter(staged.new_paths[1])
                    paths = [path or next(computed) for path in paths]
            # Only real changes: writing the value a key has, or deleting a missing
            # key, changes nothing (old == new, None == None).
            changed = tuple(map(_ne, olds, values))
            if not all(changed):
                keys = tuple(compress(keys, changed))
                values = tuple(compress(values, changed))
                olds = compress(olds, changed)
                paths = compress(paths, changed)
            if not keys:
                self._staged = staged
                return EMPTY_ROOT if staged.root_ref is None else staged.root_ref[2]
            existed = tuple(map(_is_not, olds, repeat(None)))
            paths = tuple(paths)
            npaths = tuple(map(bytes.translate, map(str.encode, map(bytes.hex, paths)), repeat(_HEX_TO_NIBBLES)))
            del changed, olds
            staged.changed_keys = keys
            staged.changed_values = values
            if _NONE_TYPE in value_types and None in values:  # deletions: leaves for the writes only
                writes = tuple(map(_is_not, values, repeat(None)))
                w_keys = tuple(compress(keys, writes))
                w_values = tuple(compress(values, writes))
                w_paths: Iterable[bytes] = compress(paths, writes)
                staged.flat_deletes = tuple(compress(keys, map(_not, writes)))
            else:
                writes = None
                w_keys, w_values, w_paths = keys, values, paths
            # leaf hash = SHA-256(0x00 || key path || SHA-256(value)); leaf record = key length || key || value
            value_hashes = map(_digest, map(_sha256, w_values))
            leaf_hashes = tuple(map(_digest, map(_sha256, map(_join, zip(repeat(_LEAF_PREFIX), w_paths, value_hashes)))))
            staged.leaf_hashes = leaf_hashes
            staged.leaf_records = tuple(map(_join, zip(map(_KEY_LENGTH.__getitem__, map(len, w_keys)), w_keys, w_values)))
            staged.flat_keys = w_keys
            staged.flat_values = w_values
            if writes is not None:
                found = iter(leaf_hashes)
                new_leaves: Sequence[bytes | None] = tuple([next(found) if write else None for write in writes])
            else:
                new_leaves = leaf_hashes
            # The rebuild takes the changes sorted by nibble path.
            order = sorted(range(len(npaths)), key=npaths.__getitem__)
            staged.root_ref = _rebuild(
                self,
                txn,
                ver8,
                staged,
                self._root_ref,
                tuple(map(npaths.__getitem__, order)),
                tuple(map(new_leaves.__getitem__, order)),
                tuple(map(existed.__getitem__, order)),
            )
        self._staged = staged
        return EMPTY_ROOT if staged.root_ref is None else staged.root_ref[2]

    def write(self, txn: lmdb.Transaction) -> None:
        """Persist the staged version inside the CALLER's write transaction.

        Also prunes versions older than version - keep_versions.
        """
        staged = self._staged
        if staged is None:
            raise BaychainError(Code.INTERNAL, "nothing staged to write")
        ver8 = _ver8(staged.version)
        # Nodes were emitted in pre-order of their paths, i.e. already sorted.
        keys = staged.node_keys = list(filter(None, staged.nodes[0::2]))
        raws = staged.node_raws = list(filter(None, staged.nodes[1::2]))
        _append_sorted(txn, self._nodes, zip(keys, raws), len(keys))
        leaf_hashes = staged.leaf_hashes
        if leaf_hashes:
            order = sorted(range(len(leaf_hashes)), key=leaf_hashes.__getitem__)
            leaf_keys = map(ver8.__add__, map(leaf_hashes.__getitem__, order))
            _append_sorted(txn, self._leaves, zip(leaf_keys, map(staged.leaf_records.__getitem__, order)), len(order))
        # state.stale keys: version || b"L" || leaf key, then version || b"N" || node key (b"L" < b"N").
        stale_leaves = sorted(staged.stale_leaves)
        stale_nodes = sorted(staged.stale_nodes)
        stale = chain(map((ver8 + _TAG_LEAF).__add__, stale_leaves), map((ver8 + _TAG_NODE).__add__, stale_nodes))
        _append_sorted(txn, self._stale, zip(stale, repeat(b"")), len(stale_leaves) + len(stale_nodes))
        flat_db = self._flat
        if staged.flat_keys:
            with txn.cursor(db=flat_db) as cursor:
                cursor.putmulti(zip(staged.flat_keys, staged.flat_values))
        for key in staged.flat_deletes:
            txn.delete(key, db=flat_db)
        if not txn.put(ver8, _encode_root(staged.root_ref), db=self._roots, append=True):
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
        keys = staged.node_keys
        self._cache.put_many(zip(keys, staged.node_raws), len(keys), len(keys))  # all new keys
        keys = staged.changed_keys
        self._values.put_many(zip(keys, staged.changed_values), len(keys), staged.values_missed)
        if staged.new_paths:
            keys, paths = staged.new_paths
            self._paths.put_many(zip(keys, paths), len(keys), len(keys))
        self._staged = None

    def discard(self) -> None:
        """Drop a staged batch (e.g. the txn failed)."""
        self._staged = None

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


def _raise_first_invalid(changes: dict) -> None:
    """Raise the error for the first malformed change, in the changes' order."""
    for key, value in changes.items():
        if type(key) is not bytes:
            raise BaychainError(Code.BAD_ARGUMENTS, "state keys are bytes")
        if not 0 < len(key) <= MAX_KEY_BYTES:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"state keys are 1..{MAX_KEY_BYTES} bytes, got {len(key)}")
        if value is not None and type(value) is not bytes:
            raise BaychainError(Code.BAD_ARGUMENTS, "state values are bytes (or None to delete)")


def _rebuild(
    store: StateStore,
    txn: lmdb.Transaction,
    ver8: bytes,
    staged: _Staged,
    root: Ref | None,
    paths: Sequence[bytes],
    new_leaves: Sequence[bytes | None],
    existed: Sequence[bool],
) -> Ref | None:
    """Rewrite the committed trie top-down for one block's changes; returns the new root reference.

    Change k (sorted by nibble path) is at paths[k]; new_leaves[k] is the hash of its
    new leaf (written under `ver8`), None to delete it; existed[k] says whether the key
    is in the committed state. Each node replaced goes to staged.stale_nodes /
    stale_leaves; each node created goes to staged.nodes in pre-order of its path
    (= key order): a slot (key, bytes) is reserved when a node is entered and filled
    when it is emitted (it stays None, None when the node vanishes or collapses into
    a lone leaf).

    Inside, a slot's new content is None (empty), bytes (the hash of a new internal
    node, written under ver8) or a tuple (version, hash) (a leaf).
    """
    nodes = staged.nodes
    reserve = nodes.extend
    replaced_node = staged.stale_nodes.append
    replaced_leaf = staged.stale_leaves.append
    cache = store._cache
    young_get = cache.young.get
    old_get = cache.old.get
    nodes_db = store._nodes
    txn_get = txn.get
    sha256 = _sha256
    next_nibble = _NEXT_NIBBLE
    known_path = store._paths.young.get
    older_path = store._paths.old.get

    def load(node_key: bytes) -> bytes:
        raw = txn_get(node_key, db=nodes_db)
        if raw is None:
            raise BaychainError(Code.INTERNAL, f"state node {node_key.hex()} is missing")
        return raw

    def fresh(depth: int, live: list[tuple[bytes, tuple[bytes, bytes]]]) -> bytes | tuple[bytes, bytes] | None:
        """A new subtree for leaves (sorted by nibble path, as (path, (version, hash))) that share `depth` nibbles."""
        n = len(live)
        if n < 2:
            return live[0][1] if n else None
        slot = len(nodes)
        reserve(_UNUSED_SLOT)
        bitmap = leafmap = 0
        vparts = []
        hparts = []
        i = 0
        while i < n:
            nib = live[i][0][depth]
            j = i + 1
            while j < n and live[j][0][depth] == nib:
                j += 1
            bit = 1 << nib
            bitmap |= bit
            if j - i == 1:
                leafmap |= bit
                vparts.append(live[i][1][0])
                hparts.append(live[i][1][1])
            else:
                vparts.append(ver8)
                hparts.append(fresh(depth + 1, live[i:j]))
            i = j
        versions = _join(vparts)
        hashes = _join(hparts)
        nodes[slot] = ver8 + live[0][0][:depth]
        nodes[slot + 1] = _join(((bitmap << 16 | leafmap).to_bytes(4, "big"), versions, hashes))
        return sha256((0x10000 | bitmap).to_bytes(3, "big") + hashes).digest()

    def new_entries(lo: int, hi: int) -> list[tuple[bytes, tuple[bytes, bytes]]]:
        return [(paths[k], (ver8, new_leaves[k])) for k in range(lo, hi) if new_leaves[k] is not None]

    def leaf_slot(leaf_version: bytes, leaf_hash: bytes, depth: int, lo: int, hi: int) -> bytes | tuple[bytes, bytes] | None:
        """The slot holds one leaf; merge it with the changes routed here."""
        live = new_entries(lo, hi)
        if any(existed[lo:hi]):  # only one key lives under this prefix: it is this leaf
            replaced_leaf(leaf_version + leaf_hash)
        else:
            stored_key, _ = _split_leaf(store._load_leaf(txn, leaf_version + leaf_hash))
            path = known_path(stored_key) or older_path(stored_key) or sha256(stored_key).digest()
            live.append((_nibbles(path), (leaf_version, leaf_hash)))
            live.sort()
        return fresh(depth, live)

    def internal(node_version: bytes, depth: int, lo: int, hi: int) -> bytes | tuple[bytes, bytes] | None:
        """The slot holds an internal node: update the children the changes route to."""
        npath = paths[lo]
        prefix = npath[:depth]
        node_key = node_version + prefix
        raw = young_get(node_key) or old_get(node_key) or load(node_key)
        replaced_node(node_key)
        slot = len(nodes)
        reserve(_UNUSED_SLOT)
        bitmap = (raw[0] << 8) | raw[1]
        leafmap = (raw[2] << 8) | raw[3]
        split = 4 + (bitmap.bit_count() << 3)  # where the child hashes start
        if hi - lo == 1:  # one change below this node: splice one child
            bit = 1 << npath[depth]
            pos = (bitmap & (bit - 1)).bit_count()
            v0 = 4 + (pos << 3)  # the child's version and hash in raw
            h0 = split + (pos << 5)
            if bitmap & bit:
                v1 = v0 + 8
                h1 = h0 + 32
                if leafmap & bit:
                    if existed[lo]:  # the leaf here is the changed key's own
                        replaced_leaf(raw[v0:v1] + raw[h0:h1])
                        child = new_leaves[lo]
                        if child is not None:  # still a leaf here: same shape, same head
                            raw = _join((raw[:v0], ver8, raw[v1:h0], child, raw[h1:]))
                            nodes[slot] = ver8 + prefix
                            nodes[slot + 1] = raw
                            return sha256((0x10000 | bitmap).to_bytes(3, "big") + raw[split:]).digest()
                    else:
                        child = leaf_slot(raw[v0:v1], raw[h0:h1], depth + 1, lo, hi)
                else:
                    child = internal(raw[v0:v1], depth + 1, lo, hi)
                    if child.__class__ is bytes:  # still an internal node here: same shape, same head
                        raw = _join((raw[:v0], ver8, raw[v1:h0], child, raw[h1:]))
                        nodes[slot] = ver8 + prefix
                        nodes[slot + 1] = raw
                        return sha256((0x10000 | bitmap).to_bytes(3, "big") + raw[split:]).digest()
                if child is None:
                    bitmap &= ~bit
                    leafmap &= ~bit
                    versions = raw[4:v0] + raw[v1:split]
                    hashes = raw[split:h0] + raw[h1:]
                elif child.__class__ is bytes:
                    leafmap &= ~bit
                    versions = _join((raw[4:v0], ver8, raw[v1:split]))
                    hashes = raw[split:h0] + child + raw[h1:]
                else:
                    leafmap |= bit
                    versions = _join((raw[4:v0], child[0], raw[v1:split]))
                    hashes = raw[split:h0] + child[1] + raw[h1:]
            else:  # a new key in an empty slot
                child = new_leaves[lo]
                if child is None:  # (cannot happen: a key that existed has a leaf on its path)
                    versions = raw[4:split]
                    hashes = raw[split:]
                else:
                    bitmap |= bit
                    leafmap |= bit
                    versions = _join((raw[4:v0], ver8, raw[v0:split]))
                    hashes = raw[split:h0] + child + raw[h0:]
        else:
            # Changes are sorted, so each child's changes are a contiguous run; walk
            # the runs in nibble order, copying the untouched children between them.
            # vparts: head, then the versions region; hparts: the hashes region.
            vparts = [raw[:4]]
            hparts = []
            done_v = 4  # how far the old regions are copied or replaced
            done_h = split
            old_bitmap = bitmap
            old_leafmap = leafmap
            d1 = depth + 1
            i = lo
            while i < hi:
                nib = paths[i][depth]
                if hi - i > 8:
                    j = bisect_left(paths, prefix + next_nibble[nib], i, hi)
                else:
                    j = i + 1
                    while j < hi and paths[j][depth] == nib:
                        j += 1
                bit = 1 << nib
                pos = (old_bitmap & (bit - 1)).bit_count()
                v0 = 4 + (pos << 3)
                h0 = split + (pos << 5)
                vparts.append(raw[done_v:v0])
                hparts.append(raw[done_h:h0])
                if old_bitmap & bit:
                    done_v = v0 + 8
                    done_h = h0 + 32
                    if leafmap & bit:
                        if j - i == 1 and existed[i]:
                            replaced_leaf(raw[v0:done_v] + raw[h0:done_h])
                            child = new_leaves[i]
                            if child is not None:
                                vparts.append(ver8)
                                hparts.append(child)
                                i = j
                                continue
                        else:
                            child = leaf_slot(raw[v0:done_v], raw[h0:done_h], d1, i, j)
                    else:
                        child = internal(raw[v0:done_v], d1, i, j)
                else:
                    done_v = v0
                    done_h = h0
                    if j - i == 1:
                        child = new_leaves[i]
                        if child is not None:
                            bitmap |= bit
                            leafmap |= bit
                            vparts.append(ver8)
                            hparts.append(child)
                        i = j
                        continue
                    child = fresh(d1, new_entries(i, j))
                if child is None:
                    bitmap &= ~bit
                    leafmap &= ~bit
                elif child.__class__ is bytes:
                    bitmap |= bit
                    leafmap &= ~bit
                    vparts.append(ver8)
                    hparts.append(child)
                else:
                    bitmap |= bit
                    leafmap |= bit
                    vparts.append(child[0])
                    hparts.append(child[1])
                i = j
            vparts.append(raw[done_v:split])
            hparts.append(raw[done_h:])
            if bitmap != old_bitmap or leafmap != old_leafmap:
                if not bitmap:
                    return None
                if not bitmap & (bitmap - 1) and leafmap:
                    return (_join(vparts[1:]), _join(hparts))  # a lone leaf moves up to this slot
                vparts[0] = (bitmap << 16 | leafmap).to_bytes(4, "big")
            vparts += hparts
            raw = _join(vparts)
            nodes[slot] = ver8 + prefix
            nodes[slot + 1] = raw
            return sha256((0x10000 | bitmap).to_bytes(3, "big") + raw[4 + (bitmap.bit_count() << 3) :]).digest()
        if not bitmap:
            return None
        if not bitmap & (bitmap - 1) and leafmap:
            return (versions, hashes)  # a lone leaf moves up to this slot
        nodes[slot] = ver8 + prefix
        nodes[slot + 1] = _join(((bitmap << 16 | leafmap).to_bytes(4, "big"), versions, hashes))
        return sha256((0x10000 | bitmap).to_bytes(3, "big") + hashes).digest()

    count = len(paths)
    if root is None:
        new = fresh(0, new_entries(0, count))
    elif root[0]:
        new = leaf_slot(root[1], root[2], 0, 0, count)
    else:
        new = internal(root[1], 0, 0, count)
    if new is None:
        return None
    if new.__class__ is bytes:
        return (False, ver8, new)
    return (True, new[0], new[1])
