"""Certificates as bytes and as facts: loading, PEM, fingerprints, serials, times.

X.509 times have one-second resolution; the chain measures time in integer
nanoseconds (block time). `to_seconds`/`at_second` convert without floats.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code
from baychain.identity import attributes
from baychain.identity.keys import key_id, key_type, raw_public_key

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)


def load_certificate(data: bytes | x509.Certificate) -> x509.Certificate:
    """A certificate from PEM or DER bytes; CERT_INVALID if it is neither."""
    if isinstance(data, x509.Certificate):
        return data
    data = bytes(data)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise BaychainError(Code.CERT_INVALID, f"not an X.509 certificate: {exc}") from None


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise BaychainError(Code.CERT_INVALID, f"not a PEM certificate: {exc}") from None
    return certs


def to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def to_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the DER encoding (what `openssl x509 -fingerprint -sha256` shows)."""
    return sha256(to_der(cert)).hex()


def serial_hex(serial: int) -> str:
    """Serials are written in uppercase hex of even length, as `openssl x509 -serial` prints them."""
    text = format(serial, "X")
    return "0" + text if len(text) % 2 else text


def parse_serial(text: str) -> int:
    """A serial in hex, with or without `0x` or colons (as openssl prints it)."""
    cleaned = text.strip().replace(":", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        value = int(cleaned, 16)
    except ValueError:
        raise BaychainError(Code.BAD_REQUEST, f"a serial number is hexadecimal, got {text!r}") from None
    if value <= 0 or value >= 1 << 160:
        raise BaychainError(Code.BAD_REQUEST, f"serial {text!r} is out of range")
    return value


def to_seconds(moment: datetime) -> int:
    """Whole seconds since the Unix epoch (timezone-aware datetimes)."""
    return (moment - EPOCH) // _SECOND


def at_second(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def ns_to_datetime(time_ns: int) -> datetime:
    return EPOCH + timedelta(seconds=time_ns // 10**9, microseconds=(time_ns % 10**9) // 1000)


def datetime_to_ns(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def extension(cert: x509.Certificate, cls: type) -> Any | None:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def key_usages(cert: x509.Certificate) -> list[str]:
    """The KeyUsage bits that are set, by their RFC 5280 names."""
    usage = extension(cert, x509.KeyUsage)
    if usage is None:
        return []
    names = [("digitalSignature", "digital_signature"), ("nonRepudiation", "content_commitment"),
             ("keyEncipherment", "key_encipherment"), ("dataEncipherment", "data_encipherment"),
             ("keyAgreement", "key_agreement"), ("keyCertSign", "key_cert_sign"), ("cRLSign", "crl_sign")]
    return [name for name, attr in names if getattr(usage, attr)]


def extended_key_usages(cert: x509.Certificate) -> list[str]:
    eku = extension(cert, x509.ExtendedKeyUsage)
    if eku is None:
        return []
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku]


_EKU_NAMES = {
    attributes.OID_EKU_TX_SIGNING: "baychainTransactionSigning",
    attributes.OID_EKU_NODE: "baychainNode",
    x509.oid.ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    x509.oid.ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    x509.oid.ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def describe(cert: x509.Certificate) -> dict[str, Any]:
    """Everything a person or script wants to know about a certificate, as plain values."""
    public_key = cert.public_key()
    try:
        kt = key_type(public_key)
        raw = raw_public_key(public_key).hex()  # type: ignore[arg-type]
        kid = key_id(public_key)  # type: ignore[arg-type]
    except BaychainError:
        kt, raw, kid = type(public_key).__name__, None, None
    constraints = extension(cert, x509.BasicConstraints)
    try:
        org = attributes.org_attributes(cert)
    except BaychainError:
        org = None
    address = None
    if kt == "ed25519" and raw is not None:
        from baychain.crypto.suites import ED25519, address_of

        address = address_of(ED25519.suite_id, bytes.fromhex(raw))
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": serial_hex(cert.serial_number),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "ca": bool(constraints and constraints.ca),
        "path_length": constraints.path_length if constraints and constraints.ca else None,
        "self_signed": cert.issuer == cert.subject,
        "key_usage": key_usages(cert),
        "extended_key_usage": extended_key_usages(cert),
        "organisation": org[0] if org else attributes.name_value(cert.subject, x509.oid.NameOID.ORGANIZATION_NAME),
        "jurisdiction": org[1].value if org else None,
        "role": org[2].value if org else None,
        "key_type": kt,
        "public_key": raw,
        "key_id": kid,
        "address": address,
        "fingerprint": fingerprint(cert),
    }
