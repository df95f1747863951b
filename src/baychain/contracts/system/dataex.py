"""Cross-boundary data exchange on chain: anchors, consent, filings, grants, transfers, audit.

Personal data never comes here. An organisation's data gateway (`baychain.gateway`)
keeps its records; the chain keeps what lets others trust them and what regulators
must see:

- **anchors**: the keyed hash (HMAC-SHA256 under a key only the owner holds) of a
  record, with the keyed hash of its subject, its data categories, owner and time.
  Without the owner's key neither can be matched against a dictionary of ID numbers.
- **consents**: a data subject (by keyed reference) allowed one recipient organisation
  to receive named data categories for one purpose until an expiry; withdrawal is a
  new fact on the same record, and every later transfer sees it.
- **assessments** (personal-information impact assessments) and **filings** (the GBA
  standard-contract filing: reference, assessment, purpose, categories, retention,
  recipient organisation and jurisdiction). An assessment must exist before its
  filing.
- **grants**: an organisation lets another verify its anchored records for a purpose.
- **transfers**: every attempt to send a record to another organisation, allowed or
  refused, with the rule that decided it. `transfer` never fails for a refused
  attempt: it records the refusal (and raises a regulator alert) and returns it, so
  the gateway learns the decision from the chain and the attempt stays on record.
- **audit log**: one numbered entry for every transfer attempt, every receipt of a
  transfer and every verification, provable like any state.

Jurisdiction rules are data: one policy per (source, destination) jurisdiction pair
(GD, HK, MO). The genesis defaults are `DEFAULT_POLICIES`, unless the genesis names
others (`app_state.dataex.policies`); after that only a passed committee proposal
changes them (`set_policy`, `@governed`).

A transfer is allowed only when, checked in this order at the block's time:
the recipient is a registered, active organisation of the GBA (RECIPIENT_OUTSIDE_GBA);
the record is anchored by the sender's organisation (NOT_FOUND); the pair's policy
allows it and none of its categories is denied there (POLICY_FORBIDS_TRANSFER);
a filing for that recipient and purpose covers the categories (FILING_MISSING) and
names an assessment that exists (ASSESSMENT_MISSING); and a consent of the subject
for that recipient and purpose covers the categories and is neither withdrawn
(CONSENT_WITHDRAWN) nor expired (CONSENT_EXPIRED), else CONSENT_MISSING.

Storage (state keys `c/dataex/<key>`):

    anchor/<digest hex>        {"digest", "subject", "categories", "schema", "organisation",
                                "jurisdiction", "account", "height", "time_ns", "tx"}
    consent/<id>               {"id", "organisation", "subject", "recipient", "purpose", "categories",
                                "expiry_ns", "reference", "height", "time_ns", "withdrawn"}
    consents/<org>/<subject hex>   consent ids of one subject at one organisation
    assessment/<id>            {"id", "organisation", "reference", "digest", "recipient", "purpose",
                                "categories", "height", "time_ns"}
    filing/<id>                {"id", "organisation", "jurisdiction", "reference", "assessment", "purpose",
                                "categories", "retention_days", "recipient", "recipient_jurisdiction",
                                "height", "time_ns", "withdrawn"}
    filings/<org>/<recipient>  filing ids of one (organisation, recipient) pair
    grant/<id>                 {"id", "grantor", "grantee", "purpose", "categories", "expiry_ns",
                                "height", "time_ns", "revoked"}
    grants/<grantor>/<grantee> grant ids of one pair
    transfer/<id>              {"id", "source", "source_jurisdiction", "recipient", "recipient_jurisdiction",
                                "record", "subject", "categories", "purpose", "filing", "consent",
                                "allowed", "code", "reason", "retention_days", "height", "time_ns",
                                "tx", "received"}
    audit/<seq>                {"seq", "kind" (transfer | receipt | verification), "organisation",
                                "counterparty", "ref", "purpose", "outcome", "code", "reason",
                                "height", "time_ns", "tx"}
    policy/<src>/<dst>         a policy set by governance (else DEFAULT_POLICIES)
    next/<kind>                the next id of consents, assessments, filings, grants, transfers, audit
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baychain import encoding
from baychain.contracts.base import Contract, governed, view
from baychain.contracts.context import Context, contract_key
from baychain.errors import BaychainError, Code

NAME = "dataex"
GBA = ("GD", "HK", "MO")
MAX_LIST = 64  # consents per subject, filings and grants per pair
MAX_TEXT = 200
MAX_CATEGORIES = 16
MAX_PAGE = 200
DAY_NS = 86_400 * 10**9

_CROSS = {"allowed": True, "filing": True, "assessment": True, "consent": True,
          "max_retention_days": 1825, "denied_categories": []}
_LOCAL = {"allowed": True, "filing": False, "assessment": False, "consent": True,
          "max_retention_days": 1825, "denied_categories": []}
_LAW = {
    "GD": "PIPL art. 38-39 and the GBA standard contract: filing, impact assessment, separate consent",
    "HK": "PDPO: use for a new purpose needs the subject's consent (DPP3)",
    "MO": "Macao Law 8/2005 art. 19-20: transfer with consent or the regulator's authorisation",
}
DEFAULT_POLICIES: dict[str, dict[str, Any]] = {
    f"{src}/{dst}": {**(_LOCAL if src == dst else _CROSS), "law": _LAW[src]} for src in GBA for dst in GBA
}
"""The genesis policies by "<source>/<destination>": every cross-boundary pair needs a
filing, an assessment and consent; a transfer inside one jurisdiction needs consent."""

_POLICY_FIELDS: dict[str, type] = {"allowed": bool, "filing": bool, "assessment": bool, "consent": bool,
                                   "max_retention_days": int, "denied_categories": list, "law": str}


class Refused(Exception):
    """A transfer or verification rule that did not hold: recorded, not raised to the caller."""

    def __init__(self, code: Code, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class DataExchange(Contract):
    """Anchors, consents, assessments, filings, grants and audited transfers of off-chain records."""

    name = NAME

    # -- anchors -------------------------------------------------------------------------------

    def anchor(self, ctx: Context, digest: bytes, subject: bytes, categories: list, schema: str = "") -> Any:
        """Anchor the keyed hash of a record (and of its subject) for the sender's organisation."""
        org = _organisation(ctx)
        _require_ref(ctx, digest, "digest")
        _require_ref(ctx, subject, "subject")
        cats = _categories(ctx, categories)
        _text(ctx, schema, "schema", empty=True)
        ctx.require(not ctx.has(_anchor_key(digest)), Code.ALREADY_EXISTS, f"record {digest.hex()} is already anchored")
        record = {"digest": digest, "subject": subject, "categories": cats, "schema": schema, "organisation": org,
                  "jurisdiction": ctx.jurisdiction, "account": ctx.sender, "height": ctx.height,
                  "time_ns": ctx.time_ns, "tx": ctx.tx_hash}
        ctx.put(_anchor_key(digest), record)
        ctx.emit("anchored", digest=digest, organisation=org)
        return {"digest": digest, "height": ctx.height, "time_ns": ctx.time_ns}

    # -- consent -------------------------------------------------------------------------------

    def consent(self, ctx: Context, subject: bytes, recipient: str, purpose: str, categories: list,
                expiry_ns: int, reference: str = "") -> Any:
        """Record a subject's consent (obtained by the sender's organisation) to a transfer."""
        org = _organisation(ctx)
        _require_ref(ctx, subject, "subject")
        _text(ctx, recipient, "recipient")
        _text(ctx, purpose, "purpose")
        _text(ctx, reference, "reference", empty=True)
        cats = _categories(ctx, categories)
        ctx.require(expiry_ns > ctx.time_ns, Code.BAD_ARGUMENTS, "a consent must expire after the block time")
        cid = _new(ctx, "consent", _consents_key(org, subject), {
            "organisation": org, "subject": subject, "recipient": recipient, "purpose": purpose, "categories": cats,
            "expiry_ns": expiry_ns, "reference": reference, "withdrawn": None})
        ctx.emit("consent", id=cid, organisation=org, recipient=recipient, purpose=purpose)
        return {"id": cid}

    def withdraw_consent(self, ctx: Context, id: int) -> None:
        """The subject withdrew the consent: every later transfer that needed it is refused."""
        _end(ctx, "consent", id, "organisation", "withdrawn")

    # -- assessments and filings -------------------------------------------------------------------

    def assess(self, ctx: Context, reference: str, digest: bytes, recipient: str, purpose: str, categories: list) -> Any:
        """Record a personal-information impact assessment (its reference and document hash)."""
        org = _organisation(ctx)
        _text(ctx, reference, "reference")
        _require_ref(ctx, digest, "digest")
        _text(ctx, recipient, "recipient")
        _text(ctx, purpose, "purpose")
        aid = _new(ctx, "assessment", "", {
            "organisation": org, "reference": reference, "digest": digest, "recipient": recipient, "purpose": purpose,
            "categories": _categories(ctx, categories)})
        ctx.emit("assessment", id=aid, organisation=org, recipient=recipient)
        return {"id": aid}

    def file(self, ctx: Context, reference: str, assessment: int, recipient: str, recipient_jurisdiction: str,
             purpose: str, categories: list, retention_days: int) -> Any:
        """Record a standard-contract filing for transfers to one recipient for one purpose.

        The recipient must be a registered GBA organisation in the jurisdiction named, the
        assessment must be the sender's own for the same recipient and purpose and cover
        the categories, and the pair's policy must allow the transfer and the retention."""
        org = _organisation(ctx)
        _text(ctx, reference, "reference")
        _text(ctx, purpose, "purpose")
        cats = _categories(ctx, categories)
        ctx.require(recipient_jurisdiction in GBA, Code.RECIPIENT_OUTSIDE_GBA,
                    f"{recipient_jurisdiction!r} is not a GBA jurisdiction (GD, HK, MO): onward transfer outside the GBA is not allowed")
        try:
            recipient_jurisdiction_on_chain = _gba_member(ctx, recipient)
        except Refused as refused:
            raise BaychainError(refused.code, refused.reason) from None
        ctx.require(recipient_jurisdiction_on_chain == recipient_jurisdiction, Code.BAD_ARGUMENTS,
                    f"{recipient} is registered in {recipient_jurisdiction_on_chain}, not {recipient_jurisdiction}")
        assessed = ctx.get(record_key("assessment", assessment)) if assessment > 0 else None
        ctx.require(assessed is not None and assessed["organisation"] == org, Code.ASSESSMENT_MISSING,
                    f"{org} has no impact assessment {assessment}: assess before filing")
        ctx.require(assessed["recipient"] == recipient and assessed["purpose"] == purpose, Code.PURPOSE_MISMATCH,
                    f"assessment {assessment} is for {assessed['recipient']} / {assessed['purpose']!r}")
        ctx.require(_covers(assessed["categories"], cats), Code.ASSESSMENT_MISSING,
                    f"assessment {assessment} does not cover the categories {cats}")
        policy = _policy(ctx, ctx.jurisdiction, recipient_jurisdiction)
        ctx.require(policy["allowed"], Code.POLICY_FORBIDS_TRANSFER,
                    f"the policy {ctx.jurisdiction}->{recipient_jurisdiction} allows no transfers")
        ctx.require(0 < retention_days <= policy["max_retention_days"], Code.POLICY_FORBIDS_TRANSFER,
                    f"retention must be 1-{policy['max_retention_days']} days for {ctx.jurisdiction}->{recipient_jurisdiction}")
        fid = _new(ctx, "filing", _pair_key("filings", org, recipient), {
            "organisation": org, "jurisdiction": ctx.jurisdiction, "reference": reference, "assessment": assessment,
            "purpose": purpose, "categories": cats, "retention_days": retention_days, "recipient": recipient,
            "recipient_jurisdiction": recipient_jurisdiction, "withdrawn": None})
        ctx.emit("filing", id=fid, organisation=org, recipient=recipient, reference=reference)
        return {"id": fid}

    def withdraw_filing(self, ctx: Context, id: int) -> None:
        """Withdraw a filing: transfers under it stop."""
        _end(ctx, "filing", id, "organisation", "withdrawn")

    # -- grants ------------------------------------------------------------------------------------

    def grant(self, ctx: Context, grantee: str, purpose: str, categories: list, expiry_ns: int) -> Any:
        """Let another organisation verify the sender organisation's records of these categories."""
        org = _organisation(ctx)
        _text(ctx, grantee, "grantee")
        _text(ctx, purpose, "purpose")
        cats = _categories(ctx, categories)
        ctx.require(expiry_ns > ctx.time_ns, Code.BAD_ARGUMENTS, "a grant must expire after the block time")
        gid = _new(ctx, "grant", _pair_key("grants", org, grantee), {
            "grantor": org, "grantee": grantee, "purpose": purpose, "categories": cats, "expiry_ns": expiry_ns,
            "revoked": None})
        ctx.emit("grant", id=gid, grantor=org, grantee=grantee, purpose=purpose)
        return {"id": gid}

    def revoke_grant(self, ctx: Context, id: int) -> None:
        """End a grant: later verifications under it are refused."""
        _end(ctx, "grant", id, "grantor", "revoked")

    # -- transfers and verifications (always recorded) ----------------------------------------------

    def transfer(self, ctx: Context, record: bytes, recipient: str, purpose: str) -> Any:
        """Decide and record an attempt to send an anchored record to `recipient` for `purpose`.

        Returns {"id", "allowed", "code", "reason", "audit"}; a refused attempt is recorded
        (and alerts the regulator) exactly like an allowed one."""
        org = _organisation(ctx)
        _require_ref(ctx, record, "record")
        _text(ctx, recipient, "recipient", empty=True)
        _text(ctx, purpose, "purpose")
        entry: dict[str, Any] = {
            "source": org, "source_jurisdiction": ctx.jurisdiction, "recipient": recipient,
            "recipient_jurisdiction": "", "record": record, "subject": b"", "categories": [], "purpose": purpose,
            "filing": 0, "consent": 0, "retention_days": 0}
        try:
            _decide_transfer(ctx, entry)
            code, reason = Code.OK, "allowed"
        except Refused as refused:
            code, reason = refused.code, refused.reason
        tid = _next(ctx, "transfer")
        entry.update({"id": tid, "allowed": code == Code.OK, "code": int(code), "reason": reason,
                      "height": ctx.height, "time_ns": ctx.time_ns, "tx": ctx.tx_hash, "received": None})
        ctx.put(record_key("transfer", tid), entry)
        seq = _audit(ctx, "transfer", org, recipient, _ref("transfer", tid), purpose, code, reason)
        outcome = "allowed" if code == Code.OK else "refused"
        ctx.emit("transfer", id=tid, source=org, recipient=recipient, outcome=outcome, code=int(code))
        if code != Code.OK:
            ctx.alert("transfer_refused", id=tid, source=org, recipient=recipient, code=code.name, reason=reason)
        return {"id": tid, "allowed": code == Code.OK, "code": int(code), "reason": reason, "audit": seq}

    def receive(self, ctx: Context, id: int) -> Any:
        """The recipient's gateway acknowledges that an allowed transfer arrived."""
        org = _organisation(ctx)
        record = _get(ctx, "transfer", id)
        ctx.require(record["recipient"] == org, Code.NOT_AUTHORIZED, f"transfer {id} is addressed to {record['recipient']}")
        ctx.require(record["allowed"], Code.TRANSFER_NOT_AUTHORISED, f"transfer {id} was refused: {record['reason']}")
        ctx.require(record["received"] is None, Code.ALREADY_EXISTS, f"transfer {id} was already received")
        record["received"] = {"height": ctx.height, "time_ns": ctx.time_ns, "tx": ctx.tx_hash}
        ctx.put(record_key("transfer", id), record)
        seq = _audit(ctx, "receipt", org, record["source"], _ref("transfer", id), record["purpose"], Code.OK, "received")
        ctx.emit("received", id=id, recipient=org, source=record["source"])
        return {"audit": seq}

    def verification(self, ctx: Context, requester: str, purpose: str, digest: bytes = b"") -> Any:
        """Decide and record a verification the sender's gateway was asked for.

        `digest` is the keyed hash of the presented record when it matched one of the
        organisation's anchors, empty when it matched none (a non-matching hash is never
        stored). Allowed only under a live grant to `requester` for `purpose` covering
        the anchor's categories. Returns {"allowed", "matched", "code", "reason", "audit",
        "anchored_height", "anchored_time_ns"}."""
        org = _organisation(ctx)
        _text(ctx, requester, "requester", empty=True)
        _text(ctx, purpose, "purpose")
        anchored = None
        if digest:
            _require_ref(ctx, digest, "digest")
            anchored = ctx.get(_anchor_key(digest))
            ctx.require(anchored is not None and anchored["organisation"] == org, Code.NOT_FOUND,
                        f"{digest.hex()} is not an anchor of {org}")
        try:
            _live_grant(ctx, org, requester, purpose, anchored["categories"] if anchored else [])
            code, reason = Code.OK, "matched" if anchored else "no match"
        except Refused as refused:
            code, reason = refused.code, refused.reason
        outcome = ("match" if anchored else "no-match") if code == Code.OK else "refused"
        seq = _audit(ctx, "verification", org, requester, digest.hex() if code == Code.OK else "", purpose, code, reason)
        ctx.emit("verification", organisation=org, requester=requester, outcome=outcome, audit=seq)
        answer = {"allowed": code == Code.OK, "matched": code == Code.OK and anchored is not None,
                  "code": int(code), "reason": reason, "audit": seq, "anchored_height": 0, "anchored_time_ns": 0}
        if code == Code.OK and anchored is not None:
            answer.update(anchored_height=anchored["height"], anchored_time_ns=anchored["time_ns"])
        return answer

    # -- jurisdiction rules ---------------------------------------------------------------------------

    @governed
    def set_policy(self, ctx: Context, source: str, destination: str, policy: dict) -> None:
        """Replace the policy of one (source, destination) jurisdiction pair (committee only)."""
        ctx.require(source in GBA and destination in GBA, Code.BAD_ARGUMENTS, "jurisdictions are GD, HK, MO")
        ctx.put(f"policy/{source}/{destination}", check_policy(policy))
        ctx.emit("policy", source=source, destination=destination, allowed=policy["allowed"])

    # -- views ------------------------------------------------------------------------------------------

    @view
    def policy(self, ctx: Context, source: str, destination: str) -> Any:
        """The policy in force for one jurisdiction pair."""
        ctx.require(source in GBA and destination in GBA, Code.BAD_ARGUMENTS, "jurisdictions are GD, HK, MO")
        return _policy(ctx, source, destination)

    @view
    def policies(self, ctx: Context) -> Any:
        """Every pair's policy, by "<source>/<destination>"."""
        return {f"{s}/{d}": _policy(ctx, s, d) for s in GBA for d in GBA}

    @view
    def anchored(self, ctx: Context, digest: bytes) -> Any:
        """The anchor of a keyed record hash."""
        record = ctx.get(_anchor_key(digest))
        ctx.require(record is not None, Code.NOT_FOUND, f"{digest.hex()} is not anchored")
        return record

    @view
    def record(self, ctx: Context, kind: str, id: int) -> Any:
        """One consent, assessment, filing, grant or transfer by id."""
        ctx.require(kind in ("consent", "assessment", "filing", "grant", "transfer"), Code.BAD_ARGUMENTS,
                    "kind is one of consent, assessment, filing, grant, transfer")
        return _get(ctx, kind, id)

    @view
    def consents(self, ctx: Context, organisation: str, subject: bytes) -> Any:
        """Every consent one organisation recorded for one subject reference."""
        return [ctx.get(record_key("consent", i)) for i in ctx.get(_consents_key(organisation, subject), [])]

    @view
    def audit_log(self, ctx: Context, start: int = 0, limit: int = 100, organisation: str = "") -> Any:
        """Audit entries from `start` on, optionally those naming `organisation` on either side."""
        ctx.require(0 < limit <= MAX_PAGE and start >= 0, Code.BAD_ARGUMENTS, f"limit: 1-{MAX_PAGE}; start >= 0")
        count = ctx.get("next/audit", 0)
        out, seq = [], start
        while seq < count and len(out) < limit:
            entry = ctx.get(record_key("audit", seq))
            if not organisation or organisation in (entry["organisation"], entry["counterparty"]):
                out.append(entry)
            seq += 1
        return {"entries": out, "next": seq, "count": count}


# -- the rules --------------------------------------------------------------------------------------


def _decide_transfer(ctx: Context, entry: dict[str, Any]) -> None:
    """Fill `entry` with what the rules found; raise Refused at the first rule that fails."""
    org, recipient, purpose = entry["source"], entry["recipient"], entry["purpose"]
    entry["recipient_jurisdiction"] = destination = _gba_member(ctx, recipient)
    anchored = ctx.get(_anchor_key(entry["record"]))
    if anchored is None or anchored["organisation"] != org:
        raise Refused(Code.NOT_FOUND, f"record {entry['record'].hex()} is not anchored by {org}")
    entry.update(subject=anchored["subject"], categories=anchored["categories"])
    cats = anchored["categories"]
    policy = _policy(ctx, ctx.jurisdiction, destination)
    pair = f"{ctx.jurisdiction}->{destination}"
    if not policy["allowed"]:
        raise Refused(Code.POLICY_FORBIDS_TRANSFER, f"the policy {pair} allows no transfers")
    denied = [c for c in cats if c in policy["denied_categories"]]
    if denied:
        raise Refused(Code.POLICY_FORBIDS_TRANSFER, f"the policy {pair} denies the categories {denied}")
    if policy["filing"] or policy["assessment"]:
        filing = _filing_for(ctx, org, recipient, purpose, cats)
        entry.update(filing=filing["id"], retention_days=filing["retention_days"])
        if filing["retention_days"] > policy["max_retention_days"]:
            raise Refused(Code.POLICY_FORBIDS_TRANSFER, f"filing {filing['id']} keeps data longer than {pair} allows")
        if policy["assessment"] and ctx.get(record_key("assessment", filing["assessment"])) is None:
            raise Refused(Code.ASSESSMENT_MISSING, f"filing {filing['id']} names no existing impact assessment")
    if policy["consent"]:
        entry["consent"] = _consent_for(ctx, org, anchored["subject"], recipient, purpose, cats)["id"]


def _gba_member(ctx: Context, organisation: str) -> str:
    """The jurisdiction of a registered, active GBA organisation; Refused otherwise."""
    try:
        org = ctx.call("identity", "organisation", name=organisation) if organisation else None
    except BaychainError:
        org = None
    if org is None or org.get("jurisdiction") not in GBA:
        raise Refused(Code.RECIPIENT_OUTSIDE_GBA, f"{organisation or 'the recipient'} is not a registered organisation of the GBA")
    if org.get("suspended"):
        raise Refused(Code.RECIPIENT_OUTSIDE_GBA, f"{organisation} is suspended from the consortium")
    return org["jurisdiction"]


def _filing_for(ctx: Context, org: str, recipient: str, purpose: str, cats: list[str]) -> dict[str, Any]:
    filings = [ctx.get(record_key("filing", i)) for i in ctx.get(_pair_key("filings", org, recipient), [])]
    live = [f for f in filings if f["withdrawn"] is None]
    for f in reversed(live):
        if f["purpose"] == purpose and _covers(f["categories"], cats):
            return f
    if any(f["purpose"] == purpose for f in live):
        raise Refused(Code.FILING_MISSING, f"no filing of {org} for {recipient} covers the categories {cats}")
    raise Refused(Code.FILING_MISSING, f"{org} has filed no standard contract for transfers to {recipient} for {purpose!r}")


def _consent_for(ctx: Context, org: str, subject: bytes, recipient: str, purpose: str, cats: list[str]) -> dict[str, Any]:
    """The live consent that covers the transfer; the most telling refusal otherwise."""
    consents = [ctx.get(record_key("consent", i)) for i in ctx.get(_consents_key(org, subject), [])]
    fitting = [c for c in consents if c["recipient"] == recipient and _covers(c["categories"], cats)]
    for c in reversed(fitting):
        if c["purpose"] == purpose and c["withdrawn"] is None and ctx.time_ns < c["expiry_ns"]:
            return c
    same = [c for c in fitting if c["purpose"] == purpose]
    if same and same[-1]["withdrawn"] is not None:  # the latest word of the subject decides what to report
        raise Refused(Code.CONSENT_WITHDRAWN, f"the subject withdrew consent to transfers to {recipient} for {purpose!r}")
    if same:
        raise Refused(Code.CONSENT_EXPIRED, f"the subject's consent to transfers to {recipient} for {purpose!r} expired")
    if fitting:
        raise Refused(Code.PURPOSE_MISMATCH, f"the subject consented to other purposes than {purpose!r}")
    raise Refused(Code.CONSENT_MISSING, f"no consent of the subject covers transfers of {cats} to {recipient}")


def _live_grant(ctx: Context, grantor: str, grantee: str, purpose: str, cats: list[str]) -> dict[str, Any]:
    grants = [ctx.get(record_key("grant", i)) for i in ctx.get(_pair_key("grants", grantor, grantee), [])] if grantee else []
    for g in reversed(grants):
        if (g["purpose"] == purpose and g["revoked"] is None and ctx.time_ns < g["expiry_ns"]
                and _covers(g["categories"], cats)):
            return g
    raise Refused(Code.GRANT_MISSING, f"{grantor} has granted {grantee or 'the requester'} no live access for {purpose!r}")


def check_policy(policy: Any) -> dict[str, Any]:
    """A policy in its stored form (denied categories sorted, unique), or BAD_ARGUMENTS."""
    if type(policy) is not dict or sorted(policy) != sorted(_POLICY_FIELDS):
        raise BaychainError(Code.BAD_ARGUMENTS, f"a policy has exactly the fields {sorted(_POLICY_FIELDS)}")
    for field, kind in _POLICY_FIELDS.items():
        if type(policy[field]) is not kind:
            raise BaychainError(Code.BAD_ARGUMENTS, f"policy field {field!r} must be {kind.__name__}")
    if policy["max_retention_days"] <= 0:
        raise BaychainError(Code.BAD_ARGUMENTS, "max_retention_days must be positive")
    denied = policy["denied_categories"]
    if len(denied) > MAX_CATEGORIES or not all(type(c) is str and 0 < len(c) <= 64 for c in denied):
        raise BaychainError(Code.BAD_ARGUMENTS, f"denied_categories: at most {MAX_CATEGORIES} names of 1-64 characters")
    if len(policy["law"]) > MAX_TEXT:
        raise BaychainError(Code.BAD_ARGUMENTS, f"law: at most {MAX_TEXT} characters")
    return dict(policy, denied_categories=sorted(dict.fromkeys(denied)))


def genesis_state(app_state: Mapping[str, Any]) -> dict[bytes, bytes]:
    """`app_state.dataex.policies`: {"<source>/<destination>": policy} replacing the built-in
    defaults of those pairs from block 1 (the chain's founders agree on them in the genesis)."""
    section = app_state.get("dataex")
    if section is None:
        return {}
    policies = section.get("policies") if isinstance(section, dict) else None
    if not isinstance(policies, dict) or sorted(section) != ["policies"]:
        raise _genesis_error('app_state.dataex is {"policies": {"<source>/<destination>": policy}}')
    out: dict[bytes, bytes] = {}
    for pair, policy in sorted(policies.items()):
        if pair not in DEFAULT_POLICIES:
            raise _genesis_error(f"{pair!r} is not a pair of GD, HK, MO (like \"GD/HK\")")
        try:
            out[contract_key(NAME, f"policy/{pair}")] = encoding.encode(check_policy(policy))
        except BaychainError as exc:
            raise _genesis_error(f"{pair}: {exc.message}") from None
    return out


def _genesis_error(message: str) -> BaychainError:
    return BaychainError(Code.BAD_REQUEST, f"genesis app_state.dataex: {message}")


def _policy(ctx: Context, source: str, destination: str) -> dict[str, Any]:
    stored = ctx.get(f"policy/{source}/{destination}")
    if stored is not None:
        return stored
    default = DEFAULT_POLICIES.get(f"{source}/{destination}")
    if default is None:  # the sender has no GBA jurisdiction (a chain without identity)
        return {**_CROSS, "allowed": False, "law": "no policy"}
    return dict(default)


# -- helpers ------------------------------------------------------------------------------------------


def _organisation(ctx: Context) -> str:
    ctx.require(bool(ctx.organisation) and ctx.jurisdiction in GBA, Code.PERMISSION_DENIED,
                "data exchange needs an account bound to a certificate of a GBA organisation")
    return ctx.organisation


def _audit(ctx: Context, kind: str, org: str, counterparty: str, ref: str, purpose: str, code: Code, reason: str) -> int:
    seq = _next(ctx, "audit", start=0)
    ctx.put(record_key("audit", seq), {
        "seq": seq, "kind": kind, "organisation": org, "counterparty": counterparty, "ref": ref, "purpose": purpose,
        "outcome": "allowed" if code == Code.OK else "refused", "code": int(code), "reason": reason,
        "height": ctx.height, "time_ns": ctx.time_ns, "tx": ctx.tx_hash})
    return seq


def _new(ctx: Context, kind: str, index: str, record: dict[str, Any]) -> int:
    """Store a new record of `kind` under the next id (and list it in `index`, if one is given)."""
    ids = ctx.get(index, []) if index else []
    per = "subject" if kind == "consent" else "pair of organisations"
    ctx.require(len(ids) < MAX_LIST, Code.LIMIT_EXCEEDED, f"at most {MAX_LIST} {kind}s per {per}")
    new_id = _next(ctx, kind)
    ctx.put(record_key(kind, new_id), {"id": new_id, **record, "height": ctx.height, "time_ns": ctx.time_ns})
    if index:
        ctx.put(index, [*ids, new_id])
    return new_id


def _end(ctx: Context, kind: str, id: int, owner_field: str, end_field: str) -> None:
    """Withdraw or revoke a record: by its own organisation, once; the moment is kept on it."""
    org = _organisation(ctx)
    record = _get(ctx, kind, id)
    ctx.require(record[owner_field] == org, Code.NOT_AUTHORIZED, f"{kind} {id} belongs to {record[owner_field]}")
    ctx.require(record[end_field] is None, Code.ALREADY_EXISTS, f"{kind} {id} is already {end_field}")
    record[end_field] = {"height": ctx.height, "time_ns": ctx.time_ns, "tx": ctx.tx_hash}
    ctx.put(record_key(kind, id), record)
    ctx.emit(f"{kind}_{end_field}", id=id, organisation=org)


def _next(ctx: Context, kind: str, start: int = 1) -> int:
    """The next id of a kind (records from 1, so 0 can mean "none"; audit entries from 0)."""
    value = ctx.get(f"next/{kind}", start)
    ctx.put(f"next/{kind}", value + 1)
    return value


def _get(ctx: Context, kind: str, id: int) -> dict[str, Any]:
    record = ctx.get(record_key(kind, id)) if id >= 0 else None
    ctx.require(record is not None, Code.NOT_FOUND, f"no {kind} {id}")
    return record


def _covers(allowed: list[str], wanted: list[str]) -> bool:
    return all(c in allowed for c in wanted)


def _categories(ctx: Context, categories: list, *, empty: bool = False) -> list[str]:
    ctx.require(all(type(c) is str and 0 < len(c) <= 64 for c in categories), Code.BAD_ARGUMENTS,
                "categories are non-empty strings of at most 64 characters")
    ctx.require(empty or len(categories) > 0, Code.BAD_ARGUMENTS, "name at least one data category")
    ctx.require(len(categories) <= MAX_CATEGORIES, Code.BAD_ARGUMENTS, f"at most {MAX_CATEGORIES} categories")
    return sorted(dict.fromkeys(categories))


def _require_ref(ctx: Context, value: bytes, what: str) -> None:
    ctx.require(len(value) == 32, Code.BAD_ARGUMENTS, f"{what} must be a 32-byte keyed hash")


def _text(ctx: Context, value: str, what: str, *, empty: bool = False) -> None:
    ctx.require((empty or len(value) > 0) and len(value) <= MAX_TEXT, Code.BAD_ARGUMENTS,
                f"{what} must be {'' if empty else 'non-empty and '}at most {MAX_TEXT} characters")


def _ref(kind: str, id: int) -> str:
    return f"{kind}/{id}"


def _anchor_key(digest: bytes) -> str:
    return f"anchor/{digest.hex()}"


def record_key(kind: str, id: int) -> str:
    """The storage key of a consent, assessment, filing, grant, transfer or audit entry."""
    return f"{kind}/{id:012d}"


def _consents_key(org: str, subject: bytes) -> str:
    return f"consents/{org}/{subject.hex()}"


def _pair_key(kind: str, a: str, b: str) -> str:
    return f"{kind}/{a}/{b}"
