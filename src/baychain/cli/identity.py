"""`baychain identity`: bind a key to its certificate, rotate an account to a new key,
and check whether a key would be admitted (docs/IDENTITY.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from baychain.cli.keys import KeysDir, Passphrase, load_key, resolve_address
from baychain.cli.output import emit_json, kv, settings
from baychain.sdk import identity

app = typer.Typer(help="Certificate-bound accounts: bind, rotate, status.", no_args_is_help=True)


@app.command()
def bind(
    ctx: typer.Context,
    cert: Path = typer.Option(..., "--cert", exists=True, dir_okay=False, help="Your user certificate (PEM or DER)"),
    key: str = typer.Option(..., "--key", "-k", help="The key the certificate certifies (name or key file)"),
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Bind a key to its certificate: its first binding creates the account; a renewed certificate keeps it."""
    s = settings(ctx)
    with s.client() as client:
        summary = identity.bind(client, load_key(key, keys_dir, passphrase), cert.read_bytes(), timeout=s.timeout)
    emit_json(summary) if s.json else kv(sorted(summary.items()))


@app.command()
def rotate(
    ctx: typer.Context,
    account: str = typer.Option(..., "--account", help="The account to move (address or key name)"),
    old_key: str = typer.Option(..., "--old-key", help="The account's current key: it approves the move"),
    new_key: str = typer.Option(..., "--new-key", help="The new key: it signs the rotation"),
    cert: Path = typer.Option(..., "--cert", exists=True, dir_okay=False, help="The new key's certificate (PEM or DER)"),
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Move an account to a new key without downtime: from the next block the new key acts as it."""
    s = settings(ctx)
    with s.client() as client:
        summary = identity.rotate(client, old_key=load_key(old_key, keys_dir, passphrase),
                                  new_key=load_key(new_key, keys_dir, passphrase),
                                  account=resolve_address(account, keys_dir), new_cert=cert.read_bytes(), timeout=s.timeout)
    emit_json(summary) if s.json else kv(sorted(summary.items()))


@app.command()
def status(
    ctx: typer.Context,
    address: str = typer.Argument(..., help="A signing key's address (bc1…) or key name"),
    keys_dir: Path = KeysDir,
) -> None:
    """Would a transaction signed by this key be admitted now, and for which account?"""
    s = settings(ctx)
    with s.client() as client:
        found = identity.status(client, resolve_address(address, keys_dir))
    if s.json:
        emit_json(found)
        return
    if found["admitted"]:
        kv([("key", found["address"]), ("admitted", "yes"), ("acts for", found["account"])])
    else:
        kv([("key", found["address"]), ("admitted", "no"), ("reason", f"{found['error']}: {found['message']}")])
