"""`baychain notary`: anchor a file's SHA-256 on chain, and check a file against it.

Only the digest (and optional small metadata) goes on chain, never the file.
`verify` does not trust the node: the record (or its absence) is proved with a
Merkle proof against the block's app hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import typer

from baychain.cli.keys import KeysDir, Passphrase, load_key
from baychain.cli.output import emit_json, kv, settings, timestamp
from baychain.contracts.context import contract_key
from baychain.runtime.contracts import notary_record_key as record_key
from baychain.errors import BaychainError, Code
from baychain.sdk.args import parse_pairs

app = typer.Typer(help="Notarize files (their SHA-256) and verify them with proofs.", no_args_is_help=True)

FileArg = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The file (only its SHA-256 is used)")


def file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


@app.command("notarize")
def notarize(
    ctx: typer.Context,
    file: Path = FileArg,
    key: str = typer.Option(..., "--key", "-k", help="Signing key: a name in the key directory or a key file path"),
    meta: Optional[list[str]] = typer.Option(None, "--meta", "-m", help="Metadata name=value (repeatable; public, on chain)"),
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Anchor FILE's SHA-256 digest on chain (once per digest)."""
    s = settings(ctx)
    digest = file_digest(file)
    metadata = parse_pairs(meta or [])
    signer = load_key(key, keys_dir, passphrase)
    with s.client() as client:
        receipt = client.notarize(signer, digest, metadata, timeout=min(s.timeout, 120.0))
    if s.json:
        emit_json({"file": str(file), "sha256": digest.hex(), "owner": signer.address, "receipt": receipt.to_json()})
        return
    kv([("file", file), ("sha256", digest.hex()), ("owner", signer.address), ("tx", receipt.hash),
        ("status", f"notarized at height {receipt.height}")])


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: Path = FileArg,
    height: int = typer.Option(0, help="Check as of this height (0 = latest)"),
) -> None:
    """Check that FILE's SHA-256 is notarized, proving the record against the block's app hash."""
    s = settings(ctx)
    digest = file_digest(file)
    with s.client() as client:
        proven = client.prove_state(contract_key("notary", record_key(digest)), height=height)
    record = proven.decoded()
    if record is None:
        raise BaychainError(
            Code.NOT_FOUND,
            f"{file} is NOT notarized: no record for SHA-256 {digest.hex()} (absence proven against the app hash "
            f"of block {proven.height}); the file may have been modified",
        )
    if not isinstance(record, dict) or record.get("digest") != digest:
        raise BaychainError(Code.PROOF_INVALID, "the proven record is for a different digest")
    if s.json:
        emit_json({"file": str(file), "sha256": digest.hex(), "verified": True, "record": record,
                   "proof": {"height": proven.height, "app_hash": proven.app_hash.hex()}})
        return
    kv([("file", file), ("sha256", digest.hex()), ("owner", record.get("owner")),
        ("notarized", f"height {record.get('height')}, {timestamp(record.get('time_ns'))}"),
        ("tx", record.get("tx")), ("metadata", record.get("metadata") or "-"),
        ("proof", f"VERIFIED against app hash {proven.app_hash.hex()} of block {proven.height}")])
