"""`baychain invoice`: blockchain e-invoices linked to payments.

Amounts are major units with at most two decimals (`1060.00`). Invoice files never
leave the machine: only their SHA-256 is sent. State-changing commands sign with
`--key` and wait for the commit; a refusal prints its stable code (e.g.
`error INVOICE_LOCKED (code 261): ...` when another employer holds the lock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from baychain.cli.keys import KeysDir, Passphrase, resolve_address
from baychain.cli.output import emit_json, kv, settings, table
from baychain.cli.scf import minor_units, send
from baychain.sdk.invoice import Invoices, file_hash
from baychain.sdk.scf import format_money as money

app = typer.Typer(help="E-invoices: issue against payments, claim, reimburse once, red reversal, tax report.",
                  no_args_is_help=True)

KeyOpt = typer.Option(..., "--key", "-k", help="Signing key: a name in the key directory or a key file path")
InvoiceArg = typer.Argument(..., help="Invoice id, e.g. INV0000000001")
FileOpt = typer.Option(..., "--file", exists=True, dir_okay=False, help="The invoice file (only its SHA-256 is sent)")


def _send(ctx: typer.Context, key: str, keys_dir: Path, passphrase: Optional[str], method: str, **args: Any) -> Any:
    return send(ctx, "einvoice", key, keys_dir, passphrase, method, **args)


@app.command("pay")
def pay(
    ctx: typer.Context,
    payment_id: str = typer.Argument(..., help="The payment's id"),
    order_id: str = typer.Option(..., "--order", help="The order it pays"),
    payer: str = typer.Option(..., help="Payer's account address or key name (the invoice's buyer)"),
    payee: str = typer.Option(..., help="The seller (its registered party name)"),
    amount: str = typer.Option(..., help="Amount paid, major units"),
    currency: str = typer.Option("CNY", help="CNY, HKD or MOP"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """As a payment institution, record a payment."""
    _send(ctx, key, keys_dir, passphrase, "record_payment", payment_id=payment_id, order_id=order_id,
          payer=resolve_address(payer, keys_dir), payee=payee, amount=minor_units(amount), currency=currency.upper())


@app.command("issue")
def issue(
    ctx: typer.Context,
    payment_id: str = typer.Argument(..., help="The recorded payment the invoice is for"),
    amount: str = typer.Option(..., help="Invoice total in major units (at most what was paid)"),
    tax: str = typer.Option("0", help="The tax included in the total"),
    file: Path = FileOpt,
    buyer_name: str = typer.Option("", help="The buyer's name as printed"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """As a registered seller, issue the invoice of a payment."""
    _send(ctx, key, keys_dir, passphrase, "issue", payment_id=payment_id, amount=minor_units(amount),
          tax=minor_units(tax), file_hash=file_hash(file), buyer_name=buyer_name)


def _invoice_command(name: str, doc: str) -> None:
    """A command whose only argument is the invoice it acts on."""

    def command(ctx: typer.Context, invoice: str = InvoiceArg, key: str = KeyOpt, keys_dir: Path = KeysDir,
                passphrase: Optional[str] = Passphrase) -> None:
        _send(ctx, key, keys_dir, passphrase, name, invoice=invoice)

    command.__doc__ = doc
    app.command(name)(command)


for _name, _doc in [
    ("claim", "As the buyer, claim an invoice."),
    ("reimburse", "As the locking employer, reimburse and book the invoice."),
    ("reject", "As the locking employer, turn the claim down (the lock is released)."),
]:
    _invoice_command(_name, _doc)

@app.command("lock")
def lock(ctx: typer.Context, invoice: str = InvoiceArg, file: Path = FileOpt, key: str = KeyOpt,
         keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase) -> None:
    """As an employer, present the file and take the global reimbursement lock."""
    _send(ctx, key, keys_dir, passphrase, "lock", invoice=invoice, file_hash=file_hash(file))


@app.command("reverse")
def reverse(
    ctx: typer.Context,
    invoice: str = InvoiceArg,
    amount: str = typer.Option(..., help="Amount reversed, major units"),
    tax: str = typer.Option("0", help="Tax reversed"),
    reason: str = typer.Option("", help="Why"),
    key: str = KeyOpt, keys_dir: Path = KeysDir, passphrase: Optional[str] = Passphrase,
) -> None:
    """As the seller, issue a red invoice for part or all of an invoice."""
    _send(ctx, key, keys_dir, passphrase, "reverse", invoice=invoice, amount=minor_units(amount),
          tax=minor_units(tax), reason=reason)


# -- reads ----------------------------------------------------------------------------------------


@app.command("show")
def show(ctx: typer.Context, invoice: str = InvoiceArg) -> None:
    """One invoice."""
    s = settings(ctx)
    with s.client() as client:
        inv = Invoices(client).invoice(invoice)
    if s.json:
        emit_json(inv)
        return
    lock = inv["lock"]
    kv([("invoice", inv["id"]), ("status", inv["status"]), ("seller", f"{inv['seller']} ({inv['seller_tax_id']})"),
        ("buyer", inv["buyer"]), ("amount", money(inv["amount"], inv["currency"])),
        ("tax", money(inv["tax"], inv["currency"])), ("reversed", money(inv["reversed"], inv["currency"])),
        ("payment", inv["payment_id"]), ("order", inv["order_id"]), ("file sha256", inv["file_hash"]),
        ("period", inv["period"]), ("lock", f"{lock['employer']} at height {lock['height']}" if lock else "-")])


@app.command("verify")
def verify(ctx: typer.Context, invoice: str = InvoiceArg, file: Path = FileOpt) -> None:
    """Check a presented file against the invoice on chain (exit 1 if it does not match)."""
    s = settings(ctx)
    with s.client() as client:
        result = Invoices(client).verify(invoice, file)
    if s.json:
        emit_json(result)
    else:
        kv([("invoice", invoice), ("file", "MATCHES the on-chain hash" if result["match"] else "DOES NOT MATCH"),
            ("status", result["status"]), ("reimbursable", "yes" if result["reimbursable"] else "no")])
    if not result["match"]:
        raise typer.Exit(1)


@app.command("tax-report")
def tax_report(
    ctx: typer.Context,
    tax_id: str = typer.Argument(..., help="The seller's tax id"),
    period: str = typer.Argument(..., help="Month YYYY-MM (China Standard Time)"),
) -> None:
    """A seller's month: issued minus reversed, per currency."""
    s = settings(ctx)
    with s.client() as client:
        report = Invoices(client).tax_report(tax_id, period)
    if s.json:
        emit_json(report)
        return
    table(["currency", "issued", "reversed", "net", "net tax", "invoices", "reversals"],
          [[c, money(t["issued"]), money(t["reversed"]), money(t["net"]), money(t["net_tax"]), t["invoices"],
            t["reversals"]] for c, t in report["currencies"].items()], title=f"{tax_id} {period}")
