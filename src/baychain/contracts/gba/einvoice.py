"""Blockchain e-invoices (after Shenzhen's tax-bureau chain and IEEE 2142.1).

Payment and invoice are linked on chain, so an invoice cannot exist without money
having changed hands, and can be reimbursed once only, by one employer, across every
employer on the chain:

    payment institution ─record_payment─▶ payment (payer account, payee party, amount)
    seller ─issue(payment)─▶ issued ─claim (the payer)─▶ claimed
    employer ─lock(file hash)─▶ locked ─reimburse─▶ reimbursed (booked)
                                 locked ─reject─▶ claimed
    seller ─reverse(amount, tax)─▶ reversed (red invoice, full or partial)

Rules enforced here:

- an invoice is issued only against a recorded payment to the issuing seller, for at
  most the amount paid, in the payment's currency, and one invoice per order;
- the buyer is the payment's payer (the seller cannot name anyone else) and only the
  buyer claims it;
- the reimbursement lock is global: one key per invoice, so of two employers locking it
  (in one block or not) exactly one wins; every duplicate attempt raises a regulator
  alert `duplicate_reimbursement`;
- the presented file must hash (SHA-256) to the hash recorded at issue, and one file is
  one invoice (no two invoices share a file hash);
- a red reversal (full or partial, all reversals together never above the original
  amount or tax) blocks reimbursement; a reimbursed invoice is booked and is not reversed;
- the tax report of a seller for a month (China Standard Time, UTC+8) is what it issued
  minus what it reversed in that month, per currency.

Who may act: *payment* institutions record payments and *sellers* issue invoices —
kinds the committee grants with `register_party` (a seller with its tax id); a party is
the caller's certified organisation, or its account on a chain without identity
(`gba.parties`). Employers are any party; buyers are accounts.

Storage (state keys `c/einvoice/<key>`):

    pay/<payment id>              a payment
    order/<payee>/<order id>      the invoice issued for an order
    file/<sha256 hex>             the invoice a file is
    seq                           the number of invoices ever issued
    inv/<id>                      an invoice (id `INV` + 10 digits), see `issue`
    tax/<seller tax id>/<YYYY-MM> {currency: {"issued", "issued_tax", "reversed", "reversed_tax",
                                   "invoices", "reversals"}}
    taxid/<tax id>                the party a tax id is registered to (one each)
    party/<party>, parties        the registry (gba.parties)
"""

from __future__ import annotations

import re
from typing import Any

from baychain.contracts.base import Contract, governed, view
from baychain.contracts.context import Context
from baychain.contracts.gba import parties
from baychain.contracts.gba.money import require_money
from baychain.crypto.suites import is_address
from baychain.errors import Code

NAME = "einvoice"
PAYMENT = "payment"  # party kinds
SELLER = "seller"
KINDS = (PAYMENT, SELLER)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")  # payment and order ids
_TAX_ID = re.compile(r"[0-9A-Z]{8,20}\Z")  # e.g. an 18-character unified social credit code
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])\Z")
CST_OFFSET_NS = 8 * 3600 * 10**9  # tax periods are months in China Standard Time (also HK and Macao time)
DAY_NS = 86_400 * 10**9


class EInvoice(Contract):
    """E-invoices linked to payments: issue, claim, global reimbursement lock, red reversal, tax report."""

    name = NAME

    # -- the registry ----------------------------------------------------------------------

    @governed
    def register_party(self, ctx: Context, party: str, kind: str, tax_id: str = "") -> None:
        """Recognise a payment institution, or a seller with its tax id."""
        ctx.require(kind != SELLER or bool(_TAX_ID.match(tax_id)), Code.BAD_ARGUMENTS,
                    "a seller needs its tax id: 8-20 digits or capital letters")
        ctx.require(not tax_id or bool(_TAX_ID.match(tax_id)), Code.BAD_ARGUMENTS,
                    "tax_id must be 8-20 digits or capital letters")
        if tax_id:  # one taxpayer, one party: tax reports are kept by tax id
            owner = ctx.get(f"taxid/{tax_id}")
            ctx.require(owner in (None, party), Code.ALREADY_EXISTS, f"tax id {tax_id} belongs to {owner}")
            ctx.put(f"taxid/{tax_id}", party)
        parties.register(ctx, party, kind, KINDS, tax_id)

    @governed
    def unregister_party(self, ctx: Context, party: str, kind: str) -> None:
        """Withdraw a kind; invoices and payments already recorded stay valid."""
        parties.unregister(ctx, party, kind)

    # -- payment and issue -----------------------------------------------------------------

    def record_payment(self, ctx: Context, payment_id: str, order_id: str, payer: str, payee: str, amount: int,
                       currency: str) -> None:
        """A payment institution records that `payer` paid `payee` for an order."""
        recorder = parties.require_kind(ctx, PAYMENT, "a payment institution")
        ctx.require(bool(_ID.match(payment_id)) and bool(_ID.match(order_id)), Code.BAD_ARGUMENTS,
                    "payment_id and order_id are 1-64 characters: letters, digits, _ . : -")
        ctx.require(is_address(payer), Code.BAD_ARGUMENTS, f"payer {payer!r} is not an account address")
        ctx.require(bool(payee), Code.BAD_ARGUMENTS, "payee is the paid party (organisation or account)")
        require_money(ctx, amount, currency)
        ctx.require(not ctx.has(f"pay/{payment_id}"), Code.ALREADY_EXISTS, f"payment {payment_id} is already recorded")
        ctx.put(f"pay/{payment_id}", {"payment_id": payment_id, "order_id": order_id, "payer": payer, "payee": payee,
                                      "amount": amount, "currency": currency, "recorded_by": recorder,
                                      "height": ctx.height, "time_ns": ctx.time_ns})
        ctx.emit("payment_recorded", payment_id=payment_id, order_id=order_id, payee=payee, amount=amount,
                 currency=currency)

    def issue(self, ctx: Context, payment_id: str, amount: int, tax: int, file_hash: bytes, buyer_name: str = "") -> Any:
        """The seller issues the invoice of a payment it received; returns the invoice id."""
        seller = parties.require_kind(ctx, SELLER, "a seller")
        payment = ctx.get(f"pay/{payment_id}")
        ctx.require(payment is not None, Code.NOT_FOUND, f"no recorded payment {payment_id!r}: invoices follow payments")
        ctx.require(payment["payee"] == seller, Code.NOT_AUTHORIZED, f"payment {payment_id} was made to {payment['payee']}")
        require_money(ctx, amount, payment["currency"])
        ctx.require(amount <= payment["amount"], Code.EXCEEDS_PAYMENT,
                    f"invoice amount {amount} is above the {payment['amount']} paid")
        ctx.require(0 <= tax <= amount, Code.BAD_ARGUMENTS, "tax is part of the amount: 0 <= tax <= amount")
        ctx.require(len(file_hash) == 32, Code.BAD_ARGUMENTS, "file_hash must be the 32-byte SHA-256 of the invoice file")
        ctx.require(len(buyer_name) <= 128, Code.BAD_ARGUMENTS, "buyer_name may be at most 128 characters")
        order_key = f"order/{seller}/{payment['order_id']}"
        invoiced = ctx.get(order_key)
        ctx.require(invoiced is None, Code.ORDER_INVOICED, f"order {payment['order_id']} already has invoice {invoiced}")
        same_file = ctx.get(f"file/{file_hash.hex()}")
        ctx.require(same_file is None, Code.ALREADY_EXISTS, f"this file already is invoice {same_file}: one file, one invoice")
        seq = ctx.get("seq", 0) + 1
        ctx.put("seq", seq)
        invoice_id = f"INV{seq:010d}"
        seller_tax_id = parties.entry(ctx, seller)["tax_id"]
        period = period_of(ctx.time_ns)
        invoice = {
            "id": invoice_id, "seller": seller, "seller_tax_id": seller_tax_id, "seller_account": ctx.sender,
            "buyer": payment["payer"], "buyer_name": buyer_name, "payment_id": payment_id,
            "order_id": payment["order_id"], "amount": amount, "tax": tax, "currency": payment["currency"],
            "file_hash": file_hash, "status": "issued", "period": period, "issued_height": ctx.height,
            "lock": None, "rejections": 0, "reversed": 0, "reversed_tax": 0, "reversals": [],
        }
        ctx.put(f"inv/{invoice_id}", invoice)
        ctx.put(order_key, invoice_id)
        ctx.put(f"file/{file_hash.hex()}", invoice_id)
        _add_tax(ctx, seller_tax_id, period, payment["currency"], issued=amount, issued_tax=tax)
        ctx.emit("issued", invoice=invoice_id, seller=seller, buyer=payment["payer"], amount=amount, tax=tax,
                 currency=payment["currency"], payment_id=payment_id, file_hash=file_hash)
        return invoice_id

    def claim(self, ctx: Context, invoice: str) -> None:
        """The buyer (the payment's payer) takes the invoice into its wallet."""
        inv = _invoice(ctx, invoice)
        ctx.require(inv["buyer"] == ctx.sender, Code.NOT_AUTHORIZED, f"invoice {invoice} names another buyer")
        ctx.require(inv["status"] == "issued", Code.WRONG_STATUS, f"invoice {invoice} is {inv['status']}, not issued")
        inv["status"] = "claimed"
        ctx.put(f"inv/{invoice}", inv)
        ctx.emit("claimed", invoice=invoice, buyer=ctx.sender)

    # -- reimbursement ---------------------------------------------------------------------

    def lock(self, ctx: Context, invoice: str, file_hash: bytes) -> None:
        """An employer presents the invoice file for reimbursement and takes the global lock."""
        employer = parties.party_of(ctx)
        inv = _invoice(ctx, invoice)
        if inv["status"] in ("locked", "reimbursed"):
            ctx.alert("duplicate_reimbursement", invoice=invoice, employer=employer, holder=inv["lock"]["employer"],
                      status=inv["status"], buyer=inv["buyer"])
            ctx.require(False, Code.INVOICE_LOCKED,
                        f"invoice {invoice} is already {inv['status']} by {inv['lock']['employer']}")
        if inv["status"] == "reversed":
            ctx.alert("reversed_invoice_presented", invoice=invoice, employer=employer, buyer=inv["buyer"])
            ctx.require(False, Code.INVOICE_REVERSED, f"invoice {invoice} was red-reversed: it cannot be reimbursed")
        ctx.require(inv["status"] == "claimed", Code.WRONG_STATUS,
                    f"invoice {invoice} is {inv['status']}: its buyer must claim it first")
        if file_hash != inv["file_hash"]:
            ctx.alert("file_mismatch", invoice=invoice, employer=employer, presented=file_hash)
            ctx.require(False, Code.FILE_HASH_MISMATCH,
                        f"the presented file does not hash to invoice {invoice}'s recorded hash: altered or fake")
        inv["status"] = "locked"
        inv["lock"] = {"employer": employer, "account": ctx.sender, "height": ctx.height}
        ctx.put(f"inv/{invoice}", inv)
        ctx.emit("locked", invoice=invoice, employer=employer)

    def reimburse(self, ctx: Context, invoice: str) -> None:
        """The locking employer pays the claim and books the invoice; final."""
        inv = _locked_by_caller(ctx, invoice, reimbursing=True)
        inv["status"] = "reimbursed"
        inv["lock"]["reimbursed_height"] = ctx.height
        ctx.put(f"inv/{invoice}", inv)
        ctx.emit("reimbursed", invoice=invoice, employer=inv["lock"]["employer"], amount=inv["amount"],
                 currency=inv["currency"])

    def reject(self, ctx: Context, invoice: str) -> None:
        """The locking employer turns the claim down; the lock is released."""
        inv = _locked_by_caller(ctx, invoice, reimbursing=False)
        employer = inv["lock"]["employer"]
        inv.update(status="claimed", lock=None, rejections=inv["rejections"] + 1)
        ctx.put(f"inv/{invoice}", inv)
        ctx.emit("rejected", invoice=invoice, employer=employer)

    # -- red reversal ----------------------------------------------------------------------

    def reverse(self, ctx: Context, invoice: str, amount: int, tax: int, reason: str = "") -> None:
        """The seller issues a red invoice for part or all of an invoice; it can then no longer be reimbursed."""
        seller = parties.party_of(ctx)
        inv = _invoice(ctx, invoice)
        ctx.require(inv["seller"] == seller, Code.NOT_AUTHORIZED, f"only the seller {inv['seller']} reverses {invoice}")
        ctx.require(inv["status"] != "reimbursed", Code.WRONG_STATUS,
                    f"invoice {invoice} is reimbursed and booked by its employer: it is not reversed")
        ctx.require(amount > 0 and 0 <= tax <= amount and len(reason) <= 256, Code.BAD_ARGUMENTS,
                    "a reversal has a positive amount, 0 <= tax <= amount, and a reason of at most 256 characters")
        ctx.require(inv["reversed"] + amount <= inv["amount"] and inv["reversed_tax"] + tax <= inv["tax"],
                    Code.REVERSAL_EXCEEDS,
                    f"reversals would total {inv['reversed'] + amount} (tax {inv['reversed_tax'] + tax}) of an "
                    f"invoice of {inv['amount']} (tax {inv['tax']})")
        ctx.require(len(inv["reversals"]) < 32, Code.LIMIT_EXCEEDED, "at most 32 reversals per invoice")
        period = period_of(ctx.time_ns)
        inv["reversed"] += amount
        inv["reversed_tax"] += tax
        inv["reversals"].append({"amount": amount, "tax": tax, "reason": reason, "height": ctx.height, "period": period})
        inv.update(status="reversed", lock=None)
        ctx.put(f"inv/{invoice}", inv)
        _add_tax(ctx, inv["seller_tax_id"], period, inv["currency"], reversed=amount, reversed_tax=tax)
        ctx.emit("reversed", invoice=invoice, amount=amount, tax=tax, full=inv["reversed"] == inv["amount"])

    # -- views -----------------------------------------------------------------------------

    @view
    def invoice(self, ctx: Context, id: str) -> Any:
        return _invoice(ctx, id)

    @view
    def payment(self, ctx: Context, payment_id: str) -> Any:
        """A recorded payment with the invoice issued for its order (or None)."""
        payment = ctx.get(f"pay/{payment_id}")
        ctx.require(payment is not None, Code.NOT_FOUND, f"no recorded payment {payment_id!r}")
        payment["invoice"] = ctx.get(f"order/{payment['payee']}/{payment['order_id']}")
        return payment

    @view
    def verify(self, ctx: Context, id: str, file_hash: bytes) -> Any:
        """Does a presented file match invoice `id`, and could it be reimbursed now?"""
        inv = _invoice(ctx, id)
        match = file_hash == inv["file_hash"]
        return {"invoice": id, "match": match, "status": inv["status"],
                "reimbursable": match and inv["status"] == "claimed", "amount": inv["amount"],
                "currency": inv["currency"], "seller": inv["seller"], "buyer": inv["buyer"]}

    @view
    def tax_report(self, ctx: Context, tax_id: str, period: str) -> Any:
        """A seller's month (YYYY-MM, China Standard Time): issued minus reversed, per currency."""
        ctx.require(bool(_PERIOD.match(period)), Code.BAD_ARGUMENTS, "period must be YYYY-MM")
        totals = ctx.get(f"tax/{tax_id}/{period}", {})
        lines = {}
        for currency, t in sorted(totals.items()):
            lines[currency] = {**t, "net": t["issued"] - t["reversed"], "net_tax": t["issued_tax"] - t["reversed_tax"]}
        return {"tax_id": tax_id, "period": period, "currencies": lines}

    @view
    def party(self, ctx: Context, party: str) -> Any:
        return parties.entry(ctx, party)

    @view
    def parties(self, ctx: Context) -> Any:
        return parties.listing(ctx)


def period_of(time_ns: int) -> str:
    """The tax month (YYYY-MM) of a block time, in China Standard Time; integers only."""
    days = (time_ns + CST_OFFSET_NS) // DAY_NS
    year, month, _ = civil_from_days(days)
    return f"{year:04d}-{month:02d}"


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01."""
    days += 719_468  # shift the epoch to 0000-03-01, so leap days end each 400/100/4-year cycle
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153  # 0 = March
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


def _invoice(ctx: Context, invoice_id: str) -> dict[str, Any]:
    inv = ctx.get(f"inv/{invoice_id}") if invoice_id else None
    ctx.require(inv is not None, Code.NOT_FOUND, f"no invoice {invoice_id!r}")
    return inv


def _locked_by_caller(ctx: Context, invoice_id: str, *, reimbursing: bool) -> dict[str, Any]:
    """The invoice, locked by the caller's party. Reimbursing one that is reimbursed, or locked by
    another employer, is a duplicate reimbursement attempt: alerted, then refused."""
    employer = parties.party_of(ctx)
    inv = _invoice(ctx, invoice_id)
    ctx.require(inv["status"] != "reversed", Code.INVOICE_REVERSED,
                f"invoice {invoice_id} was red-reversed: it cannot be reimbursed")
    holder = inv["lock"]["employer"] if inv["lock"] else ""
    if reimbursing and (inv["status"] == "reimbursed" or (inv["status"] == "locked" and holder != employer)):
        ctx.alert("duplicate_reimbursement", invoice=invoice_id, employer=employer, holder=holder,
                  status=inv["status"], buyer=inv["buyer"])
        ctx.require(False, Code.INVOICE_LOCKED, f"invoice {invoice_id} is {inv['status']} by {holder}")
    ctx.require(inv["status"] == "locked", Code.WRONG_STATUS, f"invoice {invoice_id} is {inv['status']}, not locked")
    ctx.require(holder == employer, Code.NOT_AUTHORIZED, f"invoice {invoice_id} is locked by {holder}")
    return inv


def _add_tax(ctx: Context, tax_id: str, period: str, currency: str, **amounts: int) -> None:
    key = f"tax/{tax_id}/{period}"
    totals = ctx.get(key, {})
    line = totals.get(currency) or {"issued": 0, "issued_tax": 0, "reversed": 0, "reversed_tax": 0, "invoices": 0,
                                    "reversals": 0}
    for name, value in amounts.items():
        line[name] += value
    line["invoices" if "issued" in amounts else "reversals"] += 1
    totals[currency] = line
    ctx.put(key, totals)
