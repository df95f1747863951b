"""Supply-chain finance on an identity-required chain: a Guangdong core enterprise issues
vouchers that pass from a Hong Kong supplier to a Macao supplier and are financed at
Guangdong and Hong Kong banks. Every rule is tried and must hold; refused calls change
nothing of the contract's state."""

from __future__ import annotations

import hashlib

import pytest

from baychain.errors import BaychainError, Code
from gba_support import CORE, DAY, GbaChain, GD_BANK, HK_BANK, HK_LOGISTICS, MO_IMPORTER, REGULATOR

FACE = 1_000_000_00  # 1,000,000.00 CNY in fen


def doc(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


class World:
    """The parties of the scenario, each a bound key of its organisation."""

    def __init__(self, gba) -> None:
        gba.register("scf", CORE, "core")
        gba.register("scf", GD_BANK, "bank")
        gba.register("scf", HK_BANK, "bank")
        self.chain = gba
        self.core = gba.member(CORE, "treasurer")
        self.gd_bank = gba.member(GD_BANK, "credit officer")
        self.hk_bank = gba.member(HK_BANK, "trade finance")
        self.tier1 = gba.member(HK_LOGISTICS, "accounts")  # Hong Kong, tier-1 supplier
        self.tier2 = gba.member(MO_IMPORTER, "accounts")  # Macao, tier-2 supplier
        self.regulator = gba.member(REGULATOR, "supervisor")

    def issue(self, *, amount: int = FACE, days: int = 90, document: str = "contract-1", to=None) -> str:
        to = to or self.tier1
        vid = self.chain.call(self.core, "scf", "issue", supplier=to.address, amount=amount, currency="CNY",
                              maturity_ns=self.chain.time + days * DAY, document=doc(document))
        return vid

    def accepted(self, **kwargs) -> str:
        vid = self.issue(**kwargs)
        self.chain.call(self.tier1, "scf", "accept", voucher=vid)
        return vid

    def voucher(self, vid: str) -> dict:
        return self.chain.view_of("scf", "voucher", id=vid)

    def at_maturity(self, vid: str) -> int:
        return self.voucher(vid)["maturity_ns"]


@pytest.fixture
def world(gba) -> World:
    return World(gba)


# -- the whole journey ----------------------------------------------------------------------------------


def test_voucher_travels_down_the_tiers_is_financed_and_settled_at_face_value(world):
    gba = world.chain
    vid = world.issue()
    v = world.voucher(vid)
    assert (v["status"], v["obligor"], v["holder"], v["amount"], v["currency"]) == (
        "issued", CORE, world.tier1.address, FACE, "CNY")
    gba.call(world.tier1, "scf", "accept", voucher=vid)
    a, b = gba.call(world.tier1, "scf", "split", voucher=vid, amounts=[FACE - 400_000_00, 400_000_00])
    gba.call(world.tier1, "scf", "transfer", voucher=b, to=world.tier2.address)  # HK -> Macao, tier 2
    b1, b2 = gba.call(world.tier2, "scf", "split", voucher=b, amounts=[150_000_00, 250_000_00])
    gba.call(world.tier2, "scf", "apply_financing", voucher=b2, bank=HK_BANK)
    gba.call(world.hk_bank, "scf", "finance", voucher=b2, registration_no="ZD-2030-000123", advance=245_000_00)

    financed = world.voucher(b2)
    assert (financed["status"], financed["holder"], financed["previous"], financed["tier"]) == (
        "financed", world.hk_bank.address, world.tier2.address, 2)
    assert financed["financing"]["registration_no"] == "ZD-2030-000123"
    assert financed["financing"]["bank"] == HK_BANK and financed["financing"]["advance"] == 245_000_00
    for child in (a, b1, b2):  # inherited from the root, whatever the tier
        c = world.voucher(child)
        assert (c["obligor"], c["maturity_ns"], c["currency"], c["document"], c["root"]) == (
            CORE, world.at_maturity(vid), "CNY", doc("contract-1"), vid)
    assert [h["id"] for h in gba.view_of("scf", "holdings", account=world.tier2.address)["vouchers"]] == [b1]

    gba.block(at=world.at_maturity(vid))
    payouts = gba.call(world.core, "scf", "settle", voucher=vid, payment_ref="CNAPS-20300402-0001")
    assert payouts == [
        {"voucher": a, "holder": world.tier1.address, "amount": FACE - 400_000_00},
        {"voucher": b1, "holder": world.tier2.address, "amount": 150_000_00},
        {"voucher": b2, "holder": world.hk_bank.address, "amount": 250_000_00},
    ]
    assert sum(p["amount"] for p in payouts) == FACE
    assert all(world.voucher(x)["status"] == "settled" for x in (a, b1, b2))
    assert world.voucher(vid)["settlement"]["payouts"] == payouts
    assert gba.view_of("scf", "holdings", account=world.tier1.address)["vouchers"] == []
    tree = gba.view_of("scf", "tree", id=vid)
    assert [t["id"] for t in tree] == [vid, a, b, b1, b2]


# -- who may do what ------------------------------------------------------------------------------------


def test_only_a_registered_core_enterprise_issues(world):
    gba = world.chain
    log = gba.fail(world.tier1, "scf", "issue", Code.PERMISSION_DENIED, supplier=world.tier2.address, amount=FACE,
                   currency="HKD", maturity_ns=gba.time + 30 * DAY, document=doc("fabricated"))
    assert HK_LOGISTICS in log
    gba.fail(world.gd_bank, "scf", "issue", Code.PERMISSION_DENIED, supplier=world.tier2.address, amount=FACE,
             currency="CNY", maturity_ns=gba.time + 30 * DAY, document=doc("fabricated"))


def test_registration_is_a_committee_power(world):
    gba = world.chain
    tx = world.tier1.tx("scf", "register_party", party=HK_LOGISTICS, kind="core")
    assert gba.run(tx).code == Code.GOVERNED_METHOD
    assert gba.view_of("scf", "party", party=HK_LOGISTICS) is None
    assert gba.view_of("scf", "party", party=GD_BANK)["kinds"] == ["bank"]


def test_only_the_holder_moves_a_voucher(world):
    gba = world.chain
    vid = world.accepted()
    gba.fail(world.tier2, "scf", "transfer", Code.NOT_AUTHORIZED, voucher=vid, to=world.tier2.address)
    gba.fail(world.core, "scf", "split", Code.NOT_AUTHORIZED, voucher=vid, amounts=[1, FACE - 1])
    gba.fail(world.tier2, "scf", "apply_financing", Code.NOT_AUTHORIZED, voucher=vid, bank=HK_BANK)
    gba.fail(world.tier2, "scf", "accept", Code.NOT_AUTHORIZED, voucher=vid)


def test_a_voucher_moves_only_once_accepted(world):
    gba = world.chain
    vid = world.issue()
    gba.fail(world.tier1, "scf", "transfer", Code.WRONG_STATUS, voucher=vid, to=world.tier2.address)
    gba.fail(world.tier1, "scf", "apply_financing", Code.WRONG_STATUS, voucher=vid, bank=HK_BANK)
    gba.call(world.tier1, "scf", "accept", voucher=vid)
    gba.fail(world.tier1, "scf", "accept", Code.WRONG_STATUS, voucher=vid)


def test_bad_vouchers_are_refused_with_clear_codes(world):
    gba = world.chain
    base = dict(supplier=world.tier1.address, amount=FACE, currency="CNY", maturity_ns=gba.time + 30 * DAY,
                document=doc("contract-x"))
    for change, code in [({"currency": "USD"}, Code.BAD_ARGUMENTS), ({"amount": 0}, Code.BAD_ARGUMENTS),
                         ({"amount": -5}, Code.BAD_ARGUMENTS), ({"amount": 2**63}, Code.BAD_ARGUMENTS),
                         ({"document": b"\x01" * 31}, Code.BAD_ARGUMENTS), ({"maturity_ns": gba.time}, Code.BAD_ARGUMENTS),
                         ({"supplier": "not-an-address"}, Code.BAD_ARGUMENTS),
                         ({"supplier": world.core.address}, Code.BAD_ARGUMENTS)]:
        gba.fail(world.core, "scf", "issue", code, **{**base, **change})
    assert gba.view_of("scf", "document", hash=doc("contract-x")) is None


# -- trade documents and terms --------------------------------------------------------------------------


def test_a_trade_document_backs_at_most_one_voucher_chain_wide(world, gba):
    vid = world.issue(document="invoice-77")
    log = gba.fail(world.core, "scf", "issue", Code.DOCUMENT_USED, supplier=world.tier2.address, amount=5,
                   currency="MOP", maturity_ns=gba.time + DAY, document=doc("invoice-77"))
    assert vid in log
    assert gba.view_of("scf", "document", hash=doc("invoice-77")) == vid


def test_another_core_enterprise_cannot_reuse_a_trade_document(tmp_path, consortium):
    gba = GbaChain(tmp_path, consortium)
    gba.register("scf", CORE, "core")
    gba.register("scf", HK_LOGISTICS, "core")  # a second obligor on the same chain
    core, other, supplier = gba.member(CORE), gba.member(HK_LOGISTICS), gba.member(MO_IMPORTER)
    gba.call(core, "scf", "issue", supplier=supplier.address, amount=10, currency="HKD",
             maturity_ns=gba.time + DAY, document=doc("bill-of-lading-9"))
    gba.fail(other, "scf", "issue", Code.DOCUMENT_USED, supplier=supplier.address, amount=10, currency="HKD",
             maturity_ns=gba.time + DAY, document=doc("bill-of-lading-9"))
    gba.app.close()


def test_a_rejected_voucher_frees_its_document_for_a_corrected_one(world):
    gba = world.chain
    wrong = world.issue(amount=999, document="po-5")
    gba.call(world.tier1, "scf", "reject", voucher=wrong)
    assert world.voucher(wrong)["status"] == "rejected"
    gba.fail(world.tier1, "scf", "accept", Code.WRONG_STATUS, voucher=wrong)
    right = world.issue(amount=1_000, document="po-5")
    assert gba.view_of("scf", "document", hash=doc("po-5")) == right


def test_payment_term_is_at_most_twelve_months(world):
    gba = world.chain
    assert gba.view_of("scf", "limits") == {"max_term_days": 365, "grace_days": 0}
    log = gba.fail(world.core, "scf", "issue", Code.TERM_EXCEEDED, supplier=world.tier1.address, amount=FACE,
                   currency="CNY", maturity_ns=gba.time + 1 + 365 * DAY + DAY, document=doc("long"))
    assert "365 days" in log
    world.issue(days=365, document="long")  # the next block is a second later: still inside


def test_payment_term_limit_is_a_governance_parameter(tmp_path, consortium):
    gba = GbaChain(tmp_path, consortium)
    gba.register("scf", CORE, "core")
    gba.set_param("scf.max_term_days", 180)  # mainland practice: six months in principle
    core, supplier = gba.member(CORE), gba.member(HK_LOGISTICS)
    gba.fail(core, "scf", "issue", Code.TERM_EXCEEDED, supplier=supplier.address, amount=1, currency="CNY",
             maturity_ns=gba.time + 181 * DAY, document=doc("d"))
    gba.call(core, "scf", "issue", supplier=supplier.address, amount=1, currency="CNY",
             maturity_ns=gba.time + 180 * DAY, document=doc("d"))
    gba.set_param("scf.max_term_days", 400)  # the committee cannot stretch terms beyond twelve months
    assert gba.view_of("scf", "limits")["max_term_days"] == 365
    gba.fail(core, "scf", "issue", Code.TERM_EXCEEDED, supplier=supplier.address, amount=1, currency="CNY",
             maturity_ns=gba.time + 370 * DAY, document=doc("e"))
    gba.app.close()


# -- split and transfer ---------------------------------------------------------------------------------


def test_split_must_conserve_amount(world):
    gba = world.chain
    vid = world.accepted()
    for amounts in ([FACE - 1, 2], [FACE - 2, 1], [FACE]):
        code = Code.SPLIT_NOT_CONSERVED if len(amounts) > 1 else Code.BAD_ARGUMENTS
        gba.fail(world.tier1, "scf", "split", code, voucher=vid, amounts=amounts)
    gba.fail(world.tier1, "scf", "split", Code.BAD_ARGUMENTS, voucher=vid, amounts=[FACE, 0])
    gba.fail(world.tier1, "scf", "split", Code.BAD_ARGUMENTS, voucher=vid, amounts=[FACE + 1, -1])
    gba.fail(world.tier1, "scf", "split", Code.BAD_ARGUMENTS, voucher=vid, amounts=[FACE - 1, "1"])
    gba.fail(world.tier1, "scf", "split", Code.BAD_ARGUMENTS, voucher=vid, amounts=[1] * 16 + [FACE - 16])
    pieces = gba.call(world.tier1, "scf", "split", voucher=vid, amounts=[1, 2, FACE - 3])
    assert [world.voucher(p)["amount"] for p in pieces] == [1, 2, FACE - 3]
    assert all(world.voucher(p)["parent"] == vid for p in pieces)


def test_a_consumed_parent_is_never_spent_again(world):
    gba = world.chain
    vid = world.accepted()
    gba.call(world.tier1, "scf", "split", voucher=vid, amounts=[FACE // 2, FACE // 2])
    gba.fail(world.tier1, "scf", "transfer", Code.VOUCHER_CONSUMED, voucher=vid, to=world.tier2.address)
    gba.fail(world.tier1, "scf", "split", Code.VOUCHER_CONSUMED, voucher=vid, amounts=[1, FACE - 1])
    gba.fail(world.tier1, "scf", "apply_financing", Code.VOUCHER_CONSUMED, voucher=vid, bank=GD_BANK)
    gba.fail(world.gd_bank, "scf", "finance", Code.VOUCHER_CONSUMED, voucher=vid, registration_no="ZD-1", advance=1)
    alerts = gba.alerts("double_financing")
    assert [a["attributes"]["voucher"] for a in alerts] == [vid, vid]  # financing a consumed parent is double financing
    assert all(a["failed"] for a in alerts)
    assert world.voucher(vid)["status"] == "split"


def test_transfer_moves_the_whole_voucher_one_tier_down(world):
    gba = world.chain
    vid = world.accepted()
    gba.fail(world.tier1, "scf", "transfer", Code.BAD_ARGUMENTS, voucher=vid, to=world.tier1.address)
    gba.fail(world.tier1, "scf", "transfer", Code.BAD_ARGUMENTS, voucher=vid, to="bc1nobody")
    gba.call(world.tier1, "scf", "transfer", voucher=vid, to=world.tier2.address)
    v = world.voucher(vid)
    assert (v["holder"], v["previous"], v["tier"]) == (world.tier2.address, world.tier1.address, 2)
    gba.fail(world.tier1, "scf", "transfer", Code.NOT_AUTHORIZED, voucher=vid, to=world.tier1.address)


def test_a_root_is_split_into_at_most_a_hundred_live_pieces(world):
    gba = world.chain
    vid = world.accepted(amount=1_000)

    def split(voucher: str, n: int, code: int = 0):
        amounts = [1] * (n - 1) + [world.voucher(voucher)["amount"] - (n - 1)]
        if code:
            return gba.fail(world.tier1, "scf", "split", code, voucher=voucher, amounts=amounts)
        return gba.call(world.tier1, "scf", "split", voucher=voucher, amounts=amounts)[-1]

    big = vid
    for _ in range(6):  # 16, 31, 46, 61, 76, 91 live pieces
        big = split(big, 16)
    split(big, 11, Code.LIMIT_EXCEEDED)  # 101
    big = split(big, 10)  # exactly 100
    split(big, 2, Code.LIMIT_EXCEEDED)
    gba.block(at=world.at_maturity(vid))
    payouts = gba.call(world.core, "scf", "settle", voucher=vid, payment_ref="bulk")
    assert len(payouts) == 100 and sum(p["amount"] for p in payouts) == 1_000


# -- financing ------------------------------------------------------------------------------------------


def test_locked_and_financed_vouchers_cannot_move(world):
    gba = world.chain
    vid = world.accepted()
    gba.call(world.tier1, "scf", "apply_financing", voucher=vid, bank=GD_BANK)
    assert world.voucher(vid)["status"] == "locked"
    gba.fail(world.tier1, "scf", "transfer", Code.VOUCHER_LOCKED, voucher=vid, to=world.tier2.address)
    gba.fail(world.tier1, "scf", "split", Code.VOUCHER_LOCKED, voucher=vid, amounts=[1, FACE - 1])
    gba.call(world.gd_bank, "scf", "finance", voucher=vid, registration_no="ZD-2030-1", advance=FACE - 10_000_00)
    gba.fail(world.gd_bank, "scf", "transfer", Code.VOUCHER_LOCKED, voucher=vid, to=world.tier2.address)
    gba.fail(world.gd_bank, "scf", "split", Code.VOUCHER_LOCKED, voucher=vid, amounts=[1, FACE - 1])


def test_withdrawn_or_declined_applications_unlock(world):
    gba = world.chain
    vid = world.accepted()
    gba.call(world.tier1, "scf", "apply_financing", voucher=vid, bank=GD_BANK)
    gba.fail(world.hk_bank, "scf", "decline_financing", Code.WRONG_STATUS, voucher=vid)
    gba.call(world.gd_bank, "scf", "decline_financing", voucher=vid)
    assert world.voucher(vid)["status"] == "accepted" and "financing" not in world.voucher(vid)
    gba.call(world.tier1, "scf", "apply_financing", voucher=vid, bank=HK_BANK)
    gba.call(world.tier1, "scf", "withdraw_financing", voucher=vid)
    gba.fail(world.hk_bank, "scf", "finance", Code.WRONG_STATUS, voucher=vid, registration_no="ZD-77", advance=1)
    gba.call(world.tier1, "scf", "transfer", voucher=vid, to=world.tier2.address)  # movable again
    assert gba.alerts() == []  # none of this was double financing


def test_financing_needs_a_registered_bank_and_a_registration_number(world):
    gba = world.chain
    vid = world.accepted()
    gba.fail(world.tier1, "scf", "apply_financing", Code.PERMISSION_DENIED, voucher=vid, bank=HK_LOGISTICS)
    gba.call(world.tier1, "scf", "apply_financing", voucher=vid, bank=HK_BANK)
    gba.fail(world.tier2, "scf", "finance", Code.PERMISSION_DENIED, voucher=vid, registration_no="ZD-1", advance=1)
    for bad in ("", "ZD", "ZD 2030 1", "-ZD2030", "x" * 65):
        gba.fail(world.hk_bank, "scf", "finance", Code.BAD_ARGUMENTS, voucher=vid, registration_no=bad, advance=1)
    for advance in (0, FACE + 1):
        gba.fail(world.hk_bank, "scf", "finance", Code.BAD_ARGUMENTS, voucher=vid, registration_no="ZD-1",
                 advance=advance)
    gba.call(world.hk_bank, "scf", "finance", voucher=vid, registration_no="ZD-1", advance=FACE)


def test_every_attempted_double_financing_is_refused_and_alerted(world):
    gba = world.chain
    vid = world.accepted()
    gba.call(world.tier1, "scf", "apply_financing", voucher=vid, bank=HK_BANK)
    gba.fail(world.tier1, "scf", "apply_financing", Code.DOUBLE_FINANCING, voucher=vid, bank=GD_BANK)
    gba.fail(world.gd_bank, "scf", "finance", Code.DOUBLE_FINANCING, voucher=vid, registration_no="ZD-GD-1", advance=1)
    gba.call(world.hk_bank, "scf", "finance", voucher=vid, registration_no="ZD-HK-1", advance=FACE - 1)
    gba.fail(world.hk_bank, "scf", "finance", Code.DOUBLE_FINANCING, voucher=vid, registration_no="ZD-HK-2", advance=1)
    gba.fail(world.tier1, "scf", "apply_financing", Code.DOUBLE_FINANCING, voucher=vid, bank=GD_BANK)
    other = world.accepted(document="contract-2")  # the same registration for another receivable
    gba.call(world.tier1, "scf", "apply_financing", voucher=other, bank=HK_BANK)
    log = gba.fail(world.hk_bank, "scf", "finance", Code.DOUBLE_FINANCING, voucher=other, registration_no="ZD-HK-1",
                   advance=1)
    assert vid in log

    alerts = gba.alerts("double_financing")
    assert [(a["attributes"]["voucher"], a["attributes"]["bank"]) for a in alerts] == [
        (vid, GD_BANK), (vid, GD_BANK), (vid, HK_BANK), (vid, GD_BANK), (other, HK_BANK)]
    assert all(a["failed"] and a["contract"] == "scf" for a in alerts)
    assert world.voucher(vid)["financing"]["registration_no"] == "ZD-HK-1"
    # the regulator (and anyone) reads the same log through the audit contract's view
    assert gba.app.view("audit", "alerts", {"kind": "double_financing"})["count"] == 5


@pytest.mark.parametrize("order", ["locked bank first", "other bank first"])
def test_two_banks_financing_one_voucher_in_one_block_exactly_one_succeeds(world, order):
    gba = world.chain
    vid = world.accepted()
    # the holder applies at both banks in one block: the first application locks the voucher
    applied = gba.same_block(world.tier1.tx("scf", "apply_financing", voucher=vid, bank=GD_BANK),
                             world.tier1.tx("scf", "apply_financing", voucher=vid, bank=HK_BANK))
    assert [r.code for r in applied] == [0, Code.DOUBLE_FINANCING]
    gd = world.gd_bank.tx("scf", "finance", voucher=vid, registration_no="ZD-GD-9", advance=FACE - 5)
    hk = world.hk_bank.tx("scf", "finance", voucher=vid, registration_no="ZD-HK-9", advance=FACE - 1)
    results = gba.same_block(gd, hk) if order == "locked bank first" else gba.same_block(hk, gd)
    codes = sorted(r.code for r in results)
    assert codes == [0, Code.DOUBLE_FINANCING]
    financed = world.voucher(vid)
    assert (financed["status"], financed["holder"], financed["financing"]["bank"]) == (
        "financed", world.gd_bank.address, GD_BANK)
    alerts = gba.alerts("double_financing")
    assert [a["attributes"]["bank"] for a in alerts] == [HK_BANK, HK_BANK]
    assert len({a["height"] for a in alerts}) == 2


def test_matured_vouchers_cannot_move_or_be_financed(world):
    gba = world.chain
    vid = world.accepted(days=30)
    locked = world.accepted(days=30, document="contract-2")
    gba.call(world.tier1, "scf", "apply_financing", voucher=locked, bank=HK_BANK)
    gba.block(at=world.at_maturity(vid))
    gba.fail(world.tier1, "scf", "transfer", Code.VOUCHER_MATURED, voucher=vid, to=world.tier2.address)
    gba.fail(world.tier1, "scf", "split", Code.VOUCHER_MATURED, voucher=vid, amounts=[1, FACE - 1])
    gba.fail(world.tier1, "scf", "apply_financing", Code.VOUCHER_MATURED, voucher=vid, bank=GD_BANK)
    gba.fail(world.hk_bank, "scf", "finance", Code.VOUCHER_MATURED, voucher=locked, registration_no="ZD-5", advance=1)
    assert world.voucher(vid)["matured"] is True


# -- maturity -------------------------------------------------------------------------------------------


def test_settlement_only_by_the_obligor_at_maturity_and_only_once(world):
    gba = world.chain
    vid = world.accepted()
    gba.fail(world.core, "scf", "settle", Code.NOT_MATURED, voucher=vid, payment_ref="early")
    gba.block(at=world.at_maturity(vid))
    gba.fail(world.tier1, "scf", "settle", Code.NOT_AUTHORIZED, voucher=vid, payment_ref="self-paid")
    gba.fail(world.core, "scf", "settle", Code.BAD_ARGUMENTS, voucher=vid, payment_ref="")
    colleague = gba.member(CORE, "another treasurer")  # any account of the obligor organisation settles
    assert gba.call(colleague, "scf", "settle", voucher=vid, payment_ref="CNAPS-1") == [
        {"voucher": vid, "holder": world.tier1.address, "amount": FACE}]
    gba.fail(world.core, "scf", "settle", Code.WRONG_STATUS, voucher=vid, payment_ref="again")
    gba.fail(world.core, "scf", "mark_overdue", Code.WRONG_STATUS, voucher=vid)


def test_settle_a_piece_is_refused_settle_the_root(world):
    gba = world.chain
    vid = world.accepted()
    a, _ = gba.call(world.tier1, "scf", "split", voucher=vid, amounts=[1, FACE - 1])
    gba.block(at=world.at_maturity(vid))
    gba.fail(world.core, "scf", "settle", Code.BAD_ARGUMENTS, voucher=a, payment_ref="piece")


def test_an_unaccepted_voucher_is_not_settled(world):
    gba = world.chain
    vid = world.issue(days=1)
    gba.block(at=world.at_maturity(vid))
    gba.fail(world.core, "scf", "settle", Code.WRONG_STATUS, voucher=vid, payment_ref="x")


def test_unpaid_at_maturity_becomes_overdue_with_recourse(world):
    gba = world.chain
    vid = world.accepted(days=60)
    a, b = gba.call(world.tier1, "scf", "split", voucher=vid, amounts=[300, FACE - 300])
    gba.call(world.tier1, "scf", "transfer", voucher=b, to=world.tier2.address)
    gba.call(world.tier2, "scf", "apply_financing", voucher=b, bank=GD_BANK)
    gba.call(world.gd_bank, "scf", "finance", voucher=b, registration_no="ZD-2030-77", advance=FACE - 5_000_00)
    gba.fail(world.regulator, "scf", "mark_overdue", Code.NOT_MATURED, voucher=vid)
    gba.block(at=world.at_maturity(vid))
    assert gba.call(world.regulator, "scf", "mark_overdue", voucher=vid) == [a, b]
    assert world.voucher(a)["status"] == world.voucher(b)["status"] == "overdue"
    gba.fail(world.regulator, "scf", "mark_overdue", Code.WRONG_STATUS, voucher=vid)
    # the bank claims from the Macao supplier who sold it the piece; the tier-1 holder has no one before it
    assert gba.call(world.gd_bank, "scf", "recourse", voucher=b) == world.tier2.address
    gba.fail(world.tier1, "scf", "recourse", Code.WRONG_STATUS, voucher=a)
    gba.fail(world.gd_bank, "scf", "recourse", Code.WRONG_STATUS, voucher=b)
    assert world.voucher(b)["recourse"]["against"] == world.tier2.address
    # late payment still settles every current holder at face value
    payouts = gba.call(world.core, "scf", "settle", voucher=vid, payment_ref="late")
    assert [(p["holder"], p["amount"]) for p in payouts] == [(world.tier1.address, 300),
                                                             (world.gd_bank.address, FACE - 300)]


def test_grace_period_is_a_governance_parameter(tmp_path, consortium):
    gba = GbaChain(tmp_path, consortium)
    gba.register("scf", CORE, "core")
    gba.set_param("scf.grace_days", 3)
    core, supplier = gba.member(CORE), gba.member(HK_LOGISTICS)
    vid = gba.call(core, "scf", "issue", supplier=supplier.address, amount=1, currency="MOP",
                   maturity_ns=gba.time + 10 * DAY, document=doc("g"))
    gba.call(supplier, "scf", "accept", voucher=vid)
    maturity = gba.view_of("scf", "voucher", id=vid)["maturity_ns"]
    gba.block(at=maturity + 3 * DAY - 10 * 10**9)  # the next block is a second later: still inside the grace
    gba.fail(supplier, "scf", "mark_overdue", Code.NOT_MATURED, voucher=vid)
    gba.block(at=maturity + 3 * DAY)
    gba.call(supplier, "scf", "mark_overdue", voucher=vid)
    gba.app.close()


def test_holdings_list_each_live_voucher_once_in_pages(world):
    gba = world.chain
    vid = world.accepted()
    gba.call(world.tier1, "scf", "transfer", voucher=vid, to=world.tier2.address)
    gba.call(world.tier2, "scf", "transfer", voucher=vid, to=world.tier1.address)  # back again
    pieces = gba.call(world.tier1, "scf", "split", voucher=vid, amounts=[1, 2, FACE - 3])
    page = gba.view_of("scf", "holdings", account=world.tier1.address, start=0, limit=2)
    assert ([v["id"] for v in page["vouchers"]], page["next"], page["count"]) == ([pieces[0]], 2, 4)  # vid was split
    rest = gba.view_of("scf", "holdings", account=world.tier1.address, start=2, limit=100)
    assert ([v["id"] for v in rest["vouchers"]], rest["next"]) == (pieces[1:], 4)
    assert gba.view_of("scf", "holdings", account=world.tier2.address)["vouchers"] == []  # moved on
    with pytest.raises(BaychainError):
        gba.view_of("scf", "holdings", account=world.tier1.address, limit=0)
