"""Supply-chain finance: multi-tier receivable vouchers.

A core enterprise confirms what it owes a supplier by issuing a *voucher* against the
hash of a trade document (contract, invoice, delivery note). The supplier accepts it,
and from then on holders may split it (the children sum exactly to the parent and
inherit its obligor, currency and maturity) and pass the pieces down their own supplier
tiers, or finance a piece at a bank for early payment. At maturity the core enterprise
settles: every current holder of a live piece is paid, and the payouts total the face
value. Unpaid after maturity, the pieces become overdue and their holders may claim
recourse from whoever passed them on.

Lifecycle of one voucher:

    issued ─accept─▶ accepted ─(split ▶ children | transfer)*
                     accepted ─apply_financing─▶ locked ─finance─▶ financed
                                                 locked ─withdraw/decline─▶ accepted
    issued ─reject─▶ rejected (its trade document may back a corrected voucher)
    any live piece (accepted, locked, financed) at maturity: settle ─▶ settled,
                     or after the grace period: mark_overdue ─▶ overdue ─recourse─▶ recourse
                     (an overdue or recourse piece can still be settled late)

"Matured" is not a stored status: a chain has no timer, so every rule compares the
block's time with the maturity. Rules enforced here:

- a split parent is consumed (status `split`) and never spent again;
- locked, financed or matured vouchers cannot move (split, transfer, apply);
- a trade document backs at most one voucher on the whole chain;
- the payment term is at most `scf.max_term_days` days (governance parameter, 365 by
  default; the committee may lower it, never raise it above twelve months);
- financing needs a registration number (mainland movables registry), each used once;
- a voucher is financed at most once: the holder's application locks it to one bank,
  and any other attempt (a second application, another bank, the same bank again,
  a reused registration, the consumed parent of financed pieces) is refused and raises
  a regulator alert `double_financing` — also when two attempts share one block.

Who may act: a *core enterprise* issues and settles, a *bank* finances; both are kinds
of party that the committee grants with `register_party` (see `gba.parties`: a party is
the caller's certified organisation, or its account on a chain without identity).
Holders are accounts.

Storage (state keys `c/scf/<key>`):

    seq                 the number of vouchers ever created
    v/<id>              a voucher (id `V` + 8 digits), see `_new_voucher`
    doc/<hash hex>      the id of the voucher a trade document backs
    reg/<registration>  the id of the voucher financed under a registration number
    held/<account>      how many vouchers an account has ever come to hold (n)
    held/<account>/<i>  the i-th of them, i < n: an append-only index (one entry per voucher),
                        so a bank holding thousands never outgrows a value; views skip
                        entries whose voucher has moved on, been split or settled
    seen/<account>/<id> the voucher is in the account's index
    party/<party>, parties   the registry (gba.parties)
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

NAME = "scf"
CORE = "core"  # party kinds
BANK = "bank"
KINDS = (BANK, CORE)
DAY_NS = 86_400 * 10**9
MAX_TERM_DAYS = 365  # mainland practice: 6 months in principle, 12 at most; governance may only lower it
DEFAULT_GRACE_DAYS = 0
MAX_CHILDREN = 16  # pieces of one split
MAX_PIECES = 100  # live pieces of one root: settlement pays them all in one transaction
LIVE = ("accepted", "locked", "financed", "overdue", "recourse")  # statuses settlement pays
DEAD = ("split", "settled", "rejected")  # statuses no longer held
MAX_PAGE = 500
_REGISTRATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,63}\Z")
_PAYMENT_REF_CHARS = 128


class SupplyChainFinance(Contract):
    """Multi-tier receivable vouchers: issue, accept, split, transfer, finance, settle, recourse."""

    name = NAME

    # -- the registry ----------------------------------------------------------------------

    @governed
    def register_party(self, ctx: Context, party: str, kind: str) -> None:
        """Recognise a party (organisation, or account on an open chain) as a core enterprise or a bank."""
        parties.register(ctx, party, kind, KINDS)

    @governed
    def unregister_party(self, ctx: Context, party: str, kind: str) -> None:
        """Withdraw a kind; vouchers the party already issued or financed are unaffected."""
        parties.unregister(ctx, party, kind)

    # -- issue and accept ------------------------------------------------------------------

    def issue(self, ctx: Context, supplier: str, amount: int, currency: str, maturity_ns: int, document: bytes) -> Any:
        """Issue a voucher to `supplier` for what the caller's core enterprise owes under a trade document."""
        obligor = parties.require_kind(ctx, CORE, "a core enterprise")
        ctx.require(is_address(supplier), Code.BAD_ARGUMENTS, f"{supplier!r} is not an account address")
        ctx.require(supplier != ctx.sender, Code.BAD_ARGUMENTS, "a voucher is issued to a supplier, not to oneself")
        require_money(ctx, amount, currency)
        ctx.require(len(document) == 32, Code.BAD_ARGUMENTS, "document must be a 32-byte SHA-256 hash")
        ctx.require(maturity_ns > ctx.time_ns, Code.BAD_ARGUMENTS, "maturity must be after the block time")
        max_days = _max_term_days(ctx)
        ctx.require(maturity_ns - ctx.time_ns <= max_days * DAY_NS, Code.TERM_EXCEEDED,
                    f"the payment term may be at most {max_days} days (governance parameter scf.max_term_days)")
        used = ctx.get(f"doc/{document.hex()}")
        ctx.require(used is None, Code.DOCUMENT_USED, f"trade document {document.hex()} already backs voucher {used}")
        voucher = _new_voucher(ctx, parent=None, holder=supplier, amount=amount)
        voucher.update(obligor=obligor, obligor_account=ctx.sender, currency=currency, maturity_ns=maturity_ns,
                       document=document, status="issued")
        voucher["root"] = voucher["id"]
        _save(ctx, voucher)
        ctx.put(f"doc/{document.hex()}", voucher["id"])
        _hold(ctx, supplier, voucher["id"])
        ctx.emit("issued", voucher=voucher["id"], obligor=obligor, supplier=supplier, amount=amount,
                 currency=currency, maturity_ns=maturity_ns, document=document)
        return voucher["id"]

    def accept(self, ctx: Context, voucher: str) -> None:
        """The supplier confirms the voucher; only then can it move or be financed."""
        v = _held_by_caller(ctx, voucher)
        ctx.require(v["status"] == "issued", Code.WRONG_STATUS, f"voucher {voucher} is {v['status']}, not issued")
        v["status"] = "accepted"
        _save(ctx, v)
        ctx.emit("accepted", voucher=voucher, holder=ctx.sender)

    def reject(self, ctx: Context, voucher: str) -> None:
        """The supplier refuses the voucher; its trade document is free to back a corrected one."""
        v = _held_by_caller(ctx, voucher)
        ctx.require(v["status"] == "issued", Code.WRONG_STATUS, f"voucher {voucher} is {v['status']}, not issued")
        v["status"] = "rejected"
        _save(ctx, v)
        ctx.delete(f"doc/{v['document'].hex()}")
        ctx.emit("rejected", voucher=voucher, holder=ctx.sender)

    # -- move down the tiers ---------------------------------------------------------------

    def split(self, ctx: Context, voucher: str, amounts: list) -> Any:
        """Split a voucher into pieces that sum exactly to it; the parent is consumed for good."""
        v = _held_by_caller(ctx, voucher)
        _require_movable(ctx, v)
        ctx.require(2 <= len(amounts) <= MAX_CHILDREN, Code.BAD_ARGUMENTS, f"a split makes 2-{MAX_CHILDREN} pieces")
        ctx.require(all(type(a) is int and a > 0 for a in amounts), Code.BAD_ARGUMENTS,
                    "every piece's amount must be a positive integer of minor units")
        ctx.require(sum(amounts) == v["amount"], Code.SPLIT_NOT_CONSERVED,
                    f"pieces sum to {sum(amounts)}, the voucher is {v['amount']}: they must be equal")
        root = v if v["root"] == v["id"] else _voucher(ctx, v["root"])
        ctx.require(root["pieces"] + len(amounts) - 1 <= MAX_PIECES, Code.LIMIT_EXCEEDED,
                    f"voucher {root['id']} may be in at most {MAX_PIECES} live pieces")
        root["pieces"] += len(amounts) - 1
        children = []
        for amount in amounts:
            child = _new_voucher(ctx, parent=v, holder=ctx.sender, amount=amount)
            _save(ctx, child)
            _hold(ctx, ctx.sender, child["id"])
            children.append(child["id"])
        v["status"] = "split"
        v["children"] = children
        _save(ctx, v)
        if root is not v:
            _save(ctx, root)
        ctx.emit("split", voucher=voucher, children=",".join(children), holder=ctx.sender)
        return children

    def transfer(self, ctx: Context, voucher: str, to: str) -> None:
        """Pass a whole voucher to the next tier's supplier (split it first to pass a part)."""
        v = _held_by_caller(ctx, voucher)
        _require_movable(ctx, v)
        ctx.require(is_address(to), Code.BAD_ARGUMENTS, f"{to!r} is not an account address")
        ctx.require(to != ctx.sender, Code.BAD_ARGUMENTS, "the voucher already belongs to the sender")
        v.update(holder=to, previous=ctx.sender, tier=v["tier"] + 1)
        _save(ctx, v)
        _hold(ctx, to, voucher)
        ctx.emit("transferred", voucher=voucher, sender=ctx.sender, to=to, tier=v["tier"])

    # -- financing -------------------------------------------------------------------------

    def apply_financing(self, ctx: Context, voucher: str, bank: str) -> None:
        """The holder applies for early payment at one bank; the voucher is locked to it."""
        v = _voucher(ctx, voucher)
        _refuse_double_financing(ctx, v, bank, applying=True)  # before the holder check: the applicant no longer holds it
        v = _held_by_caller(ctx, voucher)
        _require_movable(ctx, v)
        ctx.require(parties.has_kind(ctx, bank, BANK), Code.PERMISSION_DENIED, f"{bank} is not a registered bank")
        v["status"] = "locked"
        v["financing"] = {"bank": bank, "applicant": ctx.sender, "applied_height": ctx.height}
        _save(ctx, v)
        ctx.emit("financing_applied", voucher=voucher, bank=bank, applicant=ctx.sender)

    def withdraw_financing(self, ctx: Context, voucher: str) -> None:
        """The applicant withdraws its application before the bank finances; the lock is lifted."""
        v = _held_by_caller(ctx, voucher)
        ctx.require(v["status"] == "locked", Code.WRONG_STATUS, f"voucher {voucher} is {v['status']}, not locked")
        _unlock(ctx, v, "withdrawn")

    def decline_financing(self, ctx: Context, voucher: str) -> None:
        """The bank the voucher is locked to declines; the lock is lifted."""
        bank = parties.require_kind(ctx, BANK, "a bank")
        v = _voucher(ctx, voucher)
        ctx.require(v["status"] == "locked" and v["financing"]["bank"] == bank, Code.WRONG_STATUS,
                    f"voucher {voucher} is not locked for financing at {bank}")
        _unlock(ctx, v, "declined")

    def finance(self, ctx: Context, voucher: str, registration_no: str, advance: int) -> None:
        """The bank finances a voucher locked to it: it pays `advance` and becomes the holder."""
        bank = parties.require_kind(ctx, BANK, "a bank")
        v = _voucher(ctx, voucher)
        _refuse_double_financing(ctx, v, bank, applying=False)
        ctx.require(v["status"] == "locked", Code.WRONG_STATUS,
                    f"voucher {voucher} is {v['status']}: its holder has not applied for financing at {bank}")
        ctx.require(ctx.time_ns < v["maturity_ns"], Code.VOUCHER_MATURED, f"voucher {voucher} has matured")
        ctx.require(bool(_REGISTRATION.match(registration_no)), Code.BAD_ARGUMENTS,
                    "registration_no must be the 4-64 character number (letters, digits, '-') of the financing "
                    "registration")
        used = ctx.get(f"reg/{registration_no}")
        if used is not None:
            ctx.alert("double_financing", voucher=voucher, bank=bank, registration_no=registration_no,
                      reason=f"registration already used for voucher {used}")
            ctx.require(False, Code.DOUBLE_FINANCING, f"registration {registration_no} already finances voucher {used}")
        ctx.require(0 < advance <= v["amount"], Code.BAD_ARGUMENTS,
                    f"advance must be positive and at most the face value {v['amount']}")
        applicant = v["financing"]["applicant"]
        v["financing"].update(bank_account=ctx.sender, registration_no=registration_no, advance=advance,
                              financed_height=ctx.height)
        v.update(status="financed", holder=ctx.sender, previous=applicant)
        _save(ctx, v)
        ctx.put(f"reg/{registration_no}", voucher)
        _hold(ctx, ctx.sender, voucher)
        ctx.emit("financed", voucher=voucher, bank=bank, applicant=applicant, registration_no=registration_no,
                 advance=advance, amount=v["amount"], currency=v["currency"])

    # -- maturity --------------------------------------------------------------------------

    def settle(self, ctx: Context, voucher: str, payment_ref: str) -> Any:
        """The obligor pays at maturity: every current holder of a live piece, totalling the face value."""
        root = _voucher(ctx, voucher)
        ctx.require(root["root"] == root["id"], Code.BAD_ARGUMENTS, f"settle the root voucher {root['root']}")
        ctx.require(parties.party_of(ctx) == root["obligor"], Code.NOT_AUTHORIZED,
                    f"only the obligor {root['obligor']} settles voucher {voucher}")
        ctx.require(0 < len(payment_ref) <= _PAYMENT_REF_CHARS, Code.BAD_ARGUMENTS,
                    f"payment_ref (the payment's reference) must be 1-{_PAYMENT_REF_CHARS} characters")
        ctx.require(ctx.time_ns >= root["maturity_ns"], Code.NOT_MATURED, f"voucher {voucher} has not matured")
        ctx.require(root["status"] not in ("issued", "rejected") and "settlement" not in root, Code.WRONG_STATUS,
                    f"voucher {voucher} is {root['status']}: nothing to settle")
        payouts = []
        for piece in _live_pieces(ctx, root):
            payouts.append({"voucher": piece["id"], "holder": piece["holder"], "amount": piece["amount"]})
            piece["status"] = "settled"
            if piece is not root:
                _save(ctx, piece)
        total = sum(p["amount"] for p in payouts)
        ctx.require(total == root["amount"], Code.INTERNAL, f"payouts total {total}, face value {root['amount']}")
        root["settlement"] = {"payment_ref": payment_ref, "height": ctx.height, "time_ns": ctx.time_ns,
                              "payouts": payouts}
        _save(ctx, root)
        ctx.emit("settled", voucher=voucher, payment_ref=payment_ref, total=total, currency=root["currency"],
                 pieces=len(payouts))
        return payouts

    def mark_overdue(self, ctx: Context, voucher: str) -> Any:
        """Anyone may record that a root voucher was not paid by maturity plus the grace period."""
        root = _voucher(ctx, voucher)
        ctx.require(root["root"] == root["id"], Code.BAD_ARGUMENTS, f"mark the root voucher {root['root']}")
        grace = _int_param(ctx, "scf.grace_days", DEFAULT_GRACE_DAYS)
        ctx.require(ctx.time_ns >= root["maturity_ns"] + grace * DAY_NS, Code.NOT_MATURED,
                    f"voucher {voucher} is not overdue before maturity plus {grace} grace days")
        ctx.require(root["status"] not in ("issued", "rejected") and "settlement" not in root
                    and "overdue_height" not in root, Code.WRONG_STATUS, f"voucher {voucher} cannot become overdue")
        marked = []
        for piece in _live_pieces(ctx, root):
            piece["status"] = "overdue"
            if piece is not root:
                _save(ctx, piece)
            marked.append(piece["id"])
        root["overdue_height"] = ctx.height
        _save(ctx, root)
        ctx.emit("overdue", voucher=voucher, obligor=root["obligor"], amount=root["amount"], pieces=len(marked))
        return marked

    def recourse(self, ctx: Context, voucher: str) -> Any:
        """The holder of an overdue piece claims from whoever passed it on (a bank: from its applicant)."""
        v = _held_by_caller(ctx, voucher)
        ctx.require(v["status"] == "overdue", Code.WRONG_STATUS, f"voucher {voucher} is {v['status']}, not overdue")
        ctx.require(bool(v["previous"]), Code.WRONG_STATUS,
                    f"voucher {voucher} came straight from its obligor: no prior holder to claim from")
        v["status"] = "recourse"
        v["recourse"] = {"against": v["previous"], "height": ctx.height}
        _save(ctx, v)
        ctx.emit("recourse", voucher=voucher, holder=ctx.sender, against=v["previous"], amount=v["amount"],
                 currency=v["currency"])
        return v["previous"]

    # -- views -----------------------------------------------------------------------------

    @view
    def voucher(self, ctx: Context, id: str) -> Any:
        """One voucher, with `matured` judged at the latest block's time."""
        v = _voucher(ctx, id)
        v["matured"] = ctx.time_ns >= v["maturity_ns"]
        return v

    @view
    def tree(self, ctx: Context, id: str) -> Any:
        """A root voucher and all its descendants, parents before children."""
        root = _voucher(ctx, id)
        out, queue = [], [root]
        while queue:
            v = queue.pop(0)
            out.append(v)
            queue.extend(_voucher(ctx, c) for c in v["children"])
        return out

    @view
    def holdings(self, ctx: Context, account: str, start: int = 0, limit: int = 100) -> Any:
        """The live vouchers an account holds, looking at its index entries `start` to
        `start + limit`; continue from `next` while it is below `count`."""
        ctx.require(start >= 0 and 0 < limit <= MAX_PAGE, Code.BAD_ARGUMENTS, f"start >= 0 and limit 1-{MAX_PAGE}")
        count = ctx.get(f"held/{account}", 0)
        end = min(count, start + limit)
        vouchers = []
        for i in range(start, end):
            v = _voucher(ctx, ctx.get(f"held/{account}/{i}"))
            if v["holder"] == account and v["status"] not in DEAD:
                vouchers.append(v)
        return {"vouchers": vouchers, "next": end, "count": count}

    @view
    def document(self, ctx: Context, hash: bytes) -> Any:
        """The voucher a trade document backs, or None."""
        return ctx.get(f"doc/{hash.hex()}")

    @view
    def party(self, ctx: Context, party: str) -> Any:
        """A registered party and its kinds, or None."""
        return parties.entry(ctx, party)

    @view
    def parties(self, ctx: Context) -> Any:
        """Every registered party."""
        return parties.listing(ctx)

    @view
    def limits(self, ctx: Context) -> Any:
        """The governance parameters in force."""
        return {"max_term_days": _max_term_days(ctx),
                "grace_days": _int_param(ctx, "scf.grace_days", DEFAULT_GRACE_DAYS)}


# -- helpers --------------------------------------------------------------------------------


def _new_voucher(ctx: Context, *, parent: dict[str, Any] | None, holder: str, amount: int) -> dict[str, Any]:
    """A fresh voucher record; a child inherits everything that defines the debt."""
    seq = ctx.get("seq", 0) + 1
    ctx.put("seq", seq)
    voucher = {
        "id": f"V{seq:08d}", "root": "", "parent": "", "children": [], "obligor": "", "obligor_account": "",
        "holder": holder, "previous": "", "tier": 1, "amount": amount, "currency": "", "maturity_ns": 0,
        "document": b"", "status": "accepted", "created_height": ctx.height, "pieces": 1,
    }
    if parent is not None:
        for field in ("root", "obligor", "obligor_account", "previous", "tier", "currency", "maturity_ns", "document"):
            voucher[field] = parent[field]
        voucher["parent"] = parent["id"]
        voucher["pieces"] = 0  # counted on the root only
    return voucher


def _voucher(ctx: Context, vid: str) -> dict[str, Any]:
    v = ctx.get(f"v/{vid}") if vid else None
    ctx.require(v is not None, Code.NOT_FOUND, f"no voucher {vid!r}")
    return v


def _save(ctx: Context, v: dict[str, Any]) -> None:
    ctx.put(f"v/{v['id']}", v)


def _held_by_caller(ctx: Context, vid: str) -> dict[str, Any]:
    v = _voucher(ctx, vid)
    ctx.require(v["holder"] == ctx.sender, Code.NOT_AUTHORIZED, f"voucher {vid} is held by {v['holder']}, not the sender")
    return v


def _require_movable(ctx: Context, v: dict[str, Any]) -> None:
    """Split, transfer and financing applications need a live, unlocked, unmatured, accepted voucher."""
    vid, status = v["id"], v["status"]
    ctx.require(status != "split", Code.VOUCHER_CONSUMED, f"voucher {vid} was split into {', '.join(v['children'])}")
    ctx.require(status not in ("locked", "financed"), Code.VOUCHER_LOCKED, f"voucher {vid} is {status}: it cannot move")
    ctx.require(ctx.time_ns < v["maturity_ns"], Code.VOUCHER_MATURED, f"voucher {vid} has matured: it cannot move")
    ctx.require(status == "accepted", Code.WRONG_STATUS, f"voucher {vid} is {status}, not accepted")


def _refuse_double_financing(ctx: Context, v: dict[str, Any], bank: str, *, applying: bool) -> None:
    """A voucher is financed once: alert the regulator on any second attempt, then refuse it.
    A second attempt is an application to a locked or financed voucher, or a bank financing one
    that is financed, or locked to another bank; or either on a consumed (split) voucher."""
    vid, status = v["id"], v["status"]
    financing = v.get("financing")
    if status == "split":
        ctx.alert("double_financing", voucher=vid, bank=bank, reason="consumed parent of " + ",".join(v["children"]))
        ctx.require(False, Code.VOUCHER_CONSUMED, f"voucher {vid} was split: its value lives in its pieces")
    if status == "financed" or (status == "locked" and (applying or financing["bank"] != bank)):
        ctx.alert("double_financing", voucher=vid, bank=bank, existing_bank=financing["bank"], reason=status)
        ctx.require(False, Code.DOUBLE_FINANCING, f"voucher {vid} is already {status} at {financing['bank']}")


def _unlock(ctx: Context, v: dict[str, Any], how: str) -> None:
    bank = v["financing"]["bank"]
    v["status"] = "accepted"
    del v["financing"]
    _save(ctx, v)
    ctx.emit("financing_" + how, voucher=v["id"], bank=bank)


def _live_pieces(ctx: Context, root: dict[str, Any]) -> list[dict[str, Any]]:
    """The leaves of a voucher's tree that are still owed (depth first, in split order)."""
    out, stack = [], [root]
    while stack:
        v = stack.pop()
        if v["status"] == "split":
            stack.extend(_voucher(ctx, c) for c in reversed(v["children"]))
        elif v["status"] in LIVE:
            out.append(v)
    return out


def _hold(ctx: Context, account: str, vid: str) -> None:
    """Add a voucher to the account's holdings index, once."""
    if ctx.has(f"seen/{account}/{vid}"):
        return
    count = ctx.get(f"held/{account}", 0)
    ctx.put(f"held/{account}/{count}", vid)
    ctx.put(f"held/{account}", count + 1)
    ctx.put(f"seen/{account}/{vid}", True)


def _max_term_days(ctx: Context) -> int:
    """The term limit in force: the governance parameter, never above twelve months."""
    return min(_int_param(ctx, "scf.max_term_days", MAX_TERM_DAYS), MAX_TERM_DAYS)


def _int_param(ctx: Context, name: str, default: int) -> int:
    value = ctx.param(name, default)
    ctx.require(type(value) is int and value >= 0, Code.INTERNAL, f"governance parameter {name} must be an integer >= 0")
    return value
