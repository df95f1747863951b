"""`baychain ca`: the consortium's certificate authorities on an operator's machine.

A root CA, one CA per organisation (with its jurisdiction and role), and the user and
node certificates they issue — all as files in a CA directory (default .baychain/ca,
or $BAYCHAIN_CA_DIR) that openssl reads directly. Private keys are written only
encrypted, with the passphrase from --passphrase, $BAYCHAIN_CA_PASSPHRASE, or a prompt.
A newly generated key is encrypted with --key-passphrase ($BAYCHAIN_CA_KEY_PASSPHRASE),
by default the same passphrase.

Issuing runs on the operator's clock; `ca verify` checks a certificate the way the chain
will at admission, at the time given with --at (default: now). See docs/IDENTITY.md.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from cryptography import x509

from baychain.cli.keys import KeysDir
from baychain.cli.output import emit_json, kv, settings, table
from baychain.errors import BaychainError, Code
from baychain.identity import attributes, issuance
from baychain.identity.certificates import (
    datetime_to_ns, describe, extension, is_ca, load_certificate, parse_serial, serial_hex,
)
from baychain.identity.keys import PublicKey, ed25519_public_key
from baychain.identity.store import DEFAULT_DIR, CADirectory, IssuedFiles, OrgRecord
from baychain.identity.verification import Usage

app = typer.Typer(help="Certificate authorities: root, organisations, users and nodes (X.509).", no_args_is_help=True)

CaDir = typer.Option(DEFAULT_DIR, "--dir", envvar="BAYCHAIN_CA_DIR", help="CA directory")
Passphrase = typer.Option(None, "--passphrase", envvar="BAYCHAIN_CA_PASSPHRASE",
                          help="Passphrase of the signing CA's key (else prompted)")
KeyPassphrase = typer.Option(None, "--key-passphrase", envvar="BAYCHAIN_CA_KEY_PASSPHRASE",
                             help="Passphrase for a newly generated key (default: --passphrase)")
Days = typer.Option(None, "--days", min=1, help="Validity in days")
Csr = typer.Option(None, "--csr", exists=True, dir_okay=False, help="Certify the key of this CSR (PEM) instead of generating one")
SdkKey = typer.Option(None, "--key", "-k", help="Certify the public key of this signing key (name in the key directory "
                                                "or key file), binding the certificate to its account address")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _passphrase(value: str | None, what: str, *, new: bool = False) -> str:
    if value is None:
        value = typer.prompt(f"Passphrase for {what}", hide_input=True, confirmation_prompt=new)
    if not value:
        raise BaychainError(Code.BAD_REQUEST, "the passphrase must not be empty")
    return value


def _public_key(csr: Path | None, key: str | None, keys_dir: Path) -> PublicKey | None:
    if csr is not None and key is not None:
        raise BaychainError(Code.BAD_REQUEST, "give --csr or --key, not both")
    if csr is not None:
        return issuance.public_key_from_csr(csr.read_bytes())
    if key is not None:
        from baychain.cli.keys import store
        from baychain.sdk.keys import KeyInfo

        path = Path(key).expanduser()
        info = KeyInfo.load(path) if ("/" in key or key.endswith(".json")) else store(keys_dir).info(key)
        if info.suite != "ed25519":
            raise BaychainError(Code.BAD_REQUEST, f"key {key!r} is a {info.suite} key; certificates carry Ed25519 keys")
        return ed25519_public_key(info.public_key)
    return None


def _target_serial(value: str) -> int:
    """A serial in hex, or the path of a certificate file."""
    path = Path(value).expanduser()
    if path.is_file():
        return load_certificate(path.read_bytes()).serial_number
    return parse_serial(value)


def _issued(ctx: typer.Context, what: str, files: IssuedFiles) -> None:
    info = describe(files.certificate)
    if settings(ctx).json:
        emit_json({**info, "certificate": str(files.cert_path), "key": str(files.key_path) if files.key_path else None})
        return
    rows = [(what, info["subject"]), ("serial", info["serial"]), ("valid", f"{info['not_before']} .. {info['not_after']}")]
    if info["jurisdiction"]:
        rows += [("jurisdiction", info["jurisdiction"]), ("role", info["role"])]
    if not info["ca"] and info["address"]:
        rows.append(("address", info["address"]))
    rows.append(("certificate", files.cert_path))
    if files.key_path:
        rows.append(("key", f"{files.key_path} (encrypted, mode 0600)"))
    kv(rows)


def _org_rows(org: OrgRecord) -> list[tuple[str, object]]:
    return [("organisation", org.organisation), ("jurisdiction", org.jurisdiction.value), ("role", org.role.value),
            ("imported", "yes (the organisation's own CA)" if org.imported else "no (signed by the root)"),
            ("serial", serial_hex(org.certificate.serial_number)), ("certificate", org.dir / "ca.pem")]


@app.command("init-root")
def init_root(
    ctx: typer.Context,
    name: str = typer.Option("GBA Consortium Root CA", "--name", help="The root CA's common name"),
    days: int = typer.Option(issuance.ROOT_DAYS, "--days", min=1, help="Validity in days"),
    force: bool = typer.Option(False, "--force", help="Replace an existing root (only while no organisation exists)"),
    ca_dir: Path = CaDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Create the consortium root CA (self-signed, Ed25519)."""
    d = CADirectory(ca_dir)
    if d.has_root() and not force:
        raise BaychainError(Code.ALREADY_EXISTS, f"{d.dir} already has a root CA (use --force to replace it)")
    files = d.init_root(name, _passphrase(passphrase, "the new root CA key", new=True), now=_now(), days=days, force=force)
    _issued(ctx, "root CA", files)


@app.command("init-org")
def init_org(
    ctx: typer.Context,
    org: str = typer.Option(..., "--org", help="Organisation name (O)"),
    jurisdiction: str = typer.Option(..., "--jurisdiction", help="GD, HK or MO"),
    role: str = typer.Option("member", "--role", help="member, regulator or auditor"),
    days: int = typer.Option(issuance.ORG_CA_DAYS, "--days", min=1, help="Validity in days"),
    csr: Optional[Path] = Csr,
    ca_dir: Path = CaDir,
    passphrase: Optional[str] = Passphrase,
    key_passphrase: Optional[str] = KeyPassphrase,
) -> None:
    """Create an organisation CA signed by the root."""
    j, r = attributes.parse_jurisdiction(jurisdiction), attributes.parse_role(role)
    d = CADirectory(ca_dir)
    d.root_cert()
    public = _public_key(csr, None, Path("."))
    pw = _passphrase(passphrase, "the root CA key")
    files = d.init_org(org, j, r, pw, key_passphrase=key_passphrase, now=_now(), days=days, public_key=public)
    _issued(ctx, "organisation CA", files)


@app.command("issue")
def issue(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The user's or node's name (CN; also its file name)"),
    org: str = typer.Option(..., "--org", help="Issuing organisation"),
    kind: str = typer.Option("user", "--kind", help="user (signs transactions) or node"),
    days: int = typer.Option(issuance.LEAF_DAYS, "--days", min=1, help="Validity in days"),
    dns: Optional[list[str]] = typer.Option(None, "--dns", help="DNS name or IP address for a node (repeatable)"),
    key: Optional[str] = SdkKey,
    csr: Optional[Path] = Csr,
    keys_dir: Path = KeysDir,
    ca_dir: Path = CaDir,
    passphrase: Optional[str] = Passphrase,
    key_passphrase: Optional[str] = KeyPassphrase,
) -> None:
    """Issue a user or node certificate from an organisation CA."""
    k = attributes.parse_kind(kind)
    d = CADirectory(ca_dir)
    record = d.org(org)
    public = _public_key(csr, key, keys_dir)
    pw = _passphrase(passphrase, f"the CA key of {record.organisation}")
    files = d.issue(record.organisation, k, name, pw, key_passphrase=key_passphrase, now=_now(), days=days,
                    public_key=public, dns_names=tuple(dns or ()))
    _issued(ctx, f"{k.value} certificate", files)


@app.command("renew")
def renew(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="Serial (hex) of the certificate to renew, or its file"),
    days: Optional[int] = Days,
    new_key: bool = typer.Option(False, "--new-key", help="Generate a new key (users and nodes only)"),
    key: Optional[str] = SdkKey,
    csr: Optional[Path] = Csr,
    keys_dir: Path = KeysDir,
    ca_dir: Path = CaDir,
    passphrase: Optional[str] = Passphrase,
    key_passphrase: Optional[str] = KeyPassphrase,
) -> None:
    """Issue a new certificate for the same holder: new serial and validity, same key unless asked."""
    d = CADirectory(ca_dir)
    serial = _target_serial(target)
    found = d.find(serial)
    public = _public_key(csr, key, keys_dir)
    if public is not None and new_key:
        raise BaychainError(Code.BAD_REQUEST, "give --new-key or a key to certify, not both")
    who = "the root CA key" if found.issuer is None else f"the CA key of {found.issuer.organisation}"
    pw = _passphrase(passphrase, who)
    files = d.renew(serial, pw, key_passphrase=key_passphrase, now=_now(), days=days, public_key=public,
                    generate_key=new_key)
    if not settings(ctx).json:
        typer.echo(f"renewed {serial_hex(serial)}; the old certificate stays valid until it expires or is revoked")
    _issued(ctx, "certificate", files)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="Serial (hex) of the certificate to revoke, or its file"),
    reason: str = typer.Option("unspecified", "--reason", help="RFC 5280 reason, e.g. keyCompromise, superseded, "
                                                               "cessationOfOperation, affiliationChanged"),
    org: Optional[str] = typer.Option(None, "--org", help="Issuing organisation (needed for a serial not issued here)"),
    ca_dir: Path = CaDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Revoke a certificate: add it to its issuer's revocation list and re-sign the CRL."""
    from baychain.identity.revocation import parse_reason

    parse_reason(reason)
    d = CADirectory(ca_dir)
    serial = _target_serial(target)
    try:
        found = d.find(serial)
        issuer_dir = d.root_dir if found.issuer is None else found.issuer.dir
        who = "the root CA key" if found.issuer is None else f"the CA key of {found.issuer.organisation}"
    except BaychainError:
        if org is None:
            raise
        record = d.org(org)
        issuer_dir, who = record.dir, f"the CA key of {record.organisation}"
    pw = _passphrase(passphrase, who) if (issuer_dir / "ca.key.pem").exists() else None
    entry = d.revoke(serial, pw, now=_now(), reason=reason, org_name=org)
    crl = issuer_dir / "crl.pem"
    if settings(ctx).json:
        emit_json({**entry.to_json(), "revocation_list": str(issuer_dir / "revoked.json"),
                   "crl": str(crl) if crl.exists() else None})
        return
    kv([("revoked", serial_hex(entry.serial)), ("subject", entry.subject or "-"), ("reason", entry.reason),
        ("revocation list", issuer_dir / "revoked.json"), ("crl", crl if crl.exists() else "- (imported CA: none signed here)")])


@app.command("crl")
def crl(
    ctx: typer.Context,
    org: Optional[str] = typer.Option(None, "--org", help="Organisation whose CRL to re-sign (default: the root's)"),
    ca_dir: Path = CaDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Re-sign a CA's CRL with a fresh validity window (CRLs lapse after 30 days)."""
    d = CADirectory(ca_dir)
    who = "the root CA key" if org is None else f"the CA key of {d.org(org).organisation}"
    path = d.publish_crl(org, _passphrase(passphrase, who), now=_now())
    if settings(ctx).json:
        emit_json({"crl": str(path)})
    else:
        kv([("crl", path)])


@app.command("import-org")
def import_org(
    ctx: typer.Context,
    cert: Path = typer.Argument(..., exists=True, dir_okay=False, help="The organisation's CA certificate (PEM or DER)"),
    org: Optional[str] = typer.Option(None, "--org", help="Organisation name (default: the certificate's O)"),
    jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", help="GD, HK or MO"),
    role: Optional[str] = typer.Option(None, "--role", help="member, regulator or auditor"),
    ca_dir: Path = CaDir,
) -> None:
    """Register a CA an organisation already runs; certificates it issues then verify."""
    record = CADirectory(ca_dir).import_org(cert.read_bytes(), org, jurisdiction, role)
    if settings(ctx).json:
        emit_json({**record.to_json(), **{k: v for k, v in describe(record.certificate).items() if k not in ("organisation",)}})
    else:
        kv(_org_rows(record))


@app.command("list")
def list_orgs(ctx: typer.Context, ca_dir: Path = CaDir) -> None:
    """The root and the organisations in the CA directory."""
    d = CADirectory(ca_dir)
    root = d.root_cert_or_none()
    orgs = d.orgs()
    if settings(ctx).json:
        emit_json({"dir": str(d.dir), "root": describe(root) if root else None, "orgs": [o.to_json() for o in orgs]})
        return
    typer.echo(f"root  {root.subject.rfc4514_string() if root else '- (none: run `baychain ca init-root`)'}")
    if orgs:
        table(["organisation", "jurisdiction", "role", "imported", "serial", "not after"],
              [[o.organisation, o.jurisdiction.value, o.role.value, "yes" if o.imported else "no",
                serial_hex(o.certificate.serial_number), o.certificate.not_valid_after_utc.isoformat()] for o in orgs])


@app.command("show")
def show(
    ctx: typer.Context,
    cert: Path = typer.Argument(..., exists=True, dir_okay=False, help="A certificate file (PEM or DER)"),
) -> None:
    """Show a certificate: subject, attributes, validity, usages, key and account address."""
    info = describe(load_certificate(cert.read_bytes()))
    if settings(ctx).json:
        emit_json({"file": str(cert), **info})
        return
    kv([(k.replace("_", " "), ", ".join(v) if isinstance(v, list) else v) for k, v in info.items()])


@app.command("verify")
def verify(
    ctx: typer.Context,
    cert: Path = typer.Argument(..., exists=True, dir_okay=False, help="A certificate file (PEM or DER)"),
    at: Optional[str] = typer.Option(None, "--at", help="Check at this time: ISO 8601 or integer nanoseconds (default: now)"),
    usage: str = typer.Option("auto", "--usage", help="transaction, node, or auto (CA certificates are checked as CAs; "
                                                      "leaves by their kind)"),
    ca_dir: Path = CaDir,
) -> None:
    """Verify a certificate against this directory's root, organisations and revocations,
    as the chain does when it admits a transaction."""
    at_ns = _parse_time(at)
    certificate = load_certificate(cert.read_bytes())
    d = CADirectory(ca_dir)
    if usage not in ("auto", "transaction", "node"):
        raise BaychainError(Code.BAD_REQUEST, f"--usage must be auto, transaction or node, got {usage!r}")
    if usage == "auto" and is_ca(certificate):
        record = d.verify_ca(certificate, at_ns)
        result = {"valid": True, "ca": True, "root": record is None, "subject": certificate.subject.rfc4514_string(),
                  "serial": serial_hex(certificate.serial_number), "at_ns": at_ns,
                  **({"organisation": record.organisation, "jurisdiction": record.jurisdiction.value,
                      "role": record.role.value, "imported": record.imported} if record else {})}
        if settings(ctx).json:
            emit_json(result)
        else:
            what = "the consortium root CA" if record is None else f"organisation CA of {record.organisation}"
            typer.echo(f"VALID {what}")
            kv([(k, v) for k, v in result.items() if k not in ("valid", "ca", "root")])
        return
    if usage == "auto":
        chosen = Usage.NODE if attributes.OID_EKU_NODE in (extension(certificate, x509.ExtendedKeyUsage) or []) else Usage.TRANSACTION
    else:
        chosen = Usage(usage)
    identity = d.verify(certificate, at_ns, chosen)
    if settings(ctx).json:
        emit_json({"valid": True, "usage": chosen.value, "at_ns": at_ns, **identity.to_json()})
        return
    typer.echo(f"VALID for {'signing transactions' if chosen is Usage.TRANSACTION else 'a node'}")
    kv([("organisation", identity.organisation), ("jurisdiction", identity.jurisdiction.value),
        ("role", identity.role.value), ("kind", identity.kind.value), ("subject", identity.subject),
        ("serial", serial_hex(identity.serial)), ("address", identity.address), ("fingerprint", identity.fingerprint)])


@app.command("genesis")
def genesis(
    ctx: typer.Context,
    open_: bool = typer.Option(False, "--open", help="Do not require certificates: unbound keys may transact"),
    into: Optional[Path] = typer.Option(None, "--into", exists=True, dir_okay=False,
                                        help="Write the section into this genesis file's app_state instead of printing it"),
    ca_dir: Path = CaDir,
) -> None:
    """The genesis `app_state.identity` section: this directory's root and organisation CAs, so
    the chain admits only keys bound to certificates they issued (docs/IDENTITY.md). After the
    genesis the registry changes only by committee proposals (`baychain gov`)."""
    from baychain.chain.genesis import merge_app_state

    d = CADirectory(ca_dir)
    section = d.genesis_identity(required=not open_)
    if not section["organisations"]:
        raise BaychainError(Code.BAD_REQUEST, f"{ca_dir} has no organisation CA; run `baychain ca init-org` first")
    if into is None:
        emit_json({"identity": section})
        return
    try:
        merge_app_state(into, {"identity": section})
    except ValueError as exc:
        raise BaychainError(Code.BAD_REQUEST, str(exc)) from None
    if settings(ctx).json:
        emit_json({"file": str(into), "organisations": [o["name"] for o in section["organisations"]],
                   "required": section["required"]})
    else:
        typer.echo(f"wrote app_state.identity into {into}: {len(section['organisations'])} organisation(s), "
                   f"certificates {'required' if section['required'] else 'optional'}")


def _parse_time(value: str | None) -> int:
    if value is None:
        return datetime_to_ns(_now())
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BaychainError(Code.BAD_REQUEST, f"--at must be ISO 8601 or integer nanoseconds, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return datetime_to_ns(moment)


if __name__ == "__main__":  # `python -m baychain.cli.ca …` until `baychain` registers the sub-app
    from baychain.cli.node_cmd import run_standalone

    run_standalone(app, "baychain ca")
