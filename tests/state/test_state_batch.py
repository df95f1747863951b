"""The batch path (stage -> write -> committed) as storage: exact records on disk, the caches, input checks.

`test_on_disk_records_must_stay_byte_identical` pins a digest of every record the
store writes (all six databases) after a fixed history of inserts, updates, no-op
writes, deletes, collapses, leaves pushed down and pruning. The digest was computed
with the straightforward implementation that preceded the optimised batch path; any
change to what lands on disk (node bytes, node keys, stale index, leaves, roots,
pruning) fails it. Regenerate only for a deliberate, documented format change.
"""

from __future__ import annotations

import hashlib
import random

import lmdb
import pytest
from state_helpers import apply, commit, deep_keys, fast_env, reference_root

from baychain.errors import BaychainError, Code
from baychain.state import StateStore, verify_proof

_DATABASES = (b"state.meta", b"state.roots", b"state.nodes", b"state.leaves", b"state.stale", b"state.latest")
PINNED_RECORDS = ("edadde96b2332e825aea9f0d39c218b55fda9ad6109c76c652db64fa6259ed8c", 2191)  # (sha256, records)


def _records_digest(env: lmdb.Environment) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for name in _DATABASES:
        db = env.open_db(name)
        with env.begin(db=db) as txn:
            for key, value in txn.cursor().iternext():
                digest.update(b"%s %d %d " % (name, len(key), len(value)) + key + value)
                count += 1
    return digest.hexdigest(), count


def _pinned_history(env: lmdb.Environment, store: StateStore) -> dict[bytes, bytes]:
    """A fixed mix of every kind of change; returns the final model."""
    rng = random.Random(20240611)
    universe = [b"acct/%d" % i for i in range(400)] + deep_keys(3000, shared_nibbles=3)[:200] + [b"\x00", b"\xff" * 40]
    model: dict[bytes, bytes] = {}
    for _ in range(30):
        changes: dict[bytes, bytes | None] = {}
        for _ in range(rng.randrange(1, 160)):
            key = rng.choice(universe)
            roll = rng.random()
            if roll < 0.2:
                changes[key] = None
            elif roll < 0.3 and key in model:
                changes[key] = model[key]  # no-op write
            else:
                changes[key] = rng.randbytes(rng.randrange(0, 40))
        assert commit(env, store, changes) == reference_root(_applied(model, changes))
        apply(model, changes)
    # shrink to a couple of keys (collapses up to the root), then grow again
    commit(env, store, {key: None for key in list(model)[2:]})
    for key in list(model)[2:]:
        del model[key]
    commit(env, store, {b"acct/%d" % i: b"again" for i in range(50)})
    apply(model, {b"acct/%d" % i: b"again" for i in range(50)})
    return model


def _applied(model: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> dict[bytes, bytes]:
    out = dict(model)
    apply(out, changes)
    return out


@pytest.mark.parametrize("cache_nodes, cache_keys", [(200_000, 100_000), (0, 0), (10, 3)])
def test_on_disk_records_must_stay_byte_identical(tmp_path, cache_nodes: int, cache_keys: int) -> None:
    env = fast_env(tmp_path)
    store = StateStore(env, keep_versions=5, cache_nodes=cache_nodes, cache_keys=cache_keys)
    model = _pinned_history(env, store)
    assert store.root() == reference_root(model)
    assert _records_digest(env) == PINNED_RECORDS
    env.close()


def test_key_cache_must_follow_committed_state_only(tmp_path) -> None:
    """Values and key paths remembered per key must never run ahead of (or behind) what is committed."""
    env = fast_env(tmp_path)
    for cache_keys in (100_000, 4, 0):
        store = StateStore(env, keep_versions=3, cache_keys=cache_keys)  # also a restart: fresh caches on the same data
        model = dict(store.scan(b"", limit=10_000))
        keys = [b"k%d" % i for i in range(12)]
        rng = random.Random(cache_keys)
        for _ in range(40):
            changes = {rng.choice(keys): rng.choice([None, b"", b"1", b"2"]) for _ in range(rng.randrange(1, 8))}
            fate = rng.random()
            if fate < 0.2:  # staged then discarded
                store.stage(changes, store.version + 1)
                store.discard()
                continue
            if fate < 0.4:  # written, then the caller's transaction fails
                store.stage(changes, store.version + 1)
                with pytest.raises(RuntimeError):
                    with env.begin(write=True) as txn:
                        store.write(txn)
                        raise RuntimeError("block store failed")
                store.discard()
                continue
            if fate < 0.5:  # staged, then re-staged with other changes before writing
                store.stage({keys[0]: b"never"}, store.version + 1)
            assert commit(env, store, changes) == reference_root(_applied(model, changes))
            apply(model, changes)
            for key in keys:
                assert store.get(key) == model.get(key)
        for key in keys:
            assert verify_proof(store.root(), store.prove(key))
    env.close()


def test_writing_the_same_values_again_must_change_nothing(tmp_path) -> None:
    env = fast_env(tmp_path)
    store = StateStore(env, keep_versions=1000)
    values = {b"a": b"1", b"b": b"", b"c": b"3"}
    root = commit(env, store, values)
    before = _records_digest(env)[1]
    assert commit(env, store, {**values, b"missing": None}) == root
    # only the new version's root record was added: no node, leaf, stale entry or flat write
    assert _records_digest(env)[1] == before + 1


def test_invalid_changes_must_raise_the_first_error_in_order(tmp_path) -> None:
    env = fast_env(tmp_path)
    store = StateStore(env)
    cases = [
        ({b"ok": b"1", b"": b"x", 5: b"y"}, Code.LIMIT_EXCEEDED),
        ({b"ok": b"1", 5: b"y", b"": b"x"}, Code.BAD_ARGUMENTS),
        ({b"a": b"1", b"b": 3, b"": b""}, Code.BAD_ARGUMENTS),
        ({b"k" * 512: b"v"}, Code.LIMIT_EXCEEDED),
        ({b"k": bytearray(b"v")}, Code.BAD_ARGUMENTS),
        ({"k": None}, Code.BAD_ARGUMENTS),
    ]
    for changes, code in cases:
        with pytest.raises(BaychainError) as caught:
            store.stage(changes, 1)
        assert caught.value.code == code
    assert store.version == 0
    assert commit(env, store, {b"k" * 511: b"v"}) == reference_root({b"k" * 511: b"v"})
    env.close()


@pytest.mark.parametrize("cache_keys", [0, 5, 40])
def test_key_caches_must_stay_within_their_bound(tmp_path, cache_keys: int) -> None:
    env = fast_env(tmp_path)
    store = StateStore(env, keep_versions=2, cache_keys=cache_keys)
    model: dict[bytes, bytes] = {}
    for v in range(12):
        changes: dict[bytes, bytes | None] = {b"key-%d" % (v * 7 + i): b"%d" % v for i in range(15)}
        changes.update({b"key-%d" % i: None for i in range(0, v * 3, 2)})
        assert commit(env, store, changes) == reference_root(_applied(model, changes))
        apply(model, changes)
        assert len(store._values) <= cache_keys and len(store._paths) <= cache_keys
    for key in list(model)[:20]:
        assert store.get(key) == model[key] and verify_proof(store.root(), store.prove(key))
    env.close()
