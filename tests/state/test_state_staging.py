"""A block's staging (native, baychain_native.trie_stage) against the specification, record by record.

Random blocks (inserts, updates, deletes, no-ops, keys whose paths share long
prefixes, one change or many) go through stage -> write -> committed. After each
block the records on disk are checked against what the specification implies, read
independently of the store: every node and leaf reachable from the new root hashes to
what its parent says (and the root to the reference root of the model); the records
written under the block's version are exactly the nodes and leaves reachable from
the new root and not from the previous one; the stale index of the block lists
exactly the nodes and leaves reachable from the previous root and not from the new
one; proofs of changed and absent keys verify. Stores with different cache sizes
must write byte-identical records.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_helpers import apply, commit, deep_keys, fast_env, fresh_store, reference_root

from baychain.errors import BaychainError, Code
from baychain.state import EMPTY_ROOT, StateStore, verify_proof

DEEP = deep_keys(20_000, shared_nibbles=6)  # pairs whose paths share 6 nibbles
POOL = [b"k%d" % i for i in range(60)] + DEEP[:24]

keys = st.one_of(st.sampled_from(POOL), st.binary(min_size=1, max_size=3))
values = st.one_of(st.none(), st.binary(max_size=5))
one_change = st.dictionaries(keys, values, min_size=1, max_size=1)
many_changes = st.dictionaries(keys, values, min_size=2, max_size=60)
blocks = st.lists(st.one_of(one_change, many_changes), min_size=1, max_size=7)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _nibble(path: bytes, depth: int) -> int:
    return path[depth >> 1] & 0x0F if depth & 1 else path[depth >> 1] >> 4


def _reachable(env, version: int) -> tuple[set[bytes], set[bytes]]:
    """Node keys and leaf keys reachable from a version's root, each checked against its parent's hash."""
    roots, nodes, leaves = (env.open_db(name) for name in (b"state.roots", b"state.nodes", b"state.leaves"))
    node_keys: set[bytes] = set()
    leaf_keys: set[bytes] = set()
    with env.begin() as txn:
        record = txn.get(version.to_bytes(8, "big"), db=roots)

        def leaf(node_version: bytes, expected: bytes, prefix: list[int]) -> None:
            entry = txn.get(node_version + expected, db=leaves)
            key_len = int.from_bytes(entry[:2], "big")
            key, value = entry[2 : 2 + key_len], entry[2 + key_len :]
            path = _sha(key)
            assert _sha(b"\x00" + path + _sha(value)) == expected
            assert [_nibble(path, d) for d in range(len(prefix))] == prefix  # the leaf sits on its own path
            leaf_keys.add(node_version + expected)

        def internal(node_version: bytes, expected: bytes, prefix: list[int]) -> None:
            node_key = node_version + bytes(prefix)
            raw = txn.get(node_key, db=nodes)
            bitmap, leafmap = int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:4], "big")
            count = bitmap.bit_count()
            assert len(raw) == 4 + 40 * count and leafmap & ~bitmap == 0
            hashes = raw[4 + 8 * count :]
            assert _sha(b"\x01" + raw[:2] + hashes) == expected
            # no internal node holds a lone leaf: that leaf would sit in this node's slot
            assert not (count == 1 and leafmap)
            node_keys.add(node_key)
            nibs = [nib for nib in range(16) if bitmap >> nib & 1]
            for pos, nib in enumerate(nibs):
                child_version = raw[4 + 8 * pos : 12 + 8 * pos]
                child_hash = hashes[32 * pos : 32 * pos + 32]
                (leaf if leafmap >> nib & 1 else internal)(child_version, child_hash, prefix + [nib])

        if record != b"\x00":
            (leaf if record[:1] == b"\x01" else internal)(record[1:9], record[9:41], [])
    return node_keys, leaf_keys


def _written(env, version: int) -> tuple[set[bytes], set[bytes], set[bytes], set[bytes]]:
    """Records a version wrote: node keys, leaf keys, and its stale index (node keys, leaf keys)."""
    ver8 = version.to_bytes(8, "big")
    out: list[set[bytes]] = []
    for name in (b"state.nodes", b"state.leaves"):
        with env.begin(db=env.open_db(name)) as txn:
            out.append({key for key in txn.cursor().iternext(values=False) if key[:8] == ver8})
    with env.begin(db=env.open_db(b"state.stale")) as txn:
        stale = [key for key in txn.cursor().iternext(values=False) if key[:8] == ver8]
    out.append({key[9:] for key in stale if key[8:9] == b"N"})
    out.append({key[9:] for key in stale if key[8:9] == b"L"})
    return out[0], out[1], out[2], out[3]


def _all_records(env) -> list[tuple[bytes, bytes, bytes]]:
    out = []
    for name in (b"state.roots", b"state.nodes", b"state.leaves", b"state.stale", b"state.latest"):
        with env.begin(db=env.open_db(name)) as txn:
            out += [(name, key, value) for key, value in txn.cursor().iternext()]
    return out


@SETTINGS
@given(blocks, st.sampled_from([(200_000, 100_000), (0, 0), (5, 2)]))
def test_each_block_must_write_exactly_what_the_specification_implies(
    history: list[dict[bytes, bytes | None]], caches: tuple[int, int]
) -> None:
    model: dict[bytes, bytes] = {}
    with fresh_store(keep_versions=1000, cache_nodes=caches[0], cache_keys=caches[1]) as (env, store):
        before = _reachable(env, 0)
        for changes in history:
            root = commit(env, store, changes)
            apply(model, changes)
            assert root == store.root() == reference_root(model)
            after = _reachable(env, store.version)
            nodes, leaves, stale_nodes, stale_leaves = _written(env, store.version)
            assert nodes == after[0] - before[0] and leaves == after[1] - before[1]
            assert stale_nodes == before[0] - after[0] and stale_leaves == before[1] - after[1]
            for key in list(changes) + [b"absent", DEEP[-1]]:
                proof = store.prove(key)
                assert proof.value == model.get(key) and verify_proof(root, proof)
            before = after
        assert store.scan(b"", limit=10_000) == sorted(model.items())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks)
def test_caches_must_not_change_a_single_record(history: list[dict[bytes, bytes | None]]) -> None:
    records = []
    for cache_nodes, cache_keys in ((200_000, 100_000), (0, 0), (3, 1)):
        with fresh_store(keep_versions=2, cache_nodes=cache_nodes, cache_keys=cache_keys) as (env, store):
            for changes in history:
                commit(env, store, changes)
            records.append(_all_records(env))
    assert records[0] == records[1] == records[2]


def test_a_large_block_must_match_the_reference(tmp_path) -> None:
    env = fast_env(tmp_path)
    store = StateStore(env, keep_versions=3)
    model = {b"acct/%d" % i: b"%d" % i for i in range(20_000)}
    assert commit(env, store, model) == reference_root(model)
    changes: dict[bytes, bytes | None] = {b"acct/%d" % i: None for i in range(0, 20_000, 3)}
    changes.update({b"acct/%d" % i: b"x" for i in range(1, 20_000, 3)})
    changes.update({key: b"deep" for key in DEEP[:2000]})
    assert commit(env, store, changes) == reference_root(_applied(model, changes))
    env.close()


def test_a_missing_node_must_raise_internal_and_stage_nothing(tmp_path) -> None:
    env = fast_env(tmp_path)
    store = StateStore(env, cache_nodes=0)
    commit(env, store, {b"k%d" % i: b"v" for i in range(100)})
    roots, nodes = env.open_db(b"state.roots"), env.open_db(b"state.nodes")
    with env.begin(write=True) as txn:
        record = txn.get((1).to_bytes(8, "big"), db=roots)
        assert record[:1] == b"\x02"
        assert txn.delete(record[1:9], db=nodes)  # the root node (empty nibble path)
    with pytest.raises(BaychainError) as caught:
        store.stage({b"k1": b"new"}, 2)
    assert caught.value.code == Code.INTERNAL and "is missing" in caught.value.message
    with pytest.raises(BaychainError), env.begin(write=True) as txn:
        store.write(txn)  # nothing staged
    assert store.version == 1
    env.close()


def test_bytes_subclasses_must_be_refused_like_other_types(tmp_path) -> None:
    class Key(bytes):
        pass

    env = fast_env(tmp_path)
    store = StateStore(env)
    for changes in ({Key(b"k"): b"v"}, {b"k": Key(b"v")}):
        with pytest.raises(BaychainError) as caught:
            store.stage(changes, 1)
        assert caught.value.code == Code.BAD_ARGUMENTS
    assert store.stage({}, 1) == EMPTY_ROOT
    env.close()


def _applied(model: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> dict[bytes, bytes]:
    out = dict(model)
    apply(out, changes)
    return out
