"""`baychain gov`: committee proposals, votes and history; `baychain regulator`: the
regulator's expedited powers, the negative list and the alert log.

    baychain gov propose policy.freeze -a account=bc1… -a reason="court order" --title "Freeze" -k member
    baychain gov vote 7 -k member            (--no to vote against)
    baychain gov show 7 · gov list --status open · gov members · gov params
    baychain gov genesis --member bc1…=Bank --into genesis.json

    baychain regulator freeze bc1… --reason "suspected fraud" -k regulator
    baychain regulator alerts [--follow] · regulator actions · regulator status bc1…
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from baychain.chain.genesis import merge_app_state
from baychain.cli.keys import KeysDir, Passphrase, load_key, resolve_address
from baychain.cli.output import dumps, emit_json, kv, settings, table, timestamp
from baychain.errors import BaychainError, Code
from baychain.sdk.args import parse_json_object, parse_pairs, typed_args
from baychain.sdk.client import StreamEvent
from baychain.sdk.governance import Governance, action

app = typer.Typer(help="Committee governance: propose governed actions, vote, execute, read the history.",
                  no_args_is_help=True)
regulator_app = typer.Typer(help="Regulators: expedited freeze, the negative list, alerts and audit.", no_args_is_help=True)

KeyOpt = typer.Option(..., "--key", "-k", help="Signing key (name in the key directory or key file)")
ArgOpt = typer.Option(None, "--arg", "-a", help="Action argument name=value (repeatable); typed by the method's interface")
ArgsJsonOpt = typer.Option(None, "--args-json", help="Action arguments as a JSON object (bytes as hex)")


def _gov(ctx: typer.Context) -> tuple[Any, Governance]:
    s = settings(ctx)
    client = s.client()
    return client, Governance(client, timeout=s.timeout)


def _summary_out(ctx: typer.Context, summary: dict[str, Any]) -> None:
    if settings(ctx).json:
        emit_json(summary)
        return
    rows = [("proposal", summary["id"]), ("status", summary["status"]),
            ("yes / no / total weight", f"{summary['yes']} / {summary['no']} / {summary['total_weight']}")]
    if summary.get("error"):
        rows.append(("error", f"action {summary['error']['action']}: {summary['error']['error']}: {summary['error']['message']}"))
    kv(rows)


# -- proposals ----------------------------------------------------------------------------------------


@app.command()
def propose(
    ctx: typer.Context,
    target: Optional[str] = typer.Argument(None, help="The governed method: CONTRACT.METHOD (or give --actions)"),
    arg: Optional[list[str]] = ArgOpt,
    args_json: Optional[str] = ArgsJsonOpt,
    actions_file: Optional[Path] = typer.Option(None, "--actions", exists=True, dir_okay=False,
                                                help="JSON file: a list of {contract, method, args} run in order"),
    title: str = typer.Option(..., "--title", help="What the proposal does, in a line"),
    description: str = typer.Option("", "--description", help="Why"),
    period: int = typer.Option(0, "--period", min=0, help="Voting period in seconds (default: governance.voting_period_ns)"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Propose governed actions; committee members then vote with `gov vote`."""
    client, gov = _gov(ctx)
    with client:
        actions = _actions(client, target, arg, args_json, actions_file)
        pid = gov.propose(load_key(key, keys_dir, passphrase), title, actions, description=description,
                          voting_period_ns=period * 10**9)
        proposal = gov.proposal(pid)
    if settings(ctx).json:
        emit_json({"id": pid, "expires_at_ns": proposal["expires_at_ns"], "actions": proposal["actions"]})
        return
    kv([("proposal", pid), ("actions", ", ".join(f"{a['contract']}.{a['method']}" for a in proposal["actions"])),
        ("voting ends", timestamp(proposal["expires_at_ns"]))])
    typer.echo(f"members vote with: baychain gov vote {pid} --key <member key>")


@app.command()
def vote(
    ctx: typer.Context,
    proposal_id: int = typer.Argument(..., help="Proposal id"),
    no: bool = typer.Option(False, "--no", help="Vote against (default: for)"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Vote on an open proposal; the deciding vote executes it."""
    client, gov = _gov(ctx)
    with client:
        summary = gov.vote(load_key(key, keys_dir, passphrase), proposal_id, approve=not no)
    _summary_out(ctx, summary)


@app.command()
def execute(
    ctx: typer.Context,
    proposal_id: int = typer.Argument(..., help="Proposal id"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Run a passed proposal (when governance.auto_execute is off)."""
    client, gov = _gov(ctx)
    with client:
        summary = gov.execute(load_key(key, keys_dir, passphrase), proposal_id)
    _summary_out(ctx, summary)


@app.command()
def cancel(
    ctx: typer.Context,
    proposal_id: int = typer.Argument(..., help="Proposal id"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Withdraw your own open proposal."""
    client, gov = _gov(ctx)
    with client:
        gov.cancel(load_key(key, keys_dir, passphrase), proposal_id)
    if settings(ctx).json:
        emit_json({"id": proposal_id, "status": "cancelled"})
    else:
        typer.echo(f"proposal {proposal_id} cancelled")


@app.command()
def show(ctx: typer.Context, proposal_id: int = typer.Argument(..., help="Proposal id")) -> None:
    """One proposal: actions, every vote, outcome."""
    client, gov = _gov(ctx)
    with client:
        p = gov.proposal(proposal_id)
    if settings(ctx).json:
        emit_json(p)
        return
    kv([("proposal", p["id"]), ("title", p["title"]), ("proposer", p["proposer"]), ("status", p["status"]),
        ("voting ends", timestamp(p["expires_at_ns"])),
        ("thresholds", f"participation {p['participation_bps'] / 100:.2f}%, approval {p['approval_bps'] / 100:.2f}%"),
        ("yes / no / total weight", f"{p['yes']} / {p['no']} / {p['total_weight']}")])
    table(["#", "action", "arguments"], [[i, f"{a['contract']}.{a['method']}", dumps(a["args"])] for i, a in enumerate(p["actions"])])
    if p["votes"]:
        table(["member", "vote", "weight", "height"], [[v["account"], "yes" if v["approve"] else "no", v["weight"], v["height"]]
                                                     for v in p["votes"]])
    if p.get("error"):
        typer.echo(f"failed at action {p['error']['action']}: {p['error']['error']}: {p['error']['message']}")


@app.command("list")
def list_proposals(
    ctx: typer.Context,
    status: str = typer.Option("", "--status", help="open, executed, failed, rejected, expired, cancelled, passed"),
    start: int = typer.Option(1, "--start", min=1),
    limit: int = typer.Option(50, "--limit", min=1, max=200),
) -> None:
    """The proposal history."""
    client, gov = _gov(ctx)
    with client:
        found = gov.proposals(status, start, limit)
    if settings(ctx).json:
        emit_json({"proposals": found})
        return
    table(["id", "title", "status", "yes", "no", "of", "actions"],
          [[p["id"], p["title"], p["status"], p["yes"], p["no"], p["total_weight"], ", ".join(p["actions"])] for p in found])


@app.command()
def members(ctx: typer.Context) -> None:
    """The committee and its weights."""
    client, gov = _gov(ctx)
    with client:
        found = gov.members()
    if settings(ctx).json:
        emit_json(found)
        return
    table(["account", "organisation", "weight"], [[m["account"], m["organisation"], m["weight"]] for m in found["members"]])


@app.command()
def params(ctx: typer.Context) -> None:
    """Parameters set by governance (and governance's own defaults)."""
    client, gov = _gov(ctx)
    with client:
        found = gov.params()
    if settings(ctx).json:
        emit_json(found)
        return
    table(["parameter", "value"], [[k, v] for k, v in sorted(found.items())])


@app.command()
def genesis(
    ctx: typer.Context,
    member: list[str] = typer.Option(..., "--member", help="ACCOUNT=ORGANISATION[:WEIGHT] (account address or key name; repeatable)"),
    regulator: Optional[list[str]] = typer.Option(None, "--regulator", help="Account with the expedited freeze (repeatable)"),
    into: Optional[Path] = typer.Option(None, "--into", exists=True, dir_okay=False, help="Write into this genesis file's app_state"),
    keys_dir: Path = KeysDir,
) -> None:
    """The genesis `app_state.governance` (the founding committee) and `app_state.policy` (regulators)."""
    committee = []
    for spec in member:
        account, sep, rest = spec.partition("=")
        organisation, _, weight = rest.rpartition(":") if ":" in rest else (rest, "", "1")
        if not sep or not organisation or not weight.isdigit():
            raise BaychainError(Code.BAD_REQUEST, f"--member {spec!r}: give ACCOUNT=ORGANISATION or ACCOUNT=ORGANISATION:WEIGHT")
        committee.append({"account": resolve_address(account, keys_dir), "organisation": organisation, "weight": int(weight)})
    sections: dict[str, Any] = {"governance": {"members": committee},
                                "policy": {"regulators": [resolve_address(r, keys_dir) for r in regulator or []]}}
    if into is None:
        emit_json(sections)
        return
    try:
        merge_app_state(into, sections)
    except ValueError as exc:
        raise BaychainError(Code.BAD_REQUEST, str(exc)) from None
    if settings(ctx).json:
        emit_json({"file": str(into), **sections})
    else:
        typer.echo(f"wrote app_state.governance ({len(committee)} members) and app_state.policy into {into}")


def _actions(client: Any, target: str | None, pairs: list[str] | None, args_json: str | None,
             actions_file: Path | None) -> list[dict[str, Any]]:
    if (target is None) == (actions_file is None):
        raise BaychainError(Code.BAD_REQUEST, "give one action as CONTRACT.METHOD, or a list with --actions FILE")
    if actions_file is not None:
        try:
            actions = json.loads(actions_file.read_text())
        except ValueError as exc:
            raise BaychainError(Code.BAD_REQUEST, f"{actions_file} is not JSON: {exc}") from None
        if not isinstance(actions, list):
            raise BaychainError(Code.BAD_REQUEST, f"{actions_file} must hold a JSON list of actions")
        return [_typed_action(client, a) for a in actions]
    contract, dot, method = str(target).partition(".")
    if not dot:
        raise BaychainError(Code.BAD_REQUEST, f"{target!r}: give the governed method as CONTRACT.METHOD")
    interface = client.method_interface(contract, method)
    json_args = parse_json_object(args_json) if args_json else None
    return [action(contract, method, **typed_args(interface, parse_pairs(pairs or []), json_args))]


def _typed_action(client: Any, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict) or not isinstance(spec.get("contract"), str) or not isinstance(spec.get("method"), str):
        raise BaychainError(Code.BAD_REQUEST, "each action is {\"contract\": ..., \"method\": ..., \"args\": {...}}")
    interface = client.method_interface(spec["contract"], spec["method"])
    return action(spec["contract"], spec["method"], **typed_args(interface, None, spec.get("args") or {}))


# -- regulators ------------------------------------------------------------------------------------------


@regulator_app.command("freeze")
def regulator_freeze(
    ctx: typer.Context,
    account: str = typer.Argument(..., help="Account address (bc1…) or key name"),
    reason: str = typer.Option(..., "--reason", help="Why (on chain, for the audit)"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Expedited freeze: in force from the next block, lapsing unless the committee confirms it."""
    client, gov = _gov(ctx)
    with client:
        out = gov.expedite_freeze(load_key(key, keys_dir, passphrase), resolve_address(account, keys_dir), reason)
    if settings(ctx).json:
        emit_json(out)
    else:
        kv([("frozen", out["account"]), ("lapses at", timestamp(out["until_ns"])),
            ("to confirm", f"baychain gov propose policy.freeze -a account={out['account']} -a reason=… --title …")])


@regulator_app.command("lift")
def regulator_lift(
    ctx: typer.Context,
    account: str = typer.Argument(..., help="Account address (bc1…) or key name"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Lift a regulator's expedited freeze early."""
    s = settings(ctx)
    with s.client() as client:
        receipt = client.call(load_key(key, keys_dir, passphrase), "policy", "lift_expedited_freeze",
                              {"account": resolve_address(account, keys_dir)}, timeout=s.timeout)
    emit_json(receipt.to_json()) if s.json else typer.echo(f"unfrozen at height {receipt.height}")


@regulator_app.command("blacklist")
def regulator_blacklist(
    ctx: typer.Context,
    entity: str = typer.Argument(..., help="Account address (bc1…) or org:<organisation name>"),
    reason: str = typer.Option(..., "--reason", help="Why (on chain, for the audit)"),
    remove: bool = typer.Option(False, "--remove", help="Take a regulator's entry off the list instead"),
    key: str = KeyOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Put an entity on the negative list (or --remove it): its transactions are refused."""
    s = settings(ctx)
    with s.client() as client:
        signer = load_key(key, keys_dir, passphrase)
        if remove:
            receipt = client.call(signer, "policy", "unlist_entity", {"entity": entity}, timeout=s.timeout)
        else:
            receipt = client.call(signer, "policy", "list_entity", {"entity": entity, "reason": reason}, timeout=s.timeout)
    emit_json(receipt.to_json()) if s.json else typer.echo(f"{'removed' if remove else 'listed'} {entity} at height {receipt.height}")


@regulator_app.command("status")
def regulator_status(
    ctx: typer.Context,
    entity: str = typer.Argument(..., help="Account address (bc1…), key name, or org:<organisation name>"),
    keys_dir: Path = KeysDir,
) -> None:
    """Is an account frozen, or an entity on the negative list?"""
    s = settings(ctx)
    target = entity if entity.startswith("org:") else resolve_address(entity, keys_dir)
    with s.client() as client:
        frozen = None if target.startswith("org:") else client.view("policy", "frozen", {"account": target})
        listed = client.view("policy", "listed", {"entity": target})
    if s.json:
        emit_json({"entity": target, "frozen": frozen, "listed": listed})
        return
    kv([("entity", target),
        ("frozen", f"yes ({frozen['source']}, by {frozen['author']}): {frozen['reason']}" if frozen else "no"),
        ("negative list", f"yes (by {listed['author']} at height {listed['height']}): {listed['reason']}" if listed else "no")])


def is_alert(event: StreamEvent, kind: str = "") -> bool:
    """Whether a streamed event is an alert (a transaction's, or a block's own: evidence of a
    validator's misbehaviour) of `kind` ("" for any)."""
    return event.event in ("tx_event", "block_event") and (not kind or event.data["attributes"].get("kind") == kind)


@regulator_app.command("alerts")
def regulator_alerts(
    ctx: typer.Context,
    kind: str = typer.Option("", "--kind", help="Only alerts of this kind, e.g. double_financing"),
    start: int = typer.Option(0, "--start", min=0),
    limit: int = typer.Option(100, "--limit", min=1, max=500),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing alerts as they are committed"),
) -> None:
    """The on-chain alert log (double financing, duplicate reimbursement, …); --follow streams new ones."""
    client, gov = _gov(ctx)
    s = settings(ctx)
    with client:
        if follow:
            for event in gov.stream_alerts(read_timeout=3600):
                if is_alert(event, kind):
                    emit_json(event.data) if s.json else typer.echo(
                        f"height {event.data['height']}  {event.data['type']}  {dumps(event.data['attributes'])}")
            return
        log = gov.alerts(start, limit, kind)
    if s.json:
        emit_json(log)
        return
    table(["#", "height", "contract", "kind", "refused", "details"],
          [[a["seq"], a["height"], a["contract"], a["kind"], "yes" if a["failed"] else "no", dumps(a["attributes"])]
           for a in log["alerts"]])


@regulator_app.command("actions")
def regulator_actions(ctx: typer.Context, start: int = typer.Option(0, "--start", min=0)) -> None:
    """Every expedited action a regulator took, oldest first (the regulator's own audit trail)."""
    s = settings(ctx)
    with s.client() as client:
        found = client.view("policy", "regulator_actions", {"start": start})
    if s.json:
        emit_json(found)
        return
    table(["#", "height", "action", "target", "by", "reason"],
          [[a["seq"], a["height"], a["action"], a["target"], a["author"], a["reason"]] for a in found["actions"]])
