"""Consortium identity: who may act on the chain, proven by X.509 certificates.

A consortium root CA certifies one CA per member organisation; each organisation CA
carries the organisation's name, its jurisdiction (GD, HK or MO) and its role
(member, regulator, auditor), and issues certificates to its users (who sign
transactions) and its nodes. An organisation may instead bring a CA it already runs;
the consortium registers that certificate as a trust anchor with the attributes it
decides. Revoked certificates are listed per issuing CA — the list the chain mirrors —
and published as standard CRLs.

    attributes    organisation / jurisdiction / role / kind, the private OID arc
    keys          Ed25519 (and imported P-256) keys, encrypted PEM, key ids
    certificates  loading, PEM/DER, fingerprints, serials, X.509 time <-> block time
    issuance      create root and organisation CAs, issue and renew certificates
    revocation    revocation lists and CRLs
    verification  verify_chain: the check made when a transaction is admitted
    store         the CA directory on disk behind `baychain ca`

Everything here is usable without a node; the state machine will call
`verify_chain` with the registered organisation CAs, the block time and the
revoked serials it holds (docs/IDENTITY.md).
"""

from baychain.identity.attributes import (
    OID_EKU_NODE, OID_EKU_TX_SIGNING, OID_JURISDICTION, OID_ROLE, Jurisdiction, Kind, Role,
)
from baychain.identity.certificates import describe, fingerprint, load_certificate, parse_serial, serial_hex, to_pem
from baychain.identity.issuance import Issued, create_org_ca, create_root, issue_leaf, public_key_from_csr, renew
from baychain.identity.keys import decrypt_key, encrypt_key, key_id, new_key
from baychain.identity.revocation import Revocation, RevocationList, all_refs, build_crl, revocations_from_crl
from baychain.identity.store import CADirectory, OrgRecord
from baychain.identity.verification import (
    CertIdentity, OrgAuthority, Usage, check_ca_certificate, verify_chain, verify_org_authority, verify_root,
)

__all__ = [
    "OID_EKU_NODE", "OID_EKU_TX_SIGNING", "OID_JURISDICTION", "OID_ROLE", "Jurisdiction", "Kind", "Role",
    "describe", "fingerprint", "load_certificate", "parse_serial", "serial_hex", "to_pem",
    "Issued", "create_org_ca", "create_root", "issue_leaf", "public_key_from_csr", "renew",
    "decrypt_key", "encrypt_key", "key_id", "new_key",
    "Revocation", "RevocationList", "all_refs", "build_crl", "revocations_from_crl",
    "CADirectory", "OrgRecord",
    "CertIdentity", "OrgAuthority", "Usage", "check_ca_certificate", "verify_chain", "verify_org_authority", "verify_root",
]
