"""`baychain scf`: supply-chain finance with multi-tier receivable vouchers.

Amounts are written in major units with at most two decimals (`1000000.00` is one
million yuan, sent as 100000000 fen); CNY, HKD and MOP all have two. Maturities are
dates (`2031-03-31`, the start of that day in China Standard Time) or exact ISO times
with their offset. Every command that
changes state signs with `--key`, waits for the commit and prints the outcome; a
refusal prints its stable code (e.g. `error DOUBLE_FINANCING (code 257): ...`).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

import typer

from baychain.cli.keys import KeysDir, Passphrase, load_key, resolve_address
from baychain.cli.output import emit_json, kv, settings, table, timestamp
from baychain.errors import BaychainError, Code
from baychain.sdk.scf import Scf, document_hash, maturity_ns
from baychain.sdk.scf import format_money as money

app = typer.Typer(help="Supply-chain finance: receivable vouchers issued, split, passed down, financed, settled.",
                  no_args_is_help=True)

KeyOpt = typer.Option(..., "--key", "-k", help="Signing key: a name in the key directory or a key file path")
VoucherArg = typer.Argument(..., help="Voucher id, e.g. V00000001")
_AMOUNT = re.compile(r"(\d{1,19})(?:\.(\d{1,2}))?\Z")


def minor_units(text: str) -> int:
    """`1,000,000.5` -> 100000050: an exact decimal amount in major units, never a float."""
    match = _AMOUNT.match(text.replace(",", "").replace("_", ""))
    if not match:
        raise BaychainError(Code.BAD_REQUEST, f"{text!r} is not an amount: write major units with up to 2 decimals")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def send(ctx: typer.Context, contract: str, key: str, keys_dir: Path, passphrase: Optional[str], method: str,
         **args: Any) -> Any:
    """Sign and send one call to `contract`, wait for its commit; print and return its result."""
    s = settings(ctx)
    signer = load_key(key, keys_dir, passphrase)
    with s.client() as client:
        receipt = client.call(signer, contract, method, args, timeout=min(s.timeout, 120.0))
    if s.json:
        emit_json({"method": method, "result": receipt.data, "receipt": receipt.to_json()})
    else:
        kv([(contract, method), ("result", receipt.data if receipt.data is not None else "OK"), ("tx", receipt.hash),
            ("height", receipt.height)])
    return receipt.data


def _maturity(text: str) -> date | datetime:
    """A due date (its first instant in China Standard Time) or an exact ISO time with an offset."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BaychainError(Code.BAD_REQUEST, f"--maturity {text!r} must be a date YYYY-MM-DD or an ISO time with "
                                              "its offset, e.g. 2031-03-31T10:00:00+08:00")
    return moment


def _send(ctx: typer.Context, key: str, keys_dir: Path, passphrase: Optional[str], method: str, **args: Any) -> Any:
    return send(ctx, "scf", key, keys_dir, passphrase, method, **args)


@app.command("issue")
def issue(
    ctx: typer.Context,
    supplier: str = typer.Argument(..., help="The supplier's account address or key name"),
    amount: str = typer.Argument(..., help="Face value in major units, e.g. 1000000.00"),
    currency: str = typer.Option("CNY", help="CNY, HKD or MOP"),
    maturity: str = typer.Option(..., help="Due date YYYY-MM-DD, or an ISO time with its offset (at most scf.max_term_days ahead)"),
    document: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="The trade document (only its SHA-256 goes on chain)"),
    document_sha256: Optional[str] = typer.Option(None, "--document-sha256", help="Or the document's SHA-256 (hex)"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """Issue a voucher as a core enterprise against a trade document."""
    due = _maturity(maturity)
    if (document is None) == (document_sha256 is None):
        raise BaychainError(Code.BAD_REQUEST, "give the trade document: --document FILE or --document-sha256 HEX")
    if document is not None:
        digest = document_hash(document.read_bytes())
    else:
        try:
            digest = bytes.fromhex(document_sha256 or "")
        except ValueError:
            raise BaychainError(Code.BAD_REQUEST, "--document-sha256 must be hex") from None
    _send(ctx, key, keys_dir, passphrase, "issue", supplier=resolve_address(supplier, keys_dir),
          amount=minor_units(amount), currency=currency.upper(), maturity_ns=maturity_ns(due), document=digest)


def _voucher_command(name: str, method: str, doc: str) -> None:
    """A command whose only argument is the voucher it acts on."""

    def command(ctx: typer.Context, voucher: str = VoucherArg, key: str = KeyOpt, keys_dir: Path = KeysDir,
                passphrase: Optional[str] = Passphrase) -> None:
        _send(ctx, key, keys_dir, passphrase, method, voucher=voucher)

    command.__doc__ = doc
    app.command(name)(command)


for _name, _method, _doc in [
    ("accept", "accept", "Accept a voucher issued to you."),
    ("reject", "reject", "Refuse a voucher issued to you (its trade document is freed)."),
    ("withdraw", "withdraw_financing", "Withdraw your financing application (the lock is lifted)."),
    ("decline", "decline_financing", "As the bank, decline an application (the lock is lifted)."),
    ("overdue", "mark_overdue", "Record that a root voucher is unpaid after maturity (and the grace period)."),
    ("recourse", "recourse", "Claim recourse on an overdue piece you hold from whoever passed it to you."),
]:
    _voucher_command(_name, _method, _doc)

@app.command("split")
def split(
    ctx: typer.Context,
    voucher: str = VoucherArg,
    amounts: list[str] = typer.Argument(..., help="The pieces in major units; they must sum to the voucher"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """Split a voucher you hold into pieces (the parent is consumed)."""
    _send(ctx, key, keys_dir, passphrase, "split", voucher=voucher, amounts=[minor_units(a) for a in amounts])


@app.command("transfer")
def transfer(
    ctx: typer.Context,
    voucher: str = VoucherArg,
    to: str = typer.Argument(..., help="The next holder's account address or key name"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """Pass a whole voucher to the next tier."""
    _send(ctx, key, keys_dir, passphrase, "transfer", voucher=voucher, to=resolve_address(to, keys_dir))


@app.command("apply")
def apply(
    ctx: typer.Context,
    voucher: str = VoucherArg,
    bank: str = typer.Argument(..., help="The bank (its registered party name)"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """Apply for financing at a bank; the voucher is locked to it."""
    _send(ctx, key, keys_dir, passphrase, "apply_financing", voucher=voucher, bank=bank)


@app.command("finance")
def finance(
    ctx: typer.Context,
    voucher: str = VoucherArg,
    registration: str = typer.Option(..., "--registration", help="Financing registration number (movables registry)"),
    advance: str = typer.Option(..., help="What the bank pays now, in major units (at most the face value)"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """As the bank, finance a voucher locked to you; you become its holder."""
    _send(ctx, key, keys_dir, passphrase, "finance", voucher=voucher, registration_no=registration,
          advance=minor_units(advance))


@app.command("settle")
def settle(
    ctx: typer.Context,
    voucher: str = VoucherArg,
    payment_ref: str = typer.Option(..., "--payment-ref", help="Reference of the obligor's payment"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """As the obligor, settle a root voucher at maturity: every current holder is paid."""
    _send(ctx, key, keys_dir, passphrase, "settle", voucher=voucher, payment_ref=payment_ref)


# -- reads ----------------------------------------------------------------------------------------


@app.command("show")
def show(ctx: typer.Context, voucher: str = VoucherArg) -> None:
    """One voucher."""
    s = settings(ctx)
    with s.client() as client:
        v = Scf(client).voucher(voucher)
    if s.json:
        emit_json(v)
        return
    rows: list[tuple[str, Any]] = [
        ("voucher", v["id"]), ("status", v["status"] + (" (matured)" if v["matured"] else "")),
        ("amount", money(v["amount"], v["currency"])), ("obligor", v["obligor"]), ("holder", v["holder"]),
        ("tier", v["tier"]), ("maturity", timestamp(v["maturity_ns"])), ("root", v["root"]),
        ("parent", v["parent"] or "-"), ("children", ", ".join(v["children"]) or "-"), ("document", v["document"]),
    ]
    if v.get("financing"):
        f = v["financing"]
        rows.append(("financing", f"{f['bank']} reg {f.get('registration_no', '(applied)')} "
                                  f"advance {money(f['advance'], v['currency']) if 'advance' in f else '-'}"))
    if v.get("settlement"):
        rows.append(("settled", f"payment {v['settlement']['payment_ref']} at height {v['settlement']['height']}"))
    if v.get("recourse"):
        rows.append(("recourse", f"against {v['recourse']['against']}"))
    kv(rows)


@app.command("tree")
def tree(ctx: typer.Context, voucher: str = VoucherArg) -> None:
    """A root voucher and every piece split from it."""
    s = settings(ctx)
    with s.client() as client:
        nodes = Scf(client).tree(voucher)
    if s.json:
        emit_json(nodes)
        return
    table(["voucher", "parent", "status", "amount", "holder", "tier"],
          [[v["id"], v["parent"] or "-", v["status"], money(v["amount"], v["currency"]), v["holder"], v["tier"]]
           for v in nodes], title=f"voucher {voucher}")


@app.command("holdings")
def holdings(ctx: typer.Context, account: str = typer.Argument(..., help="Account address or key name"),
             keys_dir: Path = KeysDir) -> None:
    """The live vouchers an account holds."""
    s = settings(ctx)
    with s.client() as client:
        held = Scf(client).holdings(resolve_address(account, keys_dir))
    if s.json:
        emit_json(held)
        return
    table(["voucher", "status", "amount", "obligor", "maturity"],
          [[v["id"], v["status"], money(v["amount"], v["currency"]), v["obligor"], timestamp(v["maturity_ns"])]
           for v in held])


@app.command("parties")
def parties(ctx: typer.Context) -> None:
    """Registered core enterprises and banks, and the term limit in force."""
    s = settings(ctx)
    with s.client() as client:
        scf = Scf(client)
        listed, limits = scf.parties(), scf.limits()
    if s.json:
        emit_json({"parties": listed, "limits": limits})
        return
    table(["party", "kinds"], [[p["party"], ", ".join(p["kinds"]) or "-"] for p in listed])
    kv([("max term", f"{limits['max_term_days']} days"), ("grace", f"{limits['grace_days']} days")])
