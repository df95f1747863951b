"""Revocation lists (what the chain mirrors) and the CRLs published beside them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from baychain.errors import BaychainError, Code
from baychain.identity import RevocationList, all_refs, build_crl, key_id, revocations_from_crl, verify_chain
from baychain.identity.certificates import datetime_to_ns
from baychain.identity.revocation import REASONS, parse_reason
from identity_support import AT, T0, byo_ca, byo_leaf, imported


def test_revocation_list_round_trips_through_json(pki):
    rl = RevocationList.for_ca(pki.org)
    rl.revoke(pki.alice.serial_number, at_ns=AT, reason="keyCompromise", subject="CN=alice")
    rl.revoke(pki.node.serial_number, at_ns=AT + 1, reason="superseded")
    rl.crl_number = 3
    again = RevocationList.from_json(rl.to_json())
    assert again == rl
    assert again.refs() == [(key_id(pki.org.public_key()), pki.alice.serial_number),
                            (key_id(pki.org.public_key()), pki.node.serial_number)]


def test_a_certificate_is_revoked_once(pki):
    rl = RevocationList.for_ca(pki.org)
    rl.revoke(pki.alice.serial_number, at_ns=AT)
    with pytest.raises(BaychainError) as exc:
        rl.revoke(pki.alice.serial_number, at_ns=AT + 1)
    assert exc.value.code == Code.ALREADY_EXISTS


def test_reasons_are_the_rfc_5280_ones():
    assert parse_reason("keycompromise") is x509.ReasonFlags.key_compromise
    assert parse_reason("key_compromise") is x509.ReasonFlags.key_compromise
    assert "removeFromCRL" not in REASONS
    with pytest.raises(BaychainError) as exc:
        parse_reason("because")
    assert exc.value.code == Code.BAD_REQUEST


def test_malformed_revocation_list_is_refused():
    for doc in ({}, {"version": 2, "issuer_key_id": "x"}, {"version": 1, "issuer_key_id": "x", "revoked": [{"serial": "zz"}]}):
        with pytest.raises(BaychainError) as exc:
            RevocationList.from_json(doc)
        assert exc.value.code == Code.BAD_REQUEST


def test_all_refs_unites_every_ca(pki):
    a, b = RevocationList.for_ca(pki.org), RevocationList.for_ca(pki.root)
    a.revoke(5, at_ns=AT)
    b.revoke(pki.regulator.serial_number, at_ns=AT)
    refs = all_refs([a, b])
    assert refs == {(key_id(pki.org.public_key()), 5), (key_id(pki.root.public_key()), pki.regulator.serial_number)}


def test_crl_is_a_signed_v2_crl_with_number_reasons_and_authority_key(pki):
    rl = RevocationList.for_ca(pki.org)
    rl.revoke(pki.alice.serial_number, at_ns=AT, reason="keyCompromise")
    rl.revoke(pki.node.serial_number, at_ns=AT)  # unspecified: no reason extension (RFC 5280 5.3.1)
    rl.crl_number = 7
    crl = build_crl(pki.org, pki.org_key, rl, now=T0 + timedelta(days=1))
    assert crl.is_signature_valid(pki.org.public_key())
    assert crl.issuer == pki.org.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == pki.org.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=30)
    alice = crl.get_revoked_certificate_by_serial_number(pki.alice.serial_number)
    assert alice.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    assert datetime_to_ns(alice.revocation_date_utc) == AT
    node = crl.get_revoked_certificate_by_serial_number(pki.node.serial_number)
    assert len(node.extensions) == 0


def test_crl_must_be_signed_by_its_own_ca(pki):
    rl = RevocationList.for_ca(pki.org)
    with pytest.raises(BaychainError):
        build_crl(pki.org, pki.regulator_key, rl, now=T0)
    with pytest.raises(BaychainError):
        build_crl(pki.regulator, pki.regulator_key, rl, now=T0)  # the list belongs to another CA


def test_a_crl_published_by_an_imported_ca_can_be_mirrored(pki):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = byo_ca(ca_key)
    leaf, _ = byo_leaf(ca, ca_key)
    theirs = RevocationList.for_ca(ca)
    theirs.revoke(leaf.serial_number, at_ns=AT, reason="affiliationChanged")
    theirs.crl_number = 12
    crl = build_crl(ca, ca_key, theirs, now=T0)
    mirrored = revocations_from_crl(crl, ca)
    assert mirrored.refs() == theirs.refs() and mirrored.crl_number == 12
    assert mirrored.entries[0].reason == "affiliationChanged"
    with pytest.raises(BaychainError) as exc:
        verify_chain(leaf, [imported(ca)], pki.root, AT, all_refs([mirrored]))
    assert exc.value.code == Code.CERT_REVOKED
    # a CRL signed by another key under the same CA name is refused
    other_key = ed25519.Ed25519PrivateKey.generate()
    other = byo_ca(other_key)
    assert other.subject == ca.subject
    rl = RevocationList.for_ca(other)
    bad = build_crl(other, other_key, rl, now=T0)
    with pytest.raises(BaychainError) as exc:
        revocations_from_crl(bad, ca)
    assert exc.value.code == Code.CERT_INVALID
