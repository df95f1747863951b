"""Supply-chain finance through the SDK against a real node and its HTTP API: the demo
walkthrough end to end (with a real wait for maturity), typed refusals, and views."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from baychain.errors import Code
from baychain.sdk import Client, Key, TransactionFailed
from baychain.sdk import scf as sdk
from baychain.sdk.scf import Scf, document_hash, format_money, maturity_ns, run_scf_walkthrough

DAY = 86_400 * 10**9


def test_maturity_dates_are_the_start_of_the_day_in_china_standard_time():
    assert maturity_ns(date(2031, 3, 31)) == int(datetime(2031, 3, 30, 16, tzinfo=timezone.utc).timestamp()) * 10**9
    assert maturity_ns(datetime(2031, 3, 31, 1, 2, 3, 4, tzinfo=timezone.utc)) == (
        int(datetime(2031, 3, 31, 1, 2, 3, tzinfo=timezone.utc).timestamp()) * 10**9 + 4_000)
    assert maturity_ns(123) == 123
    with pytest.raises(ValueError):
        maturity_ns(datetime(2031, 3, 31))
    assert format_money(100_000_050, "CNY") == "CNY 1,000,000.50" and format_money(-5) == "-0.05"


def test_walkthrough_issues_splits_finances_refuses_a_second_financing_and_settles(gba_node):
    core, tier1, tier2, bank = (Key.generate() for _ in range(4))
    gba_node.decide(sdk.register_party(core.address, "core"), sdk.register_party(bank.address, "bank"))
    lines: list[str] = []
    with Client(gba_node.url, timeout=10) as client:
        outcome = run_scf_walkthrough(client, core=core, tier1=tier1, tier2=tier2, bank=bank, bank_party=bank.address,
                                      term_seconds=6, say=lines.append)
        scf = Scf(client)
        kept, piece = outcome["pieces"]
        assert outcome["refused"] == "DOUBLE_FINANCING"
        assert outcome["payouts"] == [{"voucher": kept, "holder": tier1.address, "amount": 600_000_00},
                                      {"voucher": piece, "holder": bank.address, "amount": 400_000_00}]
        assert scf.voucher(outcome["voucher"])["settlement"]["payment_ref"] == f"PAY-{outcome['voucher']}"
        assert scf.voucher(piece)["financing"]["registration_no"] == outcome["registration_no"]
        alerts = client.view("audit", "alerts", {"kind": "double_financing"})["alerts"]
        assert any(a["attributes"]["voucher"] == piece for a in alerts)
    assert any("refused: DOUBLE_FINANCING" in line for line in lines)


def test_sdk_refusals_carry_stable_codes_and_views_read_the_chain(gba_node):
    core, supplier = Key.generate(), Key.generate()
    gba_node.decide(sdk.register_party(core.address, "core"))
    with Client(gba_node.url, timeout=10) as client:
        scf = Scf(client)
        assert {"party": core.address, "kinds": ["core"], "tax_id": ""} in scf.parties()
        assert scf.limits()["max_term_days"] == 365
        doc = document_hash(b"sales contract 42 " + core.public_key)
        soon = maturity_ns(datetime.now(timezone.utc)) + 30 * DAY  # the node's block time is its clock
        vid = scf.issue(core, supplier=supplier.address, amount=12_345, currency="HKD", maturity=soon, document=doc)
        assert scf.document(doc) == vid
        with pytest.raises(TransactionFailed) as exc:
            scf.issue(core, supplier=supplier.address, amount=1, currency="HKD",
                      maturity=soon, document=doc)
        assert exc.value.code == Code.DOCUMENT_USED
        with pytest.raises(TransactionFailed) as exc:
            scf.issue(supplier, supplier=core.address, amount=1, currency="HKD",
                      maturity=soon, document=document_hash(b"x"))
        assert exc.value.code == Code.PERMISSION_DENIED
        scf.accept(supplier, vid)
        with pytest.raises(TransactionFailed) as exc:
            scf.split(supplier, vid, [12_000, 300])
        assert exc.value.code == Code.SPLIT_NOT_CONSERVED
        a, b = scf.split(supplier, vid, [12_000, 345])
        assert [v["id"] for v in scf.holdings(supplier.address)] == [a, b]
        assert [v["id"] for v in scf.tree(vid)] == [vid, a, b]
