"""verify_chain: the admission check. Each bad certificate has its own stable code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from baychain.crypto.suites import ED25519, address_of
from baychain.errors import BaychainError, Code
from baychain.identity import (
    OID_EKU_TX_SIGNING, CertIdentity, Kind, OrgAuthority, RevocationList, Usage, create_org_ca, create_root,
    issue_leaf, key_id, verify_chain, verify_org_authority,
)
from baychain.identity.keys import raw_public_key
from identity_support import AT, T0, byo_ca, byo_leaf, imported, make_cert, ns

SECOND = 10**9
DAY = 86_400 * SECOND


def rejected(code: Code, *args, **kwargs) -> BaychainError:
    with pytest.raises(BaychainError) as exc:
        verify_chain(*args, **kwargs)
    assert exc.value.code == code, exc.value
    return exc.value


# -- the happy path ------------------------------------------------------------------------


def test_valid_user_certificate_yields_its_organisation_and_account(pki):
    identity = verify_chain(pki.alice, pki.orgs, pki.root, AT)
    assert isinstance(identity, CertIdentity)
    assert (identity.organisation, identity.jurisdiction, identity.role, identity.kind) == ("Bank of Example", "HK", "member", Kind.USER)
    assert identity.subject == "CN=alice,OU=user,O=Bank of Example,C=HK"
    assert identity.common_name == "alice"
    assert identity.serial == pki.alice.serial_number
    raw = raw_public_key(pki.alice_key.public_key())
    assert identity.key_type == "ed25519" and identity.public_key == raw
    assert identity.address == address_of(ED25519.suite_id, raw)
    assert identity.issuer_key_id == key_id(pki.org.public_key())
    assert identity.ref == (identity.issuer_key_id, identity.serial)
    assert identity.not_before_ns == ns(T0 - timedelta(minutes=5))


def test_certificate_bytes_in_der_or_pem_verify_the_same(pki):
    der = pki.alice.public_bytes(serialization.Encoding.DER)
    pem = pki.alice.public_bytes(serialization.Encoding.PEM)
    assert verify_chain(der, pki.orgs, pki.root, AT) == verify_chain(pem, pki.orgs, pki.root, AT)


def test_node_certificate_verifies_as_a_node(pki):
    identity = verify_chain(pki.node, pki.orgs, pki.root, AT, usage=Usage.NODE)
    assert identity.kind == Kind.NODE and identity.organisation == "Bank of Example"


def test_verification_is_a_function_of_its_inputs_only(pki):
    first = verify_chain(pki.alice, pki.orgs, pki.root, AT)
    assert all(verify_chain(pki.alice, list(reversed(pki.orgs)), pki.root, AT) == first for _ in range(3))


def test_validity_bounds_are_inclusive_at_second_resolution(pki):
    start = ns(pki.alice.not_valid_before_utc)
    end = ns(pki.alice.not_valid_after_utc)
    verify_chain(pki.alice, pki.orgs, pki.root, start)
    verify_chain(pki.alice, pki.orgs, pki.root, end + SECOND - 1)
    rejected(Code.CERT_NOT_YET_VALID, pki.alice, pki.orgs, pki.root, start - 1)
    rejected(Code.CERT_EXPIRED, pki.alice, pki.orgs, pki.root, end + SECOND)


def test_time_must_be_integer_nanoseconds(pki):
    for bad in (1.5e18, "1", True, -1):
        rejected(Code.BAD_REQUEST, pki.alice, pki.orgs, pki.root, bad)


# -- the bad certificates of issue 4 ------------------------------------------------------


def test_self_signed_certificate_is_refused(pki):
    key = ed25519.Ed25519PrivateKey.generate()
    cert = make_cert("mallory", key, eku=[OID_EKU_TX_SIGNING])
    err = rejected(Code.CERT_SELF_SIGNED, cert, pki.orgs, pki.root, AT)
    assert "self-signed" in err.message
    # also when it copies a registered organisation CA's name
    cert = make_cert("x", key, subject=pki.org.subject, ca=True, key_usage=("key_cert_sign", "digital_signature"))
    rejected(Code.CERT_SELF_SIGNED, cert, pki.orgs, pki.root, AT)


def test_certificate_from_an_unknown_ca_is_refused(pki):
    other_root = create_root("Some Other Root", now=T0)
    other_org = create_org_ca(other_root.certificate, other_root.private_key, "Impostor Bank", "HK", "member", now=T0)
    leaf = issue_leaf(other_org.certificate, other_org.private_key, "alice", Kind.USER, now=T0).certificate
    err = rejected(Code.CERT_UNKNOWN_CA, leaf, pki.orgs, pki.root, AT)
    assert "not a registered organisation CA" in err.message
    # a leaf of a real organisation whose CA is not registered (yet) is unknown too
    rejected(Code.CERT_UNKNOWN_CA, pki.alice, [pki.regulator], pki.root, AT)


def test_certificate_issued_directly_by_the_root_is_refused(pki):
    leaf = make_cert("direct", ed25519.Ed25519PrivateKey.generate(), issuer=pki.root, issuer_key=pki.root_key)
    err = rejected(Code.CERT_UNKNOWN_CA, leaf, pki.orgs, pki.root, AT)
    assert "root CA issues organisation CAs only" in err.message


def test_expired_certificate_is_refused(pki):
    err = rejected(Code.CERT_EXPIRED, pki.alice, pki.orgs, pki.root, AT + 400 * DAY)
    assert "'alice' expired" in err.message


def test_not_yet_valid_certificate_is_refused(pki):
    future = issue_leaf(pki.org, pki.org_key, "future", Kind.USER, now=T0 + timedelta(days=30)).certificate
    err = rejected(Code.CERT_NOT_YET_VALID, future, pki.orgs, pki.root, AT)
    assert "not valid until" in err.message


def test_expired_or_not_yet_valid_organisation_ca_is_refused(pki):
    short_org = create_org_ca(pki.root, pki.root_key, "Short Lived", "MO", "auditor", now=T0, days=2)
    leaf = issue_leaf(short_org.certificate, short_org.private_key, "u", Kind.USER, now=T0).certificate
    verify_chain(leaf, [short_org.certificate], pki.root, AT)
    err = rejected(Code.CERT_EXPIRED, leaf, [short_org.certificate], pki.root, AT + 2 * DAY)
    assert "'alice'" not in err.message and "'u' expired" in err.message  # leaf was clamped to its CA
    late_org = create_org_ca(pki.root, pki.root_key, "Late", "MO", "member", now=T0 + timedelta(days=10))
    late_leaf = make_cert("v", ed25519.Ed25519PrivateKey.generate(), issuer=late_org.certificate,
                          issuer_key=late_org.private_key, not_before=T0 - timedelta(days=1))
    err = rejected(Code.CERT_NOT_YET_VALID, late_leaf, [late_org.certificate], pki.root, AT)
    assert "Late CA" in err.message


def test_revoked_certificate_is_refused(pki):
    rl = RevocationList.for_ca(pki.org)
    rl.revoke(pki.alice.serial_number, at_ns=AT, reason="keyCompromise")
    err = rejected(Code.CERT_REVOKED, pki.alice, pki.orgs, pki.root, AT, set(rl.refs()))
    assert "revoked" in err.message
    rejected(Code.CERT_REVOKED, pki.alice, pki.orgs, pki.root, AT, {pki.alice.serial_number})  # a bare serial too


def test_revocation_is_scoped_to_the_issuing_ca(pki):
    # the same serial revoked by another CA does not touch alice
    other = RevocationList.for_ca(pki.regulator)
    other.revoke(pki.alice.serial_number, at_ns=AT)
    verify_chain(pki.alice, pki.orgs, pki.root, AT, set(other.refs()))


def test_revoked_organisation_ca_takes_its_certificates_down(pki):
    root_list = RevocationList.for_ca(pki.root)
    root_list.revoke(pki.org.serial_number, at_ns=AT, reason="cessationOfOperation")
    err = rejected(Code.CERT_REVOKED, pki.alice, pki.orgs, pki.root, AT, set(root_list.refs()))
    assert "organisation CA" in err.message


def test_ca_certificate_used_to_sign_transactions_is_wrong_usage(pki):
    err = rejected(Code.CERT_WRONG_USAGE, pki.org, pki.orgs, pki.root, AT)
    assert "CA cannot sign transactions" in err.message
    rejected(Code.CERT_WRONG_USAGE, pki.root, pki.orgs, pki.root, AT)


def test_leaf_marked_as_ca_is_wrong_usage(pki):
    leaf = make_cert("sub", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key, ca=True,
                     key_usage=("digital_signature", "key_cert_sign"))
    rejected(Code.CERT_WRONG_USAGE, leaf, pki.orgs, pki.root, AT)


def test_leaf_without_digital_signature_is_wrong_usage(pki):
    no_ds = make_cert("enc", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key,
                      key_usage=("content_commitment",))
    err = rejected(Code.CERT_WRONG_USAGE, no_ds, pki.orgs, pki.root, AT)
    assert "digitalSignature" in err.message
    no_ku = make_cert("noku", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key, key_usage=None)
    rejected(Code.CERT_WRONG_USAGE, no_ku, pki.orgs, pki.root, AT)


def test_leaf_claiming_certificate_signing_is_wrong_usage(pki):
    leaf = make_cert("odd", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key,
                     key_usage=("digital_signature", "crl_sign"))
    rejected(Code.CERT_WRONG_USAGE, leaf, pki.orgs, pki.root, AT)


def test_node_certificate_cannot_sign_transactions_and_user_cannot_be_a_node(pki):
    err = rejected(Code.CERT_WRONG_USAGE, pki.node, pki.orgs, pki.root, AT)
    assert "transaction signing" in err.message
    rejected(Code.CERT_WRONG_USAGE, pki.alice, pki.orgs, pki.root, AT, usage=Usage.NODE)


def test_tls_server_only_certificate_cannot_sign_transactions(pki):
    leaf = make_cert("web", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key,
                     eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    rejected(Code.CERT_WRONG_USAGE, leaf, pki.orgs, pki.root, AT)
    any_usage = make_cert("any", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key,
                          eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
    assert verify_chain(any_usage, pki.orgs, pki.root, AT).organisation == "Bank of Example"


def test_bad_signature_on_the_leaf_is_refused(pki):
    der = bytearray(pki.alice.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte of the Ed25519 signature
    err = rejected(Code.CERT_INVALID, bytes(der), pki.orgs, pki.root, AT)
    assert "does not verify" in err.message


def test_tampered_leaf_is_refused(pki):
    der = pki.alice.public_bytes(serialization.Encoding.DER)
    tampered = der.replace(b"alice", b"alicf")  # same length, different subject
    assert tampered != der
    rejected(Code.CERT_INVALID, tampered, pki.orgs, pki.root, AT)


def test_leaf_signed_by_a_key_impersonating_the_org_ca_is_refused(pki):
    forger = ed25519.Ed25519PrivateKey.generate()
    forged = make_cert("alice", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=forger,
                       eku=[OID_EKU_TX_SIGNING])
    # its authority key id names the forger's key, so no registered CA matches ...
    rejected(Code.CERT_UNKNOWN_CA, forged, pki.orgs, pki.root, AT)
    # ... and without key identifiers the name matches but the signature does not
    bare = (x509.CertificateBuilder().subject_name(pki.alice.subject).issuer_name(pki.org.subject)
            .public_key(ed25519.Ed25519PrivateKey.generate().public_key()).serial_number(7)
            .not_valid_before(T0).not_valid_after(T0 + timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(forger, None))
    rejected(Code.CERT_INVALID, bare, pki.orgs, pki.root, AT)


def test_org_ca_not_signed_by_the_root_is_refused(pki):
    other_root = create_root("GBA Consortium Root CA", now=T0)  # same name, different key
    fake_org = create_org_ca(other_root.certificate, other_root.private_key, "Fake Bank", "HK", "member", now=T0)
    leaf = issue_leaf(fake_org.certificate, fake_org.private_key, "f", Kind.USER, now=T0).certificate
    rejected(Code.CERT_UNKNOWN_CA, leaf, [fake_org.certificate], pki.root, AT)  # AKI names another root key
    with pytest.raises(BaychainError) as exc:
        verify_org_authority(OrgAuthority.from_certificate(fake_org.certificate), pki.root, AT)
    assert exc.value.code == Code.CERT_UNKNOWN_CA


def test_org_ca_with_a_bad_root_signature_is_refused(pki):
    der = bytearray(pki.org.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    broken = x509.load_der_x509_certificate(bytes(der))
    err = rejected(Code.CERT_INVALID, pki.alice, [broken], pki.root, AT)
    assert "root" in err.message


def test_attributes_come_from_the_org_ca_not_the_leaf(pki):
    from cryptography.x509.oid import NameOID

    from baychain.identity import OID_JURISDICTION, OID_ROLE

    claims = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GBA Regulator"),
                        x509.NameAttribute(OID_JURISDICTION, "GD"), x509.NameAttribute(OID_ROLE, "regulator"),
                        x509.NameAttribute(NameOID.COMMON_NAME, "boss")])
    leaf = make_cert("boss", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key, subject=claims)
    identity = verify_chain(leaf, pki.orgs, pki.root, AT)
    assert (identity.organisation, identity.jurisdiction, identity.role) == ("Bank of Example", "HK", "member")


def test_unknown_critical_extension_is_refused(pki):
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    leaf = make_cert("crit", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key, extra=[(odd, True)])
    rejected(Code.CERT_INVALID, leaf, pki.orgs, pki.root, AT)
    harmless = make_cert("ok", ed25519.Ed25519PrivateKey.generate(), issuer=pki.org, issuer_key=pki.org_key, extra=[(odd, False)])
    verify_chain(harmless, pki.orgs, pki.root, AT)


def test_garbage_is_not_a_certificate(pki):
    rejected(Code.CERT_INVALID, b"not a certificate", pki.orgs, pki.root, AT)
    rejected(Code.CERT_INVALID, b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", pki.orgs, pki.root, AT)


def test_a_registered_org_ca_must_carry_baychain_attributes(pki):
    with pytest.raises(BaychainError) as exc:
        OrgAuthority.from_certificate(byo_ca(ed25519.Ed25519PrivateKey.generate()))
    assert exc.value.code == Code.CERT_INVALID


def test_forged_org_attributes_do_not_match_the_registration(pki):
    authority = OrgAuthority(pki.org, "Bank of Example", "HK", "regulator")  # registered as something else
    rejected(Code.CERT_INVALID, pki.alice, [authority], pki.root, AT)


def test_renewed_org_ca_with_same_key_serves_old_and_new_leaves(pki):
    from baychain.identity import renew

    expired_org = create_org_ca(pki.root, pki.root_key, "Rolling", "HK", "member", now=T0, days=30)
    renewed = renew(expired_org.certificate, pki.root, pki.root_key, now=T0 + timedelta(days=29), days=365).certificate
    leaf = issue_leaf(renewed, expired_org.private_key, "later", Kind.USER, now=T0 + timedelta(days=29)).certificate
    later = AT + 60 * DAY  # the first org CA certificate has lapsed, its renewal has not
    assert verify_chain(leaf, [expired_org.certificate, renewed], pki.root, later).organisation == "Rolling"
    err = rejected(Code.CERT_EXPIRED, leaf, [expired_org.certificate], pki.root, later)
    assert "Rolling CA" in err.message


# -- bring your own CA ---------------------------------------------------------------------


@pytest.mark.parametrize("curve", ["ed25519", "p256"])
def test_certificates_from_an_imported_ca_verify(pki, curve):
    ca_key = ed25519.Ed25519PrivateKey.generate() if curve == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    ca = byo_ca(ca_key)
    leaf, leaf_key = byo_leaf(ca, ca_key)
    identity = verify_chain(leaf, [*pki.orgs, imported(ca)], pki.root, AT)
    assert (identity.organisation, identity.jurisdiction, identity.role) == ("Macao Trust Bank", "MO", "member")
    assert identity.address == address_of(ED25519.suite_id, raw_public_key(leaf_key.public_key()))
    assert identity.issuer_key_id == key_id(ca.public_key())
    # without a consortium root at all (only imported CAs registered)
    assert verify_chain(leaf, [imported(ca)], None, AT) == identity


def test_imported_ca_leaf_without_extended_key_usage_may_sign(pki):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = byo_ca(ca_key)
    leaf, _ = byo_leaf(ca, ca_key, eku=None)
    assert verify_chain(leaf, [imported(ca)], pki.root, AT).kind == Kind.USER


def test_imported_ca_leaves_face_the_same_checks(pki):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = byo_ca(ca_key)
    leaf, _ = byo_leaf(ca, ca_key)
    orgs = [imported(ca)]
    rejected(Code.CERT_EXPIRED, leaf, orgs, pki.root, AT + 400 * DAY)
    rejected(Code.CERT_REVOKED, leaf, orgs, pki.root, AT, {(key_id(ca.public_key()), leaf.serial_number)})
    tls_only = make_cert("web", ed25519.Ed25519PrivateKey.generate(), issuer=ca, issuer_key=ca_key,
                         eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    rejected(Code.CERT_WRONG_USAGE, tls_only, orgs, pki.root, AT)
    rejected(Code.CERT_UNKNOWN_CA, leaf, pki.orgs, pki.root, AT)  # not registered: unknown


def test_only_ca_certificates_can_be_imported(pki):
    key = ed25519.Ed25519PrivateKey.generate()
    for cert in (make_cert("leaf", key), make_cert("noca", key, ca=None, key_usage=("key_cert_sign",)),
                 make_cert("nosign", key, ca=True, key_usage=("digital_signature",))):
        with pytest.raises(BaychainError) as exc:
            OrgAuthority.imported_ca(cert, "X", "HK", "member")
        assert exc.value.code == Code.CERT_WRONG_USAGE


def test_imported_ca_key_must_be_ed25519_or_p256():
    key = ec.generate_private_key(ec.SECP384R1())
    cert = make_cert("p384", key, ca=True, key_usage=("key_cert_sign",))
    with pytest.raises(BaychainError) as exc:
        OrgAuthority.imported_ca(cert, "X", "HK", "member")
    assert exc.value.code == Code.CERT_INVALID


def test_imported_self_signed_ca_must_be_intact():
    key = ed25519.Ed25519PrivateKey.generate()
    der = bytearray(byo_ca(key).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    with pytest.raises(BaychainError) as exc:
        OrgAuthority.imported_ca(bytes(der), "X", "HK", "member")
    assert exc.value.code == Code.CERT_INVALID


def test_imported_ca_attributes_are_validated():
    ca = byo_ca(ed25519.Ed25519PrivateKey.generate())
    for bad in (("", "HK", "member"), ("X", "SZ", "member"), ("X", "HK", "boss")):
        with pytest.raises(BaychainError) as exc:
            OrgAuthority.imported_ca(ca, *bad)
        assert exc.value.code == Code.BAD_REQUEST
