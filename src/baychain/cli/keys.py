"""`baychain keys`: create, list and show passphrase-encrypted signing keys.

Keys live in a directory of key files (default ~/.baychain/keys, or
$BAYCHAIN_KEYS_DIR); commands that sign take `--key NAME` (or a key file's path).
The passphrase comes from --passphrase, $BAYCHAIN_PASSPHRASE, or a prompt.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from baychain.cli.output import emit_json, kv, settings, table
from baychain.errors import BaychainError, Code
from baychain.sdk.keys import Key, KeyInfo, KeyStore

DEFAULT_KEYS_DIR = Path("~/.baychain/keys")

app = typer.Typer(help="Create, list and show signing keys.", no_args_is_help=True)

KeysDir = typer.Option(DEFAULT_KEYS_DIR, "--keys-dir", envvar="BAYCHAIN_KEYS_DIR", help="Directory of key files")
Passphrase = typer.Option(None, "--passphrase", envvar="BAYCHAIN_PASSPHRASE", help="Key passphrase (else prompted)")


def store(keys_dir: Path) -> KeyStore:
    return KeyStore(keys_dir)


def load_key(name: str, keys_dir: Path, passphrase: str | None) -> Key:
    """A key by name from the key directory, or from a key file path."""
    path = Path(name).expanduser()
    if os.sep in name or name.endswith(".json"):
        info = KeyInfo.load(path)
        label = str(path)
    else:
        info = store(keys_dir).info(name)
        path = info.path  # type: ignore[assignment]
        label = name
    if passphrase is None:
        passphrase = typer.prompt(f"Passphrase for key {label} ({info.address})", hide_input=True)
    return Key.load(path, passphrase)


def resolve_address(name_or_address: str, keys_dir: Path) -> str:
    """An account address given directly, or the address of a named key."""
    from baychain.crypto.suites import is_address

    if is_address(name_or_address):
        return name_or_address
    try:
        return store(keys_dir).info(name_or_address).address
    except BaychainError:
        raise BaychainError(
            Code.BAD_REQUEST, f"{name_or_address!r} is neither an account address (bc1…) nor the name of a key"
        ) from None


@app.command("new")
def new(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name for the key (its file is NAME.json)"),
    keys_dir: Path = KeysDir,
    passphrase: str = Passphrase,
    suite: str = typer.Option("ed25519", help="Signature suite"),
    force: bool = typer.Option(False, "--force", help="Replace an existing key of that name"),
) -> None:
    """Generate a key and save it encrypted with a passphrase."""
    ks = store(keys_dir)
    path = ks.path(name)
    if path.exists() and not force:
        raise BaychainError(Code.ALREADY_EXISTS, f"a key named {name!r} already exists in {ks.dir} (use --force to replace it)")
    if passphrase is None:
        passphrase = typer.prompt(f"Passphrase for new key {name}", hide_input=True, confirmation_prompt=True)
    if not passphrase:
        raise BaychainError(Code.BAD_REQUEST, "the passphrase must not be empty")
    key = Key.generate(suite)
    path = ks.save(name, key, passphrase, overwrite=force)
    _show(ctx, KeyInfo(key.suite.name, key.address, key.public_key, path, name))


@app.command("list")
def list_keys(ctx: typer.Context, keys_dir: Path = KeysDir) -> None:
    """List the keys in the key directory."""
    ks = store(keys_dir)
    infos = []
    for name in ks.names():
        try:
            infos.append(ks.info(name))
        except BaychainError:
            continue  # not a key file we can read
    if settings(ctx).json:
        emit_json({"keys_dir": str(ks.dir), "keys": [_info_json(i) for i in infos]})
    elif not infos:
        typer.echo(f"no keys in {ks.dir}")
    else:
        table(["name", "address", "suite"], [[i.name, i.address, i.suite] for i in infos])


@app.command("show")
def show(ctx: typer.Context, name: str = typer.Argument(..., help="Key name"), keys_dir: Path = KeysDir) -> None:
    """Show a key's address and public key (no passphrase needed)."""
    _show(ctx, store(keys_dir).info(name))


def _info_json(info: KeyInfo) -> dict[str, object]:
    return {"name": info.name, "address": info.address, "public_key": info.public_key.hex(), "suite": info.suite,
            "file": str(info.path) if info.path else None}


def _show(ctx: typer.Context, info: KeyInfo) -> None:
    if settings(ctx).json:
        emit_json(_info_json(info))
    else:
        kv([("name", info.name), ("address", info.address), ("public key", info.public_key.hex()),
            ("suite", info.suite), ("file", info.path)])
