"""Hashing used across the chain: SHA-256 everywhere a digest is committed."""

from __future__ import annotations

import hashlib

HASH_LEN = 32


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
