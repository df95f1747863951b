"""`baychain gateway`: run an organisation's data gateway and drive it.

    baychain gateway init  --home DIR --node-cert node.pem --node-key node.key.pem --org-ca ca.pem \\
                           --root root.pem --signer KEY [--peer-host H --peer-port P --admin-port A]
    baychain gateway start --home DIR            unlock with the passphrase; serve until interrupted

The other commands talk to the running gateway's loopback admin API (address and token
from --home): put, records, anchor, consent, withdraw-consent, assess, file, grant,
revoke-grant, send, verify, received. `policies` and `audit` read the chain only.
The gateway passphrase comes from --passphrase, $BAYCHAIN_GATEWAY_PASSPHRASE or a prompt.
Records are JSON files: {"subject": "...", "categories": [...], "fields": {...}}.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any, Optional

import typer

from baychain.cli.keys import KeysDir, load_key
from baychain.cli.output import emit_json, kv, report_error, settings, table, timestamp
from baychain.errors import BaychainError, Code

app = typer.Typer(help="The data gateway: records at home, keyed hashes on chain, audited exchange.", no_args_is_help=True)

Home = typer.Option(Path(".baychain/gateway"), "--home", envvar="BAYCHAIN_GATEWAY_HOME", help="Gateway home directory")
Passphrase = typer.Option(None, "--passphrase", envvar="BAYCHAIN_GATEWAY_PASSPHRASE", help="Gateway passphrase (else prompted)")
Category = typer.Option(..., "--category", "-c", help="Data category (repeatable)")


def _passphrase(value: str | None, *, new: bool = False) -> str:
    if value is None:
        value = typer.prompt("Gateway passphrase", hide_input=True, confirmation_prompt=new)
    if not value:
        raise BaychainError(Code.BAD_REQUEST, "the gateway passphrase must not be empty")
    return value


def _admin(home: Path):
    from baychain.sdk.dataex import GatewayAdmin

    return GatewayAdmin.from_home(home)


def _record(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise BaychainError(Code.RECORD_INVALID, f"{path} is not JSON: {exc}") from None


def _out(ctx: typer.Context, data: Any, rows: list[tuple[str, Any]]) -> None:
    if settings(ctx).json:
        emit_json(data)
    else:
        kv(rows)


@app.command("init")
def init(
    ctx: typer.Context,
    home: Path = Home,
    node_cert: Path = typer.Option(..., exists=True, dir_okay=False, help="The organisation's node certificate (PEM)"),
    node_key: Path = typer.Option(..., exists=True, dir_okay=False, help="Its private key (encrypted PEM)"),
    node_key_passphrase: Optional[str] = typer.Option(None, envvar="BAYCHAIN_CA_KEY_PASSPHRASE",
                                                      help="Passphrase of --node-key (else prompted)"),
    org_ca: Path = typer.Option(..., exists=True, dir_okay=False, help="The organisation CA certificate (PEM)"),
    root: Path = typer.Option(..., exists=True, dir_okay=False, help="The consortium root CA certificate (PEM)"),
    signer: str = typer.Option(..., help="Key that signs the gateway's transactions (bound to a user certificate)"),
    signer_passphrase: Optional[str] = typer.Option(None, envvar="BAYCHAIN_PASSPHRASE", help="Passphrase of --signer"),
    keys_dir: Path = KeysDir,
    peer_host: str = typer.Option("127.0.0.1", help="Address the peer (mutual TLS) endpoint listens on"),
    peer_port: int = typer.Option(7443, help="Peer endpoint port"),
    admin_port: int = typer.Option(7480, help="Admin API port (loopback)"),
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Create a gateway home: new vault keys; TLS material and signer re-encrypted under the gateway passphrase."""
    from baychain.gateway.config import GatewayConfig, init_home
    from baychain.identity import load_certificate
    from baychain.identity.keys import decrypt_key

    s = settings(ctx)
    key_pass = node_key_passphrase if node_key_passphrase is not None else typer.prompt(
        f"Passphrase for {node_key}", hide_input=True)
    tls_key = decrypt_key(node_key.read_bytes(), key_pass, str(node_key))
    signing_key = load_key(signer, keys_dir, signer_passphrase)
    secret = _passphrase(passphrase, new=True)
    config = GatewayConfig(node=s.node, peer_host=peer_host, peer_port=peer_port, admin_port=admin_port)
    init_home(home, secret, config=config, node_cert=load_certificate(node_cert.read_bytes()), node_key=tls_key,
              org_ca=load_certificate(org_ca.read_bytes()), root=load_certificate(root.read_bytes()), signer=signing_key)
    _out(ctx, {"home": str(home), "signer": signing_key.address, **config.__dict__},
         [("home", home), ("node", s.node), ("signer", signing_key.address), ("peer", f"{peer_host}:{peer_port}"),
          ("admin", f"127.0.0.1:{admin_port}")])


@app.command("start")
def start(ctx: typer.Context, home: Path = Home, passphrase: Optional[str] = Passphrase) -> None:
    """Unlock the gateway and serve its peer and admin endpoints until interrupted."""
    import logging

    from baychain.gateway import Gateway, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    gateway = Gateway(home, _passphrase(passphrase))
    running = serve(gateway)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"baychain gateway: {gateway.organisation} ({gateway.jurisdiction}); peer https://{running.peer_address}; "
               f"admin {running.admin_url}", err=settings(ctx).json)
    if settings(ctx).json:
        emit_json({"organisation": gateway.organisation, "jurisdiction": gateway.jurisdiction,
                   "peer": running.peer_address, "admin": running.admin_url})
    try:
        stop.wait()
    finally:
        running.stop()
        gateway.close()


@app.command("status")
def status(ctx: typer.Context, home: Path = Home) -> None:
    """Who the running gateway acts for, and where it listens."""
    with _admin(home) as gw:
        doc = gw.status()
    _out(ctx, doc, list(doc.items()))


@app.command("put")
def put(ctx: typer.Context, record_id: str = typer.Argument(..., help="A local id (never personal data)"),
        file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The record as JSON"),
        anchor: bool = typer.Option(False, "--anchor", help="Anchor its keyed hash on chain too"),
        schema: str = typer.Option("", help="A schema name stored with the anchor"), home: Path = Home) -> None:
    """Store a record in the encrypted vault (and with --anchor, anchor it)."""
    with _admin(home) as gw:
        doc = gw.put(record_id, _record(file), anchor=anchor, schema=schema)
    _out(ctx, doc, [("record", record_id), ("digest", doc["digest"]),
                    ("anchored", f"height {doc['anchor']['height']}" if doc.get("anchor") else "no")])


@app.command("records")
def records(ctx: typer.Context, home: Path = Home) -> None:
    """The records the vault holds: ids, categories, anchors (not their content)."""
    with _admin(home) as gw:
        docs = gw.records()
    if settings(ctx).json:
        emit_json(docs)
        return
    table(["id", "categories", "anchored at", "digest"],
          [[d["id"], ",".join(d["categories"]), d["anchor"]["height"] if d["anchor"] else "-", d["digest"]] for d in docs])


@app.command("anchor")
def anchor(ctx: typer.Context, record_id: str, schema: str = typer.Option(""), home: Path = Home) -> None:
    """Anchor a stored record's keyed hashes on chain."""
    with _admin(home) as gw:
        doc = gw.anchor(record_id, schema)
    _out(ctx, doc, [("record", record_id), ("height", doc["height"]), ("time", timestamp(doc["time_ns"]))])


@app.command("consent")
def consent(ctx: typer.Context, subject: str = typer.Argument(..., help="The subject's identifier (hashed before it leaves)"),
            recipient: str = typer.Option(...), purpose: str = typer.Option(...), category: list[str] = Category,
            days: int = typer.Option(365, help="Valid for this many days"), reference: str = typer.Option(""),
            home: Path = Home) -> None:
    """Record a subject's consent to transfers to one recipient for one purpose."""
    with _admin(home) as gw:
        cid = gw.consent(subject, recipient, purpose, category, days=days, reference=reference)
    _out(ctx, {"consent": cid}, [("consent", cid)])


@app.command("withdraw-consent")
def withdraw_consent(ctx: typer.Context, consent_id: int, home: Path = Home) -> None:
    """Record the subject's withdrawal: every later transfer under it is refused."""
    with _admin(home) as gw:
        gw.withdraw_consent(consent_id)
    _out(ctx, {"consent": consent_id, "withdrawn": True}, [("consent", consent_id), ("status", "withdrawn")])


@app.command("assess")
def assess(ctx: typer.Context, reference: str, document: Path = typer.Argument(..., exists=True, dir_okay=False),
           recipient: str = typer.Option(...), purpose: str = typer.Option(...), category: list[str] = Category,
           home: Path = Home) -> None:
    """Record a personal-information impact assessment (its reference and the SHA-256 of DOCUMENT)."""
    with _admin(home) as gw:
        aid = gw.assess(reference, document.read_text(), recipient, purpose, category)
    _out(ctx, {"assessment": aid}, [("assessment", aid)])


@app.command("file")
def file(ctx: typer.Context, reference: str, assessment: int = typer.Option(...), recipient: str = typer.Option(...),
         jurisdiction: str = typer.Option(..., help="The recipient's jurisdiction: GD, HK or MO"),
         purpose: str = typer.Option(...), category: list[str] = Category,
         retention_days: int = typer.Option(..., help="How long the recipient may keep the data"),
         home: Path = Home) -> None:
    """Record a standard-contract filing for transfers to one recipient for one purpose."""
    with _admin(home) as gw:
        fid = gw.file(reference, assessment, recipient, jurisdiction.upper(), purpose, category, retention_days)
    _out(ctx, {"filing": fid}, [("filing", fid)])


@app.command("grant")
def grant(ctx: typer.Context, grantee: str, purpose: str = typer.Option(...), category: list[str] = Category,
          days: int = typer.Option(30), home: Path = Home) -> None:
    """Let another organisation verify your anchored records of these categories for a purpose."""
    with _admin(home) as gw:
        gid = gw.grant(grantee, purpose, category, days=days)
    _out(ctx, {"grant": gid}, [("grant", gid)])


@app.command("revoke-grant")
def revoke_grant(ctx: typer.Context, grant_id: int, home: Path = Home) -> None:
    with _admin(home) as gw:
        gw.revoke_grant(grant_id)
    _out(ctx, {"grant": grant_id, "revoked": True}, [("grant", grant_id), ("status", "revoked")])


@app.command("send")
def send(ctx: typer.Context, record_id: str, to: str = typer.Option(..., "--to", help="The recipient gateway, host:port"),
         purpose: str = typer.Option(...), home: Path = Home) -> None:
    """Transfer a record to another gateway, if the chain allows it (every attempt is audited)."""
    with _admin(home) as gw:
        try:
            doc = gw.send(record_id, peer=to, purpose=purpose)
        except BaychainError as exc:
            transfer = getattr(exc, "transfer", None)
            if transfer is None:
                raise
            report_error(exc, as_json=settings(ctx).json, extra={"transfer": transfer},
                         hint=f"the refused attempt is on chain as transfer {transfer}")
            raise typer.Exit(1) from None
    _out(ctx, doc, [("transfer", doc["transfer"]), ("recipient", doc["recipient"]), ("status", "delivered")])


@app.command("verify")
def verify(ctx: typer.Context, file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The record you hold (JSON)"),
           at: str = typer.Option(..., "--at", help="The owner's gateway, host:port"), purpose: str = typer.Option(...),
           home: Path = Home) -> None:
    """Ask the owner's gateway whether a record you hold matches what it anchored, and when."""
    with _admin(home) as gw:
        doc = gw.verify(_record(file), peer=at, purpose=purpose)
    _out(ctx, doc, [("owner", doc["owner"]), ("matched", "yes" if doc["matched"] else "NO"),
                    ("anchored", f"height {doc['anchored_height']}, {timestamp(doc['anchored_time_ns'])}" if doc["matched"] else "-"),
                    ("audit", doc["audit"])])


@app.command("received")
def received(ctx: typer.Context, home: Path = Home) -> None:
    """Records received by authorised transfer, with source, purpose and retention."""
    with _admin(home) as gw:
        docs = gw.received()
    if settings(ctx).json:
        emit_json(docs)
        return
    table(["transfer", "source", "purpose", "keep until"],
          [[d["transfer"], d["source"], d["purpose"], timestamp(d["retain_until_ns"])] for d in docs])


@app.command("policies")
def policies(ctx: typer.Context) -> None:
    """The jurisdiction policies in force (chain only)."""
    from baychain.sdk.dataex import DataExchangeReader

    with settings(ctx).client() as client:
        docs = DataExchangeReader(client).policies()
    if settings(ctx).json:
        emit_json(docs)
        return
    table(["pair", "allowed", "filing", "assessment", "consent", "max retention (days)", "denied", "law"],
          [[pair, p["allowed"], p["filing"], p["assessment"], p["consent"], p["max_retention_days"],
            ",".join(p["denied_categories"]) or "-", p["law"]] for pair, p in docs.items()])


@app.command("audit")
def audit(ctx: typer.Context, organisation: str = typer.Option("", help="Only entries naming this organisation"),
          start: int = typer.Option(0), limit: int = typer.Option(100)) -> None:
    """The data-exchange audit log: every transfer, receipt and verification (chain only)."""
    from baychain.sdk.dataex import DataExchangeReader

    with settings(ctx).client() as client:
        doc = DataExchangeReader(client).audit_log(start=start, limit=limit, organisation=organisation)
    if settings(ctx).json:
        emit_json(doc)
        return
    table(["seq", "kind", "organisation", "counterparty", "purpose", "outcome", "reason", "height"],
          [[e["seq"], e["kind"], e["organisation"], e["counterparty"], e["purpose"], e["outcome"], e["reason"],
            e["height"]] for e in doc["entries"]])
