"""Signature suites.

A transaction names the suite that signed it by a one-byte id, so a second suite
(SM2 with SM3, the Chinese national suite) can be added beside Ed25519 without
changing the transaction format: register a `SignatureSuite` under a new id.
An account's address is derived from the suite id and the public key, so keys of
different suites can never collide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import nacl.bindings
import nacl.exceptions
import nacl.signing

from baychain.crypto.hashing import sha256
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


@dataclass(frozen=True)
class Ed25519Suite:
    """Ed25519 (RFC 8032) through libsodium; its verify releases the GIL."""

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
        try:
            nacl.bindings.crypto_sign_open(signature + message, public_key)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True


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


def suite_by_name(name: str) -> SignatureSuite:
    for suite in _SUITES.values():
        if suite.name == name:
            return suite
    raise BaychainError(Code.UNSUPPORTED_SUITE, f"signature suite {name!r} is not supported")


def address_of(suite_id: int, public_key: bytes) -> str:
    """An account address: 'bc1' + hex of the first 20 bytes of SHA-256(suite id || key)."""
    return "bc1" + sha256(bytes([suite_id]) + public_key)[:20].hex()


_ADDRESS = re.compile(r"bc1[0-9a-f]{40}\Z")


def is_address(value: str) -> bool:
    """True for a well-formed account address ('bc1' + 40 lowercase hex digits)."""
    return _ADDRESS.match(value) is not None
