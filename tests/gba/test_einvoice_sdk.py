"""E-invoices through the SDK against a real node and its HTTP API: the demo walkthrough
(including the refused second employer and its regulator alert) and typed refusals."""

from __future__ import annotations

import pytest

from baychain.errors import Code
from baychain.sdk import Client, Key, TransactionFailed
from baychain.sdk import invoice as sdk
from baychain.sdk.invoice import Invoices, file_hash, run_invoice_walkthrough

@pytest.fixture
def parties(gba_node):
    """A payment institution and a seller, registered; each test's seller has a tax id of its own."""
    pay, seller = Key.generate(), Key.generate()
    tax_id = "9144" + seller.address[-14:].upper()
    gba_node.decide(sdk.register_party(pay.address, "payment"), sdk.register_party(seller.address, "seller", tax_id))
    return pay, seller, tax_id


def test_walkthrough_reimburses_once_and_refuses_the_second_employer(gba_node, parties, tmp_path):
    pay, seller, tax_id = parties
    buyer, employer, other = Key.generate(), Key.generate(), Key.generate()
    lines: list[str] = []
    with Client(gba_node.url, timeout=10) as client:
        outcome = run_invoice_walkthrough(client, payment_institution=pay, seller=seller, seller_party=seller.address,
                                          seller_tax_id=tax_id, buyer=buyer, employer=employer, other_employer=other,
                                          say=lines.append)
        assert outcome["refused"] == "INVOICE_LOCKED"
        invoices = Invoices(client)
        inv = invoices.invoice(outcome["invoice"])
        assert (inv["status"], inv["lock"]["employer"], inv["buyer"]) == ("reimbursed", employer.address, buyer.address)
        alerts = client.view("audit", "alerts", {"kind": "duplicate_reimbursement"})["alerts"]
        assert [a["attributes"]["employer"] for a in alerts if a["attributes"]["invoice"] == inv["id"]] == [other.address]
        assert outcome["tax_report"]["currencies"]["CNY"]["net"] == 1_060_00
    assert len(lines) == 5


def test_sdk_refusals_carry_stable_codes(gba_node, parties, tmp_path):
    pay, seller, _ = parties
    buyer, employer = Key.generate(), Key.generate()
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF invoice 1")
    with Client(gba_node.url, timeout=10) as client:
        invoices = Invoices(client)
        invoices.record_payment(pay, payment_id=f"P-{buyer.address[-8:]}", order_id=f"O-{buyer.address[-8:]}",
                                payer=buyer.address, payee=seller.address, amount=500_00, currency="MOP")
        with pytest.raises(TransactionFailed) as exc:
            invoices.issue(seller, payment_id=f"P-{buyer.address[-8:]}", amount=500_01, tax=0, file=pdf)
        assert exc.value.code == Code.EXCEEDS_PAYMENT
        inv = invoices.issue(seller, payment_id=f"P-{buyer.address[-8:]}", amount=500_00, tax=0, file=pdf)
        assert invoices.payment(f"P-{buyer.address[-8:]}")["invoice"] == inv
        invoices.claim(buyer, inv)
        with pytest.raises(TransactionFailed) as exc:
            invoices.lock(employer, inv, file=b"%PDF edited")
        assert exc.value.code == Code.FILE_HASH_MISMATCH
        assert invoices.verify(inv, pdf) == {**invoices.verify(inv, pdf), "match": True, "reimbursable": True}
        assert file_hash(pdf) == file_hash(pdf.read_bytes())
        invoices.reverse(seller, inv, amount=100_00, tax=0, reason="discount")
        with pytest.raises(TransactionFailed) as exc:
            invoices.lock(employer, inv, file=pdf)
        assert exc.value.code == Code.INVOICE_REVERSED
