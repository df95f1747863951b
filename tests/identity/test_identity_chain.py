"""Certificate-bound admission (contract `identity`): a transaction is admitted only if
its key is bound to a certificate that chains to a registered organisation CA, is valid
at the block's time, is not revoked, and whose organisation is not suspended. Every
refusal has its code, in check_tx and in the block, and changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from baychain.app.application import Application
from baychain.app.types import InitChainRequest
from baychain.contracts.system.identity import sign_rotation
from baychain.errors import BaychainError, Code
from baychain.identity import (
    Jurisdiction, Kind, RevocationList, Role, build_crl, create_org_ca, create_root, key_id, serial_hex,
)
from baychain.identity.certificates import datetime_to_ns
from baychain.identity.revocation import crl_to_pem
from chain_support import (
    CHAIN_ID, DAY, START, Chain, Key, der, identity_genesis, pem, signer_for, user_cert,
)
from governance_support import action
from identity_support import T0, byo_ca, byo_leaf, make_cert

DIGEST = bytes(range(32))


@pytest.fixture
def admin():
    return Key()


@pytest.fixture
def chain(tmp_path, pki, admin):
    c = Chain(tmp_path, identity_genesis(pki, [admin.address]))
    c.ok(admin.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, admin, "admin"))))
    yield c
    c.app.close()


def bound(chain, pki, name: str = "alice", *, ca=None, ca_key=None, **kwargs) -> Key:
    """A new key with a certificate of the bank (or `ca`), bound on chain."""
    signer = Key()
    cert = user_cert(ca or pki.org, ca_key or pki.org_key, signer, name, **kwargs)
    chain.ok(signer.tx("identity", "bind", cert=der(cert)))
    return signer


def kid(cert) -> str:
    return key_id(cert.public_key())


# -- the registry from the genesis --------------------------------------------------------------------


def test_genesis_registers_root_and_organisations(chain, pki, admin):
    orgs = {o["name"]: o for o in chain.view("organisations")}
    assert set(orgs) == {"Bank of Example", "GBA Regulator"}
    bank = orgs["Bank of Example"]
    assert (bank["jurisdiction"], bank["role"], bank["suspended"], bank["imported"]) == ("HK", "member", False, False)
    assert bank["cas"][0]["der"] == der(pki.org) and bank["cas"][0]["key_id"] == kid(pki.org)
    assert orgs["GBA Regulator"]["role"] == "regulator"  # attributes read from the CA certificate
    assert chain.view("root")["key_id"] == kid(pki.root)
    assert chain.view("settings") == {"required": True, "registry": True}


def test_genesis_is_refused_when_it_contradicts_a_certificate(tmp_path, pki, admin):
    app = Application(tmp_path / "data")
    bad = identity_genesis(pki, [admin.address])
    bad["identity"]["organisations"][0]["jurisdiction"] = "MO"  # the bank's CA says HK
    with pytest.raises(BaychainError) as exc:
        app.init_chain(InitChainRequest(CHAIN_ID, START, 1, [], json.dumps(bad).encode()))
    assert exc.value.code == Code.BAD_REQUEST and "HK" in exc.value.message
    nobody = {"identity": {"root": pem(pki.root), "organisations": [], "required": True}}
    with pytest.raises(BaychainError, match="no key could ever be bound"):
        app.init_chain(InitChainRequest(CHAIN_ID, START, 1, [], json.dumps(nobody).encode()))
    stranger = create_root("Another Root", now=T0)
    foreign = create_org_ca(stranger.certificate, stranger.private_key, "Foreign Bank", Jurisdiction.HK, Role.MEMBER, now=T0)
    alien = identity_genesis(pki, [], extra_orgs=[{"name": "Foreign Bank", "ca": pem(foreign.certificate)}])
    with pytest.raises(BaychainError, match="CERT_UNKNOWN_CA|not issued by the consortium root"):
        app.init_chain(InitChainRequest(CHAIN_ID, START, 1, [], json.dumps(alien).encode()))
    app.close()


# -- admitted ---------------------------------------------------------------------------------------------


def test_a_bound_key_is_admitted_and_acts_as_its_account(chain, pki):
    alice = bound(chain, pki)
    binding = chain.view("binding", address=alice.address)
    assert (binding["account"], binding["organisation"], binding["jurisdiction"], binding["role"], binding["status"]) == (
        alice.address, "Bank of Example", "HK", "member", "active")
    tx = alice.tx("notary", "notarize", digest=DIGEST)
    assert chain.app.check_tx(tx.raw).code == 0
    chain.ok(tx)
    assert chain.app.view("notary", "lookup", {"digest": DIGEST})["owner"] == alice.address
    assert chain.view("status", address=alice.address) == {"address": alice.address, "admitted": True,
                                                           "account": alice.address, "code": 0}


def test_an_organisation_registered_by_the_committee_can_bind_users(chain, pki, admin):
    macao = create_org_ca(pki.root, pki.root_key, "Macao Institution", Jurisdiction.MO, Role.MEMBER, now=T0)
    outsider = bound(chain, pki, "outsider")
    chain.fails(outsider.tx("identity", "register_org", ca=der(macao.certificate)), Code.GOVERNED_METHOD)
    chain.fails(outsider.tx("governance", "propose", title="me too", actions=[
        action("identity", "register_org", ca=der(macao.certificate))]), Code.NOT_A_MEMBER)
    chain.executed([admin], action("identity", "register_org", ca=der(macao.certificate)))
    assert chain.view("organisation", name="Macao Institution")["jurisdiction"] == "MO"
    teller = bound(chain, pki, "teller", ca=macao.certificate, ca_key=macao.private_key)
    assert chain.view("binding", address=teller.address)["organisation"] == "Macao Institution"


def test_an_imported_ca_issues_accounts_too(tmp_path, pki, admin):
    ca_key = ed25519.Ed25519PrivateKey.generate()
    ca = byo_ca(ca_key)
    chain = Chain(tmp_path, identity_genesis(pki, [admin.address], extra_orgs=[
        {"name": "Macao Trust Bank", "jurisdiction": "MO", "role": "member", "ca": pem(ca), "imported": True}]))
    leaf, leaf_key = byo_leaf(ca, ca_key)
    teller = signer_for(leaf_key)
    chain.ok(teller.tx("identity", "bind", cert=der(leaf)))
    chain.ok(teller.tx("notary", "notarize", digest=DIGEST))
    assert chain.view("binding", address=teller.address)["organisation"] == "Macao Trust Bank"
    chain.app.close()


def test_check_tx_before_the_first_block_uses_the_genesis_registry_and_time(tmp_path, pki, admin):
    chain = Chain(tmp_path, identity_genesis(pki, [admin.address]))
    tx = admin.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, admin, "admin")))
    assert chain.app.check_tx(tx.raw).code == 0
    stranger = Key()
    assert chain.app.check_tx(stranger.tx("notary", "notarize", digest=DIGEST).raw).code == Code.ACCOUNT_UNBOUND
    chain.app.close()


# -- refused at admission ----------------------------------------------------------------------------------


def test_an_unbound_key_is_refused(chain):
    stranger = Key()
    log = chain.refused(stranger.tx("notary", "notarize", digest=DIGEST), Code.ACCOUNT_UNBOUND)
    assert "identity.bind" in log
    assert chain.view("status", address=stranger.address)["error"] == "ACCOUNT_UNBOUND"


def test_a_self_signed_certificate_cannot_be_bound(chain):
    signer = Key()
    key = ed25519.Ed25519PrivateKey.from_private_bytes(signer.private_key)
    own = make_cert("alice", key, key_usage=("digital_signature",), not_before=T0, not_after=T0 + timedelta(days=30))
    chain.refused(signer.tx("identity", "bind", cert=der(own)), Code.CERT_SELF_SIGNED)
    chain.refused(signer.tx("notary", "notarize", digest=DIGEST), Code.ACCOUNT_UNBOUND)


def test_a_certificate_from_an_unknown_ca_cannot_be_bound(chain):
    stranger = create_root("Another Root", now=T0)
    org = create_org_ca(stranger.certificate, stranger.private_key, "Bank of Example", Jurisdiction.HK, Role.MEMBER, now=T0)
    signer = Key()
    chain.refused(signer.tx("identity", "bind", cert=der(user_cert(org.certificate, org.private_key, signer))), Code.CERT_UNKNOWN_CA)


def test_garbage_instead_of_a_certificate_is_refused(chain):
    signer = Key()
    chain.refused(signer.tx("identity", "bind", cert=b"not a certificate"), Code.CERT_INVALID)
    chain.refused(signer.tx("identity", "bind", cert="text"), Code.BAD_ARGUMENTS)


def test_a_node_certificate_cannot_sign_transactions(chain, pki):
    signer = Key()
    node = user_cert(pki.org, pki.org_key, signer, "node0", kind=Kind.NODE)
    chain.refused(signer.tx("identity", "bind", cert=der(node)), Code.CERT_WRONG_USAGE)
    chain.refused(signer.tx("identity", "bind", cert=der(pki.org)), Code.CERT_WRONG_USAGE)  # a CA as a leaf


def test_a_certificate_for_another_key_is_refused(chain, pki):
    signer, other = Key(), Key()
    log = chain.refused(signer.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, other))), Code.CERT_KEY_MISMATCH)
    assert other.address in log and signer.address in log


def test_an_expired_certificate_is_refused_at_the_block_time(chain, pki):
    alice = bound(chain, pki, days=30)
    not_after = chain.view("binding", address=alice.address)["not_after_ns"]
    chain.ok(alice.tx("notary", "notarize", digest=DIGEST), at=not_after)  # the last valid nanosecond
    log = chain.refused(alice.tx("notary", "notarize", digest=bytes(32)), Code.CERT_EXPIRED, at=not_after + 1)
    assert "expired" in log
    late = Key()
    chain.refused(late.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, late, days=30))), Code.CERT_EXPIRED)


def test_a_certificate_not_yet_valid_is_refused(chain, pki):
    early = Key()
    future = user_cert(pki.org, pki.org_key, early, now=T0 + timedelta(days=10))
    chain.refused(early.tx("identity", "bind", cert=der(future)), Code.CERT_NOT_YET_VALID)
    chain.ok(early.tx("identity", "bind", cert=der(future)), at=datetime_to_ns(T0 + timedelta(days=10)))


def test_after_revocation_the_next_transaction_is_refused(chain, pki, admin):
    alice = bound(chain, pki)
    cert = chain.view("binding", address=alice.address)
    chain.executed([admin], action("identity", "revoke", issuer_key_id=cert["issuer_key_id"], serial=cert["serial"], reason="keyCompromise"))
    record = chain.view("revocation", issuer_key_id=cert["issuer_key_id"], serial=cert["serial"])
    assert (record["reason"], record["author"], record["source"]) == ("keyCompromise", "proposal:1", "committee")
    log = chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.CERT_REVOKED)
    assert cert["serial"] in log
    with pytest.raises(BaychainError):
        chain.app.view("notary", "lookup", {"digest": DIGEST})
    assert chain.view("binding", address=alice.address)["status"] == "revoked"
    assert chain.view("status", address=alice.address)["error"] == "CERT_REVOKED"


def test_a_revoked_certificate_cannot_be_bound(chain, pki, admin):
    signer = Key()
    cert = user_cert(pki.org, pki.org_key, signer)
    chain.executed([admin], action("identity", "revoke", issuer_key_id=kid(pki.org), serial=serial_hex(cert.serial_number)))
    chain.refused(signer.tx("identity", "bind", cert=der(cert)), Code.CERT_REVOKED)


def test_an_organisation_revokes_its_own_certificates_with_a_crl(chain, pki):
    alice, bob = bound(chain, pki, "alice"), bound(chain, pki, "bob")
    serial = int(chain.view("binding", address=alice.address)["serial"], 16)
    revoked = RevocationList.for_ca(pki.org)
    revoked.revoke(serial, at_ns=chain.time, reason="superseded")
    crl = build_crl(pki.org, pki.org_key, revoked, now=T0 + timedelta(days=1))
    result = chain.ok(bob.tx("identity", "publish_crl", crl=crl_to_pem(crl)))  # anyone may carry it; the CA signed it
    assert b"recorded" in result.data
    chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.CERT_REVOKED)
    chain.ok(bob.tx("notary", "notarize", digest=DIGEST))
    record = chain.view("revocation", issuer_key_id=kid(pki.org), serial=serial_hex(serial))
    assert (record["source"], record["reason"], record["author"]) == ("crl", "superseded", bob.address)
    # a CRL the bank did not sign
    stranger = create_root("Mallory CA", now=T0)
    forged = build_crl(stranger.certificate, stranger.private_key, RevocationList.for_ca(stranger.certificate), now=T0)
    chain.fails(bob.tx("identity", "publish_crl", crl=crl_to_pem(forged)), Code.CERT_UNKNOWN_CA)


def test_a_crl_with_many_entries_is_recorded_in_parts(chain, pki):
    bob = bound(chain, pki, "bob")
    revoked = RevocationList.for_ca(pki.org)
    for serial in range(1, 71):
        revoked.revoke(serial, at_ns=chain.time)
    data = crl_to_pem(build_crl(pki.org, pki.org_key, revoked, now=T0))
    chain.ok(bob.tx("identity", "publish_crl", crl=data))
    events = chain.block(bob.tx("identity", "publish_crl", crl=data)).tx_results[0].events
    summary = dict(events[-1].attributes)
    assert (summary["recorded"], summary["remaining"]) == ("32", "6")
    chain.ok(bob.tx("identity", "publish_crl", crl=data))
    assert chain.view("revocation", issuer_key_id=kid(pki.org), serial=serial_hex(70))["source"] == "crl"


def test_revoking_an_organisation_ca_refuses_everything_it_issued(chain, pki, admin):
    alice = bound(chain, pki)
    chain.executed([admin], action("identity", "revoke", issuer_key_id=kid(pki.root), serial=serial_hex(pki.org.serial_number),
                      reason="cACompromise"))
    log = chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.CERT_REVOKED)
    assert "organisation CA" in log
    late = Key()
    chain.refused(late.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, late))), Code.CERT_REVOKED)
    chain.refused(admin.tx("governance", "propose", title="revoke the root", actions=[
        action("identity", "revoke", issuer_key_id=kid(pki.root), serial=serial_hex(pki.root.serial_number))]),
                  Code.CERT_REVOKED)  # the committee member is a bank user too: its own CA is gone


def test_a_suspended_organisation_is_refused_until_reinstated(chain, pki, admin):
    alice = bound(chain, pki)
    officer = bound(chain, pki, "officer", ca=pki.regulator, ca_key=pki.regulator_key)
    chain.fails(alice.tx("identity", "suspend_org", organisation="GBA Regulator"), Code.GOVERNED_METHOD)
    chain.executed([admin], action("identity", "suspend_org", organisation="Bank of Example", reason="audit"))
    log = chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.ORG_SUSPENDED)
    assert "Bank of Example" in log
    chain.ok(officer.tx("notary", "notarize", digest=DIGEST))  # other organisations carry on
    org = chain.view("organisation", name="Bank of Example")
    assert org["suspended"] and org["suspension"]["reason"] == "audit"
    newcomer = Key()
    chain.refused(newcomer.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, newcomer))), Code.ORG_SUSPENDED)
    # the committee member is a bank user, so it cannot even propose the reinstatement: a suspension binds all
    chain.refused(admin.tx("governance", "propose", title="reinstate", actions=[
        action("identity", "reinstate_org", organisation="Bank of Example")]), Code.ORG_SUSPENDED)


def test_reinstating_an_organisation_readmits_its_accounts(tmp_path, pki):
    admin = Key()
    chain = Chain(tmp_path, identity_genesis(pki, [admin.address]))
    chain.ok(admin.tx("identity", "bind", cert=der(user_cert(pki.regulator, pki.regulator_key, admin, "admin"))))
    alice = bound(chain, pki)
    chain.executed([admin], action("identity", "suspend_org", organisation="Bank of Example"))
    chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.ORG_SUSPENDED)
    chain.executed([admin], action("identity", "reinstate_org", organisation="Bank of Example"))
    chain.ok(alice.tx("notary", "notarize", digest=DIGEST))
    chain.app.close()


def test_a_removed_organisation_leaves_for_good_and_its_accounts_are_refused(tmp_path, pki):
    admin = Key()
    chain = Chain(tmp_path, identity_genesis(pki, [admin.address]))
    chain.ok(admin.tx("identity", "bind", cert=der(user_cert(pki.regulator, pki.regulator_key, admin, "admin"))))
    alice = bound(chain, pki)
    chain.executed([admin], action("identity", "remove_org", organisation="Bank of Example", reason="left the consortium"))
    assert "removed" in chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.ORG_SUSPENDED)
    newcomer = Key()  # its CA no longer certifies anyone
    chain.refused(newcomer.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, newcomer))), Code.CERT_UNKNOWN_CA)
    assert [o["name"] for o in chain.view("organisations")] == ["GBA Regulator"]
    record = chain.view("organisation", name="Bank of Example")  # kept as history
    assert record["removed"]["reason"] == "left the consortium" and record["removed"]["author"].startswith("proposal:")
    # no way back but a new registration: reinstating or removing again fails, changing nothing
    chain.failed([admin], action("identity", "reinstate_org", organisation="Bank of Example"), Code.NOT_AUTHORIZED)
    chain.failed([admin], action("identity", "remove_org", organisation="Bank of Example"), Code.ALREADY_EXISTS)
    chain.app.close()


# -- renewal and rotation ----------------------------------------------------------------------------------


def test_renewing_with_the_same_key_keeps_the_account(chain, pki, admin):
    alice = bound(chain, pki, days=30)
    first = chain.view("binding", address=alice.address)
    renewed = user_cert(pki.org, pki.org_key, alice, now=T0 + timedelta(days=20), days=365)
    chain.ok(alice.tx("identity", "bind", cert=der(renewed)), at=datetime_to_ns(T0 + timedelta(days=20)))
    second = chain.view("binding", address=alice.address)
    assert second["account"] == alice.address and second["serial"] != first["serial"]
    assert second["not_after_ns"] > first["not_after_ns"]
    chain.ok(alice.tx("notary", "notarize", digest=DIGEST), at=first["not_after_ns"] + DAY)  # past the old expiry
    # revoking the superseded certificate does not touch the renewed binding
    chain.executed([admin], action("identity", "revoke", issuer_key_id=first["issuer_key_id"], serial=first["serial"], reason="superseded"))
    chain.ok(alice.tx("notary", "notarize", digest=bytes(32)))


def rotate_tx(new: Key, old: Key, account: str, cert, *, approver: Key | None = None):
    approval = sign_rotation((approver or old).private_key, CHAIN_ID, account, new.public_key)
    return new.tx("identity", "rotate", account=account, new_cert=der(cert), approval=approval)


def test_rotation_moves_the_account_to_a_new_key(chain, pki):
    alice = bound(chain, pki)
    account = alice.address
    chain.ok(alice.tx("accounts", "register", name="alice"))
    chain.ok(alice.tx("notary", "notarize", digest=DIGEST))
    chain.ok(alice.tx("points", "create", symbol="GBA", title="Bay points"))
    chain.ok(alice.tx("points", "issue", symbol="GBA", to=account, amount=1000))

    new = Key()
    chain.ok(rotate_tx(new, alice, account, user_cert(pki.org, pki.org_key, new, "alice-2031")))
    assert chain.view("account", account=account)["signer"] == new.address
    assert chain.view("binding", address=new.address)["account"] == account
    assert chain.view("binding", address=alice.address)["status"] == "rotated"

    # the new key acts as the same account: its balance, its name, its notarizations
    bob = bound(chain, pki, "bob")
    chain.ok(new.tx("points", "transfer", symbol="GBA", to=bob.address, amount=250))
    assert chain.app.view("points", "balance", {"symbol": "GBA", "account": account}) == 750
    chain.ok(new.tx("points", "issue", symbol="GBA", to=bob.address, amount=1))  # still the programme's issuer
    chain.ok(new.tx("accounts", "update", metadata={"key": "2031"}))
    assert chain.app.view("accounts", "resolve", {"name": "alice"}) == account
    assert chain.app.view("notary", "lookup", {"digest": DIGEST})["owner"] == account
    assert chain.view("status", address=new.address)["account"] == account
    assert chain.app.nonce(new.address) == 4 and chain.app.nonce(alice.address) == 5  # nonces stay per key

    # the old key is out, for good
    log = chain.refused(alice.tx("notary", "notarize", digest=bytes(32)), Code.ACCOUNT_UNBOUND)
    assert "rotated out" in log
    chain.refused(alice.tx("identity", "bind", cert=der(user_cert(pki.org, pki.org_key, alice, "again"))), Code.ACCOUNT_UNBOUND)


def test_rotation_refusals(chain, pki):
    alice = bound(chain, pki)
    account = alice.address
    new = Key()
    cert = user_cert(pki.org, pki.org_key, new, "alice-new")
    mallory = bound(chain, pki, "mallory")
    # approved by someone else's key
    chain.refused(rotate_tx(new, alice, account, cert, approver=mallory), Code.NOT_AUTHORIZED)
    # approval for another account
    chain.refused(new.tx("identity", "rotate", account=account, new_cert=der(cert),
                         approval=sign_rotation(alice.private_key, CHAIN_ID, mallory.address, new.public_key)), Code.NOT_AUTHORIZED)
    # approval for another chain
    chain.refused(new.tx("identity", "rotate", account=account, new_cert=der(cert),
                         approval=sign_rotation(alice.private_key, "other-chain", account, new.public_key)), Code.NOT_AUTHORIZED)
    # a certificate for a third key
    third = Key()
    chain.refused(rotate_tx(new, alice, account, user_cert(pki.org, pki.org_key, third)), Code.CERT_KEY_MISMATCH)
    # a key that is already bound cannot take over another account
    chain.refused(rotate_tx(mallory, alice, account, user_cert(pki.org, pki.org_key, mallory, "m2")), Code.ALREADY_EXISTS)
    # another organisation's certificate
    chain.refused(rotate_tx(new, alice, account, user_cert(pki.regulator, pki.regulator_key, new)), Code.NOT_AUTHORIZED)
    # an account that does not exist
    chain.refused(rotate_tx(new, alice, Key().address, cert), Code.NOT_FOUND)
    # a node certificate
    chain.refused(rotate_tx(new, alice, account, user_cert(pki.org, pki.org_key, new, kind=Kind.NODE)), Code.CERT_WRONG_USAGE)
    assert chain.view("account", account=account)["signer"] == alice.address
    chain.ok(rotate_tx(new, alice, account, cert))
    # the approval cannot be replayed
    chain.refused(new.tx("identity", "rotate", account=account, new_cert=der(cert),
                         approval=sign_rotation(alice.private_key, CHAIN_ID, account, new.public_key)), Code.ALREADY_EXISTS)


def test_a_revoked_key_cannot_approve_a_rotation(chain, pki, admin):
    alice = bound(chain, pki)
    binding = chain.view("binding", address=alice.address)
    chain.executed([admin], action("identity", "revoke", issuer_key_id=binding["issuer_key_id"], serial=binding["serial"], reason="keyCompromise"))
    attacker = Key()
    chain.refused(rotate_tx(attacker, alice, alice.address, user_cert(pki.org, pki.org_key, attacker)), Code.CERT_REVOKED)


def test_an_expired_key_may_still_approve_its_successor(chain, pki):
    alice = bound(chain, pki, days=30)
    expired_at = chain.view("binding", address=alice.address)["not_after_ns"] + 1
    chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.CERT_EXPIRED, at=expired_at)
    new = Key()
    cert = user_cert(pki.org, pki.org_key, new, now=T0 + timedelta(days=30))
    chain.ok(rotate_tx(new, alice, alice.address, cert), at=expired_at + DAY)
    chain.ok(new.tx("notary", "notarize", digest=DIGEST))


# -- open modes ------------------------------------------------------------------------------------------


def test_without_required_unbound_keys_act_but_bound_keys_are_checked(tmp_path, pki):
    admin = Key()
    chain = Chain(tmp_path, identity_genesis(pki, [admin.address], required=False))
    anyone = Key()
    chain.ok(anyone.tx("notary", "notarize", digest=DIGEST))
    alice = bound(chain, pki)
    new = Key()
    chain.ok(rotate_tx(new, alice, alice.address, user_cert(pki.org, pki.org_key, new)))
    chain.refused(alice.tx("notary", "notarize", digest=bytes(32)), Code.ACCOUNT_UNBOUND)  # no way back to the account
    chain.app.close()


def test_a_dev_chain_without_identity_is_open_as_before(tmp_path):
    chain = Chain(tmp_path, {})
    anyone = Key()
    chain.ok(anyone.tx("notary", "notarize", digest=DIGEST))
    assert chain.app.view("notary", "lookup", {"digest": DIGEST})["owner"] == anyone.address
    chain.refused(anyone.tx("identity", "bind", cert=b"x"), Code.NOT_FOUND)
    assert chain.app.view("identity", "settings", {}) == {"required": False, "registry": False}
    chain.app.close()


def test_the_committee_adds_a_renewed_or_rekeyed_ca_to_an_organisation(chain, pki, admin):
    from baychain.identity import renew

    renewed = renew(pki.org, pki.root, pki.root_key, now=T0 + timedelta(days=1)).certificate  # same key
    chain.executed([admin], action("identity", "add_ca", organisation="Bank of Example", ca=der(renewed)))
    rekeyed = create_org_ca(pki.root, pki.root_key, "Bank of Example", Jurisdiction.HK, Role.MEMBER, now=T0)
    chain.executed([admin], action("identity", "add_ca", organisation="Bank of Example", ca=der(rekeyed.certificate)))
    cas = chain.view("organisation", name="Bank of Example")["cas"]
    assert [c["key_id"] for c in cas] == [kid(pki.org), kid(pki.org), kid(rekeyed.certificate)]
    teller = bound(chain, pki, "teller", ca=rekeyed.certificate, ca_key=rekeyed.private_key)
    assert chain.view("binding", address=teller.address)["issuer_key_id"] == kid(rekeyed.certificate)
    chain.failed([admin], action("identity", "add_ca", organisation="Bank of Example", ca=der(renewed)), Code.ALREADY_EXISTS)
    other = create_org_ca(pki.root, pki.root_key, "Other Bank", Jurisdiction.MO, Role.MEMBER, now=T0)
    chain.failed([admin], action("identity", "add_ca", organisation="Bank of Example", ca=der(other.certificate)), Code.BAD_ARGUMENTS)
    # suspending the organisation covers every one of its CA keys
    chain.executed([admin], action("identity", "suspend_org", organisation="Bank of Example"))
    chain.refused(teller.tx("notary", "notarize", digest=DIGEST), Code.ORG_SUSPENDED)


def test_every_node_reaches_the_same_state(tmp_path, pki):
    admin, alice, new = Key(), Key(), Key()
    alice_cert = user_cert(pki.org, pki.org_key, alice)
    blocks = [
        [admin.tx("identity", "bind", cert=der(user_cert(pki.regulator, pki.regulator_key, admin))),
         alice.tx("identity", "bind", cert=der(alice_cert)), Key().tx("notary", "notarize", digest=DIGEST)],
        [alice.tx("notary", "notarize", digest=DIGEST), rotate_tx(new, alice, alice.address, user_cert(pki.org, pki.org_key, new))],
        [alice.tx("notary", "notarize", digest=bytes(32)), new.tx("notary", "notarize", digest=bytes(32)),
         admin.tx("governance", "propose", title="revoke", actions=[
             action("identity", "revoke", issuer_key_id=kid(pki.org), serial=serial_hex(alice_cert.serial_number))]),
         admin.tx("governance", "vote", id=1, approve=True)],
    ]
    hashes = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        chain = Chain(tmp_path / name, identity_genesis(pki, [admin.address]))
        results = [[r.code for r in chain.block(*txs).tx_results] for txs in blocks]
        hashes.append((chain.root(), results))
        chain.app.close()
    assert hashes[0] == hashes[1]
    assert hashes[0][1] == [[0, 0, Code.ACCOUNT_UNBOUND], [0, 0], [Code.ACCOUNT_UNBOUND, 0, 0, 0]]


def test_revoke_ca_withdraws_an_imported_or_root_issued_ca_key(tmp_path, pki):
    admin = Key()
    ca_key = ed25519.Ed25519PrivateKey.generate()
    ca = byo_ca(ca_key)
    chain = Chain(tmp_path, identity_genesis(pki, [admin.address], extra_orgs=[
        {"name": "Macao Trust Bank", "jurisdiction": "MO", "role": "member", "ca": pem(ca), "imported": True}]))
    chain.ok(admin.tx("identity", "bind", cert=der(user_cert(pki.regulator, pki.regulator_key, admin, "admin"))))
    leaf, leaf_key = byo_leaf(ca, ca_key)
    teller = signer_for(leaf_key)
    chain.ok(teller.tx("identity", "bind", cert=der(leaf)))
    alice = bound(chain, pki)
    # the imported CA's leaf serials are its own business: revoking one leaf leaves the CA alone
    chain.executed([admin], action("identity", "revoke", issuer_key_id=kid(ca), serial=serial_hex(leaf.serial_number)))
    chain.refused(teller.tx("notary", "notarize", digest=DIGEST), Code.CERT_REVOKED)
    late_leaf, late_key = byo_leaf(ca, ca_key, "teller-2")
    late = signer_for(late_key)
    chain.ok(late.tx("identity", "bind", cert=der(late_leaf)))
    # withdrawing the CA key refuses everything it issued
    chain.fails(alice.tx("identity", "revoke_ca", organisation="Macao Trust Bank", key_id=kid(ca)), Code.GOVERNED_METHOD)
    chain.executed([admin], action("identity", "revoke_ca", organisation="Macao Trust Bank", key_id=kid(ca), reason="cACompromise"))
    chain.refused(late.tx("notary", "notarize", digest=DIGEST), Code.CERT_REVOKED)
    chain.failed([admin], action("identity", "revoke_ca", organisation="Macao Trust Bank", key_id=kid(ca)), Code.ALREADY_EXISTS)
    # a root-issued CA: recorded as the root's revocation of its serial, as verify_chain expects
    chain.executed([admin], action("identity", "revoke_ca", organisation="Bank of Example", key_id=kid(pki.org)))
    assert chain.view("revocation", issuer_key_id=kid(pki.root), serial=serial_hex(pki.org.serial_number))["author"].startswith("proposal:")
    chain.refused(alice.tx("notary", "notarize", digest=DIGEST), Code.CERT_REVOKED)
    chain.app.close()
