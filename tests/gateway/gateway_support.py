"""A GBA consortium for the data-exchange tests: a real PKI issued now, a real solo node
whose genesis registers it, and real gateways (vault, mutual TLS, admin API) per
organisation, each bound on chain by its own user certificate."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from baychain.chain.genesis import Genesis
from baychain.gateway import Gateway, GatewayConfig, Running, init_home, serve
from baychain.identity import Issued, Jurisdiction, Kind, Role, create_org_ca, create_root, issue_leaf, to_pem
from baychain.sdk import Client, Key
from baychain.sdk.testing import LocalNode, local_node

CHAIN_ID = "dataex-test"
PASSPHRASE = "correct horse battery staple"
TEST_SCRYPT_N = 2**10  # the gateway's KDF cost, lowered for tests only
DAY_NS = 86_400 * 10**9
ORGS = {"Shenzhen Data Co": Jurisdiction.GD, "Hong Kong Bank": Jurisdiction.HK, "Macao Clinic": Jurisdiction.MO,
        "Zhuhai Trading": Jurisdiction.GD}


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class Consortium:
    now: datetime
    root: Issued
    cas: dict[str, Issued]
    admin: Key  # the regulator's key: the one member of the genesis committee
    node: LocalNode
    client: Client
    homes: Path
    gateways: dict[str, Gateway] = field(default_factory=dict)
    running: dict[str, Running] = field(default_factory=dict)
    node_certs: dict[str, Any] = field(default_factory=dict)  # each gateway's TLS certificate

    def start_gateway(self, org: str, name: str | None = None) -> Gateway:
        """A gateway of `org`: keys bound on chain, node certificate for TLS, both servers up."""
        name = name or org
        ca = self.cas[org]
        signer = Key.generate()
        self.bind(org, signer, f"gateway-{len(self.gateways)}")
        node_cert = issue_leaf(ca.certificate, ca.private_key, f"gw{len(self.gateways)}", Kind.NODE, now=self.now,
                               dns_names=["127.0.0.1", "localhost"])
        home = self.homes / f"gw{len(self.gateways)}"
        init_home(home, PASSPHRASE, config=GatewayConfig(node=self.node.url, peer_port=0, admin_port=0),
                  node_cert=node_cert.certificate, node_key=node_cert.private_key, org_ca=ca.certificate,
                  root=self.root.certificate, signer=signer, scrypt_n=TEST_SCRYPT_N)
        gateway = Gateway(home, PASSPHRASE)
        self.node_certs[name] = node_cert.certificate
        self.gateways[name] = gateway
        self.running[name] = serve(gateway)
        return gateway

    def peer(self, name: str) -> str:
        return self.running[name].peer_address

    def bind(self, org: str, key: Key, cn: str) -> None:
        ca = self.cas[org]
        cert = issue_leaf(ca.certificate, ca.private_key, cn, Kind.USER, now=self.now,
                          public_key=ed25519.Ed25519PublicKey.from_public_bytes(key.public_key)).certificate
        self.client.call(key, "identity", "bind", {"cert": der(cert)})

    def decide(self, *actions: dict) -> dict:
        """Pass a committee proposal (the regulator is the one-member committee); its summary."""
        pid = self.client.call(self.admin, "governance", "propose", {"title": "test", "actions": list(actions)}).data["id"]
        summary = self.client.call(self.admin, "governance", "vote", {"id": pid, "approve": True}).data
        assert summary["status"] == "executed", summary
        return summary

    def stop(self) -> None:
        for running in self.running.values():
            running.stop()
        for gateway in self.gateways.values():
            gateway.close()


@contextmanager
def consortium(tmp: Path) -> Iterator[Consortium]:
    now = datetime.now(timezone.utc)
    root = create_root("GBA Consortium Root CA", now=now)
    cas = {name: create_org_ca(root.certificate, root.private_key, name, j, Role.MEMBER, now=now) for name, j in ORGS.items()}
    cas["GBA Regulator"] = create_org_ca(root.certificate, root.private_key, "GBA Regulator", Jurisdiction.GD,
                                         Role.REGULATOR, now=now)
    admin = Key.generate()
    home = tmp / "node"
    home.mkdir(parents=True)
    app_state = {
        "identity": {"root": to_pem(root.certificate).decode(), "required": True,
                     "organisations": [{"name": n, "ca": to_pem(ca.certificate).decode()} for n, ca in cas.items()]},
        "governance": {"members": [{"account": admin.address, "organisation": "GBA Regulator", "weight": 1}]}}
    Genesis(chain_id=CHAIN_ID, time_ns=time.time_ns(), app_state=app_state).save(home / "genesis.json")
    with local_node(home, chain_id=CHAIN_ID, block_interval=0.02) as node, Client(node.url, timeout=15) as client:
        c = Consortium(now, root, cas, admin, node, client, tmp / "gateways")
        c.bind("GBA Regulator", admin, "admin")
        try:
            yield c
        finally:
            c.stop()


class OutsiderSink:
    """A TLS server of an organisation outside the consortium (its own root CA): it accepts
    any client and keeps every byte it receives, to show that nothing reached it."""

    def __init__(self, tmp: Path) -> None:
        now = datetime.now(timezone.utc)
        root = create_root("Lion City Root CA", now=now)
        ca = create_org_ca(root.certificate, root.private_key, "Lion City Bank", Jurisdiction.HK, Role.MEMBER, now=now)
        leaf = issue_leaf(ca.certificate, ca.private_key, "lion-gw", Kind.NODE, now=now, dns_names=["127.0.0.1"])
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "chain.pem").write_bytes(to_pem(leaf.certificate) + to_pem(ca.certificate))
        (tmp / "key.pem").write_bytes(leaf.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / "chain.pem", tmp / "key.pem")
        self.received = bytearray()
        self.handshakes = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._ctx = ctx
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            try:
                with self._ctx.wrap_socket(conn, server_side=True) as tls:
                    self.handshakes += 1
                    tls.settimeout(2)
                    while chunk := tls.recv(65536):
                        self.received += chunk
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self._sock.close()
