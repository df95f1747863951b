"""`baychain net`: a local multi-validator network on one machine.

    baychain net init [--validators 4] [--dir .baychain/net]   node homes, genesis, ports, peers
    baychain net up [NODE ...]                                 start nodes, wait until healthy
    baychain net status                                        height, app hash, peers per node
    baychain net logs [NODE] [-n 40] [-f]                      a node's log (default: every node)
    baychain net down [NODE ...] [--kill]                      stop nodes (--kill: SIGKILL, a crash)
    baychain net genesis --card A.json --card B.json ...       shared genesis from member cards
    baychain net members                                       the on-chain node registry and validators
    baychain net add-node --card C.json [--power N] [--key K]   propose a node (a local network's committee votes)
    baychain net join --name N --organisation O --jurisdiction J   one more organisation's node: home, committee
                                                               vote, state sync from a snapshot, start
    baychain net set-power NODE_ID POWER --key ADMIN           change a validator's power; 0 = stops voting
    baychain net remove-node NODE_ID --key ADMIN               remove a node from the registry
    baychain net drill-double-sign NODE                        a fire drill: NODE's validator signs twice;
                                                               prints the alert the chain records

See docs/NETWORK.md.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from baychain.cli.keys import KeysDir, Passphrase, load_key, resolve_address
from baychain.cli.output import emit_json, kv, settings, table
from baychain.errors import BaychainError, Code
from baychain.network.cometbft import TxGossip

app = typer.Typer(help="Create and run a local multi-validator network (CometBFT).", no_args_is_help=True)

MemberOpt = typer.Option(
    None, "--member", help="Founding committee member: ACCOUNT=ORGANISATION (account address or key name; repeatable)"
)
DirOpt = typer.Option(Path(".baychain/net"), "--dir", help="Network directory (network.json, nodes/)")
NodesArg = typer.Argument(None, help="Node names (default: every node)")


def _manifest(directory: Path):
    from baychain.network.manifest import NetworkManifest

    try:
        return NetworkManifest.load(directory)
    except FileNotFoundError as exc:
        raise BaychainError(Code.NOT_FOUND, str(exc)) from None


@contextmanager
def _as_codes() -> Iterator[None]:
    """The network builders' exceptions as stable codes."""
    from baychain.network.cometbft import CometbftNotFound

    try:
        yield
    except FileExistsError as exc:
        raise BaychainError(Code.ALREADY_EXISTS, str(exc)) from None
    except (FileNotFoundError, CometbftNotFound) as exc:
        raise BaychainError(Code.NOT_FOUND, str(exc)) from None
    except ValueError as exc:
        raise BaychainError(Code.BAD_REQUEST, str(exc)) from None


def _names(manifest, nodes: Optional[list[str]]) -> list[str]:
    names = list(nodes or manifest.names)
    for name in names:
        if name not in manifest.names:
            raise BaychainError(Code.NOT_FOUND, f"no node named {name!r}; nodes: {', '.join(manifest.names)}")
    return names


@app.command()
def init(
    ctx: typer.Context,
    validators: int = typer.Option(4, "--validators", "-v", min=1, max=32, help="Number of validator nodes"),
    directory: Path = DirOpt,
    chain_id: str = typer.Option("baychain-gba", "--chain-id", help="Chain id"),
    force: bool = typer.Option(False, "--force", help="Replace an existing (stopped) network in --dir"),
    log_level: str = typer.Option("info", "--log-level", help="CometBFT log level, e.g. info or 'consensus:info,*:error'"),
    filter_peers: bool = typer.Option(True, "--filter-peers/--no-filter-peers", help="Refuse peers that are not in the on-chain node registry"),
    require_certificates: bool = typer.Option(False, "--require-certificates", help="Admit only keys bound to a certificate of the consortium CA (--dir/ca)"),
    cometbft_metrics: bool = typer.Option(True, "--cometbft-metrics/--no-cometbft-metrics",
                                          help="Serve CometBFT's Prometheus metrics on each node's prometheus port (they cost each CometBFT ~15 % of its CPU)"),
    tx_gossip: TxGossip = typer.Option(TxGossip.FLOOD, "--tx-gossip",
                                       help="How nodes relay transactions: flood (to every peer, fewest hops) or ring "
                                            "(to the next node and one more: less CometBFT CPU, more hops, a longer latency tail)"),
    snapshot_interval: int = typer.Option(1000, "--snapshot-interval", min=0,
                                          help="Every node makes a state-sync snapshot every N blocks, for nodes joining later (0: never)"),
    mempool: str = typer.Option(None, "--mempool",
                                help="Who keeps waiting transactions: app (default; CometBFT's nop mempool: the nodes admit, "
                                     "relay to each other's APIs and propose themselves; clients submit to the API) or cometbft "
                                     "(its mempool: CheckTx over the socket and its gossip; the default with --tx-gossip ring)"),
) -> None:
    """Write a network: one home per node, a shared genesis, free loopback ports, peers, one
    committee key per founding organisation (in --dir/keys: a local network votes for all of
    them) and the consortium CA with one organisation CA per member (in --dir/ca)."""
    from baychain.network.create import init_network
    from baychain.network.home import NodeHome
    from baychain.network.manifest import MANIFEST_FILE, NetworkManifest
    from baychain.network.processes import running_pid

    if force and (directory / MANIFEST_FILE).exists():
        old = NetworkManifest.load(directory)
        up = [n for n in old.names if running_pid(NodeHome(old.home(n))) is not None]
        if up:
            raise BaychainError(Code.BAD_REQUEST, f"nodes still running: {', '.join(up)}; run `baychain net down` first")
    with _as_codes():
        manifest = init_network(
            directory, validators=validators, chain_id=chain_id, force=force, log_level=log_level, filter_peers=filter_peers,
            require_certificates=require_certificates, cometbft_metrics=cometbft_metrics, tx_gossip=tx_gossip,
            snapshot_interval=snapshot_interval, mempool=mempool,
        )
    if settings(ctx).json:
        emit_json({"directory": str(directory), **manifest.to_json()})
        return
    typer.echo(f"network {manifest.chain_id}: {len(manifest.nodes)} validators in {directory}")
    table(
        ["node", "organisation", "jurisdiction", "role", "node id", "p2p", "rpc", "api"],
        [[n.name, n.member.organisation, n.member.jurisdiction, n.member.role, n.node_id[:12] + "…",
          n.ports["p2p"], n.ports["rpc"], n.api_url] for n in manifest.nodes],
    )
    typer.echo(f"start it with: baychain net up --dir {directory}")


@app.command()
def up(
    ctx: typer.Context,
    nodes: Optional[list[str]] = NodesArg,
    directory: Path = DirOpt,
    timeout: float = typer.Option(90.0, "--health-timeout", help="Seconds to wait for every node to be healthy"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until nodes are healthy and heights advance"),
) -> None:
    """Start nodes as detached processes and wait until they are healthy and committing."""
    from baychain.network.home import NodeHome
    from baychain.network.processes import NetworkError, start_node, wait_healthy

    manifest = _manifest(directory)
    names = _names(manifest, nodes)
    as_json = settings(ctx).json
    pids = {}
    for name in names:
        try:
            pids[name] = start_node(NodeHome(manifest.home(name)))
        except NetworkError as exc:
            raise BaychainError(Code.NOT_FOUND, str(exc)) from None
        if not as_json:
            typer.echo(f"{name}: started (pid {pids[name]})")
    heights = {}
    if wait:
        try:
            heights = wait_healthy(manifest, names, timeout=timeout, progress=None if as_json else typer.echo)
        except NetworkError as exc:
            raise BaychainError(Code.TIMEOUT, str(exc)) from None
    if as_json:
        emit_json({"nodes": [{"name": n, "pid": pids[n], "height": heights.get(n)} for n in names]})
    elif wait:
        typer.echo(f"{len(names)} node(s) healthy and committing blocks; see `baychain net status --dir {directory}`")


@app.command()
def down(
    ctx: typer.Context,
    nodes: Optional[list[str]] = NodesArg,
    directory: Path = DirOpt,
    kill: bool = typer.Option(False, "--kill", help="SIGKILL the node's processes (simulate a crash)"),
    timeout: float = typer.Option(20.0, "--grace", help="Seconds to wait for a clean stop before SIGKILL"),
) -> None:
    """Stop nodes (SIGTERM, then SIGKILL after --timeout)."""
    from baychain.network.home import NodeHome
    from baychain.network.processes import kill_node, stop_node

    manifest = _manifest(directory)
    names = _names(manifest, nodes)
    stopped = {}
    for name in names:
        home = NodeHome(manifest.home(name))
        stopped[name] = kill_node(home) if kill else stop_node(home, timeout)
    if settings(ctx).json:
        emit_json({"nodes": [{"name": n, "was_running": stopped[n]} for n in names]})
        return
    for name in names:
        typer.echo(f"{name}: {('killed' if kill else 'stopped') if stopped[name] else 'not running'}")


@app.command()
def status(ctx: typer.Context, directory: Path = DirOpt) -> None:
    """Each node: running or not, height, app hash, peers."""
    from baychain.network.processes import node_status

    manifest = _manifest(directory)
    rows = [node_status(manifest, name) for name in manifest.names]
    if settings(ctx).json:
        emit_json({"chain_id": manifest.chain_id, "nodes": [r.to_json() for r in rows]})
        return
    typer.echo(f"network {manifest.chain_id} in {directory}")
    table(
        ["node", "jurisdiction", "role", "pid", "health", "height", "app hash", "peers", "api"],
        [[r.name, r.jurisdiction, r.role, r.pid, r.health, r.height,
          (r.app_hash[:16] + "…") if r.app_hash else None, r.peers, r.api] for r in rows],
    )
    hashes = {(r.height, r.app_hash) for r in rows if r.height is not None}
    heights = {h for h, _ in hashes}
    if len(heights) == 1 and len(hashes) > 1:
        typer.echo("warning: nodes at the same height report different app hashes", err=True)


@app.command()
def logs(
    node: Optional[str] = typer.Argument(None, help="Node name (default: the tail of every node's log)"),
    directory: Path = DirOpt,
    lines: int = typer.Option(40, "--lines", "-n", min=1, help="Lines to show"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines (one node)"),
) -> None:
    """Show the end of a node's log (application and CometBFT output)."""
    from baychain.network.home import NodeHome
    from baychain.network.processes import log_tail

    manifest = _manifest(directory)
    names = _names(manifest, [node] if node else None)
    if follow and len(names) != 1:
        raise BaychainError(Code.BAD_REQUEST, "--follow needs one node name")
    for name in names:
        path = NodeHome(manifest.home(name)).log_file
        if len(names) > 1:
            typer.echo(f"==> {name} ({path}) <==")
        typer.echo(log_tail(path, lines), nl=False)
    if follow:
        path = NodeHome(manifest.home(names[0])).log_file
        with open(path, "rb") as f:
            f.seek(0, 2)
            try:
                while True:
                    chunk = f.read()
                    if chunk:
                        sys.stdout.write(chunk.decode(errors="replace"))
                        sys.stdout.flush()
                    else:
                        time.sleep(0.3)
            except KeyboardInterrupt:
                pass


@app.command()
def genesis(
    ctx: typer.Context,
    card: list[Path] = typer.Option(..., "--card", exists=True, dir_okay=False, help="A member's node card (repeatable)"),
    chain_id: str = typer.Option(..., "--chain-id", help="The new chain's id"),
    out: Path = typer.Option(Path("genesis.json"), "--out", "-o", help="Where to write the genesis"),
    member: Optional[list[str]] = MemberOpt,
    keys_dir: Path = KeysDir,
) -> None:
    """Build the shared genesis of a multi-machine network from the members' node cards."""
    from baychain.network.card import NodeCard, genesis_from_cards

    try:
        cards = [NodeCard.load(p) for p in card]
        committee = [_committee_member(m, keys_dir) for m in member or []]
        doc = genesis_from_cards(
            cards, chain_id=chain_id, genesis_time=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            committee=committee,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BaychainError(Code.BAD_REQUEST, f"bad node card: {exc}") from None
    out.write_text(json.dumps(doc, indent=2) + "\n")
    if settings(ctx).json:
        emit_json({"genesis": str(out), "chain_id": chain_id, "peers": [c.peer for c in cards]})
        return
    kv([("genesis", out), ("chain id", chain_id), ("validators", ", ".join(c.member.name for c in cards))])
    typer.echo("persistent peers (give each member all but its own):")
    for c in cards:
        typer.echo(f"  {c.member.name}: {c.peer}")


# -- the on-chain registry (contract `network`) -------------------------------------------------


def _committee_member(spec: str, keys_dir: Path) -> dict:
    account, sep, organisation = spec.partition("=")
    if not sep or not organisation:
        raise BaychainError(Code.BAD_REQUEST, f"--member {spec!r}: give ACCOUNT=ORGANISATION")
    return {"account": resolve_address(account, keys_dir), "organisation": organisation, "weight": 1}


@app.command()
def members(ctx: typer.Context) -> None:
    """The on-chain node registry (of the node given by --node), who votes on blocks, and the committee."""
    s = settings(ctx)
    with s.client() as client:
        nodes = client.view("network", "nodes")
        committee = client.view("governance", "members")
    if s.json:
        emit_json({"nodes": nodes, "committee": committee})
        return
    table(
        ["node", "organisation", "jurisdiction", "role", "node id", "power"],
        [[n["name"], n["organisation"], n["jurisdiction"], n["role"], n["node_id"], n["power"]] for n in nodes],
    )
    names = ", ".join(f"{m['organisation']} ({m['weight']})" for m in committee["members"])
    typer.echo(f"committee: {names or '(none: the registry is fixed)'}")


def _send(ctx: typer.Context, key: Optional[str], keys_dir: Path, passphrase: Optional[str], directory: Path,
          method: str, args: dict) -> None:
    """Propose a registry change. With --key: propose only (the other members vote with
    `baychain gov vote`); without: a local network's committee proposes and votes at once."""
    from baychain.network.committee import local_committee
    from baychain.sdk.governance import Governance, action

    s = settings(ctx)
    act = [action("network", method, **args)]
    with s.client() as client:
        gov = Governance(client, timeout=min(s.timeout, 120.0))
        if key is not None:
            pid = gov.propose(load_key(key, keys_dir, passphrase), f"network.{method}", act)
            summary = {"id": pid, "status": "open"}
        else:
            keys = local_committee(directory)
            if not keys:
                raise BaychainError(Code.NOT_FOUND, f"{directory} holds no local committee keys; give --key to propose "
                                                    "and let the members vote with `baychain gov vote`")
            summary = gov.decide(keys, act)
    if s.json:
        emit_json(summary)
        return
    kv([("proposal", summary["id"]), ("status", summary["status"])])
    if summary["status"] == "open":
        typer.echo(f"committee members vote with: baychain gov vote {summary['id']} --key <member key>")
    elif summary["status"] == "executed":
        typer.echo("validator power changes take effect two blocks after this one")
    else:
        raise BaychainError(Code.PROPOSAL_CLOSED, f"proposal {summary['id']} {summary['status']}: {summary.get('error')}")


@app.command("join")
def join(
    ctx: typer.Context,
    name: str = typer.Option(..., help="Short node name: lowercase letters, digits, '-'"),
    organisation: str = typer.Option(..., help="The organisation running the node"),
    jurisdiction: str = typer.Option(..., help="GD, HK or MO"),
    role: str = typer.Option("member", help="member, regulator or auditor"),
    power: int = typer.Option(0, min=0, help="Voting power (0: a member that does not vote)"),
    state_sync: bool = typer.Option(True, "--state-sync/--replay",
                                    help="Start from the members' latest snapshot, or replay every block from height 1"),
    directory: Path = DirOpt,
) -> None:
    """A new organisation's node joins the running local network: its home (fresh keys, free
    ports, the network's genesis), the local committee's vote to register it, with
    --state-sync the trust anchor for a snapshot, and its start."""
    from baychain.network.create import join_network
    from baychain.network.members import Member

    with _as_codes():
        joined = join_network(directory, Member(name, organisation, jurisdiction, role), power=power, state_sync=state_sync)
    entry = joined.entry
    result = {"name": name, "node_id": entry.node_id, "api": entry.api_url, "rpc": entry.rpc_url, "pid": joined.pid,
              "registered_height": joined.registered_height, "trust_height": joined.trust_height}
    if settings(ctx).json:
        emit_json(result)
        return
    kv([("node", f"{name} ({organisation}, {jurisdiction})"), ("node id", entry.node_id), ("API", entry.api_url),
        ("registered at height", joined.registered_height),
        ("starts from", f"the members' latest snapshot (trust anchor: height {joined.trust_height})"
         if joined.trust_height else "block 1 (replays the chain)"), ("pid", joined.pid)])
    typer.echo(f"follow it with: baychain net status --dir {directory}")


@app.command("drill-double-sign")
def drill_double_sign(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The validator node that signs twice"),
    timeout: float = typer.Option(60.0, "--timeout", min=1, help="Seconds to wait for the chain's alert"),
    directory: Path = DirOpt,
) -> None:
    """A fire drill on a local network: NODE's validator key signs two different votes for one
    recent height (as a key copied onto a second machine would); CometBFT verifies the proof
    and commits it, and every node records a `validator_misbehavior` alert naming NODE."""
    from baychain.network.drill import double_sign

    with _as_codes():
        alert = double_sign(directory, name, timeout=timeout)
    if settings(ctx).json:
        emit_json(alert)
        return
    a = alert["attributes"]
    kv([("alert", f"#{alert['seq']} {alert['kind']} at height {alert['height']}"),
        ("node", f"{a['name']} ({a['organisation']}, {a['jurisdiction']})"), ("misbehaviour", a["misbehavior"]),
        ("validator", a["validator"]), ("signed twice at height", a["evidence_height"]),
        ("power", f"{a['power']} of {a['total_power']}")])
    typer.echo("the committee decides what follows, e.g. baychain net set-power <node id> 0")


KeyOpt = typer.Option(None, "--key", "-k", help="A committee member's key: propose only, for the others to vote "
                                                "(default: a local network's committee keys propose and vote)")


@app.command("add-node")
def add_node(
    ctx: typer.Context,
    card: Path = typer.Option(..., "--card", exists=True, dir_okay=False, help="The new node's card (baychain node init / node show)"),
    power: Optional[int] = typer.Option(None, "--power", help="Voting power (default: the card's; 0 = a non-voting member)"),
    key: Optional[str] = KeyOpt,
    directory: Path = DirOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Propose registering a node in the on-chain registry: once passed, members accept it as a peer."""
    import base64
    import binascii

    from baychain.network.card import NodeCard

    try:
        c = NodeCard.load(card)
        pub_key = base64.b64decode(c.validator_pub_key, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BaychainError(Code.BAD_REQUEST, f"bad node card: {exc}") from None
    args = {"node_id": c.node_id, "name": c.member.name, "organisation": c.member.organisation,
            "jurisdiction": c.member.jurisdiction, "role": c.member.role, "validator_pub_key": pub_key,
            "power": c.power if power is None else power}
    _send(ctx, key, keys_dir, passphrase, directory, "add_node", args)


@app.command("set-power")
def set_power(
    ctx: typer.Context,
    node_id: str = typer.Argument(..., help="The node's id"),
    power: int = typer.Argument(..., help="New voting power; 0 = stops voting"),
    key: Optional[str] = KeyOpt,
    directory: Path = DirOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Propose setting a registered node's validator power."""
    _send(ctx, key, keys_dir, passphrase, directory, "set_power", {"node_id": node_id.lower(), "power": power})


@app.command("remove-node")
def remove_node(
    ctx: typer.Context,
    node_id: str = typer.Argument(..., help="The node's id"),
    key: Optional[str] = KeyOpt,
    directory: Path = DirOpt,
    keys_dir: Path = KeysDir,
    passphrase: Optional[str] = Passphrase,
) -> None:
    """Propose removing a node from the on-chain registry; a validator stops voting."""
    _send(ctx, key, keys_dir, passphrase, directory, "remove_node", {"node_id": node_id.lower()})


if __name__ == "__main__":
    from baychain.cli.node_cmd import run_standalone

    run_standalone(app, "baychain net")
