"""Helpers shared by the state tests: fresh stores, block commits, and a reference root.

`reference_root` recomputes a root from a plain dict straight from the rules in
docs/STATE.md, independently of baychain.state, so that every test comparing against
it checks the store against the specification and not against itself.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lmdb

from baychain.state import StateStore


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(model: dict[bytes, bytes]) -> bytes:
    """Root of a key/value set by the specification, from scratch."""

    def slot(entries: list[tuple[bytes, bytes]], depth: int) -> bytes | None:
        if not entries:
            return None
        if len(entries) == 1:
            path, value_hash = entries[0]
            return sha(b"\x00" + path + value_hash)
        by_nibble: dict[int, list[tuple[bytes, bytes]]] = {}
        for path, value_hash in entries:
            by_nibble.setdefault(int(path.hex()[depth], 16), []).append((path, value_hash))
        bitmap = 0
        hashes = b""
        for nib in sorted(by_nibble):
            bitmap |= 1 << nib
            hashes += slot(by_nibble[nib], depth + 1)
        return sha(b"\x01" + bitmap.to_bytes(2, "big") + hashes)

    root = slot(sorted((sha(k), sha(v)) for k, v in model.items()), 0)
    return bytes(32) if root is None else root


def fast_env(path: str | Path) -> lmdb.Environment:
    """An environment like open_env's but without fsync, for tests that commit a lot."""
    return lmdb.open(str(path), map_size=1 << 32, max_dbs=32, subdir=True, sync=False, metasync=False)


@contextmanager
def fresh_store(**kwargs: int) -> Iterator[tuple[lmdb.Environment, StateStore]]:
    """A new store in a temporary directory (usable inside hypothesis examples)."""
    with tempfile.TemporaryDirectory(prefix="baychain-state-") as directory:
        env = fast_env(directory)
        try:
            yield env, StateStore(env, **kwargs)
        finally:
            env.close()


def commit(env: lmdb.Environment, store: StateStore, changes: dict[bytes, bytes | None]) -> bytes:
    """Run one block through stage -> write -> commit -> committed; returns the new root."""
    root = store.stage(changes, store.version + 1)
    with env.begin(write=True) as txn:
        store.write(txn)
    store.committed()
    return root


def apply(model: dict[bytes, bytes], changes: dict[bytes, bytes | None]) -> None:
    for key, value in changes.items():
        if value is None:
            model.pop(key, None)
        else:
            model[key] = value


def deep_keys(count: int = 6000, shared_nibbles: int = 5) -> list[bytes]:
    """Keys whose paths share long prefixes in pairs, to force deep nodes and chains."""
    seen: dict[str, bytes] = {}
    out: list[bytes] = []
    for i in range(count):
        key = b"deep-%d" % i
        prefix = sha(key).hex()[:shared_nibbles]
        if prefix in seen:
            out += [seen[prefix], key]
        else:
            seen[prefix] = key
    return out
