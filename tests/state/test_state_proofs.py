"""Proofs verify against the root alone, and no tampering survives verification."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from state_helpers import apply, commit, deep_keys, fresh_store, reference_root

from baychain import encoding
from baychain.errors import BaychainError, Code
from baychain.state import EMPTY_ROOT, OtherLeaf, Proof, ProofStep, StateStore, verify_proof

DEEP = deep_keys()
POOL = [b"k%d" % i for i in range(60)] + DEEP[:12]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kind(proof: Proof) -> str:
    if proof.value is not None:
        return "inclusion"
    if proof.leaf is not None:
        return "absent-other-leaf"
    return "absent-empty-slot"


@pytest.fixture
def filled(env, store: StateStore) -> tuple[StateStore, dict[bytes, bytes]]:
    model = {k: b"value of " + k for k in POOL[:50] + DEEP[:12]}
    commit(env, store, model)
    return store, model


def _sample_proofs(store: StateStore) -> list[Proof]:
    proofs = [store.prove(k) for k in POOL + [b"absent-%d" % i for i in range(60)]]
    kinds = {_kind(p) for p in proofs}
    assert kinds == {"inclusion", "absent-other-leaf", "absent-empty-slot"}  # all three exercised
    return proofs


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(POOL), st.one_of(st.none(), st.binary(max_size=4))), max_size=5))
def test_every_key_must_prove_its_value_or_its_absence(blocks: list[dict[bytes, bytes | None]]) -> None:
    model: dict[bytes, bytes] = {}
    with fresh_store() as (env, store):
        for changes in blocks:
            commit(env, store, changes)
            apply(model, changes)
        root = store.root()
        assert root == reference_root(model)
        for key in POOL + [b"never"]:
            proof = store.prove(key)
            assert proof.key == key and proof.value == model.get(key)
            assert verify_proof(root, proof)
            # the same proof claiming the opposite must fail
            claim = b"forged" if proof.value is None else None
            assert not verify_proof(root, dataclasses.replace(proof, value=claim, leaf=None))


def test_empty_tree_must_prove_absence_only_under_the_zero_root(env, store) -> None:
    proof = store.prove(b"anything")
    assert proof == Proof(b"anything", None, [], None)
    assert verify_proof(EMPTY_ROOT, proof)
    assert not verify_proof(b"\x01" * 32, proof)


def test_single_leaf_root_must_prove_absence_of_other_keys(env, store) -> None:
    commit(env, store, {b"only": b"1"})
    proof = store.prove(b"other")
    assert proof.steps == [] and proof.leaf is not None
    assert verify_proof(store.root(), proof)
    assert verify_proof(store.root(), store.prove(b"only"))


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


def _tamperings(proof: Proof, present_key: bytes) -> list[tuple[str, Proof]]:
    """Every single-field corruption worth trying on `proof` (each makes a false claim)."""
    # An absence proof for another *absent* key may well be true; for a present one it is not.
    wrong_key = proof.key + b"x" if proof.value is not None else present_key
    out: list[tuple[str, Proof]] = [
        ("wrong key", dataclasses.replace(proof, key=wrong_key)),
        ("claims absence" if proof.value is not None else "claims a value",
         dataclasses.replace(proof, value=None if proof.value is not None else b"v", leaf=None)),
    ]
    if proof.value is not None:
        out.append(("changed value", dataclasses.replace(proof, value=proof.value + b"!")))
        out.append(("empty value", dataclasses.replace(proof, value=b"")))
    if proof.leaf is not None:
        out.append(("changed leaf hash", dataclasses.replace(proof, leaf=OtherLeaf(proof.leaf.key_path, _flip(proof.leaf.value_hash)))))
        out.append(("changed leaf path", dataclasses.replace(proof, leaf=OtherLeaf(_flip(proof.leaf.key_path, 31), proof.leaf.value_hash))))
        out.append(("leaf dropped", dataclasses.replace(proof, leaf=None)))
    if proof.steps:
        out.append(("truncated (last step)", dataclasses.replace(proof, steps=proof.steps[:-1])))
        out.append(("truncated (first step)", dataclasses.replace(proof, steps=proof.steps[1:])))
        out.append(("extra step", dataclasses.replace(proof, steps=proof.steps + [proof.steps[-1]])))
    for d, step in enumerate(proof.steps):
        for s in range(len(step.siblings)):
            siblings = list(step.siblings)
            siblings[s] = _flip(siblings[s], s % 32)
            steps = list(proof.steps)
            steps[d] = ProofStep(step.bitmap, tuple(siblings))
            out.append((f"changed sibling {d}.{s}", dataclasses.replace(proof, steps=steps)))
        if step.siblings:
            steps = list(proof.steps)
            steps[d] = ProofStep(step.bitmap, tuple(reversed(step.siblings)) if len(step.siblings) > 1 else step.siblings[:0])
            out.append((f"reordered/removed siblings {d}", dataclasses.replace(proof, steps=steps)))
        for bit in range(16):
            other = step.bitmap ^ (1 << bit)
            if other:
                steps = list(proof.steps)
                steps[d] = ProofStep(other, step.siblings)
                out.append((f"bitmap bit {bit} at {d}", dataclasses.replace(proof, steps=steps)))
    return out


def test_any_tampering_must_fail_verification(filled) -> None:
    store, model = filled
    root = store.root()
    checked = 0
    for proof in _sample_proofs(store):
        assert verify_proof(root, proof)
        assert not verify_proof(_flip(root), proof), "wrong root"
        assert not verify_proof(root[:31], proof), "short root"
        for name, bad in _tamperings(proof, next(iter(model))):
            assert not verify_proof(root, bad), f"{_kind(proof)} proof survived: {name}"
            checked += 1
    assert checked > 1000


def test_truncated_proof_bytes_must_be_rejected(filled) -> None:
    store, _ = filled
    for proof in _sample_proofs(store)[:20]:
        data = proof.to_bytes()
        for cut in range(len(data)):
            with pytest.raises(BaychainError) as caught:
                Proof.from_bytes(data[:cut])
            assert caught.value.code == Code.PROOF_INVALID


def test_proof_must_roundtrip_through_bytes_and_json(filled) -> None:
    store, _ = filled
    root = store.root()
    for proof in _sample_proofs(store):
        data = proof.to_bytes()
        again = Proof.from_bytes(data)
        assert again == proof and again.to_bytes() == data
        assert verify_proof(root, again)
        text = json.dumps(proof.to_json())
        assert Proof.from_json(json.loads(text)) == proof


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_from_bytes_must_reject_garbage_with_proof_invalid(data: bytes) -> None:
    try:
        proof = Proof.from_bytes(data)
    except BaychainError as exc:
        assert exc.code == Code.PROOF_INVALID
    else:  # the rare valid encoding must be canonical and safe to verify
        assert proof.to_bytes() == data
        verify_proof(EMPTY_ROOT, proof)


_cbor_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64 - 1), st.binary(max_size=40), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["key", "value", "steps", "leaf", "x"]), inner, max_size=5)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_cbor_values)
def test_from_bytes_must_reject_well_formed_cbor_of_the_wrong_shape(value) -> None:
    data = encoding.encode(value)
    try:
        proof = Proof.from_bytes(data)
    except BaychainError as exc:
        assert exc.code == Code.PROOF_INVALID
    else:
        assert proof.to_bytes() == data
        verify_proof(EMPTY_ROOT, proof)


def test_from_bytes_must_reject_mutated_encodings(filled) -> None:
    store, _ = filled
    root = store.root()
    proof = next(p for p in _sample_proofs(store) if p.value is not None and len(p.steps) >= 2)
    data = proof.to_bytes()
    survivors = 0
    for i in range(len(data)):
        for mask in (0x01, 0x80):
            mutated = data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]
            try:
                decoded = Proof.from_bytes(mutated)
            except BaychainError as exc:
                assert exc.code == Code.PROOF_INVALID
                continue
            survivors += 1
            assert not verify_proof(root, decoded), f"mutation at byte {i} still verifies"
    assert survivors > 0  # hash bytes can be flipped and still decode: verification catches them
    for bad in (data + b"\x00", b"\x00" + data, data[:-1], b"", b"\xa0"):
        with pytest.raises(BaychainError):
            Proof.from_bytes(bad)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda j: j.pop("leaf"),
        lambda j: j.update(extra=1),
        lambda j: j.update(key=j["key"].upper() or "AB"),
        lambda j: j.update(key="zz"),
        lambda j: j.update(key=5),
        lambda j: j.update(value=[]),
        lambda j: j.update(steps={}),
        lambda j: j["steps"][0].update(bitmap=0),
        lambda j: j["steps"][0].update(bitmap=1 << 16),
        lambda j: j["steps"][0].update(bitmap="3"),
        lambda j: j["steps"][0]["siblings"].append("00" * 31),
        lambda j: j["steps"][0].pop("siblings"),
        lambda j: j.update(leaf={"key_path": "00" * 32}),
        lambda j: j.update(leaf={"key_path": "00" * 32, "value_hash": "00" * 32}),  # leaf on an inclusion proof
    ],
)
def test_from_json_must_reject_malformed_objects(filled, mutate) -> None:
    store, model = filled
    key = next(k for k in model if len(store.prove(k).steps) >= 1)
    obj = store.prove(key).to_json()
    mutate(obj)
    with pytest.raises(BaychainError) as caught:
        Proof.from_json(obj)
    assert caught.value.code == Code.PROOF_INVALID


def test_verify_must_return_false_not_raise_on_nonsense() -> None:
    nonsense = [
        Proof(b"k", None, [ProofStep(0, ())]),
        Proof(b"k", None, [ProofStep(3, (b"short",))]),
        Proof(b"k", b"v", [], OtherLeaf(b"\x00" * 32, b"\x00" * 32)),
        Proof("k", None, []),  # type: ignore[arg-type]
        Proof(b"k", None, [ProofStep(1, ())] * 65),
        Proof(b"k", None, None),  # type: ignore[arg-type]
        Proof(b"k", None, [(1, ())]),  # type: ignore[list-item]
        Proof(b"k", None, [], (b"\x00" * 32, b"\x00" * 32)),  # type: ignore[arg-type]
    ]
    for proof in nonsense:
        assert verify_proof(EMPTY_ROOT, proof) is False
    assert verify_proof("root", Proof(b"k", None, [])) is False  # type: ignore[arg-type]
