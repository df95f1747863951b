"""`baychain node`: run and prepare one CometBFT-mode node.

    baychain node start --home DIR     run the node in DIR in the foreground (application,
                                       ABCI server, HTTP API, supervised `cometbft node`)
    baychain node init  --home DIR ... create a node home with fresh keys (one machine of
                                       a multi-organisation network; see docs/NETWORK.md)
    baychain node show  --home DIR     the node's public identity card (share it)
    baychain node join  --home DIR --genesis FILE --peer ID@HOST:PORT ...
                                       adopt the network's genesis and peers
    baychain node state-sync --home DIR --rpc URL --rpc URL
                                       start from a snapshot instead of block 1 (a node
                                       joining a running network; before its first start)

Node processes always run with PYTHONHASHSEED=0: `start` re-executes itself with it
when the environment says otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

import typer

from baychain.cli.output import Settings, emit_json, hoist_global_options, kv, report_error, settings
from baychain.errors import BaychainError, Code
from baychain.network.cometbft import TxGossip

app = typer.Typer(help="Run and prepare one CometBFT-mode node.", no_args_is_help=True)

HomeOpt = typer.Option(..., "--home", help="Node home (node.json, cometbft/, data/)")


@app.command()
def start(
    home: Path = HomeOpt,
    log_level: str = typer.Option("INFO", "--log-level", help="Python log level of the node process"),
) -> None:
    """Run the node in the foreground until SIGTERM or Ctrl-C."""
    from baychain.network.home import NodeHome

    node_home = NodeHome(home)
    if not node_home.exists():
        raise BaychainError(Code.NOT_FOUND, f"{home} is not a node home (no node.json or cometbft/config)")
    try:
        node_home.load()  # malformed settings are refused here, before anything starts
    except ValueError as exc:
        raise BaychainError(Code.BAD_REQUEST, f"{node_home.settings_file}: {exc}") from None
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        argv = [sys.executable, "-m", "baychain.cli.node_cmd", "start", "--home", str(home), "--log-level", log_level]
        os.execve(sys.executable, argv, env)
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    from baychain.network.cometbft import CometbftNotFound
    from baychain.network.runtime import run_node

    try:
        code = run_node(home)
    except CometbftNotFound as exc:
        raise BaychainError(Code.NOT_FOUND, str(exc)) from None
    raise typer.Exit(code)


@app.command()
def init(
    ctx: typer.Context,
    home: Path = HomeOpt,
    name: str = typer.Option(..., help="Short node name: lowercase letters, digits, '-'"),
    organisation: str = typer.Option(..., help="The organisation running the node"),
    jurisdiction: str = typer.Option(..., help="GD, HK or MO"),
    role: str = typer.Option("member", help="member, regulator or auditor"),
    external_host: str = typer.Option(..., help="Host name or IP other members dial for p2p"),
    p2p_port: int = typer.Option(26656, help="p2p port (the only port other members need)"),
    rpc_port: int = typer.Option(26657, help="CometBFT RPC port (loopback unless --rpc-host)"),
    rpc_host: str = typer.Option("127.0.0.1", help="Address CometBFT's RPC listens on: 0.0.0.0 lets other members "
                                                   "reach it (state sync of nodes joining later); firewall it to them"),
    abci_port: int = typer.Option(26658, help="ABCI port (loopback)"),
    prometheus_port: int = typer.Option(26660, help="CometBFT Prometheus port (loopback)"),
    api_host: str = typer.Option("127.0.0.1", help="HTTP API listen address"),
    api_port: int = typer.Option(8545, help="HTTP API port"),
    snapshot_interval: int = typer.Option(1000, min=0, help="Make a state-sync snapshot every N blocks (0: never)"),
) -> None:
    """Create a node home with fresh keys for a network spanning several machines."""
    from baychain.network import cometbft
    from baychain.network.card import NodeCard
    from baychain.network.home import NodeHome, NodeSettings
    from baychain.network.members import Member

    node_home = NodeHome(home)
    if node_home.exists():
        raise BaychainError(Code.ALREADY_EXISTS, f"{home} already holds a node")
    try:
        member = Member(name, organisation, jurisdiction, role)
    except ValueError as exc:
        raise BaychainError(Code.BAD_REQUEST, str(exc)) from None
    try:
        keys = cometbft.init_home(node_home.cometbft)
    except cometbft.CometbftNotFound as exc:
        raise BaychainError(Code.NOT_FOUND, str(exc)) from None
    ports = {"p2p": p2p_port, "rpc": rpc_port, "abci": abci_port, "api": api_port, "prometheus": prometheus_port}
    cometbft.set_config(
        node_home.cometbft,
        cometbft.node_settings(
            moniker=name, ports=ports, persistent_peers=[], p2p_listen="0.0.0.0", rpc_listen=rpc_host,
            external_host=external_host, one_host=False, filter_peers=True,
        ),
    )
    node_home.save(NodeSettings(name=name, organisation=organisation, jurisdiction=jurisdiction, role=role,
                                api_host=api_host, api_port=api_port, snapshot_interval=snapshot_interval))
    card = NodeCard.from_keys(member, keys, f"{external_host}:{p2p_port}")
    card.save(node_home.path / "node-card.json")
    _show_card(ctx, card, node_home.path / "node-card.json")


@app.command()
def show(ctx: typer.Context, home: Path = HomeOpt) -> None:
    """Print the node's identity card: what the other members need to add it."""
    from baychain.network.card import NodeCard
    from baychain.network.home import NodeHome

    path = NodeHome(home).path / "node-card.json"
    if not path.exists():
        raise BaychainError(Code.NOT_FOUND, f"no node card in {home} (created by `baychain node init`)")
    _show_card(ctx, NodeCard.load(path), path)


@app.command()
def join(
    ctx: typer.Context,
    home: Path = HomeOpt,
    genesis: Path = typer.Option(..., exists=True, dir_okay=False, help="The network's genesis.json"),
    peer: Optional[list[str]] = typer.Option(None, "--peer", help="ID@HOST:PORT of another member (repeatable)"),
    tx_gossip: TxGossip = typer.Option(TxGossip.FLOOD, "--tx-gossip",
                                       help="How the node relays transactions: flood (to every peer) or ring (to the "
                                            "next founding member in the genesis and one more peer; all members choose alike)"),
) -> None:
    """Adopt the network's shared genesis and persistent peers."""
    from baychain.network import cometbft
    from baychain.network.home import NodeHome

    node_home = NodeHome(home)
    if not node_home.exists():
        raise BaychainError(Code.NOT_FOUND, f"{home} is not a node home")
    try:
        doc = json.loads(genesis.read_text())
        chain_id = doc["chain_id"]
        validators = doc["validators"]
        founders = ([str(m["node_id"]) for m in ((doc.get("app_state") or {}).get("network") or {}).get("members", [])]
                    if tx_gossip == TxGossip.RING else [])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BaychainError(Code.BAD_REQUEST, f"{genesis} is not a CometBFT genesis: {exc}") from None
    own = cometbft.read_keys(node_home.cometbft)
    peers = [p.strip() for p in peer or [] if p.strip()]
    for p in peers:
        node_id, at, address = p.partition("@")
        if not at or len(node_id) != 40 or ":" not in address:
            raise BaychainError(Code.BAD_REQUEST, f"peer {p!r}: expected ID@HOST:PORT with a 40-hex-digit node id")
        if node_id == own.node_id:
            raise BaychainError(Code.BAD_REQUEST, f"peer {p!r} is this node itself")
    successor = cometbft.gossip_successor(founders, own.node_id)  # None unless a ring of four or more founders
    shutil.copyfile(genesis, node_home.cometbft / "config" / "genesis.json")
    cometbft.set_config(node_home.cometbft, {("p2p", "persistent_peers"): ",".join(peers),
                                             **cometbft.gossip_settings(successor)})
    is_validator = any(v.get("address", "").upper() == own.validator_address for v in validators)
    result = {"chain_id": chain_id, "validator": is_validator, "peers": peers, "gossip_to": successor, "home": str(home)}
    if settings(ctx).json:
        emit_json(result)
    else:
        kv([("chain id", chain_id), ("validator", "yes" if is_validator else "no (not in genesis)"),
            ("peers", ", ".join(peers) or "-"), ("relays transactions to", successor or "every peer (flood)")])
        typer.echo(f"start it with: baychain node start --home {home}")


@app.command("state-sync")
def state_sync(
    ctx: typer.Context,
    home: Path = HomeOpt,
    rpc: list[str] = typer.Option(..., "--rpc", help="CometBFT RPC URL of a member (at least two; the first is "
                                                     "the light client's primary, the others its witnesses)"),
    trust_period: str = typer.Option("168h0m0s", "--trust-period", help="How long the trust anchor stays usable "
                                     "(CometBFT refuses it after; a latest header already older is refused now)"),
) -> None:
    """Start this node from the members' latest snapshot instead of block 1. The trust
    anchor is a header the light client verifies from the genesis; run after `join`,
    before the node's first start."""
    from baychain.network import statesync
    from baychain.network.home import NodeHome

    node_home = NodeHome(home)
    if not node_home.exists():
        raise BaychainError(Code.NOT_FOUND, f"{home} is not a node home")
    anchor = statesync.enable(node_home, rpc, trust_period=trust_period)
    if settings(ctx).json:
        emit_json({"trust_height": anchor.height, "trust_hash": anchor.hash, "rpc_servers": rpc})
    else:
        kv([("trust height", anchor.height), ("trust hash", anchor.hash), ("rpc servers", ", ".join(rpc))])
        typer.echo(f"start it with: baychain node start --home {home}")


@app.command("backfill")
def backfill(
    ctx: typer.Context,
    home: Path = HomeOpt,
    source: list[str] = typer.Option(..., "--from", help="API URL of a member holding the blocks (repeat: every "
                                                          "member that holds a block must serve the same records)"),
    down_to: int = typer.Option(1, "--down-to", min=1, help="Fill in down to this height"),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds per request to a member"),
) -> None:
    """Fill in the blocks before this node's snapshot from members, each checked against
    the signed headers (the node may be running). Needs one block executed after the
    snapshot: its hash anchors the history below."""
    from baychain.network.backfill import backfill as fill
    from baychain.network.home import NodeHome

    node_home = NodeHome(home)
    if not node_home.exists():
        raise BaychainError(Code.NOT_FOUND, f"{home} is not a node home")
    quiet = settings(ctx).json
    result = fill(node_home.data, source, down_to=down_to, timeout=timeout,
                  progress=None if quiet else lambda h: typer.echo(f"history from height {h}"))
    if quiet:
        emit_json({"filled": result.filled, "history_from": result.history_from})
    else:
        kv([("blocks filled in", result.filled), ("history from height", result.history_from)])


def _show_card(ctx: typer.Context, card, path: Path) -> None:
    if settings(ctx).json:
        emit_json(card.to_json())
        return
    kv([
        ("name", card.member.name), ("organisation", card.member.organisation),
        ("jurisdiction", card.member.jurisdiction), ("role", card.member.role),
        ("node id", card.node_id), ("p2p address", card.p2p_address),
        ("validator", card.validator_address), ("validator key", card.validator_pub_key), ("card", path),
    ])


def main(argv: list[str] | None = None) -> None:
    """Standalone entry point (`python -m baychain.cli.node_cmd`), with the CLI's error format."""
    run_standalone(app, "baychain node", argv)


def run_standalone(typer_app: typer.Typer, prog: str, argv: list[str] | None = None) -> None:
    """Run a sub-app on its own (before `baychain` registers it), failing like the CLI does."""
    try:  # typer >= 0.20 vendors its own click
        from typer._click import exceptions as click_exceptions
    except ImportError:  # pragma: no cover - older typer on top of click
        from click import exceptions as click_exceptions  # type: ignore[no-redef]

    args, as_json = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    command = typer.main.get_command(typer_app)
    try:
        code = command.main(args, prog_name=prog, obj=Settings(json=as_json), standalone_mode=False)
    except BaychainError as exc:
        report_error(exc, as_json=as_json)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except click_exceptions.ClickException as exc:
        report_error(BaychainError(Code.BAD_REQUEST, exc.format_message()), as_json=as_json)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
