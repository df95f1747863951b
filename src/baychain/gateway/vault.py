"""The vault: a gateway's records, encrypted at rest in an embedded LMDB store.

Two secrets protect everything a gateway holds, both random 32-byte keys:

- the **storage key** seals every value in the vault (ChaCha20-Poly1305, a fresh
  96-bit nonce per write; the associated data binds a value to its table and entry,
  so a sealed value cannot be moved to another entry unnoticed). Entry names are
  keyed hashes too, so not even a record id is readable on disk;
- the **HMAC key** makes the keyed hashes anchored on chain (`records`).

They are kept in `keys.json`, encrypted under a key derived from the owner's
passphrase with scrypt (the same construction as the SDK's key files). Whoever holds
the disk but not the passphrase reads nothing and cannot match any anchored hash.

    keys.json  {"version": 1, "kdf": {"name": "scrypt", "n", "r", "p", "salt"},
                "cipher": {"name": "chacha20-poly1305", "nonce"}, "ciphertext"}
    vault/     LMDB environment; tables `records` (owned records) and `received`
               (records received by transfer), each entry sealed
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
import lmdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from baychain import encoding
from baychain.errors import BaychainError, Code

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
NONCE_LEN = 12
TABLES = ("records", "received")
MAP_SIZE = 1 << 30
_AAD = b"baychain/gateway/v1\x00"


@dataclass(frozen=True)
class Secrets:
    """The owner's two keys; never written anywhere unencrypted."""

    storage_key: bytes
    hmac_key: bytes

    def __repr__(self) -> str:
        return "Secrets(<hidden>)"


def create_secrets(path: Path, passphrase: str, *, scrypt_n: int = SCRYPT_N) -> Secrets:
    """Generate new keys and write them encrypted under the passphrase (mode 0600)."""
    if not passphrase:
        raise BaychainError(Code.BAD_REQUEST, "the gateway passphrase must not be empty")
    if path.exists():
        raise BaychainError(Code.ALREADY_EXISTS, f"{path} exists: a gateway's keys are created once")
    keys = Secrets(secrets.token_bytes(32), secrets.token_bytes(32))
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(NONCE_LEN)
    kek = _derive(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    plain = encoding.encode({"storage": keys.storage_key, "hmac": keys.hmac_key})
    doc = {"version": 1,
           "kdf": {"name": "scrypt", "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()},
           "cipher": {"name": "chacha20-poly1305", "nonce": nonce.hex()},
           "ciphertext": ChaCha20Poly1305(kek).encrypt(nonce, plain, b"baychain/gateway/keys/v1").hex()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(doc, indent=2) + "\n")
    return keys


def open_secrets(path: Path, passphrase: str) -> Secrets:
    """Unlock the keys; VAULT_LOCKED for a wrong passphrase or a damaged file."""
    try:
        doc = json.loads(path.read_text())
        kdf = doc["kdf"]
        kek = _derive(passphrase, bytes.fromhex(kdf["salt"]), int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
        plain = ChaCha20Poly1305(kek).decrypt(bytes.fromhex(doc["cipher"]["nonce"]), bytes.fromhex(doc["ciphertext"]),
                                              b"baychain/gateway/keys/v1")
        keys = encoding.decode(plain, Code.VAULT_LOCKED)
        return Secrets(keys["storage"], keys["hmac"])
    except FileNotFoundError:
        raise BaychainError(Code.VAULT_LOCKED, f"no gateway keys at {path} (run `baychain gateway init`)") from None
    except InvalidTag:
        raise BaychainError(Code.VAULT_LOCKED, "wrong passphrase for the gateway's keys") from None
    except (ValueError, KeyError, TypeError):
        raise BaychainError(Code.VAULT_LOCKED, f"{path} is not a gateway key file") from None


class Vault:
    """Sealed tables of canonical values in one LMDB environment."""

    def __init__(self, path: Path, storage_key: bytes) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._env = lmdb.open(str(path), map_size=MAP_SIZE, max_dbs=len(TABLES), subdir=True)
        self._dbs = {t: self._env.open_db(t.encode()) for t in TABLES}
        self._aead = ChaCha20Poly1305(storage_key)
        self._name_key = hmac.new(storage_key, b"baychain/gateway/names/v1", hashlib.sha256).digest()

    def close(self) -> None:
        self._env.close()

    def put(self, table: str, name: str, value: Any, *, overwrite: bool = True) -> None:
        """Seal and store a value; with overwrite=False, ALREADY_EXISTS if the entry exists."""
        slot = self._slot(table, name)
        nonce = secrets.token_bytes(NONCE_LEN)
        sealed = nonce + self._aead.encrypt(nonce, encoding.encode({"name": name, "value": value}), _aad(table, slot))
        with self._env.begin(write=True, db=self._dbs[table]) as txn:
            if not txn.put(slot, sealed, overwrite=overwrite):
                raise BaychainError(Code.ALREADY_EXISTS, f"{table} already holds {name!r}")

    def get(self, table: str, name: str) -> Any:
        """A stored value, or None."""
        slot = self._slot(table, name)
        with self._env.begin(db=self._dbs[table]) as txn:
            sealed = txn.get(slot)
        return None if sealed is None else self._open(table, slot, sealed)["value"]

    def delete(self, table: str, name: str) -> bool:
        with self._env.begin(write=True, db=self._dbs[table]) as txn:
            return txn.delete(self._slot(table, name))

    def items(self, table: str) -> Iterator[tuple[str, Any]]:
        """Every (name, value) of a table, in name order."""
        with self._env.begin(db=self._dbs[table]) as txn:
            opened = [self._open(table, bytes(slot), bytes(sealed)) for slot, sealed in txn.cursor()]
        for entry in sorted(opened, key=lambda e: e["name"]):
            yield entry["name"], entry["value"]

    def _slot(self, table: str, name: str) -> bytes:
        if table not in self._dbs:
            raise BaychainError(Code.BAD_REQUEST, f"no vault table {table!r}")
        return hmac.new(self._name_key, table.encode() + b"\x00" + name.encode(), hashlib.sha256).digest()

    def _open(self, table: str, slot: bytes, sealed: bytes) -> dict[str, Any]:
        try:
            plain = self._aead.decrypt(sealed[:NONCE_LEN], sealed[NONCE_LEN:], _aad(table, slot))
        except InvalidTag:
            raise BaychainError(Code.VAULT_LOCKED, f"a sealed entry of {table} does not open: wrong key or tampered") from None
        return cbor2.loads(plain)


def _aad(table: str, slot: bytes) -> bytes:
    return _AAD + table.encode() + b"\x00" + slot


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
