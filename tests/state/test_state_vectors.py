"""Pinned state roots and proof encodings: guards the format against accidental change.

tests/vectors/state.json was generated once by running this file as a script
(`python tests/state/test_state_vectors.py`); it must only be regenerated for a
deliberate, documented format change, since roots are app hashes in every block.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from state_helpers import commit, deep_keys, fresh_store, reference_root

from baychain.state import Proof, verify_proof

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "state.json"


def _cases() -> list[tuple[str, dict[bytes, bytes]]]:
    deep = deep_keys()
    return [
        ("empty", {}),
        ("one key", {b"alice": b"100"}),
        ("two keys", {b"alice": b"100", b"bob": b"250"}),
        ("empty value and binary key", {b"\x00": b"", b"\xff\xfe": b"\x00\x01", b"k": b"v"}),
        ("keys sharing five nibbles", {deep[0]: b"first", deep[1]: b"second", b"other": b"x"}),
        ("hundred keys", {b"key-%d" % i: b"value-%d" % i for i in range(100)}),
    ]


def _proof_cases() -> list[tuple[str, bytes]]:
    return [("hundred keys", b"key-42"), ("hundred keys", b"missing"), ("keys sharing five nibbles", deep_keys()[1])]


def _compute() -> dict:
    out: dict = {
        "description": "baychain state trie: roots of fixed key/value sets and proof encodings (see docs/STATE.md)",
        "roots": [],
        "proofs": [],
    }
    sets = dict(_cases())
    for name, entries in _cases():
        with fresh_store() as (env, store):
            root = commit(env, store, entries)
        out["roots"].append({"name": name, "entries": [[k.hex(), v.hex()] for k, v in sorted(entries.items())], "root": root.hex()})
    for name, key in _proof_cases():
        with fresh_store() as (env, store):
            root = commit(env, store, sets[name])
            proof = store.prove(key)
        out["proofs"].append({"set": name, "key": key.hex(), "root": root.hex(), "proof": proof.to_bytes().hex()})
    return out


def _pinned() -> tuple[dict, dict[str, dict[bytes, bytes]]]:
    pinned = json.loads(VECTORS.read_text())
    sets = {c["name"]: {bytes.fromhex(k): bytes.fromhex(v) for k, v in c["entries"]} for c in pinned["roots"]}
    return pinned, sets


def test_store_roots_must_match_the_pinned_vectors() -> None:
    pinned, sets = _pinned()
    assert len(pinned["roots"]) >= 5
    for case in pinned["roots"]:
        with fresh_store() as (env, store):
            assert commit(env, store, sets[case["name"]]).hex() == case["root"], case["name"]


def test_store_proof_encodings_must_match_the_pinned_vectors() -> None:
    pinned, sets = _pinned()
    assert pinned["proofs"]
    for case in pinned["proofs"]:
        with fresh_store() as (env, store):
            assert commit(env, store, sets[case["set"]]).hex() == case["root"]
            assert store.prove(bytes.fromhex(case["key"])).to_bytes().hex() == case["proof"]


def test_pinned_roots_must_follow_the_specification() -> None:
    pinned, sets = _pinned()
    for case in pinned["roots"]:
        assert reference_root(sets[case["name"]]).hex() == case["root"], case["name"]


def test_pinned_proofs_must_verify_from_bytes_alone() -> None:
    pinned = json.loads(VECTORS.read_text())
    for case in pinned["proofs"]:
        proof = Proof.from_bytes(bytes.fromhex(case["proof"]))
        assert proof.key.hex() == case["key"]
        assert verify_proof(bytes.fromhex(case["root"]), proof)
    kinds = [Proof.from_bytes(bytes.fromhex(c["proof"])).value is None for c in pinned["proofs"]]
    assert True in kinds and False in kinds  # both an inclusion and an absence proof are pinned


if __name__ == "__main__":
    if VECTORS.exists() and "--force" not in sys.argv:
        sys.exit(f"{VECTORS} exists; pass --force to overwrite pinned vectors")
    VECTORS.write_text(json.dumps(_compute(), indent=2) + "\n")
    print(f"wrote {VECTORS}")
