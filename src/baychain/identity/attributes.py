"""What a certificate says about its holder: organisation, jurisdiction, role, kind.

An organisation CA's subject carries the consortium attributes the chain acts on,
in standard fields where one fits and under baychain's private OID arc where none
does, so `openssl x509 -text` shows every one of them:

    C=HK, O=Bank of Example, <jurisdiction>=HK, <role>=member, CN=Bank of Example CA

- organisation: O (organizationName, 2.5.4.10).
- jurisdiction: GD, HK or MO under `OID_JURISDICTION`, authoritative; the standard
  C (and ST for Guangdong) say the same for generic tools: GD is C=CN, ST=Guangdong;
  HK is C=HK; MO is C=MO (both are ISO 3166-1 codes).
- role: member, regulator or auditor under `OID_ROLE`.

The private arc is a UUID OID (ITU-T X.667, `2.25.<uuid as integer>`), which needs no
registration and cannot collide with anyone else's arc. Under it:

    <arc>.1.1  jurisdiction (subject attribute, UTF8String)
    <arc>.1.2  role (subject attribute, UTF8String)
    <arc>.2.1  extended key usage: sign baychain transactions (user certificates)
    <arc>.2.2  extended key usage: baychain node (node certificates)

Leaf (user and node) certificates repeat C/ST/O and add OU=user|node for people
reading them, but the chain takes organisation, jurisdiction and role from the
organisation CA that issued the leaf, never from the leaf itself.
"""

from __future__ import annotations

from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import NameOID

from baychain.errors import BaychainError, Code

BAYCHAIN_ARC = "2.25.28176961911459360780163779309799592998"  # UUID 1532af7a-e0ac-4899-9f75-c5d4b6d9d426
OID_JURISDICTION = x509.ObjectIdentifier(BAYCHAIN_ARC + ".1.1")
OID_ROLE = x509.ObjectIdentifier(BAYCHAIN_ARC + ".1.2")
OID_EKU_TX_SIGNING = x509.ObjectIdentifier(BAYCHAIN_ARC + ".2.1")
OID_EKU_NODE = x509.ObjectIdentifier(BAYCHAIN_ARC + ".2.2")


class Jurisdiction(StrEnum):
    """The three legal systems of the Greater Bay Area."""

    GD = "GD"  # Guangdong (mainland law, PIPL)
    HK = "HK"  # Hong Kong (PDPO)
    MO = "MO"  # Macao (Law 8/2005)


class Role(StrEnum):
    """What an organisation is in the consortium."""

    MEMBER = "member"
    REGULATOR = "regulator"
    AUDITOR = "auditor"


class Kind(StrEnum):
    """What a leaf certificate is for."""

    USER = "user"  # signs transactions
    NODE = "node"  # identifies a node (peer and API TLS, node operations)


# The standard fields each jurisdiction maps to: (C, ST or None).
_COUNTRY: dict[Jurisdiction, tuple[str, str | None]] = {
    Jurisdiction.GD: ("CN", "Guangdong"),
    Jurisdiction.HK: ("HK", None),
    Jurisdiction.MO: ("MO", None),
}


def parse_jurisdiction(value: str) -> Jurisdiction:
    try:
        return Jurisdiction(value.upper())
    except ValueError:
        raise BaychainError(Code.BAD_REQUEST, f"jurisdiction must be one of GD, HK, MO, got {value!r}") from None


def parse_role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        raise BaychainError(Code.BAD_REQUEST, f"role must be one of member, regulator, auditor, got {value!r}") from None


def parse_kind(value: str) -> Kind:
    try:
        return Kind(value.lower())
    except ValueError:
        raise BaychainError(Code.BAD_REQUEST, f"kind must be user or node, got {value!r}") from None


def check_text(label: str, value: str) -> str:
    if not value or not value.strip() or len(value) > 64 or any(ord(c) < 0x20 for c in value):
        raise BaychainError(Code.BAD_REQUEST, f"{label} must be 1-64 printable characters, got {value!r}")
    return value


def _place(jurisdiction: Jurisdiction) -> list[x509.NameAttribute]:
    country, province = _COUNTRY[jurisdiction]
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, country)]
    if province:
        attrs.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, province))
    return attrs


def root_name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, check_text("the root CA name", common_name))])


def org_ca_name(organisation: str, jurisdiction: Jurisdiction, role: Role) -> x509.Name:
    """The subject of an organisation CA: standard place and O, then jurisdiction and role."""
    check_text("the organisation name", organisation)
    return x509.Name([
        *_place(jurisdiction),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(OID_JURISDICTION, jurisdiction.value),
        x509.NameAttribute(OID_ROLE, role.value),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} CA"[:64]),
    ])


def leaf_name(common_name: str, kind: Kind, organisation: str, jurisdiction: Jurisdiction | None) -> x509.Name:
    """The subject of a user or node certificate (informative copies of the org's attributes)."""
    check_text("the certificate name", common_name)
    return x509.Name([
        *(_place(jurisdiction) if jurisdiction else []),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind.value),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def name_value(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    """The single value of an attribute in a name; None if absent; CERT_INVALID if repeated."""
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    if len(values) > 1:
        raise BaychainError(Code.CERT_INVALID, f"the certificate's name repeats attribute {oid.dotted_string}")
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def org_attributes(cert: x509.Certificate) -> tuple[str, Jurisdiction, Role] | None:
    """(organisation, jurisdiction, role) from a baychain organisation CA's subject; None
    when the certificate carries no baychain attributes (e.g. a CA an organisation brought)."""
    subject = cert.subject
    jurisdiction = name_value(subject, OID_JURISDICTION)
    role = name_value(subject, OID_ROLE)
    if jurisdiction is None and role is None:
        return None
    organisation = name_value(subject, NameOID.ORGANIZATION_NAME)
    if organisation is None or jurisdiction is None or role is None:
        raise BaychainError(Code.CERT_INVALID, "an organisation CA must carry organisation, jurisdiction and role together")
    try:
        return organisation, Jurisdiction(jurisdiction), Role(role)
    except ValueError:
        raise BaychainError(Code.CERT_INVALID, f"unknown jurisdiction {jurisdiction!r} or role {role!r} in the certificate") from None


def common_name(cert: x509.Certificate) -> str | None:
    return name_value(cert.subject, NameOID.COMMON_NAME)
