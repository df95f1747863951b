"""Revocation: the list each CA keeps of certificates it has withdrawn, and its CRL.

A `RevocationList` is what the chain mirrors: for one issuing CA (named by its key id,
see `keys.key_id`), the serials it revoked with time, reason and subject. A serial is
meaningful only together with its issuer — a CA an organisation brought may number
its certificates 1, 2, 3 like another one does — so the chain checks the pair
(issuer key id, serial); `RevocationList.refs` gives those pairs.

For tools outside the chain, the same list is published as a standard X.509 v2 CRL
signed by the issuing CA (`build_crl`), which `openssl crl` and `openssl verify
-crl_check` read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from baychain.errors import BaychainError, Code
from baychain.identity.certificates import datetime_to_ns, ns_to_datetime, serial_hex
from baychain.identity.keys import PrivateKey, key_id, signing_hash

CRL_DAYS = 30
CertRef = tuple[str, int]  # (issuing CA's key id, serial)

# RFC 5280 reason names (x509.ReasonFlags values); removeFromCRL is not a revocation.
REASONS: dict[str, x509.ReasonFlags] = {
    flag.value: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl
}


def parse_reason(value: str) -> x509.ReasonFlags:
    for name, flag in REASONS.items():
        if name.lower() == value.lower() or flag.name.lower() == value.lower():
            return flag
    raise BaychainError(Code.BAD_REQUEST, f"unknown revocation reason {value!r}; one of: {', '.join(REASONS)}")


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at_ns: int
    reason: str = "unspecified"
    subject: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"serial": serial_hex(self.serial), "revoked_at_ns": self.revoked_at_ns,
                "reason": self.reason, "subject": self.subject}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Revocation:
        return cls(int(doc["serial"], 16), int(doc["revoked_at_ns"]), str(doc.get("reason", "unspecified")),
                   str(doc.get("subject", "")))


@dataclass
class RevocationList:
    """The certificates one CA has revoked, in the order it revoked them."""

    issuer_key_id: str
    issuer: str = ""  # the CA's subject, for people
    crl_number: int = 0  # increases with every CRL published
    entries: list[Revocation] = field(default_factory=list)

    @classmethod
    def for_ca(cls, ca_cert: x509.Certificate) -> RevocationList:
        return cls(key_id(ca_cert.public_key()), ca_cert.subject.rfc4514_string())  # type: ignore[arg-type]

    def is_revoked(self, serial: int) -> bool:
        return any(entry.serial == serial for entry in self.entries)

    def revoke(self, serial: int, *, at_ns: int, reason: str = "unspecified", subject: str = "") -> Revocation:
        """Add a serial; ALREADY_EXISTS if it is already revoked."""
        if self.is_revoked(serial):
            raise BaychainError(Code.ALREADY_EXISTS, f"certificate {serial_hex(serial)} is already revoked")
        entry = Revocation(serial, at_ns, parse_reason(reason).value, subject)
        self.entries.append(entry)
        return entry

    def refs(self) -> list[CertRef]:
        return [(self.issuer_key_id, entry.serial) for entry in self.entries]

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "issuer_key_id": self.issuer_key_id, "issuer": self.issuer,
                "crl_number": self.crl_number, "revoked": [e.to_json() for e in self.entries]}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RevocationList:
        try:
            if doc.get("version") != 1:
                raise ValueError(f"version {doc.get('version')!r}")
            return cls(str(doc["issuer_key_id"]), str(doc.get("issuer", "")), int(doc.get("crl_number", 0)),
                       [Revocation.from_json(e) for e in doc.get("revoked", [])])
        except (KeyError, TypeError, ValueError) as exc:
            raise BaychainError(Code.BAD_REQUEST, f"malformed revocation list: {exc}") from None


def all_refs(lists: Iterable[RevocationList]) -> frozenset[CertRef]:
    """Every (issuer key id, serial) revoked by any of the lists: verify_chain's input."""
    return frozenset(ref for rl in lists for ref in rl.refs())


def build_crl(ca_cert: x509.Certificate, ca_key: PrivateKey, revocations: RevocationList, *,
              now: datetime, days: int = CRL_DAYS) -> x509.CertificateRevocationList:
    """A CRL signed by the CA, numbered `revocations.crl_number`, valid until now + days."""
    if ca_key.public_key() != ca_cert.public_key():
        raise BaychainError(Code.BAD_REQUEST, "the CA's private key does not match its certificate")
    if key_id(ca_cert.public_key()) != revocations.issuer_key_id:  # type: ignore[arg-type]
        raise BaychainError(Code.BAD_REQUEST, "this revocation list belongs to another CA key")
    this_update = now.replace(microsecond=0)
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(ca_cert.subject)
               .last_update(this_update)
               .next_update(this_update + timedelta(days=days))
               .add_extension(x509.CRLNumber(revocations.crl_number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    for entry in revocations.entries:
        revoked = (x509.RevokedCertificateBuilder()
                   .serial_number(entry.serial)
                   .revocation_date(ns_to_datetime(entry.revoked_at_ns).replace(microsecond=0)))
        if entry.reason != x509.ReasonFlags.unspecified.value:  # RFC 5280 5.3.1: omit rather than say unspecified
            revoked = revoked.add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(ca_key, signing_hash(ca_key))


def crl_to_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def revocations_from_crl(crl: x509.CertificateRevocationList, ca_cert: x509.Certificate) -> RevocationList:
    """Mirror a CRL published by a CA (e.g. one an organisation brought): its signature
    must verify with the CA's key."""
    if crl.issuer != ca_cert.subject or not crl.is_signature_valid(ca_cert.public_key()):  # type: ignore[arg-type]
        raise BaychainError(Code.CERT_INVALID, "the CRL is not signed by this CA")
    rl = RevocationList.for_ca(ca_cert)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number if _has(crl, x509.CRLNumber) else 0
    rl.crl_number = number
    for revoked in crl:
        reason = "unspecified"
        for ext in revoked.extensions:
            if isinstance(ext.value, x509.CRLReason):
                reason = ext.value.reason.value
        rl.entries.append(Revocation(revoked.serial_number, datetime_to_ns(revoked.revocation_date_utc), reason))
    return rl


def _has(crl: x509.CertificateRevocationList, cls: type) -> bool:
    try:
        crl.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return False
    return True
