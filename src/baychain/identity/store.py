"""A CA directory: the consortium's certificates, keys and revocation lists as files.

Every file is a standard format (PEM certificates, encrypted PKCS#8 PEM keys, PEM
CRLs) that openssl reads directly; only the small JSON files are baychain's own.

    <dir>/                               default .baychain/ca
      root/
        ca.pem            the consortium root CA certificate
        ca.key.pem        its private key, encrypted (mode 0600)
        revoked.json      organisation CAs the root revoked (the list the chain mirrors)
        crl.pem           the same as an X.509 CRL signed by the root
        issued/SERIAL.pem every certificate the root signed (itself, organisation CAs)
      orgs/<slug>/                       one per organisation
        org.json          organisation, jurisdiction, role, imported
        ca.pem            the organisation CA certificate
        ca.key.pem        its key, encrypted (absent when the organisation brought its CA)
        revoked.json      certificates this CA revoked
        crl.pem           ... as a CRL signed by this CA (absent for an imported CA)
        issued/SERIAL.pem every certificate this CA signed
        users/NAME.pem    the current certificate of each user, NAME.key.pem its key
        nodes/NAME.pem    the current certificate of each node, NAME.key.pem its key

Directories are created with mode 0700 and key files with mode 0600; keys are
written only encrypted. Files are replaced atomically (write, fsync, rename).
SERIAL is the serial in uppercase hex, as `openssl x509 -serial` prints it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from baychain.errors import BaychainError, Code
from baychain.identity import attributes, issuance
from baychain.identity.attributes import Jurisdiction, Kind, Role
from baychain.identity.certificates import (
    datetime_to_ns, extension, is_ca, load_certificate, load_certificates, serial_hex, to_pem,
)
from baychain.identity.keys import PrivateKey, PublicKey, decrypt_key, encrypt_key
from baychain.identity.revocation import Revocation, RevocationList, all_refs, build_crl, crl_to_pem
from baychain.identity.verification import (
    CertIdentity, OrgAuthority, Usage, verify_chain, verify_org_authority, verify_root,
)

DEFAULT_DIR = Path(".baychain/ca")
_LEAF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")


@dataclass(frozen=True)
class OrgRecord:
    """An organisation in the CA directory."""

    organisation: str
    jurisdiction: Jurisdiction
    role: Role
    imported: bool
    slug: str
    dir: Path
    certificate: x509.Certificate

    def authority(self) -> OrgAuthority:
        return OrgAuthority(self.certificate, self.organisation, self.jurisdiction, self.role, self.imported)

    def to_json(self) -> dict[str, Any]:
        return {"organisation": self.organisation, "jurisdiction": self.jurisdiction.value, "role": self.role.value,
                "imported": self.imported, "slug": self.slug, "dir": str(self.dir),
                "certificate": str(self.dir / "ca.pem"), "serial": serial_hex(self.certificate.serial_number),
                "not_after": self.certificate.not_valid_after_utc.isoformat()}


@dataclass(frozen=True)
class IssuedFiles:
    """A certificate written to the directory, and its key file if one was generated."""

    certificate: x509.Certificate
    cert_path: Path
    key_path: Path | None
    org: OrgRecord | None  # None for the root and for organisation CAs' records in root/

    def to_json(self) -> dict[str, Any]:
        return {"serial": serial_hex(self.certificate.serial_number), "subject": self.certificate.subject.rfc4514_string(),
                "not_before": self.certificate.not_valid_before_utc.isoformat(),
                "not_after": self.certificate.not_valid_after_utc.isoformat(),
                "certificate": str(self.cert_path), "key": str(self.key_path) if self.key_path else None}


@dataclass(frozen=True)
class Located:
    """Where a certificate with a given serial was issued."""

    certificate: x509.Certificate
    path: Path  # its copy under issued/
    issuer: OrgRecord | None  # None: issued by the root (or the root itself)


class CADirectory:
    """The consortium's CA files; see the module docstring for the layout."""

    def __init__(self, path: str | Path = DEFAULT_DIR) -> None:
        self.dir = Path(path).expanduser()
        self.root_dir = self.dir / "root"
        self.orgs_dir = self.dir / "orgs"

    # -- the root ------------------------------------------------------------------------

    def has_root(self) -> bool:
        return (self.root_dir / "ca.pem").exists()

    def root_cert(self) -> x509.Certificate:
        if not self.has_root():
            raise BaychainError(Code.NOT_FOUND, f"no root CA in {self.dir} (run `baychain ca init-root`)")
        return load_certificate((self.root_dir / "ca.pem").read_bytes())

    def root_cert_or_none(self) -> x509.Certificate | None:
        return self.root_cert() if self.has_root() else None

    def init_root(self, common_name: str, passphrase: str, *, now: datetime, days: int = issuance.ROOT_DAYS,
                  force: bool = False) -> IssuedFiles:
        if self.has_root() and not force:
            raise BaychainError(Code.ALREADY_EXISTS, f"{self.dir} already has a root CA (use --force to replace it)")
        if force and self.orgs_dir.exists() and any(self.orgs_dir.iterdir()):
            raise BaychainError(Code.ALREADY_EXISTS, f"{self.dir} already has organisations; a new root would orphan them")
        encrypt_key(issuance.new_key(), passphrase)  # reject an empty passphrase before doing anything
        issued = issuance.create_root(common_name, now=now, days=days)
        cert = issued.certificate
        _mkdir(self.root_dir / "issued")
        _write(self.root_dir / "ca.key.pem", encrypt_key(issued.private_key, passphrase), 0o600)  # type: ignore[arg-type]
        _write(self.root_dir / "issued" / f"{serial_hex(cert.serial_number)}.pem", to_pem(cert))
        _write(self.root_dir / "ca.pem", to_pem(cert))
        rl = RevocationList.for_ca(cert)
        self._publish(self.root_dir, cert, issued.private_key, rl, now)  # type: ignore[arg-type]
        return IssuedFiles(cert, self.root_dir / "ca.pem", self.root_dir / "ca.key.pem", None)

    def _root_key(self, passphrase: str) -> PrivateKey:
        self.root_cert()
        return decrypt_key((self.root_dir / "ca.key.pem").read_bytes(), passphrase, "the root CA key")

    # -- organisations -------------------------------------------------------------------

    def orgs(self) -> list[OrgRecord]:
        if not self.orgs_dir.is_dir():
            return []
        return [self._load_org(d) for d in sorted(self.orgs_dir.iterdir()) if (d / "org.json").exists()]

    def org(self, name: str) -> OrgRecord:
        """An organisation by its name (exact, then case-insensitive) or its directory slug."""
        records = self.orgs()
        for match in (lambda r: r.organisation == name, lambda r: r.organisation.lower() == name.lower(),
                      lambda r: r.slug == name):
            found = [r for r in records if match(r)]
            if found:
                return found[0]
        known = ", ".join(r.organisation for r in records) or "none yet"
        raise BaychainError(Code.NOT_FOUND, f"no organisation {name!r} in {self.dir} (known: {known})")

    def init_org(self, organisation: str, jurisdiction: Jurisdiction | str, role: Role | str, passphrase: str, *,
                 key_passphrase: str | None = None, now: datetime, days: int = issuance.ORG_CA_DAYS,
                 public_key: PublicKey | None = None) -> IssuedFiles:
        """An organisation CA signed by the root. `passphrase` opens the root key;
        the new CA key is encrypted with `key_passphrase` (default: the same)."""
        jurisdiction, role = attributes.parse_jurisdiction(str(jurisdiction)), attributes.parse_role(str(role))
        slug = self._new_slug(organisation)
        root = self.root_cert()
        root_key = self._root_key(passphrase)
        key_pass = key_passphrase or passphrase
        if public_key is None:
            encrypt_key(issuance.new_key(), key_pass)  # reject an empty passphrase early
        issued = issuance.create_org_ca(root, root_key, organisation, jurisdiction, role, now=now, days=days,
                                        public_key=public_key)
        cert = issued.certificate
        _write(self.root_dir / "issued" / f"{serial_hex(cert.serial_number)}.pem", to_pem(cert))
        org_dir = self.orgs_dir / slug
        _mkdir(org_dir / "issued")
        key_path = None
        if issued.private_key is not None:
            key_path = org_dir / "ca.key.pem"
            _write(key_path, encrypt_key(issued.private_key, key_pass), 0o600)
        _write(org_dir / "ca.pem", to_pem(cert))
        _write_json(org_dir / "revoked.json", RevocationList.for_ca(cert).to_json())
        if issued.private_key is not None:
            self._publish(org_dir, cert, issued.private_key, RevocationList.for_ca(cert), now)
        record = self._save_org(org_dir, organisation, jurisdiction, role, imported=False)
        return IssuedFiles(cert, org_dir / "ca.pem", key_path, record)

    def import_org(self, cert_data: bytes, organisation: str | None = None, jurisdiction: str | None = None,
                   role: str | None = None) -> OrgRecord:
        """Register a CA an organisation brought (its certificate only, never its key).
        Attributes come from the arguments, or from the certificate if it carries
        baychain's; the certificate must be a CA (see `OrgAuthority.imported_ca`)."""
        certs = load_certificates(cert_data) if cert_data.lstrip().startswith(b"-----BEGIN") else [load_certificate(cert_data)]
        if len(certs) != 1:
            raise BaychainError(Code.BAD_REQUEST, f"expected one certificate (the issuing CA), found {len(certs)}")
        cert = certs[0]
        carried = attributes.org_attributes(cert)
        organisation = organisation or (carried[0] if carried else attributes.name_value(cert.subject, x509.oid.NameOID.ORGANIZATION_NAME))
        jurisdiction = jurisdiction or (carried[1].value if carried else None)
        role = role or (carried[2].value if carried else None)
        if not organisation or not jurisdiction or not role:
            raise BaychainError(Code.BAD_REQUEST, "the certificate does not say its organisation, jurisdiction and role; "
                                                  "give --org, --jurisdiction and --role")
        authority = OrgAuthority.imported_ca(cert, organisation, jurisdiction, role)
        if any(r.certificate == cert for r in self.orgs()):
            raise BaychainError(Code.ALREADY_EXISTS, "this CA certificate is already registered")
        slug = self._new_slug(authority.organisation)
        org_dir = self.orgs_dir / slug
        _mkdir(org_dir / "issued")
        _write(org_dir / "ca.pem", to_pem(cert))
        _write_json(org_dir / "revoked.json", RevocationList.for_ca(cert).to_json())
        return self._save_org(org_dir, authority.organisation, authority.jurisdiction, authority.role, imported=True)

    def _org_key(self, org: OrgRecord, passphrase: str) -> PrivateKey:
        path = org.dir / "ca.key.pem"
        if org.imported or not path.exists():
            raise BaychainError(Code.BAD_REQUEST, f"{org.organisation} brought its own CA; its key is not here, "
                                                  "so it issues and revokes with its own tools")
        return decrypt_key(path.read_bytes(), passphrase, f"the CA key of {org.organisation}")

    def _new_slug(self, organisation: str) -> str:
        attributes.check_text("the organisation name", organisation)
        slug = re.sub(r"[^\w.-]+", "-", organisation.strip().lower()).strip("-.")
        if not slug:
            raise BaychainError(Code.BAD_REQUEST, f"cannot make a directory name from {organisation!r}")
        for record in self.orgs():
            if record.organisation.lower() == organisation.lower() or record.slug == slug:
                raise BaychainError(Code.ALREADY_EXISTS, f"organisation {record.organisation!r} already exists in {self.dir}")
        return slug

    def _save_org(self, org_dir: Path, organisation: str, jurisdiction: Jurisdiction, role: Role, *, imported: bool) -> OrgRecord:
        _write_json(org_dir / "org.json", {"version": 1, "organisation": organisation, "jurisdiction": jurisdiction.value,
                                           "role": role.value, "imported": imported})
        return self._load_org(org_dir)

    def _load_org(self, org_dir: Path) -> OrgRecord:
        try:
            doc = json.loads((org_dir / "org.json").read_text())
            return OrgRecord(str(doc["organisation"]), Jurisdiction(doc["jurisdiction"]), Role(doc["role"]),
                             bool(doc["imported"]), org_dir.name, org_dir,
                             load_certificate((org_dir / "ca.pem").read_bytes()))
        except (KeyError, TypeError, ValueError) as exc:
            raise BaychainError(Code.BAD_REQUEST, f"malformed organisation record in {org_dir}: {exc}") from None

    # -- users and nodes -----------------------------------------------------------------

    def issue(self, org_name: str, kind: Kind | str, name: str, passphrase: str, *, key_passphrase: str | None = None,
              now: datetime, days: int = issuance.LEAF_DAYS, public_key: PublicKey | None = None,
              dns_names: tuple[str, ...] = ()) -> IssuedFiles:
        """A user or node certificate from an organisation CA. A key is generated (and
        written encrypted with `key_passphrase`, default `passphrase`) unless
        `public_key` is given — the holder's own key, e.g. from a CSR."""
        kind = attributes.parse_kind(str(kind))
        if not _LEAF_NAME.match(name):
            raise BaychainError(Code.BAD_REQUEST, f"name {name!r} must be 1-64 characters of A-Z a-z 0-9 . _ @ -")
        org = self.org(org_name)
        cert_path = org.dir / f"{kind.value}s" / f"{name}.pem"
        if cert_path.exists():
            raise BaychainError(Code.ALREADY_EXISTS, f"{org.organisation} already has a {kind.value} {name!r} "
                                                     f"(renew it with `baychain ca renew`)")
        ca_key = self._org_key(org, passphrase)
        key_pass = key_passphrase or passphrase
        if public_key is None:
            encrypt_key(issuance.new_key(), key_pass)
        issued = issuance.issue_leaf(org.certificate, ca_key, name, kind, now=now, days=days,
                                     public_key=public_key, dns_names=dns_names)
        cert = issued.certificate
        _mkdir(cert_path.parent)
        key_path = None
        if issued.private_key is not None:
            key_path = cert_path.with_suffix(".key.pem")
            _write(key_path, encrypt_key(issued.private_key, key_pass), 0o600)
        _write(org.dir / "issued" / f"{serial_hex(cert.serial_number)}.pem", to_pem(cert))
        _write(cert_path, to_pem(cert))
        return IssuedFiles(cert, cert_path, key_path, org)

    def find(self, serial: int) -> Located:
        """The certificate with this serial, wherever it was issued; NOT_FOUND otherwise."""
        file = f"{serial_hex(serial)}.pem"
        path = self.root_dir / "issued" / file
        if path.exists():
            return Located(load_certificate(path.read_bytes()), path, None)
        for org in self.orgs():
            path = org.dir / "issued" / file
            if path.exists():
                return Located(load_certificate(path.read_bytes()), path, org)
        raise BaychainError(Code.NOT_FOUND, f"no certificate with serial {serial_hex(serial)} was issued from {self.dir}")

    def renew(self, serial: int, passphrase: str, *, key_passphrase: str | None = None, now: datetime,
              days: int | None = None, public_key: PublicKey | None = None, generate_key: bool = False) -> IssuedFiles:
        """A new certificate for the holder of certificate `serial`. CAs keep their key
        (so what they issued keeps verifying); users and nodes may take a new one."""
        found = self.find(serial)
        old = found.certificate
        new_key = public_key is not None or generate_key
        if found.issuer is None:  # the root itself, or an organisation CA
            if new_key:
                raise BaychainError(Code.BAD_REQUEST, "a CA keeps its key when renewed (everything it issued stays valid); "
                                                      "a CA with a new key is a new CA")
            root_key = self._root_key(passphrase)
            if old.issuer == old.subject:
                target, org = self.root_dir / "ca.pem", None
                self._require_current(old, target)
                issued = issuance.renew(old, None, root_key, now=now, days=days)
            else:
                org = next((r for r in self.orgs() if r.certificate.subject == old.subject and not r.imported), None)
                if org is None:
                    raise BaychainError(Code.NOT_FOUND, f"no organisation holds {old.subject.rfc4514_string()} any more")
                target = org.dir / "ca.pem"
                self._require_current(old, target)
                issued = issuance.renew(old, self.root_cert(), root_key, now=now, days=days)
            cert = issued.certificate
            _write(self.root_dir / "issued" / f"{serial_hex(cert.serial_number)}.pem", to_pem(cert))
            _write(target, to_pem(cert))
            return IssuedFiles(cert, target, None, self._load_org(org.dir) if org else None)

        org = found.issuer
        ca_key = self._org_key(org, passphrase)
        kind = Kind.NODE if attributes.OID_EKU_NODE in (extension(old, x509.ExtendedKeyUsage) or []) else Kind.USER
        name = attributes.common_name(old) or serial_hex(serial)
        target = org.dir / f"{kind.value}s" / f"{name}.pem"
        self._require_current(old, target)
        key_pass = key_passphrase or passphrase
        if generate_key:
            encrypt_key(issuance.new_key(), key_pass)
        issued = issuance.renew(old, org.certificate, ca_key, now=now, days=days, public_key=public_key,
                                generate_key=generate_key)
        cert = issued.certificate
        key_file = target.with_suffix(".key.pem")
        if new_key and key_file.exists():  # keep the old key beside the old certificate
            os.replace(key_file, org.dir / "issued" / f"{serial_hex(serial)}.key.pem")
        key_path = key_file if key_file.exists() else None
        if issued.private_key is not None:
            _write(key_file, encrypt_key(issued.private_key, key_pass), 0o600)
            key_path = key_file
        _write(org.dir / "issued" / f"{serial_hex(cert.serial_number)}.pem", to_pem(cert))
        _write(target, to_pem(cert))
        return IssuedFiles(cert, target, key_path, org)

    @staticmethod
    def _require_current(old: x509.Certificate, target: Path) -> None:
        """Renew only the current certificate of a holder, never one already superseded."""
        if not target.exists():
            return
        current = load_certificate(target.read_bytes()).serial_number
        if current != old.serial_number:
            raise BaychainError(Code.BAD_REQUEST, f"certificate {serial_hex(old.serial_number)} was superseded by "
                                                  f"{serial_hex(current)} ({target}); renew that one")

    # -- revocation ----------------------------------------------------------------------

    def revoke(self, serial: int, passphrase: str | None, *, now: datetime, reason: str = "unspecified",
               org_name: str | None = None) -> Revocation:
        """Revoke a certificate: record it in its issuer's revoked.json and re-sign the
        issuer's CRL. A serial this directory did not issue needs `org_name` (e.g. a
        certificate from a CA an organisation brought: recorded, no CRL signed here)."""
        try:
            found: Located | None = self.find(serial)
        except BaychainError:
            if org_name is None:
                raise
            found = None
        if found is not None and org_name is not None:
            if found.issuer is None or found.issuer.slug != self.org(org_name).slug:
                raise BaychainError(Code.BAD_REQUEST, f"certificate {serial_hex(serial)} was not issued by {org_name}")
        if found is not None and found.issuer is None:
            if found.certificate.issuer == found.certificate.subject:
                raise BaychainError(Code.BAD_REQUEST, "the root CA cannot be revoked; it is the consortium's trust anchor")
            ca_dir, ca_cert, subject = self.root_dir, self.root_cert(), found.certificate.subject.rfc4514_string()
        else:
            org = found.issuer if found is not None else self.org(org_name)  # type: ignore[arg-type]
            ca_dir, ca_cert = org.dir, org.certificate  # type: ignore[union-attr]
            subject = found.certificate.subject.rfc4514_string() if found is not None else ""
        ca_key = None
        if (ca_dir / "ca.key.pem").exists():
            if passphrase is None:
                raise BaychainError(Code.BAD_REQUEST, "a passphrase is needed to sign the CRL")
            ca_key = decrypt_key((ca_dir / "ca.key.pem").read_bytes(), passphrase, "the issuing CA key")
        rl = self._revocations(ca_dir, ca_cert)
        entry = rl.revoke(serial, at_ns=datetime_to_ns(now), reason=reason, subject=subject)
        if ca_key is not None:
            self._publish(ca_dir, ca_cert, ca_key, rl, now)
        else:
            _write_json(ca_dir / "revoked.json", rl.to_json())
        return entry

    def publish_crl(self, org_name: str | None, passphrase: str, *, now: datetime) -> Path:
        """Re-sign a CA's CRL (the root's when `org_name` is None), e.g. before it lapses."""
        if org_name is None:
            ca_dir, cert, key = self.root_dir, self.root_cert(), self._root_key(passphrase)
        else:
            org = self.org(org_name)
            ca_dir, cert, key = org.dir, org.certificate, self._org_key(org, passphrase)
        self._publish(ca_dir, cert, key, self._revocations(ca_dir, cert), now)
        return ca_dir / "crl.pem"

    def revocation_lists(self) -> list[RevocationList]:
        lists = []
        if self.has_root():
            lists.append(self._revocations(self.root_dir, self.root_cert()))
        lists.extend(self._revocations(org.dir, org.certificate) for org in self.orgs())
        return lists

    def _revocations(self, ca_dir: Path, ca_cert: x509.Certificate) -> RevocationList:
        path = ca_dir / "revoked.json"
        if not path.exists():
            return RevocationList.for_ca(ca_cert)
        rl = RevocationList.from_json(json.loads(path.read_text()))
        if rl.issuer_key_id != RevocationList.for_ca(ca_cert).issuer_key_id:
            raise BaychainError(Code.BAD_REQUEST, f"{path} belongs to another CA key")
        return rl

    def _publish(self, ca_dir: Path, cert: x509.Certificate, key: PrivateKey, rl: RevocationList, now: datetime) -> None:
        rl.crl_number += 1
        crl = build_crl(cert, key, rl, now=now)
        _write_json(ca_dir / "revoked.json", rl.to_json())
        _write(ca_dir / "crl.pem", crl_to_pem(crl))

    # -- the chain's genesis ------------------------------------------------------------------

    def genesis_identity(self, *, required: bool = True) -> dict[str, Any]:
        """The genesis `app_state.identity` section registering this directory's root and
        organisation CAs (the chain's registry starts from it; see docs/IDENTITY.md)."""
        root = self.root_cert_or_none()
        return {
            "root": to_pem(root).decode() if root is not None else None,
            "organisations": [{"name": o.organisation, "jurisdiction": o.jurisdiction.value, "role": o.role.value,
                               "imported": o.imported, "ca": to_pem(o.certificate).decode()} for o in self.orgs()],
            "required": required,
        }

    # -- verification --------------------------------------------------------------------

    def authorities(self) -> list[OrgAuthority]:
        return [org.authority() for org in self.orgs()]

    def verify(self, cert: x509.Certificate | bytes, at_time_ns: int, usage: Usage = Usage.TRANSACTION) -> CertIdentity:
        """`verify_chain` against everything this directory holds."""
        return verify_chain(cert, self.authorities(), self.root_cert_or_none(), at_time_ns,
                            all_refs(self.revocation_lists()), usage=usage)

    def verify_ca(self, cert: x509.Certificate | bytes, at_time_ns: int) -> OrgRecord | None:
        """Check a CA certificate of this directory: the root (returns None) or a
        registered organisation CA (returns its record)."""
        cert = load_certificate(cert)
        root = self.root_cert_or_none()
        refs = all_refs(self.revocation_lists())
        if root is not None and cert == root:
            verify_root(root, at_time_ns)
            return None
        for org in self.orgs():
            if org.certificate == cert or (not org.imported and cert.subject == org.certificate.subject):
                record = OrgRecord(org.organisation, org.jurisdiction, org.role, org.imported, org.slug, org.dir, cert)
                authority = OrgAuthority.from_certificate(cert) if not org.imported else record.authority()
                verify_org_authority(authority, root, at_time_ns, refs)
                return record
        if not is_ca(cert):
            raise BaychainError(Code.CERT_WRONG_USAGE, "not a CA certificate")
        raise BaychainError(Code.CERT_UNKNOWN_CA, f"{cert.subject.rfc4514_string()} is neither the root nor a registered organisation CA")


def _mkdir(path: Path) -> None:
    """Create a directory and any missing parents, each with mode 0700."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace a file atomically with the given mode (the temporary file is 0600 from the start)."""
    _mkdir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    _write(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
