"""Conservation of vouchers under any sequence of moves (hypothesis): whatever holders
split, pass on and finance, the live pieces always sum to the face value, no consumed
parent is ever paid, and settlement pays each live piece once, totalling the face value.

The contract runs with the real Context over an in-memory store (committing a call's
writes only when it returns, as the application does), so thousands of moves stay fast;
the chain-level tests in test_scf.py check the same rules through real blocks."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

from baychain.contracts.context import GOVERNANCE, Caller, Context
from baychain.contracts.gba.scf import SupplyChainFinance
from baychain.errors import BaychainError

DAY = 86_400 * 10**9
CORE, BANK = "Core Co", "Bank Co"
HOLDERS = [f"bc1{'%040x' % i}" for i in range(1, 5)]
FACE = 1_000_000


class Store:
    """Committed storage and the contract, called as transactions would call it."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.contract = SupplyChainFinance()
        self.time = 10**18

    def call(self, sender: str, method: str, organisation: str = "", **args: Any) -> Any:
        self.time += 10**9
        ctx = Context(self.data.get, contract="scf", sender=sender, height=1, time_ns=self.time,
                      caller=Caller(sender, organisation=organisation))
        m = self.contract.methods[method]
        value = m.func(self.contract, ctx, **m.check_args(args))
        for key, raw in ctx.writes.items():
            if raw is None:
                self.data.pop(key, None)
            else:
                self.data[key] = raw
        return value

    def view(self, method: str, **args: Any) -> Any:
        ctx = Context(self.data.get, contract="scf", sender="", height=1, time_ns=self.time, readonly=True)
        return self.contract.methods[method].func(self.contract, ctx, **args)


moves = st.lists(st.tuples(st.sampled_from(["split", "skewed split", "transfer", "finance"]), st.integers(0, 10**6),
                           st.integers(2, 4), st.integers(0, 3)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(moves)
def test_live_pieces_always_sum_to_the_face_value_and_settlement_pays_each_once(plan):
    store = Store()
    store.call(GOVERNANCE, "register_party", party=CORE, kind="core")
    store.call(GOVERNANCE, "register_party", party=BANK, kind="bank")
    root = store.call("bc1core", "issue", organisation=CORE, supplier=HOLDERS[0], amount=FACE, currency="CNY",
                      maturity_ns=store.time + 30 * DAY, document=b"\x07" * 32)
    store.call(HOLDERS[0], "accept", voucher=root)
    for kind, pick, parts, target in plan:
        live = [v for v in store.view("tree", id=root) if v["status"] in ("accepted", "financed")]
        v = live[pick % len(live)]
        holder = v["holder"]
        try:
            if kind.endswith("split"):
                skew = pick % 3 - 1 if kind == "skewed split" else 0  # pieces off by one: must be refused
                cut = [v["amount"] // parts] * (parts - 1)
                store.call(holder, "split", voucher=v["id"], amounts=[*cut, v["amount"] - sum(cut) + skew])
            elif kind == "transfer":
                store.call(holder, "transfer", voucher=v["id"], to=HOLDERS[target])
            else:
                store.call(holder, "apply_financing", voucher=v["id"], bank=BANK)
                store.call("bc1bank", "finance", organisation=BANK, voucher=v["id"],
                           registration_no=f"ZD-{v['id']}", advance=max(1, v["amount"] - 1))
        except BaychainError:
            pass  # a refused move (a zero piece, a financed voucher moving, ...) changes nothing
        tree = store.view("tree", id=root)
        assert sum(t["amount"] for t in tree if t["status"] != "split") == FACE
        for parent in (t for t in tree if t["status"] == "split"):
            assert sum(t["amount"] for t in tree if t["parent"] == parent["id"]) == parent["amount"]

    store.time = store.view("voucher", id=root)["maturity_ns"]
    payouts = store.call("bc1core", "settle", organisation=CORE, voucher=root, payment_ref="pay")
    tree = {t["id"]: t for t in store.view("tree", id=root)}
    assert sum(p["amount"] for p in payouts) == FACE
    assert sorted(p["voucher"] for p in payouts) == sorted(i for i, t in tree.items() if t["status"] == "settled")
    assert all(tree[p["voucher"]]["children"] == [] for p in payouts)
    assert all(p["holder"] == tree[p["voucher"]]["holder"] for p in payouts)
