"""E-invoices from Python: typed helpers over the `einvoice` contract.

    from baychain.sdk.invoice import Invoices

    invoices = Invoices(client)
    invoices.record_payment(pay_key, payment_id="P-1", order_id="SO-1", payer=buyer.address,
                            payee="Shenzhen Core Manufacturing", amount=1_060_00, currency="CNY")
    inv = invoices.issue(seller, payment_id="P-1", amount=1_060_00, tax=60_00, file=pdf_bytes)
    invoices.claim(buyer, inv)
    invoices.lock(employer, inv, file=pdf_bytes)     # the global reimbursement lock
    invoices.reimburse(employer, inv)

Each call signs with the given key, waits for the commit and returns the contract's
result; a refused call raises `TransactionFailed` with the stable code (e.g.
Code.INVOICE_LOCKED when another employer holds the lock). Files are never sent: only
their SHA-256. Rules and storage: `baychain.contracts.gba.einvoice`, docs/FINANCE.md.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from baychain.sdk.client import Client, TransactionFailed
from baychain.sdk.keys import Key
from baychain.sdk.scf import format_money

CONTRACT = "einvoice"


def file_hash(file: bytes | Path) -> bytes:
    """The SHA-256 of an invoice file (its bytes, or a path to read)."""
    h = hashlib.sha256()
    if isinstance(file, Path):
        with file.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    else:
        h.update(file)
    return h.digest()


def register_party(party: str, kind: str, tax_id: str = "") -> dict[str, Any]:
    """A governance action: recognise a "payment" institution, or a "seller" with its tax id."""
    return {"contract": CONTRACT, "method": "register_party", "args": {"party": party, "kind": kind, "tax_id": tax_id}}


class Invoices:
    """The `einvoice` contract through a client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def _call(self, key: Key, method: str, **args: Any) -> Any:
        return self.client.call(key, CONTRACT, method, args).data

    # -- transactions ----------------------------------------------------------------------

    def record_payment(self, key: Key, *, payment_id: str, order_id: str, payer: str, payee: str, amount: int,
                       currency: str) -> None:
        self._call(key, "record_payment", payment_id=payment_id, order_id=order_id, payer=payer, payee=payee,
                   amount=amount, currency=currency)

    def issue(self, key: Key, *, payment_id: str, amount: int, tax: int, file: bytes | Path,
              buyer_name: str = "") -> str:
        """Issue the invoice of a recorded payment; its id."""
        return self._call(key, "issue", payment_id=payment_id, amount=amount, tax=tax, file_hash=file_hash(file),
                          buyer_name=buyer_name)

    def claim(self, key: Key, invoice: str) -> None:
        self._call(key, "claim", invoice=invoice)

    def lock(self, key: Key, invoice: str, *, file: bytes | Path) -> None:
        """Take the global reimbursement lock, presenting the invoice file."""
        self._call(key, "lock", invoice=invoice, file_hash=file_hash(file))

    def reimburse(self, key: Key, invoice: str) -> None:
        self._call(key, "reimburse", invoice=invoice)

    def reject(self, key: Key, invoice: str) -> None:
        self._call(key, "reject", invoice=invoice)

    def reverse(self, key: Key, invoice: str, *, amount: int, tax: int, reason: str = "") -> None:
        """A red (reversing) invoice for part or all of an invoice."""
        self._call(key, "reverse", invoice=invoice, amount=amount, tax=tax, reason=reason)

    # -- views -----------------------------------------------------------------------------

    def invoice(self, invoice: str) -> dict[str, Any]:
        return self.client.view(CONTRACT, "invoice", {"id": invoice})

    def payment(self, payment_id: str) -> dict[str, Any]:
        return self.client.view(CONTRACT, "payment", {"payment_id": payment_id})

    def verify(self, invoice: str, file: bytes | Path) -> dict[str, Any]:
        """Does this file match the invoice on chain, and could it be reimbursed now?"""
        return self.client.view(CONTRACT, "verify", {"id": invoice, "file_hash": file_hash(file)})

    def tax_report(self, tax_id: str, period: str) -> dict[str, Any]:
        """A seller's month (YYYY-MM, China Standard Time): issued minus reversed per currency."""
        return self.client.view(CONTRACT, "tax_report", {"tax_id": tax_id, "period": period})

    def parties(self) -> list[dict[str, Any]]:
        return self.client.view(CONTRACT, "parties")


def run_invoice_walkthrough(client: Client, *, payment_institution: Key, seller: Key, seller_party: str,
                            seller_tax_id: str, buyer: Key, employer: Key, other_employer: Key,
                            amount: int = 1_060_00, tax: int = 60_00, currency: str = "CNY",
                            say: Callable[[str], Any] = print) -> dict[str, Any]:
    """The scenario end to end, for a demo: a payment is recorded, the seller invoices it,
    the buyer claims it and hands the file to two employers; the first locks and reimburses
    it, the second is refused (and the regulator alerted); then the seller's tax report.
    The committee must already have registered `payment_institution`'s party as "payment"
    and `seller_party` as "seller" with `seller_tax_id`. Returns what happened."""
    invoices = Invoices(client)
    start = int(client.block("latest")["time_ns"])
    payment_id, order_id = f"PAY-{start}", f"ORDER-{start}"
    invoices.record_payment(payment_institution, payment_id=payment_id, order_id=order_id, payer=buyer.address,
                            payee=seller_party, amount=amount, currency=currency)
    say(f"payment {payment_id} recorded: {format_money(amount, currency)} to {seller_party} for order {order_id}")
    pdf = f"e-invoice for order {order_id}, total {format_money(amount, currency)}".encode()
    inv = invoices.issue(seller, payment_id=payment_id, amount=amount, tax=tax, file=pdf)
    invoices.claim(buyer, inv)
    say(f"{seller_party} issued invoice {inv} (file hash {file_hash(pdf).hex()[:16]}…); the buyer claimed it")
    invoices.lock(employer, inv, file=pdf)
    try:
        invoices.lock(other_employer, inv, file=pdf)
        refused = ""
    except TransactionFailed as exc:
        refused = exc.code.name
        say(f"a second employer presenting {inv} was refused: {refused}; the regulator was alerted")
    invoices.reimburse(employer, inv)
    say(f"the first employer reimbursed {inv}")
    period = invoices.invoice(inv)["period"]
    report = invoices.tax_report(seller_tax_id, period)
    line = report["currencies"].get(currency, {"net": 0})
    say(f"tax report {seller_tax_id} {period}: net {format_money(line['net'], currency)}")
    return {"invoice": inv, "payment_id": payment_id, "refused": refused, "tax_report": report}
