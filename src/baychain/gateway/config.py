"""A gateway's home directory: its settings and the secrets only its owner unlocks.

    <home>/gateway.json      node API URL, peer (mTLS) and admin (loopback) addresses
    <home>/keys.json         storage and HMAC keys, encrypted under the passphrase (vault.py)
    <home>/signer.json       the key that signs the gateway's transactions: an SDK key file under
                             the same passphrase, bound on chain to a user certificate of the
                             organisation (`identity.bind`)
    <home>/tls/node.pem      the organisation's node certificate followed by its organisation CA
    <home>/tls/node.key.pem  the node certificate's key, encrypted PKCS#8 under the passphrase
    <home>/tls/root.pem      the consortium root CA: the TLS trust anchor
    <home>/admin.token       bearer token of the loopback admin API (mode 0600)
    <home>/vault/            the encrypted record store (LMDB)

One passphrase unlocks the gateway: `init` re-encrypts the keys it is given under it.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509

from baychain.errors import BaychainError, Code
from baychain.gateway.vault import SCRYPT_N, create_secrets
from baychain.identity.certificates import to_pem
from baychain.identity.keys import PrivateKey, encrypt_key
from baychain.sdk.keys import Key

CONFIG = "gateway.json"


@dataclass
class GatewayConfig:
    node: str  # the HTTP API of the organisation's node
    peer_host: str = "127.0.0.1"
    peer_port: int = 7443
    admin_host: str = "127.0.0.1"
    admin_port: int = 7480

    @classmethod
    def load(cls, home: Path) -> GatewayConfig:
        path = home / CONFIG
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise BaychainError(Code.NOT_FOUND, f"{home} is not a gateway home (run `baychain gateway init`)") from None
        except (ValueError, TypeError) as exc:
            raise BaychainError(Code.BAD_REQUEST, f"{path} is not a gateway configuration: {exc}") from None

    def save(self, home: Path) -> None:
        _write(home / CONFIG, (json.dumps(asdict(self), indent=2) + "\n").encode(), 0o644)


def init_home(home: Path, passphrase: str, *, config: GatewayConfig, node_cert: x509.Certificate,
              node_key: PrivateKey, org_ca: x509.Certificate, root: x509.Certificate, signer: Key,
              scrypt_n: int = SCRYPT_N) -> None:
    """Create a gateway home: new vault keys, the TLS material and signer under `passphrase`."""
    if (home / CONFIG).exists():
        raise BaychainError(Code.ALREADY_EXISTS, f"{home} already holds a gateway")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "tls").mkdir(exist_ok=True, mode=0o700)
    create_secrets(home / "keys.json", passphrase, scrypt_n=scrypt_n)
    signer.save(home / "signer.json", passphrase, scrypt_n=scrypt_n)
    _write(home / "tls" / "node.pem", to_pem(node_cert) + to_pem(org_ca), 0o644)
    _write(home / "tls" / "node.key.pem", encrypt_key(node_key, passphrase), 0o600)
    _write(home / "tls" / "root.pem", to_pem(root), 0o644)
    _write(home / "admin.token", secrets.token_hex(32).encode(), 0o600)
    config.save(home)


def admin_token(home: Path) -> str:
    try:
        return (home / "admin.token").read_text().strip()
    except FileNotFoundError:
        raise BaychainError(Code.NOT_FOUND, f"{home} is not a gateway home (run `baychain gateway init`)") from None


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
