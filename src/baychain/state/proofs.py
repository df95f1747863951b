"""Merkle proofs of inclusion and absence, and the hashing rules they check.

This module is the specification of the state trie's hashes. It is deliberately
standalone (hashlib, dataclasses and baychain's canonical encoding only) so that a
light client can copy it and verify state proofs knowing nothing but a block's app
hash.

The trie
--------
Every key is placed by its *key path* ``SHA-256(key)``: 32 bytes read as 64 nibbles
(high nibble of each byte first). The trie is 16-ary and has no extension nodes. For
the set S of keys whose paths start with a nibble prefix P of length d:

* |S| = 0: the slot is empty;
* |S| = 1: the slot holds that key's *leaf*;
* |S| >= 2: the slot holds an *internal node* whose child at nibble i is the slot
  for the keys of S whose path continues with i (so an internal node may have a
  single child, when that child is itself an internal node).

The structure therefore depends only on the set of keys, never on insertion order.
The root is the slot for the empty prefix.

Hashes (all SHA-256, domain separated by the first byte)::

    leaf_hash     = SHA-256(0x00 || key_path (32) || SHA-256(value))
    internal_hash = SHA-256(0x01 || bitmap (2, big-endian) || child hashes in nibble order)
    empty root    = 32 zero bytes

where bit i of the bitmap (bit 0 = least significant) is set iff child nibble i is
present.

Proofs
------
A proof lists the internal nodes on the key's path from the root down, each as its
bitmap and the hashes of its *other* children (nibble order), then ends in one of:

* inclusion: the key's own leaf, hashed from ``proof.value``;
* absence, *other leaf*: the slot is occupied by the leaf of a different key, given
  as that leaf's key path and value hash (``proof.leaf``);
* absence, *empty slot*: the last listed node has no child at the key's nibble; its
  sibling list is then all of its children. With no nodes at all, the tree is empty
  and the root must be the 32 zero bytes.

See docs/STATE.md for the verification algorithm written out step by step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from baychain import encoding
from baychain.errors import BaychainError, Code

HASH_LEN = 32
EMPTY_ROOT = bytes(HASH_LEN)
LEAF_PREFIX = b"\x00"
INTERNAL_PREFIX = b"\x01"
MAX_DEPTH = 2 * HASH_LEN  # 64 nibbles in a key path

_PROOF_FIELDS = ("key", "leaf", "steps", "value")


def key_path(key: bytes) -> bytes:
    """Where a key lives in the trie: SHA-256 of the key."""
    return hashlib.sha256(key).digest()


def nibble(path: bytes, depth: int) -> int:
    """Nibble `depth` of a 32-byte path (high nibble of each byte first)."""
    byte = path[depth >> 1]
    return byte & 0x0F if depth & 1 else byte >> 4


def leaf_hash(path: bytes, value_hash: bytes) -> bytes:
    """Hash of a leaf from its key path and the SHA-256 of its value."""
    return hashlib.sha256(LEAF_PREFIX + path + value_hash).digest()


def internal_hash(bitmap: int, child_hashes: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Hash of an internal node from its bitmap and its children's hashes in nibble order."""
    return hashlib.sha256(INTERNAL_PREFIX + bitmap.to_bytes(2, "big") + b"".join(child_hashes)).digest()


@dataclass(frozen=True)
class ProofStep:
    """One internal node on the key's path: its bitmap and its other children's hashes."""

    bitmap: int
    siblings: tuple[bytes, ...]


@dataclass(frozen=True)
class OtherLeaf:
    """The leaf of a different key occupying the slot where an absent key would live."""

    key_path: bytes
    value_hash: bytes


@dataclass
class Proof:
    """Proof that `key` maps to `value` (or is absent when `value` is None) under a root."""

    key: bytes
    value: bytes | None
    steps: list[ProofStep] = field(default_factory=list)  # root first
    leaf: OtherLeaf | None = None  # absence proofs whose slot holds another key's leaf

    # -- canonical bytes ---------------------------------------------------------
    def _to_value(self) -> dict:
        return {
            "key": self.key,
            "value": self.value,
            "steps": [[step.bitmap, list(step.siblings)] for step in self.steps],
            "leaf": None if self.leaf is None else [self.leaf.key_path, self.leaf.value_hash],
        }

    def to_bytes(self) -> bytes:
        """Canonical CBOR: {"key": b, "value": b|null, "steps": [[bitmap, [h...]]...], "leaf": null|[path, vh]}."""
        return encoding.encode(self._to_value())

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Decode canonical bytes strictly; raises PROOF_INVALID on anything malformed."""
        if type(data) is not bytes:
            raise _invalid("proof must be bytes")
        obj = encoding.decode(data, Code.PROOF_INVALID)
        if type(obj) is not dict or sorted(obj) != list(_PROOF_FIELDS):
            raise _invalid(f"proof must be a map with exactly the fields {', '.join(_PROOF_FIELDS)}")
        key, value, raw_steps, raw_leaf = obj["key"], obj["value"], obj["steps"], obj["leaf"]
        if type(key) is not bytes:
            raise _invalid("key must be bytes")
        if value is not None and type(value) is not bytes:
            raise _invalid("value must be bytes or null")
        if type(raw_steps) is not list:
            raise _invalid("steps must be a list")
        steps = []
        for raw in raw_steps:
            if type(raw) is not list or len(raw) != 2:
                raise _invalid("each step must be [bitmap, siblings]")
            bitmap, siblings = raw
            if type(siblings) is not list:
                raise _invalid("step siblings must be a list")
            steps.append(ProofStep(bitmap, tuple(siblings)))
        leaf = None
        if raw_leaf is not None:
            if type(raw_leaf) is not list or len(raw_leaf) != 2:
                raise _invalid("leaf must be null or [key_path, value_hash]")
            leaf = OtherLeaf(raw_leaf[0], raw_leaf[1])
        proof = cls(key, value, steps, leaf)
        proof.check_shape()
        return proof

    # -- JSON (hex) for the HTTP API ----------------------------------------------
    def to_json(self) -> dict:
        return {
            "key": self.key.hex(),
            "value": None if self.value is None else self.value.hex(),
            "steps": [{"bitmap": s.bitmap, "siblings": [h.hex() for h in s.siblings]} for s in self.steps],
            "leaf": None
            if self.leaf is None
            else {"key_path": self.leaf.key_path.hex(), "value_hash": self.leaf.value_hash.hex()},
        }

    @classmethod
    def from_json(cls, obj: dict) -> Proof:
        """Inverse of to_json; raises PROOF_INVALID on anything malformed."""
        if type(obj) is not dict or sorted(obj) != list(_PROOF_FIELDS):
            raise _invalid(f"proof must be an object with exactly the fields {', '.join(_PROOF_FIELDS)}")
        key = _unhex(obj["key"], "key")
        value = None if obj["value"] is None else _unhex(obj["value"], "value")
        if type(obj["steps"]) is not list:
            raise _invalid("steps must be a list")
        steps = []
        for raw in obj["steps"]:
            if type(raw) is not dict or sorted(raw) != ["bitmap", "siblings"]:
                raise _invalid("each step must be {bitmap, siblings}")
            if type(raw["siblings"]) is not list:
                raise _invalid("step siblings must be a list")
            steps.append(ProofStep(raw["bitmap"], tuple(_unhex(h, "sibling") for h in raw["siblings"])))
        leaf = None
        raw_leaf = obj["leaf"]
        if raw_leaf is not None:
            if type(raw_leaf) is not dict or sorted(raw_leaf) != ["key_path", "value_hash"]:
                raise _invalid("leaf must be null or {key_path, value_hash}")
            leaf = OtherLeaf(_unhex(raw_leaf["key_path"], "key_path"), _unhex(raw_leaf["value_hash"], "value_hash"))
        proof = cls(key, value, steps, leaf)
        proof.check_shape()
        return proof

    def check_shape(self) -> None:
        """Raise PROOF_INVALID unless every field has a possible type and size.

        Shape only: whether the proof is *true* is for verify_proof to say.
        """
        if type(self.key) is not bytes:
            raise _invalid("key must be bytes")
        if self.value is not None and type(self.value) is not bytes:
            raise _invalid("value must be bytes or None")
        if type(self.steps) not in (list, tuple):
            raise _invalid("steps must be a list")
        if len(self.steps) > MAX_DEPTH:
            raise _invalid(f"more than {MAX_DEPTH} steps")
        for step in self.steps:
            if type(step) is not ProofStep:
                raise _invalid("each step must be a ProofStep")
            if type(step.bitmap) is not int or not 0 < step.bitmap <= 0xFFFF:
                raise _invalid("a step bitmap must be an integer in 1..65535")
            if type(step.siblings) not in (tuple, list):
                raise _invalid("step siblings must be a sequence of hashes")
            count = step.bitmap.bit_count()
            if len(step.siblings) not in (count - 1, count):
                raise _invalid("a step must list one hash per other child")
            for sibling in step.siblings:
                if type(sibling) is not bytes or len(sibling) != HASH_LEN:
                    raise _invalid("sibling hashes must be 32 bytes")
        if self.leaf is not None:
            if type(self.leaf) is not OtherLeaf:
                raise _invalid("leaf must be an OtherLeaf or None")
            if self.value is not None:
                raise _invalid("an inclusion proof cannot end in another key's leaf")
            for part in (self.leaf.key_path, self.leaf.value_hash):
                if type(part) is not bytes or len(part) != HASH_LEN:
                    raise _invalid("leaf key_path and value_hash must be 32 bytes")


def verify_proof(root: bytes, proof: Proof) -> bool:
    """True iff `proof` shows that proof.key maps to proof.value (absent if None) under `root`.

    Needs nothing but the root. Never raises on a malformed proof; it returns False.
    """
    try:
        proof.check_shape()
    except BaychainError:
        return False
    if type(root) is not bytes or len(root) != HASH_LEN:
        return False
    path = key_path(proof.key)
    steps = proof.steps
    depth = len(steps)

    # 1. The terminal: the hash of what sits at the end of the listed path.
    if proof.value is not None:
        current = leaf_hash(path, hashlib.sha256(proof.value).digest())
        through = depth
    elif proof.leaf is not None:
        other = proof.leaf.key_path
        if other == path or any(nibble(other, d) != nibble(path, d) for d in range(depth)):
            return False
        current = leaf_hash(other, proof.leaf.value_hash)
        through = depth
    else:
        if depth == 0:
            return root == EMPTY_ROOT
        last = steps[-1]
        if last.bitmap >> nibble(path, depth - 1) & 1 or len(last.siblings) != last.bitmap.bit_count():
            return False
        current = internal_hash(last.bitmap, last.siblings)
        through = depth - 1

    # 2. Hash upward through the nodes the path passes through.
    for d in range(through - 1, -1, -1):
        step = steps[d]
        nib = nibble(path, d)
        if not step.bitmap >> nib & 1 or len(step.siblings) != step.bitmap.bit_count() - 1:
            return False
        pos = (step.bitmap & ((1 << nib) - 1)).bit_count()
        siblings = tuple(step.siblings)
        children = siblings[:pos] + (current,) + siblings[pos:]
        current = internal_hash(step.bitmap, children)
    return current == root


def _invalid(message: str) -> BaychainError:
    return BaychainError(Code.PROOF_INVALID, message)


def _unhex(text: object, what: str) -> bytes:
    if type(text) is not str:
        raise _invalid(f"{what} must be a hex string")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise _invalid(f"{what} is not valid hex") from None
    if data.hex() != text:
        raise _invalid(f"{what} must be lowercase hex without spaces")
    return data
