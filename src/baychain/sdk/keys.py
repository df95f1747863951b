"""Signing keys and passphrase-encrypted key files.

A `Key` is a private key of one signature suite, with the public key and account
address derived from it. On disk a key is a small JSON document (file mode 0600):

    {"version": 1, "suite": "ed25519", "address": "bc1…", "public_key": "<hex>",
     "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<hex>"},
     "cipher": {"name": "chacha20-poly1305", "nonce": "<hex>"},
     "ciphertext": "<hex>"}

The private key is encrypted with ChaCha20-Poly1305 under a key derived from the
passphrase with scrypt (both from `cryptography`). The plaintext header (version,
suite, address, public key) is the AEAD's associated data, so editing it makes the
file undecryptable rather than silently wrong. Address and public key are readable
without the passphrase, so keys can be listed and shown without unlocking them.

A `KeyStore` is a directory of such files, one per key name.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from baychain.crypto.suites import SignatureSuite, address_of, suite_by_name
from baychain.errors import BaychainError, Code

KEYFILE_VERSION = 1
SCRYPT_N = 2**15  # ~32 MiB and ~0.1 s per unlock: cheap for a user, costly for a guesser
SCRYPT_R = 8
SCRYPT_P = 1
SALT_LEN = 16
NONCE_LEN = 12
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


@dataclass(frozen=True)
class Key:
    """A private signing key; `public_key` and `address` derive from it."""

    suite: SignatureSuite
    private_key: bytes
    public_key: bytes
    address: str

    def __repr__(self) -> str:  # never print the private key
        return f"Key(suite={self.suite.name!r}, address={self.address!r})"

    @classmethod
    def generate(cls, suite: str = "ed25519") -> Key:
        """A fresh random key of the named suite."""
        s = suite_by_name(suite)
        return cls.from_private_key(s.generate(), suite)

    @classmethod
    def from_private_key(cls, private_key: bytes, suite: str = "ed25519") -> Key:
        s = suite_by_name(suite)
        try:
            public_key = s.public_key(bytes(private_key))
        except Exception:
            raise BaychainError(Code.BAD_REQUEST, f"not a valid {s.name} private key") from None
        return cls(s, bytes(private_key), public_key, address_of(s.suite_id, public_key))

    def sign(self, message: bytes) -> bytes:
        return self.suite.sign(self.private_key, message)

    # -- key files ---------------------------------------------------------------

    def to_keyfile(self, passphrase: str, *, scrypt_n: int = SCRYPT_N) -> dict[str, Any]:
        """The encrypted JSON document for this key."""
        salt = secrets.token_bytes(SALT_LEN)
        nonce = secrets.token_bytes(NONCE_LEN)
        header = _header(self.suite.name, self.address, self.public_key)
        secret = _derive(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
        ciphertext = ChaCha20Poly1305(secret).encrypt(nonce, self.private_key, _aad(header))
        return {
            **header,
            "kdf": {"name": "scrypt", "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()},
            "cipher": {"name": "chacha20-poly1305", "nonce": nonce.hex()},
            "ciphertext": ciphertext.hex(),
        }

    @classmethod
    def from_keyfile(cls, doc: dict[str, Any], passphrase: str) -> Key:
        """Decrypt a key document; a wrong passphrase raises BAD_REQUEST saying so."""
        info = KeyInfo.from_keyfile(doc)
        try:
            kdf, cipher = doc["kdf"], doc["cipher"]
            if kdf["name"] != "scrypt" or cipher["name"] != "chacha20-poly1305":
                raise BaychainError(Code.BAD_REQUEST, f"unsupported key file algorithms {kdf['name']}/{cipher['name']}")
            n, r, p = (int(kdf[k]) for k in ("n", "r", "p"))
            if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
                raise BaychainError(Code.BAD_REQUEST, "key file has out-of-range scrypt parameters")
            salt, nonce = bytes.fromhex(kdf["salt"]), bytes.fromhex(cipher["nonce"])
            ciphertext = bytes.fromhex(doc["ciphertext"])
        except (KeyError, TypeError, ValueError):
            raise BaychainError(Code.BAD_REQUEST, "key file is malformed") from None
        secret = _derive(passphrase, salt, n, r, p)
        try:
            private_key = ChaCha20Poly1305(secret).decrypt(nonce, ciphertext, _aad(_header(info.suite, info.address, info.public_key)))
        except (InvalidTag, ValueError):
            raise BaychainError(
                Code.BAD_REQUEST, "wrong passphrase for this key file (or the file has been altered)"
            ) from None
        key = cls.from_private_key(private_key, info.suite)
        if key.public_key != info.public_key or key.address != info.address:
            raise BaychainError(Code.BAD_REQUEST, "key file's private key does not match its address")
        return key

    def save(self, path: str | Path, passphrase: str, *, overwrite: bool = False, scrypt_n: int = SCRYPT_N) -> Path:
        """Write the encrypted key file with mode 0600 (atomically; never over another key unless asked)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise BaychainError(Code.ALREADY_EXISTS, f"key file {path} already exists")
        data = json.dumps(self.to_keyfile(passphrase, scrypt_n=scrypt_n), indent=2) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-", suffix=".tmp")  # created 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            if overwrite:
                os.replace(tmp, path)
            else:
                os.link(tmp, path)  # fails if a file appeared meanwhile
                os.unlink(tmp)
        except FileExistsError:
            os.unlink(tmp)
            raise BaychainError(Code.ALREADY_EXISTS, f"key file {path} already exists") from None
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path, passphrase: str) -> Key:
        return cls.from_keyfile(_read_json(Path(path)), passphrase)


@dataclass(frozen=True)
class KeyInfo:
    """What a key file tells without its passphrase."""

    suite: str
    address: str
    public_key: bytes
    path: Path | None = None
    name: str = ""

    @classmethod
    def from_keyfile(cls, doc: dict[str, Any], path: Path | None = None, name: str = "") -> KeyInfo:
        try:
            if doc["version"] != KEYFILE_VERSION:
                raise BaychainError(Code.BAD_REQUEST, f"unsupported key file version {doc['version']!r}")
            return cls(str(doc["suite"]), str(doc["address"]), bytes.fromhex(doc["public_key"]), path, name)
        except (KeyError, TypeError, ValueError):
            raise BaychainError(Code.BAD_REQUEST, "key file is malformed") from None

    @classmethod
    def load(cls, path: str | Path, name: str = "") -> KeyInfo:
        path = Path(path)
        return cls.from_keyfile(_read_json(path), path, name)


class KeyStore:
    """A directory of named key files: `<dir>/<name>.json`."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory).expanduser()

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise BaychainError(Code.BAD_REQUEST, f"key name {name!r} must be 1-64 characters of A-Z a-z 0-9 . _ -")
        return self.dir / f"{name}.json"

    def names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("*.json") if _NAME.match(p.stem))

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def save(self, name: str, key: Key, passphrase: str, *, overwrite: bool = False, scrypt_n: int = SCRYPT_N) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        return key.save(self.path(name), passphrase, overwrite=overwrite, scrypt_n=scrypt_n)

    def load(self, name: str, passphrase: str) -> Key:
        return Key.load(self._existing(name), passphrase)

    def info(self, name: str) -> KeyInfo:
        return KeyInfo.load(self._existing(name), name)

    def _existing(self, name: str) -> Path:
        path = self.path(name)
        if not path.exists():
            raise BaychainError(Code.NOT_FOUND, f"no key named {name!r} in {self.dir}")
        return path


def _header(suite: str, address: str, public_key: bytes) -> dict[str, Any]:
    return {"version": KEYFILE_VERSION, "suite": suite, "address": address, "public_key": public_key.hex()}


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not isinstance(passphrase, str):
        raise BaychainError(Code.BAD_REQUEST, "passphrase must be a string")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise BaychainError(Code.NOT_FOUND, f"no key file at {path}") from None
    except (OSError, ValueError) as exc:
        raise BaychainError(Code.BAD_REQUEST, f"cannot read key file {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise BaychainError(Code.BAD_REQUEST, f"key file {path} is not a JSON object")
    return doc
