"""Mutually authenticated TLS between gateways, with consortium certificates.

Every gateway presents its organisation's node certificate (extended key usages
serverAuth and clientAuth, issued by the organisation CA) and accepts only peers
whose chain ends at the consortium root: TLS 1.3 only, a certificate required on
both sides, the server's name checked by the client. Ed25519 certificates work in
TLS 1.3 with Python's ssl.

TLS proves the peer holds a certificate the root's hierarchy issued. Who the peer is
*now* is read from the chain: `identify` verifies the peer's certificate with
`verify_chain` against the organisation CAs registered on chain (for node use), and
refuses a revoked certificate or a suspended organisation. The organisation and
jurisdiction it returns come from the registered CA, never from the peer's word.
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

from baychain.errors import BaychainError, Code
from baychain.identity.attributes import Jurisdiction, Role
from baychain.identity.certificates import load_certificate, serial_hex
from baychain.identity.verification import CertIdentity, OrgAuthority, Usage, verify_chain


def server_context(home: Path, passphrase: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    return _configure(ctx, home, passphrase)


def client_context(home: Path, passphrase: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
    return _configure(ctx, home, passphrase)


def _configure(ctx: ssl.SSLContext, home: Path, passphrase: str) -> ssl.SSLContext:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(home / "tls" / "root.pem"))
    try:
        ctx.load_cert_chain(str(home / "tls" / "node.pem"), str(home / "tls" / "node.key.pem"), password=passphrase)
    except ssl.SSLError:
        raise BaychainError(Code.VAULT_LOCKED, "cannot open the gateway's TLS key: wrong passphrase") from None
    return ctx


def identify(der: bytes | None, client: Any, at_ns: int | None = None) -> CertIdentity:
    """Who a peer's (already TLS-verified) certificate speaks for, by the registry on chain.

    PEER_UNTRUSTED with the reason when the certificate is not a valid node certificate of
    a registered, active organisation."""
    if not der:
        raise BaychainError(Code.PEER_UNTRUSTED, "the peer presented no certificate")
    root = client.view("identity", "root")
    authorities = [
        OrgAuthority(load_certificate(bytes.fromhex(ca["der"])), org["name"], Jurisdiction(org["jurisdiction"]),
                     Role(org["role"]), bool(org.get("imported")))
        for org in client.view("identity", "organisations") for ca in org["cas"]]
    try:
        ident = verify_chain(der, authorities, bytes.fromhex(root["der"]) if root else None,
                             at_ns if at_ns is not None else time.time_ns(), usage=Usage.NODE)
    except BaychainError as exc:
        raise BaychainError(Code.PEER_UNTRUSTED, f"the peer's certificate is not trusted: {exc.message}") from None
    org = client.view("identity", "organisation", {"name": ident.organisation})
    if org.get("suspended"):
        raise BaychainError(Code.PEER_UNTRUSTED, f"{ident.organisation} is suspended from the consortium")
    try:
        client.view("identity", "revocation", {"issuer_key_id": ident.issuer_key_id, "serial": serial_hex(ident.serial)})
    except BaychainError as exc:
        if exc.code != Code.NOT_FOUND:
            raise
        return ident
    raise BaychainError(Code.PEER_UNTRUSTED, f"the peer's certificate {serial_hex(ident.serial)} is revoked")
