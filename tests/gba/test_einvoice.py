"""Blockchain e-invoices on an identity-required chain: a Shenzhen seller invoices a
payment recorded by a Shenzhen payment institution; the buyer, who works for a Hong Kong
firm and a Macao firm, tries to be reimbursed by both. Every rule is tried and must hold;
refused calls change nothing of the contract's state."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from baychain.contracts.gba.einvoice import period_of
from baychain.identity.certificates import datetime_to_ns
from baychain.errors import BaychainError, Code
from gba_support import action, CORE, GD_PAY, HK_LOGISTICS, MO_IMPORTER, REGULATOR

SELLER_TAX_ID = "91440300MA5G9X4K2P"  # an 18-character unified social credit code


def pdf(payment_id: str = "P-1") -> bytes:
    """The invoice file of a payment's order."""
    return b"%PDF-1.7 invoice for payment " + payment_id.encode()


FILE_HASH = hashlib.sha256(pdf()).digest()


class World:
    def __init__(self, gba) -> None:
        gba.register("einvoice", GD_PAY, "payment")
        gba.register("einvoice", CORE, "seller", tax_id=SELLER_TAX_ID)
        self.chain = gba
        self.pay = gba.member(GD_PAY, "settlement")
        self.seller = gba.member(CORE, "billing")
        self.buyer = gba.member(HK_LOGISTICS, "engineer")  # the employee who paid and claims
        self.hk_employer = gba.member(HK_LOGISTICS, "accounts payable")
        self.mo_employer = gba.member(MO_IMPORTER, "accounts payable")
        self.regulator = gba.member(REGULATOR, "tax inspector")

    def payment(self, payment_id: str = "P-1", order_id: str = "SO-1", amount: int = 1_060_00,
                currency: str = "CNY", payer=None) -> str:
        self.chain.call(self.pay, "einvoice", "record_payment", payment_id=payment_id, order_id=order_id,
                        payer=(payer or self.buyer).address, payee=CORE, amount=amount, currency=currency)
        return payment_id

    def issue(self, payment_id: str = "P-1", amount: int = 1_060_00, tax: int = 60_00) -> str:
        return self.chain.call(self.seller, "einvoice", "issue", payment_id=payment_id, amount=amount, tax=tax,
                               file_hash=hashlib.sha256(pdf(payment_id)).digest(), buyer_name="Chan Tai Man")

    def claimed(self, **kwargs) -> str:
        self.payment(**kwargs)
        inv = self.issue(payment_id=kwargs.get("payment_id", "P-1"), amount=kwargs.get("amount", 1_060_00))
        self.chain.call(self.buyer, "einvoice", "claim", invoice=inv)
        return inv

    def invoice(self, inv: str) -> dict:
        return self.chain.view_of("einvoice", "invoice", id=inv)


@pytest.fixture
def world(gba) -> World:
    return World(gba)


def test_invoice_follows_payment_and_is_reimbursed_once(world):
    gba = world.chain
    world.payment()
    inv = world.issue()
    i = world.invoice(inv)
    assert (i["status"], i["seller"], i["seller_tax_id"], i["buyer"], i["amount"], i["tax"], i["currency"]) == (
        "issued", CORE, SELLER_TAX_ID, world.buyer.address, 1_060_00, 60_00, "CNY")
    assert gba.view_of("einvoice", "payment", payment_id="P-1")["invoice"] == inv
    gba.call(world.buyer, "einvoice", "claim", invoice=inv)
    assert gba.view_of("einvoice", "verify", id=inv, file_hash=FILE_HASH)["reimbursable"] is True
    gba.call(world.hk_employer, "einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    gba.call(world.hk_employer, "einvoice", "reimburse", invoice=inv)
    i = world.invoice(inv)
    assert (i["status"], i["lock"]["employer"], i["lock"]["account"]) == (
        "reimbursed", HK_LOGISTICS, world.hk_employer.address)
    assert gba.alerts() == []


# -- issue ----------------------------------------------------------------------------------------------


def test_an_invoice_is_issued_only_against_a_recorded_payment_to_the_seller(world, gba):
    gba.fail(world.seller, "einvoice", "issue", Code.NOT_FOUND, payment_id="P-404", amount=1, tax=0, file_hash=FILE_HASH)
    world.chain.call(world.pay, "einvoice", "record_payment", payment_id="P-2", order_id="SO-2",
                     payer=world.buyer.address, payee=MO_IMPORTER, amount=500, currency="MOP")
    gba.fail(world.seller, "einvoice", "issue", Code.NOT_AUTHORIZED, payment_id="P-2", amount=500, tax=0,
             file_hash=FILE_HASH)
    world.payment()
    gba.fail(world.buyer, "einvoice", "issue", Code.PERMISSION_DENIED, payment_id="P-1", amount=1, tax=0,
             file_hash=FILE_HASH)


def test_invoice_amount_is_at_most_what_was_paid(world, gba):
    world.payment(amount=1_000_00)
    log = gba.fail(world.seller, "einvoice", "issue", Code.EXCEEDS_PAYMENT, payment_id="P-1", amount=1_000_01, tax=0,
                   file_hash=FILE_HASH)
    assert "100001" in log and "100000 paid" in log
    for amount, tax in ((0, 0), (-1, 0), (100, 101), (100, -1)):
        gba.fail(world.seller, "einvoice", "issue", Code.BAD_ARGUMENTS, payment_id="P-1", amount=amount, tax=tax,
                 file_hash=FILE_HASH)
    gba.fail(world.seller, "einvoice", "issue", Code.BAD_ARGUMENTS, payment_id="P-1", amount=1, tax=0,
             file_hash=FILE_HASH[:31])
    assert world.invoice(world.issue(amount=1_000_00, tax=0))["amount"] == 1_000_00


def test_one_invoice_per_order(world, gba):
    world.payment()
    inv = world.issue(amount=500_00)
    log = gba.fail(world.seller, "einvoice", "issue", Code.ORDER_INVOICED, payment_id="P-1", amount=500_00, tax=0,
                   file_hash=FILE_HASH)
    assert inv in log
    world.payment(payment_id="P-1b", order_id="SO-1")  # a second payment for the same order
    gba.fail(world.seller, "einvoice", "issue", Code.ORDER_INVOICED, payment_id="P-1b", amount=1, tax=0,
             file_hash=FILE_HASH)
    world.payment(payment_id="P-2", order_id="SO-2")  # another order, but the first invoice's file
    log = gba.fail(world.seller, "einvoice", "issue", Code.ALREADY_EXISTS, payment_id="P-2", amount=1, tax=0,
                   file_hash=FILE_HASH)
    assert inv in log


def test_only_payment_institutions_record_payments_once(world, gba):
    args = dict(payment_id="P-9", order_id="SO-9", payer=world.buyer.address, payee=CORE, amount=1, currency="HKD")
    gba.fail(world.seller, "einvoice", "record_payment", Code.PERMISSION_DENIED, **args)  # a seller faking its payment
    for change in ({"currency": "USD"}, {"amount": 0}, {"payer": "someone"}, {"payment_id": ""},
                   {"order_id": "has space"}, {"payee": ""}):
        gba.fail(world.pay, "einvoice", "record_payment", Code.BAD_ARGUMENTS, **{**args, **change})
    gba.call(world.pay, "einvoice", "record_payment", **args)
    gba.fail(world.pay, "einvoice", "record_payment", Code.ALREADY_EXISTS, **args)


def test_registration_is_a_committee_power_and_a_seller_needs_a_tax_id(world, gba):
    assert gba.run(world.seller.tx("einvoice", "register_party", party=HK_LOGISTICS, kind="seller",
                                   tax_id="91440300MA5G9X4K2Q")).code == Code.GOVERNED_METHOD
    assert [p["party"] for p in gba.view_of("einvoice", "parties")] == [CORE, GD_PAY]
    gba.failed([gba.committee], action("einvoice", "register_party", party=HK_LOGISTICS, kind="seller",
                                       tax_id=SELLER_TAX_ID), Code.ALREADY_EXISTS)  # one tax id, one taxpayer
    gba.failed([gba.committee], action("einvoice", "register_party", party=HK_LOGISTICS, kind="seller"),
               Code.BAD_ARGUMENTS)  # a seller without its tax id
    assert gba.view_of("einvoice", "party", party=HK_LOGISTICS) is None


# -- claim ----------------------------------------------------------------------------------------------


def test_only_the_named_buyer_claims(world, gba):
    world.payment()
    inv = world.issue()
    gba.fail(world.seller, "einvoice", "claim", Code.NOT_AUTHORIZED, invoice=inv)
    gba.fail(world.hk_employer, "einvoice", "claim", Code.NOT_AUTHORIZED, invoice=inv)
    gba.call(world.buyer, "einvoice", "claim", invoice=inv)
    gba.fail(world.buyer, "einvoice", "claim", Code.WRONG_STATUS, invoice=inv)


def test_an_unclaimed_invoice_cannot_be_reimbursed(world, gba):
    world.payment()
    inv = world.issue()
    gba.fail(world.hk_employer, "einvoice", "lock", Code.WRONG_STATUS, invoice=inv, file_hash=FILE_HASH)
    gba.fail(world.hk_employer, "einvoice", "reimburse", Code.WRONG_STATUS, invoice=inv)


# -- reimbursement --------------------------------------------------------------------------------------


def test_the_presented_file_must_hash_to_the_recorded_hash(world, gba):
    inv = world.claimed()
    edited = hashlib.sha256(pdf().replace(b"P-1", b"P-7")).digest()
    assert gba.view_of("einvoice", "verify", id=inv, file_hash=edited)["match"] is False
    gba.fail(world.hk_employer, "einvoice", "lock", Code.FILE_HASH_MISMATCH, invoice=inv, file_hash=edited)
    [alert] = gba.alerts("file_mismatch")
    assert alert["attributes"]["presented"] == edited.hex() and alert["failed"]
    assert world.invoice(inv)["status"] == "claimed"


def test_the_reimbursement_lock_is_global_and_every_duplicate_is_alerted(world, gba):
    inv = world.claimed()
    gba.call(world.hk_employer, "einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    log = gba.fail(world.mo_employer, "einvoice", "lock", Code.INVOICE_LOCKED, invoice=inv, file_hash=FILE_HASH)
    assert HK_LOGISTICS in log
    gba.fail(world.mo_employer, "einvoice", "reimburse", Code.INVOICE_LOCKED, invoice=inv)
    gba.fail(world.mo_employer, "einvoice", "reject", Code.NOT_AUTHORIZED, invoice=inv)  # not a reimbursement
    gba.fail(world.hk_employer, "einvoice", "lock", Code.INVOICE_LOCKED, invoice=inv, file_hash=FILE_HASH)
    gba.call(world.hk_employer, "einvoice", "reimburse", invoice=inv)
    gba.fail(world.hk_employer, "einvoice", "reimburse", Code.INVOICE_LOCKED, invoice=inv)
    gba.fail(world.mo_employer, "einvoice", "lock", Code.INVOICE_LOCKED, invoice=inv, file_hash=FILE_HASH)
    gba.fail(world.hk_employer, "einvoice", "reject", Code.WRONG_STATUS, invoice=inv)

    alerts = gba.alerts("duplicate_reimbursement")
    assert [(a["attributes"]["employer"], a["attributes"]["status"]) for a in alerts] == [
        (MO_IMPORTER, "locked"), (MO_IMPORTER, "locked"), (HK_LOGISTICS, "locked"),
        (HK_LOGISTICS, "reimbursed"), (MO_IMPORTER, "reimbursed")]
    assert all(a["failed"] and a["attributes"]["invoice"] == inv and a["attributes"]["buyer"] == world.buyer.address
               for a in alerts)


@pytest.mark.parametrize("first", ["hk", "mo"])
def test_two_employers_locking_one_invoice_in_one_block_exactly_one_wins(world, gba, first):
    inv = world.claimed()
    hk = world.hk_employer.tx("einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    mo = world.mo_employer.tx("einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    results = gba.same_block(hk, mo) if first == "hk" else gba.same_block(mo, hk)
    assert [r.code for r in results] == [0, Code.INVOICE_LOCKED]
    winner = HK_LOGISTICS if first == "hk" else MO_IMPORTER
    loser = MO_IMPORTER if first == "hk" else HK_LOGISTICS
    assert world.invoice(inv)["lock"]["employer"] == winner
    [alert] = gba.alerts("duplicate_reimbursement")
    assert (alert["attributes"]["employer"], alert["attributes"]["holder"]) == (loser, winner)
    # reimbursing in one block as well: only the lock holder is paid
    hk = world.hk_employer.tx("einvoice", "reimburse", invoice=inv)
    mo = world.mo_employer.tx("einvoice", "reimburse", invoice=inv)
    results = gba.same_block(hk, mo)
    assert sorted(r.code for r in results) == [0, Code.INVOICE_LOCKED]
    assert world.invoice(inv)["status"] == "reimbursed"
    assert len(gba.alerts("duplicate_reimbursement")) == 2


def test_a_rejected_claim_releases_the_lock(world, gba):
    inv = world.claimed()
    gba.call(world.mo_employer, "einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    gba.call(world.mo_employer, "einvoice", "reject", invoice=inv)
    i = world.invoice(inv)
    assert (i["status"], i["lock"], i["rejections"]) == ("claimed", None, 1)
    gba.call(world.hk_employer, "einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    gba.call(world.hk_employer, "einvoice", "reimburse", invoice=inv)
    assert gba.alerts() == []  # a rejection then another employer is not a duplicate


# -- red reversal and the tax report --------------------------------------------------------------------


def test_a_red_reversal_blocks_reimbursement(world, gba):
    inv = world.claimed()
    gba.call(world.hk_employer, "einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    gba.fail(world.hk_employer, "einvoice", "reverse", Code.NOT_AUTHORIZED, invoice=inv, amount=1, tax=0)
    gba.call(world.seller, "einvoice", "reverse", invoice=inv, amount=100_00, tax=0, reason="partial return")
    i = world.invoice(inv)
    assert (i["status"], i["reversed"], i["lock"]) == ("reversed", 100_00, None)
    gba.fail(world.hk_employer, "einvoice", "reimburse", Code.INVOICE_REVERSED, invoice=inv)
    gba.fail(world.mo_employer, "einvoice", "lock", Code.INVOICE_REVERSED, invoice=inv, file_hash=FILE_HASH)
    assert gba.view_of("einvoice", "verify", id=inv, file_hash=FILE_HASH)["reimbursable"] is False
    assert [a["kind"] for a in gba.alerts()] == ["reversed_invoice_presented"]


def test_reversals_never_exceed_the_original(world, gba):
    inv = world.claimed()
    gba.call(world.seller, "einvoice", "reverse", invoice=inv, amount=1_000_00, tax=50_00)
    gba.fail(world.seller, "einvoice", "reverse", Code.REVERSAL_EXCEEDS, invoice=inv, amount=60_01, tax=0)
    gba.fail(world.seller, "einvoice", "reverse", Code.REVERSAL_EXCEEDS, invoice=inv, amount=20_00, tax=10_01)
    for amount, tax in ((0, 0), (10, 11), (-5, 0)):
        gba.fail(world.seller, "einvoice", "reverse", Code.BAD_ARGUMENTS, invoice=inv, amount=amount, tax=tax)
    gba.call(world.seller, "einvoice", "reverse", invoice=inv, amount=60_00, tax=10_00, reason="rest")
    i = world.invoice(inv)
    assert (i["reversed"], i["reversed_tax"], len(i["reversals"])) == (i["amount"], i["tax"], 2)  # fully reversed
    gba.fail(world.seller, "einvoice", "reverse", Code.REVERSAL_EXCEEDS, invoice=inv, amount=1, tax=0)


def test_a_reimbursed_invoice_is_booked_and_not_reversed(world, gba):
    inv = world.claimed()
    gba.call(world.hk_employer, "einvoice", "lock", invoice=inv, file_hash=FILE_HASH)
    gba.call(world.hk_employer, "einvoice", "reimburse", invoice=inv)
    gba.fail(world.seller, "einvoice", "reverse", Code.WRONG_STATUS, invoice=inv, amount=1, tax=0)


def _cst(*args: int) -> int:
    """A block time: the given UTC wall time, in ns."""
    return datetime_to_ns(datetime(*args, tzinfo=timezone.utc))


def test_tax_periods_are_months_in_china_standard_time():
    assert period_of(_cst(2030, 1, 31, 15, 59, 59)) == "2030-01"
    assert period_of(_cst(2030, 1, 31, 16, 0, 0)) == "2030-02"  # midnight of 1 February in Shenzhen
    assert period_of(_cst(2031, 12, 31, 16, 0, 0)) == "2032-01"
    assert period_of(_cst(2032, 2, 28, 16, 0, 0)) == "2032-02"  # 29 February of a leap year
    assert period_of(_cst(2032, 2, 29, 16, 0, 0)) == "2032-03"
    assert period_of(0) == "1970-01"


def test_tax_report_is_issued_minus_reversed_per_period_and_currency(world, gba):
    january = world.claimed(amount=1_060_00)
    world.payment(payment_id="P-HK", order_id="SO-HK", amount=5_000_00, currency="HKD")
    hkd = world.issue(payment_id="P-HK", amount=5_000_00, tax=0)
    gba.block(at=_cst(2030, 1, 31, 16, 0, 0))  # February in Shenzhen
    gba.call(world.seller, "einvoice", "reverse", invoice=january, amount=60_00, tax=0)
    world.payment(payment_id="P-3", order_id="SO-3", amount=200_00)
    world.issue(payment_id="P-3", amount=200_00, tax=12_00)
    gba.call(world.seller, "einvoice", "reverse", invoice=hkd, amount=5_000_00, tax=0)

    jan = gba.view_of("einvoice", "tax_report", tax_id=SELLER_TAX_ID, period="2030-01")["currencies"]
    feb = gba.view_of("einvoice", "tax_report", tax_id=SELLER_TAX_ID, period="2030-02")["currencies"]
    assert (jan["CNY"]["issued"], jan["CNY"]["reversed"], jan["CNY"]["net"], jan["CNY"]["net_tax"]) == (
        1_060_00, 0, 1_060_00, 60_00)
    assert (jan["HKD"]["issued"], jan["HKD"]["net"]) == (5_000_00, 5_000_00)
    assert (feb["CNY"]["issued"], feb["CNY"]["reversed"], feb["CNY"]["net"], feb["CNY"]["net_tax"]) == (
        200_00, 60_00, 140_00, 12_00)
    assert (feb["HKD"]["issued"], feb["HKD"]["reversed"], feb["HKD"]["net"]) == (0, 5_000_00, -5_000_00)
    assert (feb["CNY"]["invoices"], feb["CNY"]["reversals"]) == (1, 1)
    with pytest.raises(BaychainError) as exc:
        gba.view_of("einvoice", "tax_report", tax_id=SELLER_TAX_ID, period="2030-13")
    assert exc.value.code == Code.BAD_ARGUMENTS
    assert gba.view_of("einvoice", "tax_report", tax_id="OTHER", period="2030-01")["currencies"] == {}
