"""`baychain invoice` against a real node: payment, issue, claim, the global lock taken
by one employer and refused to another, red reversal, verification and the tax report."""

from __future__ import annotations

from baychain.sdk import invoice as sdk

TAX_ID = "91440300MA5G9X4K2P"


def test_invoices_from_the_command_line(gba_node, gba_cli, tmp_path):
    pay, seller, buyer, hk, mo = (gba_cli.new_key(n) for n in ("pay", "seller", "buyer", "hk-employer", "mo-employer"))
    gba_node.decide(sdk.register_party(pay.address, "payment"), sdk.register_party(seller.address, "seller", TAX_ID))
    pdf, edited = tmp_path / "invoice.pdf", tmp_path / "edited.pdf"
    pdf.write_bytes(b"%PDF e-invoice " + buyer.public_key)
    edited.write_bytes(b"%PDF e-invoice edited")

    assert gba_cli("invoice", "pay", "PAY-1", "--order", "SO-1", "--payer", "buyer", "--payee", seller.address,
                   "--amount", "1,060.00", "--key", "pay").exit_code == 0
    over = gba_cli("invoice", "issue", "PAY-1", "--amount", "1060.01", "--file", str(pdf), "--key", "seller")
    assert over.exit_code == 1 and "EXCEEDS_PAYMENT (code 259)" in over.output
    inv = gba_cli.json("invoice", "issue", "PAY-1", "--amount", "1060", "--tax", "60", "--file", str(pdf),
                       "--key", "seller")["result"]
    assert gba_cli("invoice", "claim", inv, "--key", "buyer").exit_code == 0

    mismatch = gba_cli("invoice", "verify", inv, "--file", str(edited))
    assert mismatch.exit_code == 1 and "DOES NOT MATCH" in mismatch.output
    assert "MATCHES" in gba_cli("invoice", "verify", inv, "--file", str(pdf)).output
    assert gba_cli("invoice", "lock", inv, "--file", str(pdf), "--key", "hk-employer").exit_code == 0
    second = gba_cli("invoice", "lock", inv, "--file", str(pdf), "--key", "mo-employer")
    assert second.exit_code == 1 and "INVOICE_LOCKED (code 261)" in second.output
    assert gba_cli("invoice", "reject", inv, "--key", "hk-employer").exit_code == 0
    assert gba_cli("invoice", "reverse", inv, "--amount", "60", "--reason", "discount", "--key", "seller").exit_code == 0
    blocked = gba_cli("invoice", "lock", inv, "--file", str(pdf), "--key", "mo-employer")
    assert "INVOICE_REVERSED (code 263)" in blocked.output

    shown = gba_cli("invoice", "show", inv)
    assert "reversed" in shown.output and "CNY 1,060.00" in shown.output and TAX_ID in shown.output
    period = gba_cli.json("invoice", "show", inv)["period"]
    report = gba_cli.json("invoice", "tax-report", TAX_ID, period)["currencies"]["CNY"]
    assert (report["issued"], report["reversed"], report["net"]) == (1_060_00, 60_00, 1_000_00)
    assert "1,000.00" in gba_cli("invoice", "tax-report", TAX_ID, period).output
