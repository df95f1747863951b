"""Committee governance: members with weights decide by proposals and votes.

On a consortium chain nobody administers alone. Every power over the chain itself —
add or remove an organisation or a validator node, revoke a certificate, freeze an
account, deploy or disable a contract, change a parameter — is a `@governed` method
of some contract, and the only way to call one is a **proposal** of this committee
that passed:

- a member proposes a list of **actions** (`{"contract", "method", "args"}`, each a
  governed method; checked when proposed, so a typo fails at once);
- members vote yes or no. The committee (members and weights) and the thresholds are
  frozen into the proposal when it is made, so later changes cannot move a vote;
- after each vote: **passed** when the weight that voted reaches the participation
  threshold and the yes weight reaches the approval threshold of the weight that
  voted; **rejected** when, even if every remaining member voted yes, approval could
  not be reached; **expired** when its voting period (block time) ends first;
- a passed proposal is **executed** in the same transaction as the deciding vote (or,
  with `governance.auto_execute` false, by an `execute` call before it expires). Its
  actions run in order, atomically: all of them apply or, if one fails, none does,
  and the proposal is **failed** with that action's error. Every node runs the same
  actions on the same state, so the outcome is deterministic; validator changes flow
  to the engine as validator updates of that block.

Thresholds are basis points (1/10,000), compared with integers only. The history —
every proposal, each vote with its height and time, the outcome — stays in state and
is queryable (`proposal`, `proposals`).

Parameters: `set_param` (governed) writes `param/<contract>.<name>`; contracts read
them with `ctx.param`. This contract's own: `governance.participation_bps` (default
6666: two thirds), `governance.approval_bps` (6666), `governance.voting_period_ns` (7 days),
`governance.auto_execute` (true).

Storage (state keys `c/governance/<key>`):

    members               {account: {"account", "organisation", "weight", "added_height"}}
    next_id               the next proposal id (ids start at 1)
    proposal/<id:010d>    {"id", "title", "description", "proposer", "actions", "weights", "total_weight",
                           "participation_bps", "approval_bps", "created_height", "created_time_ns",
                           "expires_at_ns", "votes": [{"account", "approve", "weight", "height", "time_ns"}],
                           "yes", "no", "status", "decided_height", "executed_height", "error", "results"}
    param/<name>          a parameter's value
    params                the names of the parameters ever set, sorted
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from baychain import encoding
from baychain.contracts.base import Contract, governed, view
from baychain.contracts.context import GOVERNANCE, PARAM_PREFIX, Context, contract_key
from baychain.crypto.suites import is_address
from baychain.errors import BaychainError, Code

NAME = "governance"
OPEN, PASSED, EXECUTED, FAILED, REJECTED, EXPIRED, CANCELLED = (
    "open", "passed", "executed", "failed", "rejected", "expired", "cancelled")
BPS = 10_000
DAY_NS = 86_400 * 10**9
DEFAULTS: dict[str, Any] = {
    "governance.participation_bps": 6666,
    "governance.approval_bps": 6666,
    "governance.voting_period_ns": 7 * DAY_NS,
    "governance.auto_execute": True,
}
MIN_PERIOD_NS = 10**9  # one second: tests and drills; a real committee sets days
MAX_PERIOD_NS = 90 * DAY_NS
MAX_MEMBERS = 64
MAX_WEIGHT = 1_000_000
MAX_ACTIONS = 16
MAX_TITLE = 200
MAX_DESCRIPTION = 2_000
MAX_PAGE = 200
PARAM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}\.[a-z][a-z0-9_.]{0,63}\Z")


def _proposal_key(pid: int) -> str:
    return f"proposal/{pid:010d}"


class Governance(Contract):
    """The consortium committee: proposals, weighted votes, deterministic execution, parameters."""

    name = NAME

    # -- proposals -------------------------------------------------------------------------

    def propose(self, ctx: Context, title: str, actions: list, description: str = "", voting_period_ns: int = 0) -> Any:
        """Propose governed actions ([{contract, method, args}], run in order if it passes).
        Members only; the proposer's vote is not implied."""
        members = _members(ctx)
        _require_member(ctx, members)
        ctx.require(0 < len(title) <= MAX_TITLE, Code.BAD_ARGUMENTS, f"title: 1-{MAX_TITLE} characters")
        ctx.require(len(description) <= MAX_DESCRIPTION, Code.BAD_ARGUMENTS, f"description: at most {MAX_DESCRIPTION} characters")
        ctx.require(0 < len(actions) <= MAX_ACTIONS, Code.BAD_ARGUMENTS, f"a proposal has 1-{MAX_ACTIONS} actions")
        checked = [_check_action(ctx, i, a) for i, a in enumerate(actions)]
        period = voting_period_ns or _param(ctx, "governance.voting_period_ns")
        ctx.require(MIN_PERIOD_NS <= period <= MAX_PERIOD_NS, Code.BAD_ARGUMENTS,
                    f"voting_period_ns must be {MIN_PERIOD_NS} to {MAX_PERIOD_NS}")
        pid = ctx.get("next_id", 1)
        weights = {a: m["weight"] for a, m in sorted(members.items())}
        proposal = {
            "id": pid, "title": title, "description": description, "proposer": ctx.sender, "actions": checked,
            "weights": weights, "total_weight": sum(weights.values()),
            "participation_bps": _param(ctx, "governance.participation_bps"),
            "approval_bps": _param(ctx, "governance.approval_bps"),
            "created_height": ctx.height, "created_time_ns": ctx.time_ns, "expires_at_ns": ctx.time_ns + period,
            "votes": [], "yes": 0, "no": 0, "status": OPEN, "decided_height": 0, "executed_height": 0,
            "error": None, "results": [],
        }
        ctx.put(_proposal_key(pid), proposal)
        ctx.put("next_id", pid + 1)
        ctx.emit("proposed", id=pid, proposer=ctx.sender, title=title,
                 actions=",".join(f"{a['contract']}.{a['method']}" for a in checked), expires_at_ns=proposal["expires_at_ns"])
        return {"id": pid, "expires_at_ns": proposal["expires_at_ns"]}

    def vote(self, ctx: Context, id: int, approve: bool) -> Any:
        """Vote on an open proposal (members of its committee, once each). The deciding vote
        passes or rejects it; a passed proposal executes at once unless auto_execute is off."""
        proposal = _open_proposal(ctx, id)
        weight = proposal["weights"].get(ctx.sender)
        ctx.require(weight is not None, Code.NOT_A_MEMBER,
                    f"{ctx.sender} is not a member of the committee that votes on proposal {id}")
        ctx.require(all(v["account"] != ctx.sender for v in proposal["votes"]), Code.ALREADY_VOTED,
                    f"{ctx.sender} has already voted on proposal {id}")
        proposal["votes"].append({"account": ctx.sender, "approve": approve, "weight": weight,
                                  "height": ctx.height, "time_ns": ctx.time_ns})
        proposal["yes" if approve else "no"] += weight
        ctx.emit("voted", id=id, account=ctx.sender, approve=approve, weight=weight)
        outcome = _tally(proposal)
        if outcome != OPEN:
            proposal["status"] = outcome
            proposal["decided_height"] = ctx.height
            ctx.emit(outcome, id=id, yes=proposal["yes"], no=proposal["no"])
            if outcome == PASSED and _param(ctx, "governance.auto_execute"):
                _execute(ctx, proposal)
        ctx.put(_proposal_key(id), proposal)
        return _summary(proposal)

    def execute(self, ctx: Context, id: int) -> Any:
        """Execute a passed proposal that has not run yet (when auto_execute is off); members only."""
        _require_member(ctx, _members(ctx))
        proposal = _proposal(ctx, id)
        status = _status(proposal, ctx.time_ns)
        ctx.require(status != EXPIRED, Code.PROPOSAL_EXPIRED,
                    f"proposal {id} expired at {proposal['expires_at_ns']} without passing; it can no longer run")
        ctx.require(status != OPEN, Code.PROPOSAL_NOT_PASSED,
                    f"proposal {id} has not passed yet ({proposal['yes']} of {proposal['total_weight']} weight approves)")
        ctx.require(status == PASSED, Code.PROPOSAL_CLOSED, _closed_message(proposal))
        _execute(ctx, proposal)
        ctx.put(_proposal_key(id), proposal)
        return _summary(proposal)

    def cancel(self, ctx: Context, id: int) -> None:
        """Withdraw an open proposal (its proposer only)."""
        proposal = _open_proposal(ctx, id)
        ctx.require(proposal["proposer"] == ctx.sender, Code.NOT_AUTHORIZED, f"only {proposal['proposer']} may cancel proposal {id}")
        proposal["status"] = CANCELLED
        proposal["decided_height"] = ctx.height
        ctx.put(_proposal_key(id), proposal)
        ctx.emit("cancelled", id=id, account=ctx.sender)

    # -- committee powers ----------------------------------------------------------------------

    @governed
    def add_member(self, ctx: Context, account: str, organisation: str, weight: int = 1) -> None:
        """Add a committee member."""
        members = _members(ctx)
        ctx.require(account not in members, Code.ALREADY_EXISTS, f"{account} is already a committee member")
        ctx.require(len(members) < MAX_MEMBERS, Code.LIMIT_EXCEEDED, f"at most {MAX_MEMBERS} committee members")
        members[account] = _check_member(account, organisation, weight, ctx.height)
        ctx.put("members", dict(sorted(members.items())))
        ctx.emit("member_added", account=account, organisation=organisation, weight=weight, proposal=ctx.proposal)

    @governed
    def remove_member(self, ctx: Context, account: str) -> None:
        """Remove a committee member (the committee keeps at least one)."""
        members = _members(ctx)
        ctx.require(account in members, Code.NOT_FOUND, f"{account} is not a committee member")
        ctx.require(len(members) > 1, Code.NOT_AUTHORIZED, "the committee must keep at least one member")
        del members[account]
        ctx.put("members", members)
        ctx.emit("member_removed", account=account, proposal=ctx.proposal)

    @governed
    def set_weight(self, ctx: Context, account: str, weight: int) -> None:
        """Change a member's voting weight."""
        members = _members(ctx)
        ctx.require(account in members, Code.NOT_FOUND, f"{account} is not a committee member")
        ctx.require(0 < weight <= MAX_WEIGHT, Code.BAD_ARGUMENTS, f"weight must be 1 to {MAX_WEIGHT}")
        members[account]["weight"] = weight
        ctx.put("members", members)
        ctx.emit("weight_set", account=account, weight=weight, proposal=ctx.proposal)

    @governed
    def set_param(self, ctx: Context, name: str, value: object) -> None:
        """Set a parameter `<contract>.<name>` (int, str, bool or bytes) that contracts read with ctx.param."""
        ctx.require(bool(PARAM_NAME.match(name)), Code.BAD_ARGUMENTS,
                    f"parameter name {name!r} must be <contract>.<name> in lowercase (e.g. scf.max_term_days)")
        ctx.require(type(value) in (int, str, bool, bytes), Code.BAD_ARGUMENTS, "a parameter is an int, str, bool or bytes")
        _check_param(name, value)
        ctx.put(PARAM_PREFIX + name, value)
        names = ctx.get("params", [])
        if name not in names:
            ctx.put("params", sorted([*names, name]))
        ctx.emit("param_set", name=name, value=value, proposal=ctx.proposal)

    # -- views --------------------------------------------------------------------------------------

    @view
    def members(self, ctx: Context) -> Any:
        """The committee: members with organisation and weight, and the total weight."""
        members = _members(ctx)
        return {"members": list(members.values()), "total_weight": sum(m["weight"] for m in members.values())}

    @view
    def proposal(self, ctx: Context, id: int) -> Any:
        """One proposal with its actions, votes and outcome (status as of the last block)."""
        proposal = _proposal(ctx, id)
        proposal["status"] = _status(proposal, ctx.time_ns)
        return proposal

    @view
    def proposals(self, ctx: Context, status: str = "", start: int = 1, limit: int = 50) -> Any:
        """Proposals from id `start` on, optionally only those with a status."""
        ctx.require(0 < limit <= MAX_PAGE and start >= 1, Code.BAD_ARGUMENTS, f"limit: 1-{MAX_PAGE}; start >= 1")
        out = []
        pid, last = start, ctx.get("next_id", 1)
        while pid < last and len(out) < limit:
            proposal = ctx.get(_proposal_key(pid))
            proposal["status"] = _status(proposal, ctx.time_ns)
            if not status or proposal["status"] == status:
                out.append(_summary(proposal))
            pid += 1
        return {"proposals": out, "next": pid}

    @view
    def params(self, ctx: Context) -> Any:
        """Every parameter set by governance, with governance's own defaults."""
        values = {name: ctx.get(PARAM_PREFIX + name) for name in ctx.get("params", [])}
        return {**{k: v for k, v in DEFAULTS.items() if k not in values}, **values}

    @view
    def param(self, ctx: Context, name: str) -> Any:
        """One parameter's value (None if never set and without a default here)."""
        return ctx.get(PARAM_PREFIX + name, DEFAULTS.get(name))


# -- rules --------------------------------------------------------------------------------------------


def _members(ctx: Context) -> dict[str, dict[str, Any]]:
    return ctx.get("members", {})


def _require_member(ctx: Context, members: Mapping[str, Any]) -> None:
    ctx.require(ctx.sender in members, Code.NOT_A_MEMBER, f"{ctx.sender} is not a committee member")


def _param(ctx: Context, name: str) -> Any:
    return ctx.param(name, DEFAULTS[name])


def _proposal(ctx: Context, pid: int) -> dict[str, Any]:
    proposal = ctx.get(_proposal_key(pid)) if pid > 0 else None
    ctx.require(proposal is not None, Code.NOT_FOUND, f"no proposal {pid}")
    return proposal


def _open_proposal(ctx: Context, pid: int) -> dict[str, Any]:
    proposal = _proposal(ctx, pid)
    status = _status(proposal, ctx.time_ns)
    ctx.require(status != EXPIRED, Code.PROPOSAL_EXPIRED, f"proposal {pid}'s voting period ended at {proposal['expires_at_ns']}")
    ctx.require(status == OPEN, Code.PROPOSAL_CLOSED, _closed_message(proposal))
    return proposal


def _status(proposal: Mapping[str, Any], time_ns: int) -> str:
    """The stored status, except that an open (or unexecuted passed) proposal past its expiry has expired."""
    if proposal["status"] in (OPEN, PASSED) and time_ns >= proposal["expires_at_ns"]:
        return EXPIRED
    return proposal["status"]


def _closed_message(proposal: Mapping[str, Any]) -> str:
    status, pid = proposal["status"], proposal["id"]
    if status == FAILED:
        err = proposal["error"] or {}
        return f"proposal {pid} failed when it ran (action {err.get('action')}: {err.get('message')}); propose again"
    if status == EXECUTED:
        return f"proposal {pid} was already executed at height {proposal['executed_height']}"
    return f"proposal {pid} is {status}"


def _tally(proposal: Mapping[str, Any]) -> str:
    """PASSED, REJECTED or OPEN after a vote, in integer basis points."""
    total, yes, no = proposal["total_weight"], proposal["yes"], proposal["no"]
    voted = yes + no
    remaining = total - voted
    if voted * BPS >= proposal["participation_bps"] * total and yes * BPS >= proposal["approval_bps"] * voted:
        return PASSED
    if (yes + remaining) * BPS < proposal["approval_bps"] * total:
        return REJECTED  # even if everyone left voted yes, approval stays out of reach
    if remaining == 0:
        return REJECTED
    return OPEN


def _execute(ctx: Context, proposal: dict[str, Any]) -> None:
    """Run the actions in order; all apply or none (the proposal then records the failure)."""
    saved_writes, saved_events = dict(ctx.writes), len(ctx.events)
    ctx.proposal = proposal["id"]
    results: list[Any] = []
    try:
        for i, action in enumerate(proposal["actions"]):
            try:
                results.append(ctx.call(action["contract"], action["method"], **action["args"]))
            except BaychainError as exc:
                ctx.writes.clear()
                ctx.writes.update(saved_writes)
                del ctx.events[saved_events:]
                proposal["status"] = FAILED
                proposal["error"] = {"action": i, **exc.to_dict()}
                ctx.emit("failed", id=proposal["id"], action=i, code=int(exc.code), message=exc.message)
                return
    finally:
        ctx.proposal = 0
    proposal["status"] = EXECUTED
    proposal["executed_height"] = ctx.height
    proposal["results"] = results
    ctx.emit("executed", id=proposal["id"], actions=len(results))


def _check_action(ctx: Context, index: int, action: Any) -> dict[str, Any]:
    ok = type(action) is dict and set(action) <= {"contract", "method", "args"} and \
        type(action.get("contract")) is str and type(action.get("method")) is str and type(action.get("args", {})) is dict
    ctx.require(ok, Code.BAD_ARGUMENTS, f"action {index} must be {{contract: str, method: str, args: map}}")
    contract, method, args = action["contract"], action["method"], action.get("args", {})
    try:
        m = ctx.method_of(contract, method)
    except BaychainError as exc:
        raise BaychainError(exc.code, f"action {index}: {exc.message}") from None
    ctx.require(m.governed, Code.BAD_ARGUMENTS,
                f"action {index}: {contract}.{method} is not a committee power (only @governed methods can be proposed)")
    try:
        m.check_args(args)
    except BaychainError as exc:
        raise BaychainError(exc.code, f"action {index}: {exc.message}") from None
    return {"contract": contract, "method": method, "args": args}


def _check_member(account: str, organisation: str, weight: int, height: int) -> dict[str, Any]:
    if not is_address(account):
        raise BaychainError(Code.BAD_ARGUMENTS, f"member {account!r} is not an account address (bc1...)")
    if not 0 < len(organisation) <= 200:
        raise BaychainError(Code.BAD_ARGUMENTS, "a member's organisation must be 1-200 characters")
    if type(weight) is not int or not 0 < weight <= MAX_WEIGHT:
        raise BaychainError(Code.BAD_ARGUMENTS, f"weight must be 1 to {MAX_WEIGHT}")
    return {"account": account, "organisation": organisation, "weight": weight, "added_height": height}


def _check_param(name: str, value: Any) -> None:
    """Governance's own parameters are checked here; other contracts check theirs when reading."""
    if name in ("governance.participation_bps", "governance.approval_bps"):
        if type(value) is not int or not 1 <= value <= BPS:
            raise BaychainError(Code.BAD_ARGUMENTS, f"{name} must be an int from 1 to {BPS}")
    elif name == "governance.voting_period_ns":
        if type(value) is not int or not MIN_PERIOD_NS <= value <= MAX_PERIOD_NS:
            raise BaychainError(Code.BAD_ARGUMENTS, f"{name} must be an int from {MIN_PERIOD_NS} to {MAX_PERIOD_NS}")
    elif name == "governance.auto_execute" and type(value) is not bool:
        raise BaychainError(Code.BAD_ARGUMENTS, f"{name} must be true or false")


def _summary(proposal: Mapping[str, Any]) -> dict[str, Any]:
    return {k: proposal[k] for k in ("id", "title", "proposer", "status", "yes", "no", "total_weight",
                                     "expires_at_ns", "decided_height", "executed_height", "error")} | {
        "actions": [f"{a['contract']}.{a['method']}" for a in proposal["actions"]], "votes": len(proposal["votes"])}


# -- genesis ------------------------------------------------------------------------------------------


def genesis_state(app_state: Mapping[str, Any]) -> dict[bytes, bytes]:
    """The committee from the genesis `app_state.governance` (empty if absent):
    `members[]` of {account, organisation, weight (default 1)}, and optional
    `params` {name: value} (e.g. thresholds, a scenario's limits)."""
    section = app_state.get("governance")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise _genesis_error("app_state.governance must be an object")
    members: dict[str, Any] = {}
    for i, spec in enumerate(section.get("members") or []):
        if not isinstance(spec, dict):
            raise _genesis_error(f"member {i} must be an object")
        try:
            member = _check_member(str(spec.get("account", "")), str(spec.get("organisation", "")), spec.get("weight", 1), 0)
        except BaychainError as exc:
            raise _genesis_error(f"member {i}: {exc.message}") from None
        if member["account"] in members:
            raise _genesis_error(f"member {member['account']} is listed twice")
        members[member["account"]] = member
    if not members:
        raise _genesis_error("the committee needs at least one member")
    if len(members) > MAX_MEMBERS:
        raise _genesis_error(f"at most {MAX_MEMBERS} members")
    storage: dict[str, Any] = {"members": dict(sorted(members.items())), "next_id": 1}
    params = section.get("params") or {}
    if not isinstance(params, dict):
        raise _genesis_error("params must be an object")
    for name, value in sorted(params.items()):
        if not PARAM_NAME.match(name) or type(value) not in (int, str, bool):
            raise _genesis_error(f"param {name!r}: a <contract>.<name> with an int, str or bool value")
        try:
            _check_param(name, value)
        except BaychainError as exc:
            raise _genesis_error(exc.message) from None
        storage[PARAM_PREFIX + name] = value
    storage["params"] = sorted(params)
    return {contract_key(NAME, k): encoding.encode(v) for k, v in storage.items()}


def _genesis_error(message: str) -> BaychainError:
    return BaychainError(Code.BAD_REQUEST, f"genesis app_state.governance: {message}")


__all__ = ["Governance", "GOVERNANCE", "genesis_state"]
