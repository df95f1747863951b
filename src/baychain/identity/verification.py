"""Verifying a certificate the way the chain does when it admits a transaction.

`verify_chain` answers one question: may this certificate act (sign a transaction, or
be a node) at this moment, and if so on behalf of which organisation? It is a pure
function of its arguments — the certificate, the registered organisation CAs, the
consortium root, the block time and the revoked serials — so every node reaches the
same answer; it never reads the wall clock.

Two kinds of organisation CA are trusted:

- issued by the consortium root (`OrgAuthority.from_certificate`): its signature is
  checked against the root, and organisation, jurisdiction and role are read from its
  subject;
- brought by the organisation (`OrgAuthority.imported_ca`): the consortium registered
  the certificate itself as a trust anchor, with the attributes it decided; the chain
  does not look above it.

Checks, in this order, each failure with its own stable code:

    malformed, not X.509 v3, unknown critical extension         CERT_INVALID
    the leaf is self-issued (issuer = subject)                  CERT_SELF_SIGNED
    a registered CA certificate used as a leaf                  CERT_WRONG_USAGE
    no registered organisation CA issued it                     CERT_UNKNOWN_CA
    a signature in the chain does not verify                    CERT_INVALID
    the issuing CA is not a CA / may not sign certificates      CERT_WRONG_USAGE
    leaf or organisation CA revoked                             CERT_REVOKED
    block time before a notBefore in the chain (leaf first)     CERT_NOT_YET_VALID
    block time after a notAfter in the chain (leaf first)       CERT_EXPIRED
    leaf is a CA, lacks digitalSignature, or its extended key
      usage does not allow the purpose                          CERT_WRONG_USAGE

Authenticity is established before anything else is reported, so a forged
certificate is never described as merely expired or revoked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from baychain.crypto.suites import ED25519, address_of
from baychain.errors import BaychainError, Code
from baychain.identity import attributes
from baychain.identity.attributes import Jurisdiction, Kind, Role
from baychain.identity.certificates import extension, fingerprint, load_certificate, serial_hex, to_seconds
from baychain.identity.keys import KEY_ED25519, key_id, key_type, raw_public_key


class Usage(StrEnum):
    """What the certificate is being used for."""

    TRANSACTION = "transaction"  # signing a transaction
    NODE = "node"  # identifying a node


@dataclass(frozen=True)
class OrgAuthority:
    """A registered organisation CA with the attributes the consortium gave it."""

    certificate: x509.Certificate
    organisation: str
    jurisdiction: Jurisdiction
    role: Role
    imported: bool = False  # brought by the organisation; a trust anchor, not signed by the root

    @classmethod
    def from_certificate(cls, cert: x509.Certificate | bytes) -> OrgAuthority:
        """An organisation CA issued by the consortium root; attributes from its subject."""
        cert = load_certificate(cert)
        attrs = attributes.org_attributes(cert)
        if attrs is None:
            raise BaychainError(Code.CERT_INVALID, f"{_name(cert)} carries no baychain organisation attributes "
                                                   "(a CA an organisation brought is registered with imported_ca)")
        return cls(cert, *attrs)

    @classmethod
    def imported_ca(cls, cert: x509.Certificate | bytes, organisation: str, jurisdiction: Jurisdiction | str,
                    role: Role | str) -> OrgAuthority:
        """A CA an organisation brought: it must be a CA certificate allowed to sign
        certificates, with an Ed25519 or ECDSA P-256 key, and (if self-signed) intact."""
        cert = load_certificate(cert)
        check_ca_certificate(cert)
        if cert.issuer == cert.subject:
            _verify_signature(cert, cert, "its own self-signature")
        return cls(cert, attributes.check_text("the organisation name", organisation),
                   attributes.parse_jurisdiction(str(jurisdiction)), attributes.parse_role(str(role)), imported=True)

    @property
    def key_id(self) -> str:
        return key_id(self.certificate.public_key())  # type: ignore[arg-type]


@dataclass(frozen=True)
class CertIdentity:
    """Who a verified certificate speaks for."""

    organisation: str
    jurisdiction: Jurisdiction
    role: Role
    kind: Kind
    subject: str  # RFC 4514
    common_name: str | None
    serial: int
    key_type: str  # 'ed25519' or 'ecdsa-p256'
    public_key: bytes  # raw Ed25519 key, or the uncompressed P-256 point
    address: str | None  # the account address (bc1…) for an Ed25519 key
    not_before_ns: int
    not_after_ns: int
    fingerprint: str  # hex SHA-256 of the certificate's DER
    issuer_key_id: str  # the organisation CA's key id: revocations are (issuer_key_id, serial)
    org_ca_fingerprint: str

    @property
    def ref(self) -> tuple[str, int]:
        return (self.issuer_key_id, self.serial)

    def to_json(self) -> dict[str, object]:
        return {"organisation": self.organisation, "jurisdiction": self.jurisdiction.value, "role": self.role.value,
                "kind": self.kind.value, "subject": self.subject, "common_name": self.common_name,
                "serial": serial_hex(self.serial), "key_type": self.key_type, "public_key": self.public_key.hex(),
                "address": self.address, "not_before_ns": self.not_before_ns, "not_after_ns": self.not_after_ns,
                "fingerprint": self.fingerprint, "issuer_key_id": self.issuer_key_id,
                "org_ca_fingerprint": self.org_ca_fingerprint}


Revoked = Collection[int | tuple[str, int]]


def verify_chain(cert: x509.Certificate | bytes, org_ca_certs: Iterable[OrgAuthority | x509.Certificate | bytes],
                 root_cert: x509.Certificate | bytes | None, at_time_ns: int, revoked_serials: Revoked = (), *,
                 usage: Usage = Usage.TRANSACTION) -> CertIdentity:
    """Verify a user or node certificate at block time `at_time_ns`; return who it is.

    `org_ca_certs` are the registered organisation CAs (plain certificates are read
    with `OrgAuthority.from_certificate`). `revoked_serials` holds revoked
    certificates as (issuer key id, serial) pairs — see `revocation.all_refs` — or as
    bare serials, which then match a certificate from any issuer. Raises
    BaychainError with a CERT_* code (see the module docstring)."""
    if isinstance(at_time_ns, bool) or not isinstance(at_time_ns, int) or at_time_ns < 0:
        raise BaychainError(Code.BAD_REQUEST, f"the time must be integer nanoseconds, got {at_time_ns!r}")
    leaf = load_certificate(cert)
    root_cert = load_certificate(root_cert) if root_cert is not None else None
    orgs = [o if isinstance(o, OrgAuthority) else OrgAuthority.from_certificate(o) for o in org_ca_certs]
    _check_structure(leaf)

    if leaf.issuer == leaf.subject:
        if any(leaf == o.certificate for o in orgs) or leaf == root_cert:
            raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(leaf)} is a CA certificate; a CA cannot {_purpose(usage)}")
        raise BaychainError(Code.CERT_SELF_SIGNED, f"{_name(leaf)} is self-signed; it must be issued by a registered organisation CA")
    if any(leaf == o.certificate for o in orgs):
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(leaf)} is an organisation CA certificate; a CA cannot {_purpose(usage)}")

    candidates = [o for o in orgs if o.certificate.subject == leaf.issuer and _same_key_id(leaf, o.certificate)]
    if not candidates:
        where = " (the root CA issues organisation CAs only)" if root_cert is not None and leaf.issuer == root_cert.subject else ""
        raise BaychainError(Code.CERT_UNKNOWN_CA, f"{_name(leaf)} was issued by {leaf.issuer.rfc4514_string()}, "
                                                  f"which is not a registered organisation CA{where}")
    signers = [o for o in candidates if _signature_ok(leaf, o.certificate)]
    if not signers:
        raise BaychainError(Code.CERT_INVALID, f"the signature on {_name(leaf)} does not verify with the key of "
                                               f"its issuer {leaf.issuer.rfc4514_string()}")
    first_error: BaychainError | None = None
    for org in signers:  # more than one when a CA was renewed with the same key
        try:
            return _verify_from(leaf, org, root_cert, at_time_ns, revoked_serials, usage)
        except BaychainError as exc:
            first_error = first_error or exc
    raise first_error  # type: ignore[misc]


def verify_org_authority(org: OrgAuthority, root_cert: x509.Certificate | None, at_time_ns: int,
                         revoked_serials: Revoked = ()) -> None:
    """An organisation CA may issue at `at_time_ns`: it is a CA, chains to the root (unless
    imported), is not revoked, and it and the root are valid then."""
    for c in _authority_chain(org, root_cert, revoked_serials):
        _check_time(c, at_time_ns)


def _authority_chain(org: OrgAuthority, root_cert: x509.Certificate | None, revoked: Revoked) -> list[x509.Certificate]:
    """Every check of an organisation CA except time; returns [org CA, root] (or [org CA]
    for an imported CA), the certificates whose validity windows must hold."""
    ca = org.certificate
    check_ca_certificate(ca)
    if org.imported:
        if _is_revoked(ca, None, revoked):
            raise BaychainError(Code.CERT_REVOKED, f"the organisation CA {_name(ca)} (serial {serial_hex(ca.serial_number)}) is revoked")
        return [ca]
    if root_cert is None:
        raise BaychainError(Code.CERT_UNKNOWN_CA, f"{_name(ca)} needs the consortium root CA, and none was given")
    _check_root(root_cert)
    if ca.issuer != root_cert.subject or not _same_key_id(ca, root_cert):
        raise BaychainError(Code.CERT_UNKNOWN_CA, f"{_name(ca)} was not issued by the consortium root {_name(root_cert)}")
    _verify_signature(ca, root_cert, "the consortium root's key")
    if attributes.org_attributes(ca) != (org.organisation, org.jurisdiction, org.role):
        raise BaychainError(Code.CERT_INVALID, f"{_name(ca)} does not carry the attributes it was registered with")
    if _is_revoked(ca, key_id(root_cert.public_key()), revoked):  # type: ignore[arg-type]
        raise BaychainError(Code.CERT_REVOKED, f"the organisation CA {_name(ca)} (serial {serial_hex(ca.serial_number)}) is revoked")
    return [ca, root_cert]


def verify_root(root_cert: x509.Certificate, at_time_ns: int) -> None:
    """The consortium root is a self-signed CA whose signature verifies, valid at `at_time_ns`."""
    _check_root(root_cert)
    _check_time(root_cert, at_time_ns)


def check_ca_certificate(cert: x509.Certificate) -> None:
    """A certificate that may sign certificates: X.509 v3, CA:TRUE, keyCertSign, and an
    Ed25519 or ECDSA P-256 key."""
    _check_structure(cert)
    constraints = extension(cert, x509.BasicConstraints)
    if constraints is None or not constraints.ca:
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(cert)} is not a CA certificate (basicConstraints CA:TRUE is required)")
    usage = extension(cert, x509.KeyUsage)
    if usage is None or not usage.key_cert_sign:
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(cert)} may not sign certificates (keyUsage keyCertSign is required)")
    key_type(cert.public_key())


# -- the steps ----------------------------------------------------------------------------


def _verify_from(leaf: x509.Certificate, org: OrgAuthority, root_cert: x509.Certificate | None, at_time_ns: int,
                 revoked: Revoked, usage: Usage) -> CertIdentity:
    authorities = _authority_chain(org, root_cert, revoked)
    issuer_key_id = org.key_id
    if _is_revoked(leaf, issuer_key_id, revoked):
        raise BaychainError(Code.CERT_REVOKED, f"{_name(leaf)} (serial {serial_hex(leaf.serial_number)}) is revoked")
    for c in [leaf, *authorities]:  # the leaf's own window first: it is the likeliest to lapse
        _check_time(c, at_time_ns)
    kind = _check_leaf_usage(leaf, usage)
    public = leaf.public_key()
    kt = key_type(public)
    raw = raw_public_key(public)  # type: ignore[arg-type]
    return CertIdentity(
        organisation=org.organisation,
        jurisdiction=org.jurisdiction,
        role=org.role,
        kind=kind,
        subject=leaf.subject.rfc4514_string(),
        common_name=attributes.common_name(leaf),
        serial=leaf.serial_number,
        key_type=kt,
        public_key=raw,
        address=address_of(ED25519.suite_id, raw) if kt == KEY_ED25519 else None,
        not_before_ns=to_seconds(leaf.not_valid_before_utc) * 10**9,
        not_after_ns=to_seconds(leaf.not_valid_after_utc) * 10**9,
        fingerprint=fingerprint(leaf),
        issuer_key_id=issuer_key_id,
        org_ca_fingerprint=fingerprint(org.certificate),
    )


def _check_structure(cert: x509.Certificate) -> None:
    if cert.version is not x509.Version.v3:
        raise BaychainError(Code.CERT_INVALID, f"{_name(cert)} is not an X.509 v3 certificate")
    try:
        extensions = cert.extensions
    except ValueError as exc:  # duplicate or unparsable extension
        raise BaychainError(Code.CERT_INVALID, f"{_name(cert)} has malformed extensions: {exc}") from None
    for ext in extensions:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            raise BaychainError(Code.CERT_INVALID, f"{_name(cert)} has an unknown critical extension {ext.oid.dotted_string}")
    try:
        public = cert.public_key()
    except Exception:  # an algorithm `cryptography` cannot load
        raise BaychainError(Code.CERT_INVALID, f"{_name(cert)} has a public key of an unsupported algorithm") from None
    key_type(public)


def _check_root(root: x509.Certificate) -> None:
    _check_structure(root)
    check_ca_certificate(root)
    if root.issuer != root.subject:
        raise BaychainError(Code.CERT_INVALID, f"the root {_name(root)} is not self-signed")
    _verify_signature(root, root, "its own key")


def _check_time(cert: x509.Certificate, at_time_ns: int) -> None:
    """Valid from notBefore through notAfter inclusive, at one-second resolution."""
    at = at_time_ns // 10**9
    if at < to_seconds(cert.not_valid_before_utc):
        raise BaychainError(Code.CERT_NOT_YET_VALID, f"{_name(cert)} is not valid until {cert.not_valid_before_utc.isoformat()}")
    if at > to_seconds(cert.not_valid_after_utc):
        raise BaychainError(Code.CERT_EXPIRED, f"{_name(cert)} expired at {cert.not_valid_after_utc.isoformat()}")


def _check_leaf_usage(leaf: x509.Certificate, usage: Usage) -> Kind:
    constraints = extension(leaf, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(leaf)} is a CA certificate; a CA cannot {_purpose(usage)}")
    key_usage = extension(leaf, x509.KeyUsage)
    if key_usage is None or not key_usage.digital_signature:
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(leaf)} does not allow digitalSignature, so it cannot {_purpose(usage)}")
    if key_usage.key_cert_sign or key_usage.crl_sign:
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(leaf)} is not a CA but claims keyCertSign/cRLSign")
    eku = extension(leaf, x509.ExtendedKeyUsage)
    purposes = set(eku) if eku is not None else set()
    wanted = attributes.OID_EKU_TX_SIGNING if usage is Usage.TRANSACTION else attributes.OID_EKU_NODE
    if eku is not None and wanted not in purposes and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in purposes:
        raise BaychainError(Code.CERT_WRONG_USAGE, f"{_name(leaf)}'s extended key usage does not include "
                                                   f"{'baychain transaction signing' if usage is Usage.TRANSACTION else 'baychain node'} "
                                                   f"({wanted.dotted_string}), so it cannot {_purpose(usage)}")
    return Kind.NODE if attributes.OID_EKU_NODE in purposes else Kind.USER


def _is_revoked(cert: x509.Certificate, issuer_key_id: str | None, revoked: Revoked) -> bool:
    serial = cert.serial_number
    return serial in revoked or (issuer_key_id is not None and (issuer_key_id, serial) in revoked)


def _same_key_id(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """False only when both key identifiers are present and differ."""
    aki = extension(cert, x509.AuthorityKeyIdentifier)
    ski = extension(issuer, x509.SubjectKeyIdentifier)
    if aki is None or aki.key_identifier is None or ski is None:
        return True
    return aki.key_identifier == ski.digest


def _signature_ok(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _verify_signature(cert: x509.Certificate, issuer: x509.Certificate, what: str) -> None:
    if not _signature_ok(cert, issuer):
        raise BaychainError(Code.CERT_INVALID, f"the signature on {_name(cert)} does not verify with {what}")


def _name(cert: x509.Certificate) -> str:
    cn = attributes.name_value(cert.subject, x509.oid.NameOID.COMMON_NAME)
    return f"certificate {cn!r}" if cn else f"certificate {cert.subject.rfc4514_string() or serial_hex(cert.serial_number)}"


def _purpose(usage: Usage) -> str:
    return "sign transactions" if usage is Usage.TRANSACTION else "act as a node"
