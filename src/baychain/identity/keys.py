"""Certificate keys: which kinds are accepted, how they are stored, how they are named.

baychain's own CAs and the certificates they issue use Ed25519. An organisation that
brings its own CA may have an ECDSA P-256 key instead; the leaf certificates that sign
transactions still carry Ed25519 keys, because the account address is derived from an
Ed25519 public key (`address_of`).

Private keys are stored as PKCS#8 PEM encrypted with a passphrase
(`BestAvailableEncryption`: PBES2 with AES-256 in the `cryptography` release used
here), so `openssl pkey -in key.pem` opens them with the same passphrase.
"""

from __future__ import annotations

from typing import Union

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code

PrivateKey = Union[ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey]
PublicKey = Union[ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey]

KEY_ED25519 = "ed25519"
KEY_P256 = "ecdsa-p256"


def new_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def key_type(public_key: object) -> str:
    """'ed25519' or 'ecdsa-p256'; CERT_INVALID for any other key."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return KEY_ED25519
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return KEY_P256
    raise BaychainError(Code.CERT_INVALID, f"unsupported key type {type(public_key).__name__}: "
                                            "certificates use Ed25519 (or ECDSA P-256 for an imported CA)")


def raw_public_key(public_key: PublicKey) -> bytes:
    """Ed25519: the 32-byte key. P-256: the 65-byte uncompressed point."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def key_id(public_key: PublicKey) -> str:
    """A stable name for a key: hex SHA-256 of its SubjectPublicKeyInfo DER.

    Revocations are scoped by the issuing CA's key id, so they survive renewing a CA
    certificate with the same key and cannot collide between CAs that number their
    serials the same way."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return sha256(spki).hex()


def signing_hash(private_key: PrivateKey) -> hashes.HashAlgorithm | None:
    """The hash argument `cryptography` wants when signing with this key (None for Ed25519)."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1):
        return hashes.SHA256()
    raise BaychainError(Code.BAD_REQUEST, f"unsupported CA key type {type(private_key).__name__}")


def ed25519_public_key(raw: bytes) -> ed25519.Ed25519PublicKey:
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(bytes(raw))
    except ValueError:
        raise BaychainError(Code.BAD_REQUEST, "an Ed25519 public key is 32 bytes") from None


def encrypt_key(private_key: PrivateKey, passphrase: str) -> bytes:
    """Encrypted PKCS#8 PEM."""
    if not passphrase:
        raise BaychainError(Code.BAD_REQUEST, "the passphrase must not be empty")
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


def decrypt_key(pem: bytes, passphrase: str, label: str = "key") -> PrivateKey:
    """Load an encrypted PEM key; BAD_REQUEST on a wrong passphrase or an unsupported key."""
    try:
        key = serialization.load_pem_private_key(pem, passphrase.encode() if passphrase else None)
    except (ValueError, TypeError):
        raise BaychainError(Code.BAD_REQUEST, f"cannot open {label}: wrong passphrase, or not an encrypted PEM private key") from None
    if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        raise BaychainError(Code.BAD_REQUEST, f"{label} is a {type(key).__name__}; Ed25519 or ECDSA P-256 expected")
    signing_hash(key)  # rejects other curves
    return key
