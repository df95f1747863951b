"""What baychain's CAs put into certificates: names, attributes, extensions, validity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from baychain.errors import BaychainError, Code
from baychain.identity import (
    OID_EKU_NODE, OID_EKU_TX_SIGNING, OID_JURISDICTION, OID_ROLE, Kind, create_org_ca, issue_leaf,
    public_key_from_csr, renew, verify_chain,
)
from baychain.identity.attributes import BAYCHAIN_ARC, org_attributes
from baychain.identity.certificates import describe, parse_serial, serial_hex
from identity_support import AT, T0, ns


def _ext(cert: x509.Certificate, cls: type):
    return cert.extensions.get_extension_for_class(cls)


def test_private_arc_is_a_uuid_oid():
    assert BAYCHAIN_ARC.startswith("2.25.")
    assert OID_JURISDICTION.dotted_string == BAYCHAIN_ARC + ".1.1"
    assert OID_ROLE.dotted_string == BAYCHAIN_ARC + ".1.2"
    assert OID_EKU_TX_SIGNING.dotted_string == BAYCHAIN_ARC + ".2.1"
    assert OID_EKU_NODE.dotted_string == BAYCHAIN_ARC + ".2.2"


def test_root_is_a_self_signed_ca_limited_to_one_level_below(pki):
    root = pki.root
    assert root.issuer == root.subject
    bc = _ext(root, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    ku = _ext(root, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
    ski = _ext(root, x509.SubjectKeyIdentifier).value
    assert _ext(root, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert isinstance(root.public_key(), ed25519.Ed25519PublicKey)
    root.verify_directly_issued_by(root)


def test_org_ca_carries_organisation_jurisdiction_and_role_in_its_subject(pki):
    subject = pki.org.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Bank of Example"
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "HK"
    assert subject.get_attributes_for_oid(OID_JURISDICTION)[0].value == "HK"
    assert subject.get_attributes_for_oid(OID_ROLE)[0].value == "member"
    assert org_attributes(pki.org) == ("Bank of Example", "HK", "member")
    # Guangdong is C=CN, ST=Guangdong in the standard fields
    reg = pki.regulator.subject
    assert reg.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    assert reg.get_attributes_for_oid(NameOID.STATE_OR_PROVINCE_NAME)[0].value == "Guangdong"
    assert org_attributes(pki.regulator) == ("GBA Regulator", "GD", "regulator")


def test_org_ca_is_signed_by_the_root_and_may_not_create_sub_cas(pki):
    pki.org.verify_directly_issued_by(pki.root)
    bc = _ext(pki.org, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = _ext(pki.org, x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    root_ski = _ext(pki.root, x509.SubjectKeyIdentifier).value.digest
    assert _ext(pki.org, x509.AuthorityKeyIdentifier).value.key_identifier == root_ski


def test_user_certificate_signs_transactions_and_is_not_a_ca(pki):
    alice = pki.alice
    alice.verify_directly_issued_by(pki.org)
    bc = _ext(alice, x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = _ext(alice, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment and not ku.value.key_cert_sign
    assert list(_ext(alice, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH, OID_EKU_TX_SIGNING]
    assert alice.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "user"
    org_ski = _ext(pki.org, x509.SubjectKeyIdentifier).value.digest
    assert _ext(alice, x509.AuthorityKeyIdentifier).value.key_identifier == org_ski


def test_node_certificate_is_for_tls_and_node_identity(pki):
    node = pki.node
    assert list(_ext(node, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH, OID_EKU_NODE]
    ku = _ext(node, x509.KeyUsage).value
    assert ku.digital_signature and not ku.content_commitment
    san = _ext(node, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["node0.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_validity_windows_are_explicit_backdated_and_within_the_issuer(pki):
    assert pki.alice.not_valid_before_utc == T0 - timedelta(minutes=5)
    assert pki.alice.not_valid_after_utc == T0 + timedelta(days=365)
    assert pki.org.not_valid_after_utc == T0 + timedelta(days=1825)
    long = issue_leaf(pki.org, pki.org_key, "bob", Kind.USER, now=T0, days=100_000)
    assert long.certificate.not_valid_after_utc == pki.org.not_valid_after_utc


def test_serials_are_random_positive_and_unique(pki):
    serials = {pki.root.serial_number, pki.org.serial_number, pki.regulator.serial_number,
               pki.alice.serial_number, pki.node.serial_number}
    assert len(serials) == 5
    assert all(0 < s < 1 << 160 for s in serials)


def test_serial_text_round_trips_in_openssl_form():
    assert serial_hex(0xABC) == "0ABC"
    assert parse_serial("0A:BC") == parse_serial("0xabc") == parse_serial("ABC") == 0xABC
    with pytest.raises(BaychainError) as exc:
        parse_serial("xyz")
    assert exc.value.code == Code.BAD_REQUEST


def test_leaf_for_a_given_public_key_has_no_private_key_here(pki):
    key = ed25519.Ed25519PrivateKey.generate()
    issued = issue_leaf(pki.org, pki.org_key, "carol", Kind.USER, now=T0, public_key=key.public_key())
    assert issued.private_key is None
    assert issued.certificate.public_key() == key.public_key()


def test_leaf_keys_must_be_ed25519(pki):
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(BaychainError) as exc:
        issue_leaf(pki.org, pki.org_key, "carol", Kind.USER, now=T0, public_key=p256.public_key())
    assert exc.value.code == Code.BAD_REQUEST


def test_a_leaf_cannot_issue(pki):
    with pytest.raises(BaychainError) as exc:
        issue_leaf(pki.alice, pki.alice_key, "mallory", Kind.USER, now=T0)
    assert exc.value.code == Code.CERT_WRONG_USAGE


def test_the_ca_key_must_match_the_ca_certificate(pki):
    with pytest.raises(BaychainError) as exc:
        issue_leaf(pki.org, pki.regulator_key, "mallory", Kind.USER, now=T0)
    assert exc.value.code == Code.BAD_REQUEST


def test_an_expired_ca_cannot_issue(pki):
    with pytest.raises(BaychainError) as exc:
        issue_leaf(pki.org, pki.org_key, "late", Kind.USER, now=T0 + timedelta(days=4000))
    assert exc.value.code == Code.CERT_EXPIRED


def test_renew_with_same_key_keeps_subject_key_and_extensions(pki):
    later = T0 + timedelta(days=300)
    renewed = renew(pki.alice, pki.org, pki.org_key, now=later).certificate
    assert renewed.serial_number != pki.alice.serial_number
    assert renewed.subject == pki.alice.subject and renewed.public_key() == pki.alice.public_key()
    assert renewed.not_valid_before_utc == later - timedelta(minutes=5)
    assert renewed.not_valid_after_utc == later + timedelta(days=365)
    assert [e.oid for e in renewed.extensions] == [e.oid for e in pki.alice.extensions]
    old_id = verify_chain(pki.alice, pki.orgs, pki.root, AT)
    new_id = verify_chain(renewed, pki.orgs, pki.root, ns(later + timedelta(days=100)))
    assert new_id.address == old_id.address  # same key: same account


def test_renew_with_new_key_changes_the_key(pki):
    issued = renew(pki.alice, pki.org, pki.org_key, now=T0, generate_key=True)
    assert issued.private_key is not None
    assert issued.certificate.public_key() == issued.private_key.public_key() != pki.alice.public_key()
    assert verify_chain(issued.certificate, pki.orgs, pki.root, AT).address != verify_chain(pki.alice, pki.orgs, pki.root, AT).address


def test_renewing_an_org_ca_with_its_key_keeps_its_leaves_valid(pki):
    renewed = renew(pki.org, pki.root, pki.root_key, now=T0 + timedelta(days=10)).certificate
    identity = verify_chain(pki.alice, [renewed], pki.root, AT + 10 * 86_400 * 10**9)
    assert identity.organisation == "Bank of Example"


def test_renewing_the_root_with_its_key_keeps_org_cas_valid(pki):
    renewed = renew(pki.root, None, pki.root_key, now=T0 + timedelta(days=10)).certificate
    assert renewed.issuer == renewed.subject
    renewed.verify_directly_issued_by(renewed)
    assert verify_chain(pki.alice, pki.orgs, renewed, AT + 10 * 86_400 * 10**9).organisation == "Bank of Example"


def test_org_ca_from_a_csr_certifies_only_the_requested_key(pki):
    key = ed25519.Ed25519PrivateKey.generate()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "whatever the requester says")]))
           .sign(key, None))
    from cryptography.hazmat.primitives import serialization

    public = public_key_from_csr(csr.public_bytes(serialization.Encoding.PEM))
    issued = create_org_ca(pki.root, pki.root_key, "Shenzhen Logistics", "GD", "member", now=T0, public_key=public)
    assert issued.private_key is None
    assert issued.certificate.public_key() == key.public_key()
    assert org_attributes(issued.certificate) == ("Shenzhen Logistics", "GD", "member")


def test_describe_gives_the_account_address_of_an_ed25519_leaf(pki):
    info = describe(pki.alice)
    assert info["address"].startswith("bc1") and info["key_type"] == "ed25519"
    assert info["extended_key_usage"] == ["clientAuth", "baychainTransactionSigning"]
    assert describe(pki.org)["jurisdiction"] == "HK" and describe(pki.org)["ca"] is True

