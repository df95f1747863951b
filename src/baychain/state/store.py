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
Internal nodes are cached in memory, bounded by ``cache_nodes``; leaves are not
cached (a block reads a leaf only when a new key must push it one level down).

Keys are 1..511 bytes (LMDB's key size limit, fixed here so that every node accepts
and rejects the same keys); values are any byte strings, including empty ones.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Callable, Iterator
from bisect import bisect_left
from dataclasses import dataclass, field

import lmdb

from baychain.errors import BaychainError, Code
from baychain.state.proofs import EMPTY_ROOT, OtherLeaf, Proof, ProofStep

MAX_KEY_BYTES = 511
FORMAT = b"1"

_sha256 = hashlib.sha256
_HEX_TO_NIBBLES = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))

_NEXT_NIBBLE = [bytes((nib + 1,)) for nib in range(16)]  # sorts after every path continuing with nib
_KEY_LENGTH = [n.to_bytes(2, "big") for n in range(MAX_KEY_BYTES + 1)]
_TAG_NODE = b"N"
_TAG_LEAF = b"L"
_ROOT_EMPTY = b"\x00"
_ROOT_LEAF = b"\x01"
_ROOT_INTERNAL = b"\x02"

# A reference to a node: (is_leaf, version (8 bytes), hash (32 bytes)); None = empty slot.
Ref = tuple[bool, bytes, bytes]


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
    nodes: list[tuple[bytes, bytes]] = field(default_factory=list)
    leaves: list[tuple[bytes, bytes]] = field(default_factory=list)
    stale: list[bytes] = field(default_factory=list)  # tag || node key, without the version
    flat: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    written: bool = False


class _NodeCache:
    """Bounded cache of internal nodes by node key (content never changes for a key).

    Two generations of dicts: lookups promote into the young one; when it fills
    up, the old generation is dropped whole. Approximately LRU, O(1), no per-entry
    bookkeeping, and never more than `capacity` entries.
    """

    def __init__(self, capacity: int) -> None:
        self.half = max(1, capacity // 2)
        self.enabled = capacity > 0
        self.young: dict[bytes, bytes] = {}
        self.old: dict[bytes, bytes] = {}

    def put(self, key: bytes, raw: bytes) -> None:
        if not self.enabled:
            return
        young = self.young
        young[key] = raw
        if len(young) >= self.half:
            self.old = young
            self.young = {}

    def __len__(self) -> int:
        return len(self.young) + len(self.old)


class StateStore:
    """Versioned Merkle key-value store kept in named databases of an LMDB environment.

    One block's life: stage(changes, N) -> write(txn) inside the caller's write
    transaction -> caller commits -> committed(). If anything fails before the
    commit, discard() (or simply stage again).
    """

    def __init__(self, env: lmdb.Environment, *, keep_versions: int = 1000, cache_nodes: int = 200_000) -> None:
        """Opens its own named DBs in env (names start with b'state.'; env is opened by the caller with max_dbs>=32)."""
        if type(keep_versions) is not int or keep_versions < 0:
            raise ValueError("keep_versions must be a non-negative integer")
        if type(cache_nodes) is not int or cache_nodes < 0:
            raise ValueError("cache_nodes must be a non-negative integer")
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
        self._cache = _NodeCache(cache_nodes)
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
                raw = self._load_node(txn, node_version + npath[:depth])
                ref = _child(raw, npath[depth])
                depth += 1
            return None

    @contextmanager
    def latest_reader(self) -> Iterator[Callable[[bytes], bytes | None]]:
        """`get(key)` for latest committed values, all served by one read snapshot."""
        with self._env.begin(db=self._flat) as txn:
            txn_get = txn.get

            def get(key: bytes) -> bytes | None:
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
                raw = self._load_node(txn, node_version + npath[:depth])
                bitmap = int.from_bytes(raw[:2], "big")
                count = bitmap.bit_count()
                hashes = raw[4 + 8 * count :]
                siblings = [hashes[i : i + 32] for i in range(0, 32 * count, 32)]
                nib = npath[depth]
                if bitmap >> nib & 1:
                    del siblings[(bitmap & ((1 << nib) - 1)).bit_count()]
                steps.append(ProofStep(bitmap, tuple(siblings)))
                ref = _child(raw, nib)
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
        leaves_out = staged.leaves
        flat = staged.flat
        items: list[tuple[bytes, Ref | None, bool]] = []
        sha256 = _sha256
        to_nibbles = _HEX_TO_NIBBLES
        key_length = _KEY_LENGTH
        append_item = items.append
        append_leaf = leaves_out.append
        append_flat = flat.append
        with self._env.begin(db=self._flat) as txn:
            flat_get = txn.get
            for key, value in changes.items():
                if type(key) is not bytes or not 0 < len(key) <= MAX_KEY_BYTES:
                    if type(key) is not bytes:
                        raise BaychainError(Code.BAD_ARGUMENTS, "state keys are bytes")
                    raise BaychainError(Code.LIMIT_EXCEEDED, f"state keys are 1..{MAX_KEY_BYTES} bytes, got {len(key)}")
                old = flat_get(key)
                path = sha256(key).digest()
                if value is None:
                    if old is None:
                        continue  # deleting a missing key changes nothing
                    append_item((path.hex().encode().translate(to_nibbles), None, True))
                    append_flat((key, None))
                    continue
                if type(value) is not bytes:
                    raise BaychainError(Code.BAD_ARGUMENTS, "state values are bytes (or None to delete)")
                if old == value:
                    continue  # rewriting the same value changes nothing
                leaf = sha256(b"\x00" + path + sha256(value).digest()).digest()
                append_leaf((ver8 + leaf, key_length[len(key)] + key + value))
                append_item((path.hex().encode().translate(to_nibbles), (True, ver8, leaf), old is not None))
                append_flat((key, value))
            if items:
                items.sort()  # by nibble path; paths are distinct, so later fields never compare
                builder = _BatchBuilder(self, txn, ver8, staged, items)
                staged.root_ref = builder.update(self._root_ref, 0, 0, len(items))
        flat.sort()
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
        _append_sorted(txn, self._nodes, staged.nodes)
        _append_sorted(txn, self._leaves, staged.leaves)
        _append_sorted(txn, self._stale, [(ver8 + key, b"") for key in staged.stale])
        flat_db = self._flat
        for key, value in staged.flat:
            if value is None:
                txn.delete(key, db=flat_db)
            else:
                txn.put(key, value, db=flat_db)
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
        put = self._cache.put
        for key, raw in staged.nodes:
            put(key, raw)
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
        raw = cache.young.get(node_key)
        if raw is None:
            raw = cache.old.get(node_key)
            if raw is None:
                raw = txn.get(node_key, db=self._nodes)
                if raw is None:
                    raise BaychainError(Code.INTERNAL, f"state node {node_key.hex()} is missing")
            cache.put(node_key, raw)
        return raw

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
        nodes_db, leaves_db = self._nodes, self._leaves
        cursor = txn.cursor(db=self._stale)
        if not cursor.first():
            return
        while True:
            key = cursor.key()
            if not key or key >= limit:  # b"" once the cursor ran off the end
                break
            txn.delete(key[9:], db=nodes_db if key[8:9] == _TAG_NODE else leaves_db)
            if not cursor.delete():  # deletes and moves to the next entry
                break


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


def _append_sorted(txn: lmdb.Transaction, db: lmdb._Database, items: list[tuple[bytes, bytes]]) -> None:
    """Write records whose keys all sort after every existing key (they start with the new version)."""
    if not items:
        return
    items.sort()
    with txn.cursor(db=db) as cursor:
        consumed, added = cursor.putmulti(items, append=True)
    if added != len(items):
        raise BaychainError(Code.INTERNAL, "state records out of order: a newer version already exists on disk")


class _BatchBuilder:
    """Rewrites the committed trie top-down for one block's sorted changes.

    Items are (nibble path, new leaf reference or None to delete, key existed before),
    sorted by nibble path; `paths` holds the same nibble paths for bisection.
    update() returns the new reference for a slot; every node it replaces is recorded
    as stale, every node it creates is appended to the staged batch.
    """

    def __init__(self, store: StateStore, txn: lmdb.Transaction, ver8: bytes, staged: _Staged, items: list) -> None:
        self.store = store
        self.txn = txn
        self.ver8 = ver8
        self.items = items
        self.paths = [item[0] for item in items]
        self.nodes = staged.nodes
        self.stale = staged.stale
        self.cache = store._cache
        self.nodes_db = store._nodes

    def update(self, ref: Ref | None, depth: int, lo: int, hi: int) -> Ref | None:
        if ref is None:
            return self.build(depth, [(item[0], item[1]) for item in self.items[lo:hi] if item[1] is not None])
        if ref[0]:
            return self.update_leaf(ref, depth, lo, hi)
        return self.update_internal(ref[1], depth, lo, hi)

    def update_leaf(self, ref: Ref, depth: int, lo: int, hi: int) -> Ref | None:
        """The slot holds one leaf; merge it with the changes routed here."""
        live = []
        replaced = False
        for npath, new_ref, existed in self.items[lo:hi]:
            if existed:
                replaced = True  # only one key lives under this prefix: it is this leaf
            if new_ref is not None:
                live.append((npath, new_ref))
        if replaced:
            self.stale.append(_TAG_LEAF + ref[1] + ref[2])
        else:
            stored_key, _ = _split_leaf(self.store._load_leaf(self.txn, ref[1] + ref[2]))
            live.append((_nibbles(_sha256(stored_key).digest()), ref))
            live.sort()
        return self.build(depth, live)

    def build(self, depth: int, live: list[tuple[bytes, Ref]]) -> Ref | None:
        """A fresh subtree for leaves (sorted by nibble path) that share `depth` nibbles."""
        n = len(live)
        if n == 0:
            return None
        if n == 1:
            return live[0][1]
        bitmap = leafmap = 0
        versions = []
        hashes = []
        i = 0
        while i < n:
            nib = live[i][0][depth]
            j = i + 1
            while j < n and live[j][0][depth] == nib:
                j += 1
            child = live[i][1] if j - i == 1 else self.build(depth + 1, live[i:j])
            bitmap |= 1 << nib
            if child[0]:
                leafmap |= 1 << nib
            versions.append(child[1])
            hashes.append(child[2])
            i = j
        return self.emit(depth, live[0][0], bitmap, leafmap, b"".join(versions), b"".join(hashes))

    def update_internal(self, node_version: bytes, depth: int, lo: int, hi: int) -> Ref | None:
        """The slot holds an internal node: update the children the changes route to."""
        items = self.items
        npath = items[lo][0]
        node_key = node_version + npath[:depth]
        cache = self.cache
        raw = cache.young.get(node_key)
        if raw is None:
            raw = cache.old.get(node_key)
            if raw is None:
                raw = self.txn.get(node_key, db=self.nodes_db)
                if raw is None:
                    raise BaychainError(Code.INTERNAL, f"state node {node_key.hex()} is missing")
            cache.put(node_key, raw)
        self.stale.append(_TAG_NODE + node_key)
        bitmap = (raw[0] << 8) | raw[1]
        leafmap = (raw[2] << 8) | raw[3]
        split = 4 + 8 * bitmap.bit_count()
        versions = raw[4:split]
        hashes = raw[split:]
        if hi - lo == 1:
            groups: list[tuple[int, int, int]] | tuple = ((npath[depth], lo, hi),)
        else:
            # Changes are sorted, so each child's changes are a contiguous run.
            groups = []
            paths = self.paths
            prefix = npath[:depth]
            i = lo
            while i < hi:
                nib = paths[i][depth]
                if hi - i > 8:
                    j = bisect_left(paths, prefix + _NEXT_NIBBLE[nib], i, hi)
                else:
                    j = i + 1
                    while j < hi and paths[j][depth] == nib:
                        j += 1
                groups.append((nib, i, j))
                i = j
            groups.reverse()  # highest nibble first: splicing never shifts a position still to be used
        versions = bytearray(versions)
        hashes = bytearray(hashes)
        for nib, i, j in groups:
            bit = 1 << nib
            pos = (bitmap & (bit - 1)).bit_count()
            v0 = 8 * pos
            h0 = 32 * pos
            if bitmap & bit:
                # Only higher nibbles were spliced so far: this child is where `raw` has it.
                if leafmap & bit:
                    child = self.update_leaf((True, raw[4 + v0 : 12 + v0], raw[split + h0 : split + h0 + 32]), depth + 1, i, j)
                else:
                    child = self.update_internal(raw[4 + v0 : 12 + v0], depth + 1, i, j)
                if child is None:
                    bitmap &= ~bit
                    leafmap &= ~bit
                    del versions[v0 : v0 + 8]
                    del hashes[h0 : h0 + 32]
                    continue
                versions[v0 : v0 + 8] = child[1]
                hashes[h0 : h0 + 32] = child[2]
            else:
                if j - i == 1:
                    child = items[i][1]
                else:
                    child = self.build(depth + 1, [(item[0], item[1]) for item in items[i:j] if item[1] is not None])
                if child is None:
                    continue
                bitmap |= bit
                versions[v0:v0] = child[1]
                hashes[h0:h0] = child[2]
            if child[0]:
                leafmap |= bit
            else:
                leafmap &= ~bit
        if not bitmap:
            return None
        if not bitmap & (bitmap - 1) and leafmap:
            return (True, bytes(versions), bytes(hashes))  # a lone leaf moves up to this slot
        return self.emit(depth, npath, bitmap, leafmap, versions, hashes)

    def emit(self, depth: int, npath: bytes, bitmap: int, leafmap: int, versions: bytes, hashes: bytes) -> Ref:
        head = bitmap.to_bytes(2, "big")
        ver8 = self.ver8
        self.nodes.append((ver8 + npath[:depth], b"".join((head, leafmap.to_bytes(2, "big"), versions, hashes))))
        return (False, ver8, _sha256(b"\x01" + head + hashes).digest())
