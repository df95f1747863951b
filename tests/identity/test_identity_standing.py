"""Kept admission verdicts (baychain.app.standing): a recheck or a delivery that reuses
a transaction's standing from an earlier check reaches exactly the verdict a check from
scratch reaches, whether what changed is the state it rests on or only the block time."""

from __future__ import annotations

import pytest

from baychain.app.standing import Standings
from baychain.errors import Code
from chain_support import Chain, Key, der, identity_genesis, user_cert
from governance_support import action

DIGEST = bytes(range(32))
HOUR = 3600 * 10**9


@pytest.fixture
def admin():
    return Key()


@pytest.fixture
def chain(tmp_path, pki, admin):
    app_state = identity_genesis(pki, [admin.address])
    app_state["policy"] = {"regulators": [admin.address]}
    c = Chain(tmp_path, app_state)
    c.ok(admin.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, admin, "admin"))))
    yield c
    c.app.close()


def bound(chain, pki, name: str, **kwargs) -> Key:
    signer = Key()
    chain.ok(signer.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, signer, name, **kwargs))))
    return signer


def recheck(chain, raws) -> list[tuple[int, str]]:
    """The mempool's recheck after a commit: each verdict, code and message."""
    chain.app._mempool_nonces.clear()
    return [(r.code, r.log) for r in chain.app.check_txs(raws)]


def recheck_from_scratch(chain, raws) -> list[tuple[int, str]]:
    chain.app._standings = Standings(chain.app.state.version)  # nothing kept: every standing judged afresh
    return recheck(chain, raws)


def assert_exact(chain, raws) -> list[int]:
    """The recheck with kept verdicts agrees with one from scratch; the codes."""
    kept = recheck(chain, raws)
    assert kept == recheck_from_scratch(chain, raws)
    return [code for code, _ in kept]


def test_a_kept_verdict_lapses_when_the_block_time_passes_the_certificate(chain, pki):
    alice = bound(chain, pki, "alice", days=30)
    not_after = chain.view("binding", address=alice.address)["not_after_ns"]
    chain.block(at=not_after - HOUR)
    pending = [alice.tx("notary", "notarize", digest=DIGEST).raw]
    assert assert_exact(chain, pending) == [0]
    chain.block(at=not_after)  # the last valid nanosecond: nothing it read changed, still in its window
    assert assert_exact(chain, pending) == [0]
    chain.block(at=not_after + 1)  # only time moved
    assert assert_exact(chain, pending) == [Code.CERT_EXPIRED]


def test_a_kept_verdict_lapses_when_the_state_it_read_changes(chain, pki, admin):
    alice, bob, carol = bound(chain, pki, "alice"), bound(chain, pki, "bob"), bound(chain, pki, "carol")
    pending = [k.tx("notary", "notarize", digest=bytes([i]) * 32).raw for i, k in enumerate((alice, bob, carol))]
    assert assert_exact(chain, pending) == [0, 0, 0]
    chain.block()  # a block that writes nothing they rest on
    assert assert_exact(chain, pending) == [0, 0, 0]
    cert = chain.view("binding", address=alice.address)
    chain.executed([admin], action("identity", "revoke", issuer_key_id=cert["issuer_key_id"], serial=cert["serial"],
                                   reason="keyCompromise"))
    assert assert_exact(chain, pending) == [Code.CERT_REVOKED, 0, 0]
    chain.ok(admin.tx("policy", "expedite_freeze", account=bob.address, reason="suspected fraud"))
    assert assert_exact(chain, pending) == [Code.CERT_REVOKED, Code.ACCOUNT_FROZEN, 0]
    chain.ok(admin.tx("policy", "list_entity", entity=carol.address, reason="fraud case 9"))
    assert assert_exact(chain, pending) == [Code.CERT_REVOKED, Code.ACCOUNT_FROZEN, Code.BLACKLISTED]


def test_an_access_rule_refuses_pending_calls_it_newly_covers(chain, pki, admin):
    alice = bound(chain, pki, "alice")
    pending = [alice.tx("notary", "notarize", digest=DIGEST).raw]
    assert assert_exact(chain, pending) == [0]
    chain.executed([admin], action("policy", "set_rule", contract="notary", method="notarize", roles=["auditor"],
                                   organisations=[], jurisdictions=[]))
    assert assert_exact(chain, pending) == [Code.PERMISSION_DENIED]


def test_delivery_does_not_reuse_a_verdict_that_an_earlier_transaction_of_its_block_changed(chain, pki, admin):
    alice = bound(chain, pki, "alice")
    tx = alice.tx("notary", "notarize", digest=DIGEST)
    assert chain.app.check_tx(tx.raw).code == 0  # admitted: its standing is kept
    freeze = admin.tx("policy", "expedite_freeze", account=alice.address, reason="suspected fraud")
    results = chain.block(freeze, tx).tx_results
    assert [r.code for r in results] == [0, Code.ACCOUNT_FROZEN]


def test_delivery_does_not_reuse_a_verdict_past_its_time(chain, pki):
    alice = bound(chain, pki, "alice", days=30)
    not_after = chain.view("binding", address=alice.address)["not_after_ns"]
    tx = alice.tx("notary", "notarize", digest=DIGEST)
    assert chain.app.check_tx(tx.raw).code == 0
    assert chain.run(tx, at=not_after + 1).code == Code.CERT_EXPIRED
