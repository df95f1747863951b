"""Helpers for the identity tests: the fixed issuance time, a free-form certificate
builder for the malformed and misused certificates the chain must refuse, and a CA
an organisation brings from outside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from baychain.identity import OrgAuthority
from baychain.identity.certificates import datetime_to_ns
from baychain.identity.keys import signing_hash

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)  # when the test PKI was issued
AT = datetime_to_ns(T0 + timedelta(days=1))  # a block time when everything is valid



def ns(moment: datetime) -> int:
    return datetime_to_ns(moment)


@dataclass
class Pki:
    root: x509.Certificate
    root_key: ed25519.Ed25519PrivateKey
    org: x509.Certificate  # Bank of Example, HK, member
    org_key: ed25519.Ed25519PrivateKey
    regulator: x509.Certificate  # GBA Regulator, GD, regulator
    regulator_key: ed25519.Ed25519PrivateKey
    alice: x509.Certificate  # a user of the bank
    alice_key: ed25519.Ed25519PrivateKey
    node: x509.Certificate  # a node of the bank
    node_key: ed25519.Ed25519PrivateKey

    @property
    def orgs(self) -> list[x509.Certificate]:
        return [self.org, self.regulator]


def make_cert(
    cn: str,
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | None = None,
    ca: bool | None = False,
    path_length: int | None = None,
    key_usage: Sequence[str] | None = ("digital_signature",),
    eku: Sequence[x509.ObjectIdentifier] | None = None,
    not_before: datetime = T0,
    not_after: datetime = T0 + timedelta(days=365),
    subject: x509.Name | None = None,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """Any certificate at all; self-signed unless an issuer is given."""
    name = subject or x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer = issuer_key or key
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(issuer.subject if issuer is not None else name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
    if key_usage is not None:
        flags = {f: f in key_usage for f in ("digital_signature", "content_commitment", "key_encipherment",
                                               "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")}
        builder = builder.add_extension(x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical=critical)
    if isinstance(signer, ec.EllipticCurvePrivateKey) and not isinstance(signer.curve, ec.SECP256R1):
        return builder.sign(signer, hashes.SHA384())
    return builder.sign(signer, signing_hash(signer))


def byo_ca(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey, cn: str = "Macao Trust Bank Issuing CA") -> x509.Certificate:
    """A CA an organisation already runs: self-signed, its own naming, no baychain attributes."""
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "MO"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Macao Trust Bank"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return make_cert(cn, key, ca=True, path_length=0, key_usage=("key_cert_sign", "crl_sign"), subject=name,
                     not_before=T0 - timedelta(days=400), not_after=T0 + timedelta(days=3650))


def byo_leaf(ca: x509.Certificate, ca_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey, cn: str = "teller-1",
             eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,)) -> tuple[x509.Certificate, ed25519.Ed25519PrivateKey]:
    from baychain.identity import OID_EKU_TX_SIGNING

    key = ed25519.Ed25519PrivateKey.generate()
    usages = None if eku is None else [*eku, OID_EKU_TX_SIGNING]
    return make_cert(cn, key, issuer=ca, issuer_key=ca_key, key_usage=("digital_signature",), eku=usages), key


def imported(ca: x509.Certificate) -> OrgAuthority:
    return OrgAuthority.imported_ca(ca, "Macao Trust Bank", "MO", "member")
