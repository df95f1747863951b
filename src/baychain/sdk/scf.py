"""Supply-chain finance from Python: typed helpers over the `scf` contract.

    from baychain.sdk import Client
    from baychain.sdk.scf import Scf, document_hash

    with Client(url) as client:
        scf = Scf(client)
        vid = scf.issue(core, supplier=tier1.address, amount=1_000_000_00, currency="CNY",
                        maturity=date(2031, 3, 31), document=document_hash(b"purchase contract ..."))
        scf.accept(tier1, vid)
        part, rest = scf.split(tier1, vid, [400_000_00, 600_000_00])
        scf.transfer(tier1, part, tier2.address)

Each call signs with the given key, waits for the commit and returns the contract's
result; a refused call raises `TransactionFailed` (a BaychainError with the stable code,
e.g. Code.DOUBLE_FINANCING). Views are plain reads (`client.view`); bytes come back as
hex. The rules and storage are described in `baychain.contracts.gba.scf` and
docs/FINANCE.md; `register_party` and `set_max_term_days` build governance actions to
put into a committee proposal.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as day_time
from typing import Any, Callable

from baychain.errors import Code
from baychain.sdk.client import Client, Receipt, TransactionFailed
from baychain.sdk.keys import Key

CONTRACT = "scf"
CST = timezone(timedelta(hours=8))  # China Standard Time: Guangdong, Hong Kong and Macao


def document_hash(content: bytes) -> bytes:
    """The SHA-256 of a trade document: only this goes on chain."""
    return hashlib.sha256(content).digest()


def maturity_ns(when: date | datetime | int) -> int:
    """A maturity as block-time nanoseconds: a date means its first instant in China
    Standard Time (the obligor may pay from the start of the due date); an aware datetime
    is taken as is; an int is already nanoseconds."""
    if isinstance(when, int):
        return when
    if not isinstance(when, datetime):
        when = datetime.combine(when, day_time(0), tzinfo=CST)
    if when.tzinfo is None:
        raise ValueError("a maturity datetime needs a time zone")
    delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def format_money(amount: int, currency: str = "") -> str:
    """100000050 minor units -> "CNY 1,000,000.50" (CNY, HKD and MOP all have two decimals)."""
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 100)
    return f"{currency + ' ' if currency else ''}{sign}{major:,}.{minor:02d}"


def register_party(party: str, kind: str) -> dict[str, Any]:
    """A governance action: recognise `party` (organisation, or account on an open chain) as
    "core" (core enterprise) or "bank"."""
    return {"contract": CONTRACT, "method": "register_party", "args": {"party": party, "kind": kind}}


def set_max_term_days(days: int) -> dict[str, Any]:
    """A governance action: the longest payment term a voucher may have."""
    return {"contract": "governance", "method": "set_param", "args": {"name": "scf.max_term_days", "value": days}}


class Scf:
    """The `scf` contract through a client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def _call(self, key: Key, method: str, **args: Any) -> Any:
        receipt: Receipt = self.client.call(key, CONTRACT, method, args)
        return receipt.data

    # -- transactions ----------------------------------------------------------------------

    def issue(self, key: Key, *, supplier: str, amount: int, currency: str, maturity: date | datetime | int,
              document: bytes) -> str:
        """Issue a voucher (the key's organisation must be a registered core enterprise); its id."""
        return self._call(key, "issue", supplier=supplier, amount=amount, currency=currency,
                          maturity_ns=maturity_ns(maturity), document=document)

    def accept(self, key: Key, voucher: str) -> None:
        self._call(key, "accept", voucher=voucher)

    def reject(self, key: Key, voucher: str) -> None:
        self._call(key, "reject", voucher=voucher)

    def split(self, key: Key, voucher: str, amounts: list[int]) -> list[str]:
        """Split into pieces summing exactly to the voucher; the pieces' ids, in order."""
        return self._call(key, "split", voucher=voucher, amounts=list(amounts))

    def transfer(self, key: Key, voucher: str, to: str) -> None:
        self._call(key, "transfer", voucher=voucher, to=to)

    def apply_financing(self, key: Key, voucher: str, bank: str) -> None:
        self._call(key, "apply_financing", voucher=voucher, bank=bank)

    def withdraw_financing(self, key: Key, voucher: str) -> None:
        self._call(key, "withdraw_financing", voucher=voucher)

    def decline_financing(self, key: Key, voucher: str) -> None:
        self._call(key, "decline_financing", voucher=voucher)

    def finance(self, key: Key, voucher: str, *, registration_no: str, advance: int) -> None:
        self._call(key, "finance", voucher=voucher, registration_no=registration_no, advance=advance)

    def settle(self, key: Key, voucher: str, payment_ref: str) -> list[dict[str, Any]]:
        """Settle a root voucher at maturity: the payouts ({voucher, holder, amount})."""
        return self._call(key, "settle", voucher=voucher, payment_ref=payment_ref)

    def mark_overdue(self, key: Key, voucher: str) -> list[str]:
        return self._call(key, "mark_overdue", voucher=voucher)

    def recourse(self, key: Key, voucher: str) -> str:
        """Claim recourse on an overdue piece; the account it is claimed from."""
        return self._call(key, "recourse", voucher=voucher)

    # -- views -----------------------------------------------------------------------------

    def voucher(self, voucher: str) -> dict[str, Any]:
        return self.client.view(CONTRACT, "voucher", {"id": voucher})

    def tree(self, voucher: str) -> list[dict[str, Any]]:
        return self.client.view(CONTRACT, "tree", {"id": voucher})

    def holdings(self, account: str) -> list[dict[str, Any]]:
        """Every live voucher the account holds (the view is paged; this reads every page)."""
        out: list[dict[str, Any]] = []
        start, count = 0, 1
        while start < count:
            page = self.client.view(CONTRACT, "holdings", {"account": account, "start": start, "limit": 500})
            out.extend(page["vouchers"])
            start, count = page["next"], page["count"]
        return out

    def document(self, document: bytes) -> str | None:
        """The voucher a trade document backs, if any."""
        return self.client.view(CONTRACT, "document", {"hash": document})

    def parties(self) -> list[dict[str, Any]]:
        return self.client.view(CONTRACT, "parties")

    def limits(self) -> dict[str, int]:
        return self.client.view(CONTRACT, "limits")


def run_scf_walkthrough(client: Client, *, core: Key, tier1: Key, tier2: Key, bank: Key, bank_party: str,
                        amount: int = 1_000_000_00, currency: str = "CNY", term_seconds: int = 15,
                        say: Callable[[str], Any] = print) -> dict[str, Any]:
    """The scenario end to end, for a demo: a core enterprise issues a voucher to a tier-1
    supplier, who splits it and passes a piece to a tier-2 supplier; the tier-2 supplier
    finances it at a bank; a second financing of the same piece is refused (and alerted);
    at maturity (`term_seconds` of chain time later) the core enterprise settles and every
    current holder is paid. The committee must already have registered `core`'s party as
    "core" and `bank_party` as "bank". Returns what happened."""
    scf = Scf(client)
    start = int(client.block("latest")["time_ns"])
    document = document_hash(f"purchase contract {tier1.address} {start}".encode())
    vid = scf.issue(core, supplier=tier1.address, amount=amount, currency=currency,
                    maturity=start + term_seconds * 10**9, document=document)
    say(f"core enterprise issued voucher {vid} for {format_money(amount, currency)} against trade document "
        f"{document.hex()[:16]}…")
    scf.accept(tier1, vid)
    passed = amount * 2 // 5
    kept, piece = scf.split(tier1, vid, [amount - passed, passed])
    scf.transfer(tier1, piece, tier2.address)
    say(f"tier-1 supplier accepted it, split it into {kept} and {piece}, and passed {piece} to tier 2")
    scf.apply_financing(tier2, piece, bank_party)
    registration = f"ZD-{piece}"
    scf.finance(bank, piece, registration_no=registration, advance=passed - passed // 50)
    say(f"tier-2 supplier financed {piece} at {bank_party} (registration {registration}, 2% discount)")
    try:
        scf.apply_financing(tier2, piece, bank_party)
        refused = ""
    except TransactionFailed as exc:
        refused = exc.code.name
        say(f"a second financing of {piece} was refused: {refused}; the regulator was alerted")
    deadline = time.monotonic() + term_seconds + 60
    while True:  # settlement is judged at the block's time: retry until the chain passes maturity
        try:
            payouts = scf.settle(core, vid, payment_ref=f"PAY-{vid}")
            break
        except TransactionFailed as exc:
            if exc.code != Code.NOT_MATURED or time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    for p in payouts:
        say(f"settled: {p['voucher']} pays {format_money(p['amount'], currency)} to {p['holder']}")
    return {"voucher": vid, "pieces": [kept, piece], "registration_no": registration, "refused": refused,
            "payouts": payouts}
