"""Who may act, and on what: access rules, frozen accounts and the negative list.

Three checks run at admission, for every transaction, after the identity check says
which account acts (and its organisation, jurisdiction and role) and before the nonce
is consumed, so a refused transaction changes nothing:

1. **negative list** (blacklist): an entry names an account (`bc1...`) or a whole
   organisation (`org:<name>`); their transactions are refused (BLACKLISTED). Each
   entry records its reason, its author (a proposal, or the regulator who listed it)
   and the height and time.
2. **frozen accounts**: refused with ACCOUNT_FROZEN. A committee freeze (a passed
   proposal) lasts until a committee unfreeze. A regulator's **expedited freeze** — the
   emergency path the genesis grants to the accounts in `app_state.policy.regulators` —
   takes effect in the next block without a vote and lapses after
   `policy.expedited_freeze_ns` (default 72 hours) unless the committee confirms it.
3. **access rules**: a rule on `<contract>.<method>` (or `<contract>.*` for every
   method) lists the roles, organisations and jurisdictions allowed; an empty list
   allows any. The method's own rule wins over the contract's. A caller outside the
   rule is refused (PERMISSION_DENIED). Rules apply to the method a transaction calls;
   governed methods are reached only through proposals and are not subject to them.

Everything here changes only through proposals (`@governed`), except the regulators'
expedited freeze, listing and unlisting, which are on chain and audited like any
transaction (`policy.*` events; `regulator_actions` lists them).

Admission costs one state read (`counts`) while the lists are empty, a few otherwise.

Storage (state keys `c/policy/<key>`):

    counts              {"blacklisted", "frozen", "rules"}: sizes, so admission skips empty lists
    regulators          accounts with the expedited powers (genesis)
    black/<entity>      {"entity", "reason", "author", "source" (committee | regulator), "height", "time_ns", "tx"}
    frozen/<account>    {"account", "reason", "author", "source", "height", "time_ns", "until_ns" (0: no end), "tx"}
    rule/<contract>/<method or *>   {"contract", "method", "roles", "organisations", "jurisdictions", "author", "height"}
    actions/<seq:010d>  a regulator's action: {"seq", "action", "target", "reason", "author", "height", "time_ns", "tx"}
    action_count
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping


from baychain import encoding
from baychain.contracts.base import Contract, governed, view
from baychain.contracts.context import END_OF_TIME, Caller, Context, contract_key
from baychain.crypto.suites import is_address
from baychain.errors import BaychainError, Code

NAME = "policy"
JURISDICTIONS = ("GD", "HK", "MO")
ROLES = ("member", "regulator", "auditor")
DEFAULT_EXPEDITED_NS = 72 * 3600 * 10**9
MAX_REASON = 500
MAX_LIST = 64
MAX_PAGE = 200
UNGOVERNABLE = ("governance", "policy")  # rules here could lock the committee out of its own chain
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")

Reader = Callable[[bytes], "bytes | None"]
_COUNTS = contract_key(NAME, "counts")


class Policy(Contract):
    """Access rules per contract and method, account freezes and the negative list."""

    name = NAME

    # -- the committee's powers ---------------------------------------------------------------

    @governed
    def freeze(self, ctx: Context, account: str, reason: str) -> None:
        """Freeze an account until the committee unfreezes it (confirms a regulator's expedited freeze)."""
        _put_freeze(ctx, account, reason, "committee", until_ns=0)

    @governed
    def unfreeze(self, ctx: Context, account: str) -> None:
        """Lift any freeze of an account."""
        _lift_freeze(ctx, account)

    @governed
    def blacklist(self, ctx: Context, entity: str, reason: str) -> None:
        """Put an account (bc1...) or an organisation (org:<name>) on the negative list."""
        _put_black(ctx, entity, reason, "committee")

    @governed
    def unblacklist(self, ctx: Context, entity: str) -> None:
        """Take an entity off the negative list."""
        _remove_black(ctx, entity)

    @governed
    def set_rule(self, ctx: Context, contract: str, method: str, roles: list, organisations: list, jurisdictions: list) -> None:
        """Allow `contract.method` (method "*": every method) only to callers with one of the roles,
        organisations and jurisdictions listed (an empty list allows any)."""
        ctx.require(bool(_NAME.match(contract)) and (method == "*" or bool(_NAME.match(method))), Code.BAD_ARGUMENTS,
                    "contract and method are lowercase names (method '*' means every method)")
        ctx.require(contract not in UNGOVERNABLE, Code.NOT_AUTHORIZED, f"the {contract} contract cannot be restricted by rules")
        try:
            ctx.method_of(contract, method)
        except BaychainError as exc:  # "*" names no method, but its contract must exist
            if exc.code != Code.UNKNOWN_METHOD or method != "*":
                raise
        for label, values, allowed in (("roles", roles, ROLES), ("jurisdictions", jurisdictions, JURISDICTIONS)):
            ctx.require(all(v in allowed for v in values), Code.BAD_ARGUMENTS, f"{label}: each one of {', '.join(allowed)}")
        ctx.require(all(type(o) is str and 0 < len(o) <= 200 for o in organisations), Code.BAD_ARGUMENTS,
                    "organisations: names of 1-200 characters")
        ctx.require(max(len(roles), len(organisations), len(jurisdictions)) <= MAX_LIST, Code.LIMIT_EXCEEDED,
                    f"at most {MAX_LIST} entries per list")
        key = f"rule/{contract}/{method}"
        if not ctx.has(key):
            _count(ctx, "rules", +1)
        ctx.put(key, {"contract": contract, "method": method, "roles": sorted(roles),
                      "organisations": sorted(organisations), "jurisdictions": sorted(jurisdictions),
                      "author": _author(ctx), "height": ctx.height})
        ctx.emit("rule_set", contract=contract, method=method, roles=",".join(sorted(roles)),
                 organisations=",".join(sorted(organisations)), jurisdictions=",".join(sorted(jurisdictions)))

    @governed
    def clear_rule(self, ctx: Context, contract: str, method: str) -> None:
        """Remove the rule on `contract.method` (or `contract.*`)."""
        key = f"rule/{contract}/{method}"
        ctx.require(ctx.has(key), Code.NOT_FOUND, f"no rule on {contract}.{method}")
        ctx.delete(key)
        _count(ctx, "rules", -1)
        ctx.emit("rule_cleared", contract=contract, method=method)

    # -- the regulators' expedited powers (granted by the genesis) ---------------------------------------

    def expedite_freeze(self, ctx: Context, account: str, reason: str) -> Any:
        """Freeze an account at once (regulators only); it lapses after policy.expedited_freeze_ns
        unless a proposal confirms it with policy.freeze."""
        _require_regulator(ctx)
        period = ctx.param("policy.expedited_freeze_ns", DEFAULT_EXPEDITED_NS)
        ctx.require(type(period) is int and period > 0, Code.INTERNAL, "policy.expedited_freeze_ns must be a positive int")
        until = ctx.time_ns + period
        _put_freeze(ctx, account, reason, "regulator", until_ns=until)
        _log_action(ctx, "freeze", account, reason)
        return {"account": account, "until_ns": until}

    def lift_expedited_freeze(self, ctx: Context, account: str) -> None:
        """Lift a regulator's expedited freeze early (regulators only; a committee freeze needs a proposal)."""
        _require_regulator(ctx)
        entry = ctx.get(f"frozen/{account}")
        ctx.require(entry is not None, Code.NOT_FOUND, f"{account} is not frozen")
        ctx.require(entry["source"] == "regulator", Code.NOT_AUTHORIZED,
                    f"{account} was frozen by the committee; only a proposal (policy.unfreeze) lifts it")
        _lift_freeze(ctx, account)
        _log_action(ctx, "unfreeze", account, "")

    def list_entity(self, ctx: Context, entity: str, reason: str) -> None:
        """Put an account or org:<name> on the negative list (regulators only)."""
        _require_regulator(ctx)
        _put_black(ctx, entity, reason, "regulator")
        _log_action(ctx, "blacklist", entity, reason)

    def unlist_entity(self, ctx: Context, entity: str) -> None:
        """Take a regulator's entry off the negative list (regulators only; a committee entry needs a proposal)."""
        _require_regulator(ctx)
        entry = ctx.get(f"black/{entity}")
        ctx.require(entry is not None, Code.NOT_FOUND, f"{entity} is not on the negative list")
        ctx.require(entry["source"] == "regulator", Code.NOT_AUTHORIZED,
                    f"{entity} was listed by the committee; only a proposal (policy.unblacklist) removes it")
        _remove_black(ctx, entity)
        _log_action(ctx, "unblacklist", entity, "")

    # -- views -------------------------------------------------------------------------------------

    @view
    def frozen(self, ctx: Context, account: str) -> Any:
        """An account's freeze (None if not frozen or lapsed)."""
        entry = ctx.get(f"frozen/{account}")
        return entry if entry is not None and _in_force(entry, ctx.time_ns) else None

    @view
    def listed(self, ctx: Context, entity: str) -> Any:
        """An entity's negative-list entry (None if not listed)."""
        return ctx.get(f"black/{entity}")

    @view
    def rule(self, ctx: Context, contract: str, method: str = "*") -> Any:
        """The rule on contract.method (or contract.*), None if there is none."""
        return ctx.get(f"rule/{contract}/{method}")

    @view
    def regulators(self, ctx: Context) -> Any:
        """The accounts with the expedited powers, and how long an expedited freeze lasts."""
        return {"regulators": ctx.get("regulators", []),
                "expedited_freeze_ns": ctx.param("policy.expedited_freeze_ns", DEFAULT_EXPEDITED_NS)}

    @view
    def regulator_actions(self, ctx: Context, start: int = 0, limit: int = 100) -> Any:
        """The regulators' own actions, oldest first: every expedited freeze, listing and lifting."""
        ctx.require(0 < limit <= MAX_PAGE and start >= 0, Code.BAD_ARGUMENTS, f"limit: 1-{MAX_PAGE}; start >= 0")
        count = ctx.get("action_count", 0)
        out = [ctx.get(f"actions/{seq:010d}") for seq in range(start, min(count, start + limit))]
        return {"actions": out, "next": start + len(out), "count": count}

    @view
    def check(self, ctx: Context, account: str, contract: str, method: str, organisation: str = "",
              jurisdiction: str = "", role: str = "") -> Any:
        """Would this caller be admitted to contract.method now? The code it would get, or 0."""
        try:
            admit_caller(Caller(account, organisation, jurisdiction, role), contract, method, ctx._read, ctx.time_ns)  # noqa: SLF001
        except BaychainError as exc:
            return {"admitted": False, **exc.to_dict()}
        return {"admitted": True, "code": 0}


# -- rules ----------------------------------------------------------------------------------------------


def _author(ctx: Context) -> str:
    return f"proposal:{ctx.proposal}" if ctx.proposal else ctx.sender


def _require_regulator(ctx: Context) -> None:
    ctx.require(ctx.sender in ctx.get("regulators", []), Code.NOT_AUTHORIZED,
                f"{ctx.sender} is not a regulator with expedited powers (app_state.policy.regulators)")


def _check_reason(ctx: Context, reason: str) -> None:
    ctx.require(0 < len(reason) <= MAX_REASON, Code.BAD_ARGUMENTS, f"a reason of 1-{MAX_REASON} characters is required")


def _count(ctx: Context, what: str, delta: int) -> None:
    counts = ctx.get("counts", {"blacklisted": 0, "frozen": 0, "rules": 0})
    counts[what] += delta
    ctx.put("counts", counts)


def _put_freeze(ctx: Context, account: str, reason: str, source: str, *, until_ns: int) -> None:
    ctx.require(is_address(account), Code.BAD_ARGUMENTS, f"{account!r} is not an account address (bc1...)")
    _check_reason(ctx, reason)
    key = f"frozen/{account}"
    existing = ctx.get(key)
    if existing is None:
        _count(ctx, "frozen", +1)
    elif _in_force(existing, ctx.time_ns):
        ctx.require(source == "committee" and existing["source"] == "regulator", Code.ALREADY_EXISTS,
                    f"{account} is already frozen ({existing['source']}, by {existing['author']})")
    ctx.put(key, {"account": account, "reason": reason, "author": _author(ctx), "source": source,
                  "height": ctx.height, "time_ns": ctx.time_ns, "until_ns": until_ns, "tx": ctx.tx_hash})
    ctx.emit("frozen", account=account, reason=reason, author=_author(ctx), source=source, until_ns=until_ns)


def _lift_freeze(ctx: Context, account: str) -> None:
    key = f"frozen/{account}"
    ctx.require(ctx.has(key), Code.NOT_FOUND, f"{account} is not frozen")
    ctx.delete(key)
    _count(ctx, "frozen", -1)
    ctx.emit("unfrozen", account=account, author=_author(ctx))


def _put_black(ctx: Context, entity: str, reason: str, source: str) -> None:
    ok = is_address(entity) or (entity.startswith("org:") and 0 < len(entity) - 4 <= 200)
    ctx.require(ok, Code.BAD_ARGUMENTS, f"entity {entity!r}: an account address (bc1...) or org:<organisation name>")
    _check_reason(ctx, reason)
    key = f"black/{entity}"
    ctx.require(not ctx.has(key), Code.ALREADY_EXISTS, f"{entity} is already on the negative list")
    _count(ctx, "blacklisted", +1)
    ctx.put(key, {"entity": entity, "reason": reason, "author": _author(ctx), "source": source,
                  "height": ctx.height, "time_ns": ctx.time_ns, "tx": ctx.tx_hash})
    ctx.emit("blacklisted", entity=entity, reason=reason, author=_author(ctx), source=source)


def _remove_black(ctx: Context, entity: str) -> None:
    key = f"black/{entity}"
    ctx.require(ctx.has(key), Code.NOT_FOUND, f"{entity} is not on the negative list")
    ctx.delete(key)
    _count(ctx, "blacklisted", -1)
    ctx.emit("unblacklisted", entity=entity, author=_author(ctx))


def _log_action(ctx: Context, action: str, target: str, reason: str) -> None:
    seq = ctx.get("action_count", 0)
    ctx.put(f"actions/{seq:010d}", {"seq": seq, "action": action, "target": target, "reason": reason,
                                     "author": ctx.sender, "height": ctx.height, "time_ns": ctx.time_ns, "tx": ctx.tx_hash})
    ctx.put("action_count", seq + 1)


def _in_force(freeze: Mapping[str, Any], time_ns: int) -> bool:
    return freeze["until_ns"] == 0 or time_ns < freeze["until_ns"]


# -- admission: the hook the application calls for every transaction --------------------------------------


def admit(caller: Caller, tx: Any, read: Reader, time_ns: int) -> tuple[int, int]:
    """Raise BLACKLISTED, ACCOUNT_FROZEN or PERMISSION_DENIED if the caller may not send `tx`;
    else the block times [since, until) over which that holds as long as nothing it read changes.
    (State values were written by `encoding.encode`: read with its native decoder, faster than cbor2's.)"""
    return admit_caller(caller, tx.contract, tx.method, read, time_ns)


def admit_caller(caller: Caller, contract: str, method: str, read: Reader, time_ns: int) -> tuple[int, int]:
    since = 0
    raw = read(_COUNTS)
    if raw is None:
        return since, END_OF_TIME
    counts = encoding.decode(raw, Code.INTERNAL)
    account = caller.account
    if counts["blacklisted"]:
        for entity in (account, f"org:{caller.organisation}" if caller.organisation else ""):
            entry = _get(read, f"black/{entity}") if entity else None
            if entry is not None:
                raise BaychainError(Code.BLACKLISTED, f"{entity} is on the negative list since height {entry['height']} "
                                                      f"(by {entry['author']}): {entry['reason']}")
    if counts["frozen"]:
        entry = _get(read, f"frozen/{account}")
        if entry is not None:
            if _in_force(entry, time_ns):
                until = f" until {entry['until_ns']} (expedited)" if entry["until_ns"] else ""
                raise BaychainError(Code.ACCOUNT_FROZEN, f"account {account} is frozen{until} by {entry['author']}: {entry['reason']}")
            since = entry["until_ns"]  # an expedited freeze that lapsed: it stays lapsed
    if counts["rules"] and contract not in UNGOVERNABLE:
        rule = _get(read, f"rule/{contract}/{method}") or _get(read, f"rule/{contract}/*")
        if rule is not None:
            for label, allowed, value in (("role", rule["roles"], caller.role),
                                          ("organisation", rule["organisations"], caller.organisation),
                                          ("jurisdiction", rule["jurisdictions"], caller.jurisdiction)):
                if allowed and value not in allowed:
                    raise BaychainError(Code.PERMISSION_DENIED,
                                        f"{contract}.{method} is open only to {label} {', '.join(allowed)}; "
                                        f"{account} has {label} {value or '(none: no certificate binding)'}")
    return since, END_OF_TIME


def _get(read: Reader, key: str) -> Any:
    raw = read(contract_key(NAME, key))
    return None if raw is None else encoding.decode(raw, Code.INTERNAL)


# -- genesis -----------------------------------------------------------------------------------------------


def genesis_state(app_state: Mapping[str, Any]) -> dict[bytes, bytes]:
    """`app_state.policy`: `regulators[]` (accounts granted the expedited freeze and listing),
    `blacklist[]` of {entity, reason} and `rules[]` of {contract, method, roles, organisations,
    jurisdictions} in force from block 1."""
    section = app_state.get("policy")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise _genesis_error("app_state.policy must be an object")
    regulators = section.get("regulators") or []
    if not isinstance(regulators, list) or not all(isinstance(a, str) and is_address(a) for a in regulators):
        raise _genesis_error("regulators must be a list of account addresses (bc1...)")
    storage: dict[str, Any] = {"regulators": sorted(set(regulators))}
    counts = {"blacklisted": 0, "frozen": 0, "rules": 0}
    for i, entry in enumerate(section.get("blacklist") or []):
        entity, reason = str(entry.get("entity", "")), str(entry.get("reason", ""))
        if not (is_address(entity) or entity.startswith("org:")) or not reason:
            raise _genesis_error(f"blacklist {i}: an entity (bc1... or org:<name>) and a reason")
        storage[f"black/{entity}"] = {"entity": entity, "reason": reason, "author": "genesis", "source": "committee",
                                      "height": 0, "time_ns": 0, "tx": b""}
        counts["blacklisted"] += 1
    for i, rule in enumerate(section.get("rules") or []):
        contract, method = str(rule.get("contract", "")), str(rule.get("method", "*"))
        if not _NAME.match(contract) or contract in UNGOVERNABLE or not (method == "*" or _NAME.match(method)):
            raise _genesis_error(f"rule {i}: contract and method (or '*') names")
        lists = {k: sorted(rule.get(k) or []) for k in ("roles", "organisations", "jurisdictions")}
        if not all(r in ROLES for r in lists["roles"]) or not all(j in JURISDICTIONS for j in lists["jurisdictions"]):
            raise _genesis_error(f"rule {i}: roles from {ROLES}, jurisdictions from {JURISDICTIONS}")
        storage[f"rule/{contract}/{method}"] = {"contract": contract, "method": method, **lists, "author": "genesis", "height": 0}
        counts["rules"] += 1
    storage["counts"] = counts
    return {contract_key(NAME, k): encoding.encode(v) for k, v in storage.items()}


def _genesis_error(message: str) -> BaychainError:
    return BaychainError(Code.BAD_REQUEST, f"genesis app_state.policy: {message}")
