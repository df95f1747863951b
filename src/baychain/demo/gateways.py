"""The demo's data gateways: personal data that stays in its jurisdiction, checked across it.

Each bank runs a data gateway (`baychain.gateway`) beside its own node: an encrypted
vault in `<dir>/gateways/<slug>`, a signing key bound on chain to a user certificate of
the bank, and a node certificate of the bank for mutual TLS with other gateways, all
issued by the consortium CA. The gateways listen on loopback ports for as long as the
walkthrough runs; their homes stay, so `baychain gateway start --home <dir>/gateways/<slug>`
(passphrase `baychain-local-network`) brings one back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from baychain.demo.network import Network, Organisation
from baychain.gateway import Gateway, GatewayConfig, Running, init_home, serve
from baychain.identity import Kind
from baychain.identity.keys import decrypt_key
from baychain.network.committee import LOCAL_PASSPHRASE
from baychain.sdk import identity
from baychain.sdk.client import Client
from baychain.sdk.keys import Key


@dataclass
class RunningGateway:
    gateway: Gateway
    running: Running

    @property
    def peer(self) -> str:
        return self.running.peer_address

    def stop(self) -> None:
        self.running.stop()
        self.gateway.close()


def start_gateway(network: Network, org: Organisation) -> RunningGateway:
    """A gateway of `org`, talking to the organisation's own node (any node on one engine)."""
    now = datetime.now(timezone.utc)
    url = network.urls.get(org.slug, network.api_url)
    ca = network.ca
    signer = Key.generate()
    with Client(url, timeout=30) as client:
        identity.bind(client, signer, network.user_certificate(org.name, "gateway", signer))
    node = ca.issue(org.name, Kind.NODE, "gateway-tls", LOCAL_PASSPHRASE, now=now, dns_names=("127.0.0.1",))
    home = Path(network.directory) / "gateways" / org.slug
    init_home(home, LOCAL_PASSPHRASE, config=GatewayConfig(node=url, peer_port=0, admin_port=0),
              node_cert=node.certificate, node_key=decrypt_key(node.key_path.read_bytes(), LOCAL_PASSPHRASE),
              org_ca=ca.org(org.name).certificate, root=ca.root_cert(), signer=signer)
    gateway = Gateway(home, LOCAL_PASSPHRASE, client=Client(url, timeout=30))
    try:
        return RunningGateway(gateway, serve(gateway))
    except BaseException:
        gateway.close()
        raise
