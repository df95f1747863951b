"""Certificate-bound admission on a running solo node: the genesis file carries the
registry, the engine's check_tx refuses unbound keys at submission, and a revocation
takes effect for the very next transaction, even one already waiting in the mempool."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from baychain.chain.genesis import Genesis
from baychain.errors import Code
from baychain.identity import Jurisdiction, Role, create_org_ca, create_root, key_id
from baychain.node import NodeConfig, SoloNode
from chain_support import CHAIN_ID, Key, der, pem, user_cert


@pytest.fixture
def consortium():
    now = datetime.now(timezone.utc)
    root = create_root("GBA Consortium Root CA", now=now)
    bank = create_org_ca(root.certificate, root.private_key, "Bank of Example", Jurisdiction.HK, Role.MEMBER, now=now)
    return now, root, bank


@pytest.fixture
def node(tmp_path, consortium):
    _, root, bank = consortium
    admin = Key()
    home = tmp_path / "node"
    home.mkdir()
    app_state = {"governance": {"members": [{"account": admin.address, "organisation": "Bank of Example"}]},
                 "identity": {"root": pem(root.certificate),
                              "organisations": [{"name": "Bank of Example", "ca": pem(bank.certificate)}]}}
    Genesis(chain_id=CHAIN_ID, time_ns=time.time_ns(), app_state=app_state).save(home / "genesis.json")
    n = SoloNode(NodeConfig(home=home, chain_id=CHAIN_ID))
    n.admin = admin  # type: ignore[attr-defined]
    yield n
    n.stop()


def commit(node, *txs) -> list[int]:
    for tx in txs:
        assert node.engine.submit(tx.raw).code == 0
    block = node.engine.produce_block()
    return [node.app.blocks.tx(h).code for h in block["txs"]]


def test_a_solo_node_admits_only_certificate_bound_keys(node, consortium):
    now, _, bank = consortium
    stranger = Key()
    assert node.engine.submit(stranger.tx("notary", "notarize", digest=bytes(32)).raw).code == Code.ACCOUNT_UNBOUND

    alice, admin = Key(), node.admin
    assert commit(node, alice.tx("identity", "bind", cert=der(user_cert(bank.certificate, bank.private_key, alice, "alice", now=now))),
                  admin.tx("identity", "bind", cert=der(user_cert(bank.certificate, bank.private_key, admin, "admin", now=now)))) == [0, 0]
    assert commit(node, alice.tx("notary", "notarize", digest=bytes(32))) == [0]

    # revoked while alice's next transaction waits in the mempool: refused in the block
    serial = node.app.view("identity", "binding", {"address": alice.address})["serial"]
    revoke = admin.tx("governance", "propose", title="revoke alice", actions=[
        {"contract": "identity", "method": "revoke", "args": {"issuer_key_id": key_id(bank.certificate.public_key()), "serial": serial}}])
    vote = admin.tx("governance", "vote", id=1, approve=True)
    pending = alice.tx("notary", "notarize", digest=bytes(range(32)))
    before = node.app.nonce(alice.address)
    assert commit(node, revoke, vote, pending) == [0, 0, Code.CERT_REVOKED]
    assert node.app.nonce(alice.address) == before  # refused at admission: not even the nonce moved
    # and the mempool refuses the key from now on
    assert node.engine.submit(alice.tx("notary", "notarize", nonce=before, digest=bytes(range(32))).raw).code == Code.CERT_REVOKED
