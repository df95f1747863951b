"""State: the authenticated, versioned key-value store whose root is the app hash.

* proofs.py   — the trie's hashing rules, Merkle proofs and their verifier (standalone)
* store.py    — StateStore: versioned trie nodes in LMDB, batch updates, pruning
* lmdb_env.py — open_env: the one durable LMDB environment a node keeps state and blocks in

docs/STATE.md describes the formats precisely enough to write an independent verifier.
"""

from baychain.state.lmdb_env import open_env
from baychain.state.proofs import EMPTY_ROOT, OtherLeaf, Proof, ProofStep, verify_proof
from baychain.state.store import MAX_KEY_BYTES, StateStore

__all__ = [
    "EMPTY_ROOT",
    "MAX_KEY_BYTES",
    "OtherLeaf",
    "Proof",
    "ProofStep",
    "StateStore",
    "open_env",
    "verify_proof",
]
