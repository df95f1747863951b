"""Issuing certificates: root CA → organisation CAs → user and node certificates.

    root CA         CA:TRUE, pathlen 1, keyCertSign+cRLSign          self-signed
    organisation CA CA:TRUE, pathlen 0, keyCertSign+cRLSign          signed by the root
    user            CA:FALSE, digitalSignature+nonRepudiation,
                    EKU clientAuth + baychain transaction signing     signed by its org CA
    node            CA:FALSE, digitalSignature,
                    EKU serverAuth + clientAuth + baychain node       signed by its org CA

Every certificate has a random 159-bit serial, SubjectKeyIdentifier and
AuthorityKeyIdentifier, and an explicit validity window. Validity starts five minutes
before `now`, so a node whose clock (block time) lags slightly behind the CA's still
accepts a certificate issued a moment ago, and a certificate never outlives its
issuer. Everything baychain issues carries an Ed25519 key.

Issuance runs on an operator's machine, not in the state machine: `now` is passed in
so tests can issue at any time, and the CLI passes the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from baychain.errors import BaychainError, Code
from baychain.identity import attributes
from baychain.identity.attributes import Jurisdiction, Kind, Role
from baychain.identity.certificates import is_ca
from baychain.identity.keys import PrivateKey, PublicKey, key_type, new_key, signing_hash

ROOT_DAYS = 3650
ORG_CA_DAYS = 1825
LEAF_DAYS = 365
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    """A new certificate, with its private key when this call generated the key."""

    certificate: x509.Certificate
    private_key: PrivateKey | None = None


def create_root(common_name: str, *, now: datetime, days: int = ROOT_DAYS,
                private_key: ed25519.Ed25519PrivateKey | None = None) -> Issued:
    """A self-signed consortium root CA (pathlen 1: it signs organisation CAs only)."""
    generated = private_key is None
    key = private_key or new_key()
    name = attributes.root_name(common_name)
    builder = _base(name, name, key.public_key(), now, days, None)
    builder = _ca_extensions(builder, key.public_key(), key.public_key(), path_length=1)
    return Issued(builder.sign(key, None), key if generated else None)


def create_org_ca(root_cert: x509.Certificate, root_key: PrivateKey, organisation: str,
                  jurisdiction: Jurisdiction, role: Role, *, now: datetime, days: int = ORG_CA_DAYS,
                  public_key: PublicKey | None = None) -> Issued:
    """An organisation CA signed by the root; generates its key unless one is given (from a CSR)."""
    key = None if public_key is not None else new_key()
    public = public_key if public_key is not None else key.public_key()  # type: ignore[union-attr]
    _require_ed25519(public, "an organisation CA issued by baychain")
    _check_signer(root_cert, root_key)
    name = attributes.org_ca_name(organisation, Jurisdiction(jurisdiction), Role(role))
    builder = _base(name, root_cert.subject, public, now, days, root_cert)
    builder = _ca_extensions(builder, public, root_key.public_key(), path_length=0)
    return Issued(builder.sign(root_key, signing_hash(root_key)), key)


def issue_leaf(ca_cert: x509.Certificate, ca_key: PrivateKey, common_name: str, kind: Kind, *,
               now: datetime, days: int = LEAF_DAYS, public_key: PublicKey | None = None,
               dns_names: Sequence[str] = ()) -> Issued:
    """A user or node certificate signed by an organisation CA."""
    kind = Kind(kind)
    key = None if public_key is not None else new_key()
    public = public_key if public_key is not None else key.public_key()  # type: ignore[union-attr]
    _require_ed25519(public, f"a {kind.value} certificate")
    _check_signer(ca_cert, ca_key)
    org = attributes.org_attributes(ca_cert)
    organisation = org[0] if org else attributes.name_value(ca_cert.subject, x509.oid.NameOID.ORGANIZATION_NAME)
    name = attributes.leaf_name(common_name, kind, organisation or "-", org[1] if org else None)
    builder = _base(name, ca_cert.subject, public, now, days, ca_cert)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    if kind is Kind.USER:
        builder = builder.add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH, attributes.OID_EKU_TX_SIGNING]
    else:
        builder = builder.add_extension(_key_usage(digital_signature=True), critical=True)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH, attributes.OID_EKU_NODE]
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in dns_names]), critical=False)
    builder = _key_identifiers(builder, public, ca_key.public_key())
    return Issued(builder.sign(ca_key, signing_hash(ca_key)), key)


def renew(cert: x509.Certificate, issuer_cert: x509.Certificate | None, issuer_key: PrivateKey, *,
          now: datetime, days: int | None = None, public_key: PublicKey | None = None,
          generate_key: bool = False) -> Issued:
    """A new certificate for the same subject with the same extensions, a new serial and
    a new validity window; the same key unless `public_key` is given or `generate_key`.

    `issuer_cert` is None for a self-signed root; with a new key the root then signs
    itself with the new key. Renewing a CA with the same key keeps every certificate it
    issued verifiable (same name, same key identifier)."""
    if public_key is not None and generate_key:
        raise BaychainError(Code.BAD_REQUEST, "give a new public key or ask for a new key, not both")
    key = new_key() if generate_key else None
    public = key.public_key() if key is not None else public_key if public_key is not None else cert.public_key()
    self_signed = issuer_cert is None
    signer = key if (self_signed and key is not None) else issuer_key
    if public_key is not None or key is not None:
        _require_ed25519(public, "a renewed certificate")  # type: ignore[arg-type]
    if days is None:
        days = max(1, (cert.not_valid_after_utc - cert.not_valid_before_utc - BACKDATE).days)
    if not self_signed:
        _check_signer(issuer_cert, issuer_key)  # type: ignore[arg-type]
    issuer_name = cert.subject if self_signed else issuer_cert.subject  # type: ignore[union-attr]
    builder = _base(cert.subject, issuer_name, public, now, days, issuer_cert)  # type: ignore[arg-type]
    for ext in cert.extensions:
        if isinstance(ext.value, (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier)):
            continue
        builder = builder.add_extension(ext.value, critical=ext.critical)
    builder = _key_identifiers(builder, public, signer.public_key())  # type: ignore[arg-type, union-attr]
    return Issued(builder.sign(signer, signing_hash(signer)), key)  # type: ignore[arg-type]


def public_key_from_csr(pem: bytes) -> ed25519.Ed25519PublicKey:
    """The Ed25519 key of a certificate signing request whose signature verifies.

    Only the key is taken from a CSR; the subject and extensions come from the CA."""
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError:
        try:
            csr = x509.load_der_x509_csr(pem)
        except ValueError:
            raise BaychainError(Code.BAD_REQUEST, "not a certificate signing request (PEM or DER)") from None
    if not csr.is_signature_valid:
        raise BaychainError(Code.BAD_REQUEST, "the certificate signing request's signature does not verify")
    public = csr.public_key()
    _require_ed25519(public, "a certificate requested from baychain")
    return public  # type: ignore[return-value]


# -- building blocks ------------------------------------------------------------------


def _base(subject: x509.Name, issuer_name: x509.Name, public: PublicKey, now: datetime, days: int,
          issuer_cert: x509.Certificate | None) -> x509.CertificateBuilder:
    if now.tzinfo is None:
        raise BaychainError(Code.BAD_REQUEST, "issuance time must be timezone-aware")
    if not isinstance(days, int) or days < 1:
        raise BaychainError(Code.BAD_REQUEST, f"validity must be at least one day, got {days!r}")
    not_before = now.replace(microsecond=0) - BACKDATE
    not_after = now.replace(microsecond=0) + timedelta(days=days)
    if issuer_cert is not None:
        if now > issuer_cert.not_valid_after_utc:
            raise BaychainError(Code.CERT_EXPIRED, f"the issuing CA {issuer_cert.subject.rfc4514_string()} has expired")
        not_after = min(not_after, issuer_cert.not_valid_after_utc)
        not_before = max(not_before, issuer_cert.not_valid_before_utc)
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after))


def _ca_extensions(builder: x509.CertificateBuilder, public: PublicKey, issuer_public: PublicKey,
                   path_length: int) -> x509.CertificateBuilder:
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
    builder = builder.add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
    return _key_identifiers(builder, public, issuer_public)


def _key_identifiers(builder: x509.CertificateBuilder, public: PublicKey, issuer_public: PublicKey) -> x509.CertificateBuilder:
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    issuer_ski = x509.SubjectKeyIdentifier.from_public_key(issuer_public)
    return builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False,
               key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=content_commitment,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=key_cert_sign, crl_sign=crl_sign, encipher_only=False, decipher_only=False)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ip_address(name))
    except ValueError:
        pass
    if not name or len(name) > 253 or not all(part and len(part) < 64 for part in name.split(".")):
        raise BaychainError(Code.BAD_REQUEST, f"{name!r} is neither an IP address nor a DNS name")
    return x509.DNSName(name)


def _require_ed25519(public: object, what: str) -> None:
    if key_type(public) != "ed25519":
        raise BaychainError(Code.BAD_REQUEST, f"{what} must carry an Ed25519 key, got {key_type(public)}")


def _check_signer(ca_cert: x509.Certificate, ca_key: PrivateKey) -> None:
    if not is_ca(ca_cert):
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{ca_cert.subject.rfc4514_string()} is not a CA certificate")
    if ca_cert.public_key() != ca_key.public_key():
        raise BaychainError(Code.BAD_REQUEST, "the CA's private key does not match its certificate")
