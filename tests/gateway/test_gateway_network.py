"""Gateways beside different validators of a real CometBFT network (`baychain net init` layout,
its consortium CA): a Guangdong bank's gateway talks to node gd-bank, a Hong Kong bank's to
node hk-bank. Verification, an authorised transfer and a refusal after withdrawal all end up
in the same audit log on both nodes, and the nodes agree on the app hash."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from baychain.errors import Code
from baychain.gateway import Gateway, GatewayConfig, TransferRefused, init_home, serve
from baychain.identity import CADirectory, Kind
from baychain.identity.keys import decrypt_key
from baychain.network.committee import LOCAL_PASSPHRASE
from baychain.network.create import init_network
from baychain.network.home import NodeHome
from baychain.network.processes import kill_node, start_node, wait_healthy
from baychain.sdk import Client, Key
from gateway_support import DAY_NS, PASSPHRASE, TEST_SCRYPT_N, der
from support import pinned_cometbft

pytestmark = pytest.mark.slow





@pytest.fixture
def network(tmp_path):
    pinned_cometbft()
    manifest = init_network(tmp_path / "net", validators=2, chain_id="dataex-net", log_level="*:error")
    homes = [NodeHome(manifest.home(n)) for n in manifest.names]
    try:
        for home in homes:
            start_node(home)
        wait_healthy(manifest, None, timeout=120, advance=1)
        yield manifest
    finally:
        for home in homes:
            kill_node(home)


def gateway_for(manifest, ca: CADirectory, node, where) -> tuple[Gateway, object]:
    """A gateway of the node's organisation, talking to that node's API only."""
    now = datetime.now(timezone.utc)
    org = node.member.organisation
    signer = Key.generate()
    user = ca.issue(org, Kind.USER, f"gateway-{node.name}", LOCAL_PASSPHRASE, now=now,
                    public_key=ed25519.Ed25519PublicKey.from_public_bytes(signer.public_key))
    with Client(node.api_url, timeout=30) as client:
        client.call(signer, "identity", "bind", {"cert": der(user.certificate)}, timeout=30)
    tls = ca.issue(org, Kind.NODE, f"gateway-tls-{node.name}", LOCAL_PASSPHRASE, now=now, dns_names=("127.0.0.1",))
    init_home(where, PASSPHRASE, config=GatewayConfig(node=node.api_url, peer_port=0, admin_port=0),
              node_cert=tls.certificate, node_key=decrypt_key(tls.key_path.read_bytes(), LOCAL_PASSPHRASE),
              org_ca=ca.org(org).certificate, root=ca.root_cert(), signer=signer, scrypt_n=TEST_SCRYPT_N)
    gateway = Gateway(where, PASSPHRASE, client=Client(node.api_url, timeout=30))
    return gateway, serve(gateway)


def test_gateways_on_different_validators_share_one_audited_history(network, tmp_path):
    ca = CADirectory(tmp_path / "net" / "ca")
    gd_node, hk_node = network.nodes[0], network.nodes[1]
    gd, gd_running = gateway_for(network, ca, gd_node, tmp_path / "gd-gw")
    hk, hk_running = gateway_for(network, ca, hk_node, tmp_path / "hk-gw")
    try:
        assert (gd.jurisdiction, hk.jurisdiction) == ("GD", "HK")
        record = {"subject": "440305199001011234", "categories": ["identity"],
                  "fields": {"name": "Li Xiaoming", "phone": "+86 138 0013 8000"}}
        anchored = gd.put("rec-1", record, anchor=True)["anchor"]
        gd.grant(hk.organisation, "account-opening", ["identity"], expiry_ns=time.time_ns() + DAY_NS)
        answer = hk.verify_at(gd_running.peer_address, record, "account-opening")
        assert answer["matched"] and answer["anchored_height"] == anchored["height"]

        aid = gd.assess("PIA-net", b"assessment", hk.organisation, "account-opening", ["identity"])
        gd.file("SC-net", aid, hk.organisation, "HK", "account-opening", ["identity"], 180)
        cid = gd.consent(record["subject"], hk.organisation, "account-opening", ["identity"],
                         expiry_ns=time.time_ns() + DAY_NS)
        sent = gd.send("rec-1", hk_running.peer_address, "account-opening")  # hk's node may lag: it waits for the block
        assert [r["record"] for r in hk.received()] == [record]
        gd.withdraw_consent(cid)
        with pytest.raises(TransferRefused) as refused:
            gd.send("rec-1", hk_running.peer_address, "account-opening")
        assert refused.value.code == Code.CONSENT_WITHDRAWN

        with Client(gd_node.api_url) as a, Client(hk_node.api_url) as b:
            deadline = time.monotonic() + 30
            while b.height() < a.height() and time.monotonic() < deadline:
                time.sleep(0.2)
            height = min(a.height(), b.height())
            assert a.block(height)["app_hash"] == b.block(height)["app_hash"]
            logs = [c.view("dataex", "audit_log", {"limit": 50}, height=height)["entries"] for c in (a, b)]
        assert logs[0] == logs[1]
        assert [(e["kind"], e["outcome"]) for e in logs[0]] == [
            ("verification", "allowed"), ("transfer", "allowed"), ("receipt", "allowed"), ("transfer", "refused")]
        assert logs[0][1]["ref"] == f"transfer/{sent['transfer']}"
    finally:
        for running, gateway in ((gd_running, gd), (hk_running, hk)):
            running.stop()
            gateway.close()
