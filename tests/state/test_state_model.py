"""The store behaves like a dict, and its root is the specification's root of that dict."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_helpers import apply, commit, deep_keys, fresh_store, reference_root

from baychain.state import EMPTY_ROOT

DEEP = deep_keys()
POOL = [b"k%d" % i for i in range(40)] + DEEP[:16]

keys = st.one_of(st.sampled_from(POOL), st.binary(min_size=1, max_size=4))
values = st.one_of(st.none(), st.binary(max_size=6))
batches = st.lists(st.dictionaries(keys, values, max_size=25), min_size=1, max_size=8)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(batches)
def test_store_must_match_a_dict_and_the_reference_root(blocks: list[dict[bytes, bytes | None]]) -> None:
    model: dict[bytes, bytes] = {}
    snapshots: list[dict[bytes, bytes]] = [{}]
    with fresh_store() as (env, store):
        for changes in blocks:
            staged_root = store.stage(changes, store.version + 1)
            with env.begin(write=True) as txn:
                store.write(txn)
            store.committed()
            apply(model, changes)
            snapshots.append(dict(model))
            assert staged_root == store.root() == reference_root(model)
            for key in list(changes) + POOL[:8]:
                assert store.get(key) == model.get(key)
            assert store.scan(b"", limit=10_000) == sorted(model.items())
        # every past version still reads as it was
        assert store.version == len(blocks)
        for version, snapshot in enumerate(snapshots):
            assert store.root(version) == reference_root(snapshot)
            for key in set(snapshot) | set(model):
                assert store.get(key, version) == snapshot.get(key)


@SETTINGS
@given(st.dictionaries(keys, st.binary(max_size=6), max_size=40), st.data())
def test_root_must_depend_only_on_the_final_key_value_set(final: dict[bytes, bytes], data: st.DataObject) -> None:
    with fresh_store() as (env, one_batch):
        commit(env, one_batch, final)
        expected = one_batch.root()
    assert expected == reference_root(final)

    # Same set reached another way: shuffled order, several blocks, stale values and
    # transient keys that are written and then deleted again.
    order = data.draw(st.permutations(sorted(final)))
    transient = data.draw(st.lists(keys.filter(lambda k: k not in final), max_size=10, unique=True))
    with fresh_store() as (env, store):
        pending = [(k, b"old-" + final[k]) for k in order[: len(order) // 2]] + [(k, b"t") for k in transient]
        commit(env, store, dict(pending))
        cut = data.draw(st.integers(0, len(order)))
        commit(env, store, {k: final[k] for k in order[:cut]})
        later = {k: final[k] for k in reversed(order[cut:])}
        later.update({k: None for k in transient})
        commit(env, store, later)
        assert store.root() == expected


def test_empty_store_root_must_be_32_zero_bytes(env, store) -> None:
    assert store.version == 0
    assert store.root() == store.root(0) == EMPTY_ROOT == bytes(32)


def test_single_key_root_must_be_its_leaf_hash(env, store) -> None:
    commit(env, store, {b"alice": b"100"})
    path = hashlib.sha256(b"alice").digest()
    assert store.root() == hashlib.sha256(b"\x00" + path + hashlib.sha256(b"100").digest()).digest()


def test_deleting_every_key_must_return_to_the_empty_root(env, store) -> None:
    model = {k: b"v" + k for k in POOL + DEEP}
    commit(env, store, model)
    assert store.root() == reference_root(model)
    half = list(dict.fromkeys(POOL[::2] + DEEP[::2]))
    commit(env, store, {k: None for k in half})
    for k in half:
        del model[k]
    assert store.root() == reference_root(model)
    commit(env, store, {k: None for k in model})
    assert store.root() == EMPTY_ROOT
    assert store.scan(b"") == []


def test_deep_shared_prefixes_must_hash_like_the_reference(env, store) -> None:
    # Pairs sharing 5 nibbles give chains of single-child internal nodes; inserting and
    # deleting one of a pair pushes the other down and pulls it back up.
    model: dict[bytes, bytes] = {}
    for first, second in zip(DEEP[::2], DEEP[1::2]):
        commit(env, store, {first: b"1"})
        model[first] = b"1"
        assert store.root() == reference_root(model)
        commit(env, store, {second: b"2"})
        model[second] = b"2"
        assert store.root() == reference_root(model)
    for key in DEEP[::2]:
        commit(env, store, {key: None})
        del model[key]
        assert store.root() == reference_root(model)
        assert all(store.get(k) == v for k, v in model.items())


def test_noop_changes_must_not_change_the_root(env, store) -> None:
    commit(env, store, {b"a": b"1", b"b": b"2"})
    before = store.root()
    root = commit(env, store, {b"a": b"1", b"missing": None})
    assert root == before == store.root()
    assert store.version == 2
    assert store.root(1) == store.root(2)


def test_one_block_may_insert_update_and_delete_neighbours(env, store) -> None:
    model = {k: b"x" for k in POOL}
    commit(env, store, model)
    changes: dict[bytes, bytes | None] = {k: None for k in POOL[:10]}
    changes.update({k: b"y" for k in POOL[10:20]})
    changes.update({b"new-%d" % i: b"z" for i in range(30)})
    commit(env, store, changes)
    apply(model, changes)
    assert store.root() == reference_root(model)
    assert store.scan(b"", limit=1000) == sorted(model.items())
