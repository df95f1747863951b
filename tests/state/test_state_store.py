"""Versions, pruning, the stage/write/commit cycle, durability and the flat table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import lmdb
import pytest
from state_helpers import apply, commit, fast_env, reference_root

from baychain.errors import BaychainError, Code
from baychain.state import MAX_KEY_BYTES, StateStore, open_env, verify_proof


def _count(env: lmdb.Environment, name: bytes) -> int:
    db = env.open_db(name)
    with env.begin(db=db) as txn:
        return txn.stat(db)["entries"]


def _history(env, store, blocks: int) -> list[dict[bytes, bytes]]:
    """Commit `blocks` blocks that update, insert and delete; return the model after each version."""
    model: dict[bytes, bytes] = {}
    snapshots = [{}]
    for v in range(1, blocks + 1):
        changes: dict[bytes, bytes | None] = {b"counter": b"%d" % v, b"key-%d" % v: b"born at %d" % v}
        changes[b"key-%d" % (v - 3)] = None  # each key lives three versions
        changes.update({b"hot-%d" % i: b"%d.%d" % (v, i) for i in range(v % 7)})
        commit(env, store, changes)
        apply(model, changes)
        snapshots.append(dict(model))
    return snapshots


def test_past_versions_must_stay_readable_and_provable_after_later_updates(env, store) -> None:
    snapshots = _history(env, store, 25)
    every_key = sorted({k for snap in snapshots for k in snap} | {b"never"})
    for version, snapshot in enumerate(snapshots):
        root = store.root(version)
        assert root == reference_root(snapshot)
        for key in every_key:
            assert store.get(key, version) == snapshot.get(key)
            proof = store.prove(key, version)
            assert proof.value == snapshot.get(key)
            assert verify_proof(root, proof)
            if version:
                assert not verify_proof(store.root(version - 1), proof) or snapshots[version - 1].get(key) == snapshot.get(key)


def test_pruning_must_drop_old_versions_and_keep_the_kept_ones_whole(env) -> None:
    store = StateStore(env, keep_versions=4)
    snapshots = _history(env, store, 30)
    assert store.version == 30
    first_kept = 30 - 4
    for version in range(first_kept):
        for call in (lambda: store.root(version), lambda: store.get(b"counter", version), lambda: store.prove(b"counter", version)):
            with pytest.raises(BaychainError) as caught:
                call()
            assert caught.value.code == Code.HEIGHT_UNAVAILABLE
    every_key = sorted({k for snap in snapshots for k in snap})
    for version in range(first_kept, 31):
        root = store.root(version)
        assert root == reference_root(snapshots[version])
        for key in every_key:
            assert store.get(key, version) == snapshots[version].get(key)
            assert verify_proof(root, store.prove(key, version))


def test_pruning_must_keep_storage_flat_under_repeated_updates(env) -> None:
    store = StateStore(env, keep_versions=2)
    keys = [b"acct-%d" % i for i in range(300)]
    commit(env, store, {k: b"0" for k in keys})
    sizes = []
    for v in range(40):
        commit(env, store, {k: b"%d" % v for k in keys[v % 3 :: 3]})
        sizes.append((_count(env, b"state.nodes"), _count(env, b"state.leaves"), _count(env, b"state.stale")))
    assert sizes[-1][1] <= 300 + 2 * 100  # live leaves + at most keep_versions blocks of superseded ones
    assert sizes[-1] == sizes[-4], "storage keeps growing although every block only rewrites values"
    assert _count(env, b"state.roots") == 3


def test_versions_without_pruning_must_keep_every_old_node(env) -> None:
    store = StateStore(env, keep_versions=1000)
    commit(env, store, {b"a": b"1", b"b": b"1"})
    before = _count(env, b"state.leaves")
    for v in range(5):
        commit(env, store, {b"a": b"%d" % v})
    assert _count(env, b"state.leaves") == before + 5
    assert store.get(b"a", 1) == b"1"


def test_keep_versions_zero_must_keep_only_the_latest(env) -> None:
    store = StateStore(env, keep_versions=0)
    commit(env, store, {b"a": b"1"})
    commit(env, store, {b"a": b"2", b"b": b"2"})
    assert store.get(b"a", 2) == b"2"
    with pytest.raises(BaychainError):
        store.root(1)
    assert _count(env, b"state.leaves") == 2 and _count(env, b"state.stale") == 0


def test_stage_then_discard_must_leave_state_unchanged(env, store) -> None:
    commit(env, store, {b"a": b"1"})
    root, version = store.root(), store.version
    staged = store.stage({b"a": None, b"b": b"2"}, version + 1)
    assert staged != root
    assert store.root() == root and store.version == version and store.get(b"a") == b"1"
    store.discard()
    with pytest.raises(BaychainError):
        with env.begin(write=True) as txn:
            store.write(txn)
    assert store.root() == root and store.version == version
    assert store.get(b"b") is None and store.scan(b"") == [(b"a", b"1")]
    assert commit(env, store, {b"c": b"3"}) == reference_root({b"a": b"1", b"c": b"3"})


def test_failed_transaction_then_discard_must_leave_state_unchanged(env, store) -> None:
    commit(env, store, {b"a": b"1"})
    root = store.root()
    store.stage({b"a": b"changed", b"z": b"new"}, 2)
    with pytest.raises(RuntimeError):
        with env.begin(write=True) as txn:
            store.write(txn)
            raise RuntimeError("block store failed")  # the caller's txn aborts
    store.discard()
    assert store.version == 1 and store.root() == root
    assert store.get(b"a") == b"1" and store.get(b"z") is None
    with pytest.raises(BaychainError):
        store.root(2)
    assert commit(env, store, {b"b": b"2"}) == reference_root({b"a": b"1", b"b": b"2"})
    assert store.get(b"a", 1) == b"1"


def test_staging_again_must_replace_the_previous_batch(env, store) -> None:
    commit(env, store, {b"a": b"1"})
    store.stage({b"first": b"attempt", b"a": None}, 2)
    second = store.stage({b"second": b"attempt"}, 2)
    with env.begin(write=True) as txn:
        store.write(txn)
    store.committed()
    assert store.root() == second == reference_root({b"a": b"1", b"second": b"attempt"})
    assert store.get(b"first") is None and store.get(b"a") == b"1"
    assert store.get(b"first", 2) is None


def test_stage_must_reject_a_version_out_of_sequence(env, store) -> None:
    for version in (0, 2, -1):
        with pytest.raises(BaychainError) as caught:
            store.stage({b"a": b"1"}, version)
        assert caught.value.code == Code.INTERNAL
    with pytest.raises(BaychainError):
        store.committed()


def test_stage_must_reject_bad_keys_and_values(env, store) -> None:
    for changes, code in [
        ({b"": b"v"}, Code.LIMIT_EXCEEDED),
        ({b"k" * (MAX_KEY_BYTES + 1): b"v"}, Code.LIMIT_EXCEEDED),
        ({"text": b"v"}, Code.BAD_ARGUMENTS),
        ({b"k": "text"}, Code.BAD_ARGUMENTS),
    ]:
        with pytest.raises(BaychainError) as caught:
            store.stage(changes, 1)
        assert caught.value.code == code
    commit(env, store, {b"k" * MAX_KEY_BYTES: b"", b"e": b""})
    assert store.get(b"k" * MAX_KEY_BYTES) == b"" and store.get(b"e", 1) == b""
    assert store.get(b"") is None and store.get(b"k" * 600) is None


def test_unknown_future_versions_must_be_unavailable(env, store) -> None:
    commit(env, store, {b"a": b"1"})
    for version in (2, 100, -1):
        with pytest.raises(BaychainError) as caught:
            store.root(version)
        assert caught.value.code == Code.HEIGHT_UNAVAILABLE
    assert store.get(b"a", 0) is None and store.get(b"a", 1) == b"1"


def test_state_must_survive_closing_and_reopening_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "db"
    env = open_env(path)
    store = StateStore(env, keep_versions=5)
    snapshots = _history(env, store, 12)
    store.stage({b"uncommitted": b"x"}, 13)  # staged but never written: must vanish
    roots = {v: store.root(v) for v in range(7, 13)}
    env.close()

    env = open_env(path)
    store = StateStore(env, keep_versions=5)
    assert store.version == 12
    assert {v: store.root(v) for v in range(7, 13)} == roots
    assert store.get(b"uncommitted") is None
    assert store.scan(b"", limit=1000) == sorted(snapshots[12].items())
    for key, value in snapshots[9].items():
        assert store.get(key, 9) == value
        assert verify_proof(roots[9], store.prove(key, 9))
    commit(env, store, {b"after": b"reopen"})
    assert store.root() == reference_root({**snapshots[12], b"after": b"reopen"})
    env.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from baychain.state import StateStore, open_env
    env = open_env(sys.argv[1])
    store = StateStore(env, keep_versions=3)
    while True:
        v = store.version + 1
        root = store.stage({b"height": b"%d" % v, b"k%d" % (v % 50): b"%d" % v}, v)
        with env.begin(write=True) as txn:
            store.write(txn)
        store.committed()
        print(v, root.hex(), flush=True)
    """
)


def test_killed_writer_must_lose_no_committed_version(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, path], stdout=subprocess.PIPE, text=True)
    reported: dict[int, str] = {}
    try:
        while len(reported) < 30:
            line = proc.stdout.readline()
            assert line, "writer died"
            version, root = line.split()
            reported[int(version)] = root
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    env = open_env(path)
    store = StateStore(env, keep_versions=3)
    last = max(reported)
    assert store.version >= last
    for version in range(store.version - 3, store.version + 1):
        if version in reported:
            assert store.root(version).hex() == reported[version]
        assert store.get(b"height", version) == b"%d" % version
    commit(env, store, {b"after": b"crash"})
    env.close()


def test_scan_must_page_through_a_prefix_in_key_order(env, store) -> None:
    entries = {b"acct/%03d" % i: b"%d" % i for i in range(50)}
    entries.update({b"acc": b"x", b"acct": b"y", b"acct0": b"z", b"b": b"w", b"\xff\xff": b"end"})
    commit(env, store, entries)
    accounts = sorted((k, v) for k, v in entries.items() if k.startswith(b"acct/"))
    assert store.scan(b"acct/", limit=1000) == accounts
    assert store.scan(b"acct/", limit=7) == accounts[:7]
    pages, after = [], None
    while True:
        page = store.scan(b"acct/", start_after=after, limit=8)
        if not page:
            break
        pages += page
        after = page[-1][0]
    assert pages == accounts
    assert store.scan(b"acct/", start_after=b"acct/0105") == accounts[11:]  # not itself a key
    assert store.scan(b"acct/", start_after=b"a") == accounts
    assert store.scan(b"acct/", start_after=b"b") == []
    assert store.scan(b"acct/", limit=0) == []
    assert store.scan(b"", limit=3) == sorted(entries.items())[:3]
    assert store.scan(b"\xff") == [(b"\xff\xff", b"end")]
    assert store.scan(b"zz") == []
    assert store.scan(b"", start_after=b"\xff" * 600) == []
    commit(env, store, {b"acct/007": None})
    assert b"acct/007" not in dict(store.scan(b"acct/"))


@pytest.mark.parametrize("cache_nodes", [0, 10, 200_000])
def test_node_cache_must_stay_within_its_bound_and_never_change_results(tmp_path: Path, cache_nodes: int) -> None:
    env = fast_env(tmp_path)
    store = StateStore(env, keep_versions=3, cache_nodes=cache_nodes)
    model: dict[bytes, bytes] = {}
    for v in range(10):
        changes = {b"key-%d" % (v * 97 + i): b"%d" % v for i in range(150)}
        changes.update({b"key-%d" % (i * 13): None for i in range(v * 5)})
        commit(env, store, changes)
        apply(model, changes)
        assert len(store._cache) <= cache_nodes
    assert store.root() == reference_root(model)
    for key in list(model)[:50]:
        assert store.get(key, 9) == model[key]
        assert verify_proof(store.root(), store.prove(key))
    env.close()
