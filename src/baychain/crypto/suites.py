"""Signature suites.

A transaction names the suite that signed it by a one-byte id, so a second suite
(SM2 with SM3, the Chinese national suite) can be added beside Ed25519 without
changing the transaction format: register a `SignatureSuite` under a new id.
An account's address is derived from the suite id and the public key, so keys of
different suites can never collide.

Verification is a consensus rule: every node must reach the same verdict on every
signature. Ed25519 signatures are therefore verified by baychain's own native module
(native/, built by `make install`) under ZIP-215 rules, with small-order public keys
refused, never by whatever library happens to be installed. There is no fallback: a
node without the module does not start. Keys and signatures are still made with
PyNaCl (libsodium), whose signatures are valid under both rules.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import nacl.signing

try:
    import baychain_native
except ImportError as exc:  # no silent fallback: the verification rule must be the same on every node
    raise ImportError(
        "baychain's native module (baychain_native) is missing: run `make install`, which builds native/ "
        "with Rust's cargo; baychain verifies signatures with it and nothing else"
    ) from exc

from baychain.errors import BaychainError, Code


class SignatureSuite(Protocol):
    suite_id: int
    name: str
    public_key_len: int
    signature_len: int

    def generate(self) -> bytes:
        """Return a new private key (seed) as bytes."""

    def public_key(self, private_key: bytes) -> bytes: ...

    def sign(self, private_key: bytes, message: bytes) -> bytes: ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...

    def verify_many(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """One verdict per (public_key, message, signature), each equal to `verify`'s."""


@dataclass(frozen=True)
class Ed25519Suite:
    """Ed25519 (RFC 8032): signed with libsodium, verified natively under ZIP-215 rules.

    Verification releases the GIL; `verify_many` checks whole batches at once, which
    ZIP-215 makes safe (a batch verifies exactly when each signature in it does).
    """

    suite_id: int = 1
    name: str = "ed25519"
    public_key_len: int = 32
    signature_len: int = 64

    def generate(self) -> bytes:
        return bytes(nacl.signing.SigningKey.generate())

    def public_key(self, private_key: bytes) -> bytes:
        return bytes(nacl.signing.SigningKey(private_key).verify_key)

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return nacl.signing.SigningKey(private_key).sign(message).signature

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return baychain_native.verify(public_key, message, signature)

    def verify_many(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        return baychain_native.verify_batch(items)


ED25519 = Ed25519Suite()
_SUITES: dict[int, SignatureSuite] = {ED25519.suite_id: ED25519}


def register_suite(suite: SignatureSuite) -> None:
    """Make a suite available to every node (must happen identically on all nodes)."""
    _SUITES[suite.suite_id] = suite


def get_suite(suite_id: int) -> SignatureSuite:
    try:
        return _SUITES[suite_id]
    except KeyError:
        raise BaychainError(Code.UNSUPPORTED_SUITE, f"signature suite {suite_id} is not supported") from None


def find_suite(suite_id: int) -> SignatureSuite | None:
    """The suite registered under `suite_id`, or None (an int: True would find suite 1)."""
    return _SUITES.get(suite_id)


def suite_by_name(name: str) -> SignatureSuite:
    for suite in _SUITES.values():
        if suite.name == name:
            return suite
    raise BaychainError(Code.UNSUPPORTED_SUITE, f"signature suite {name!r} is not supported")


def address_of(suite_id: int, public_key: bytes) -> str:
    """An account address: 'bc1' + hex of the first 20 bytes of SHA-256(suite id || key).

    Computed for every transaction admitted, hence hashlib directly (half the time of
    going through `hashing.sha256` and a list for the id byte)."""
    return "bc1" + hashlib.sha256(bytes((suite_id,)) + public_key).digest()[:20].hex()


_ADDRESS = re.compile(r"bc1[0-9a-f]{40}\Z")


def is_address(value: str) -> bool:
    """True for a well-formed account address ('bc1' + 40 lowercase hex digits)."""
    return _ADDRESS.match(value) is not None
