"""`baychain`: run nodes, manage keys, send transactions, read the chain.

Human-readable output by default; `--json` (anywhere on the command line) for
scripts. Every failure exits non-zero and prints the stable error code and its
sentence: `error CODE_NAME (code N): message`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from baychain.cli import ca, chain, contract, gateway, gov, identity, invoice, keys, net, node_cmd, notary, points, scf, trace
from baychain.cli.output import JSON_META, Settings, click_exceptions, report_error, hoist_global_options, usage_error
from baychain.errors import BaychainError, Code
from baychain.sdk.client import DEFAULT_NODE, TransactionFailed


class BaychainGroup(TyperGroup):
    """The root command: turns every expected failure into the stable error format."""

    def make_context(self, info_name: str | None, args: list[str], parent: typer.Context | None = None, **extra: Any) -> typer.Context:
        as_json = False
        if parent is None:
            args, as_json = hoist_global_options(list(args))
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click_exceptions.NoArgsIsHelpError:
            raise
        except click_exceptions.UsageError as exc:
            report_error(usage_error(exc), as_json=as_json, hint=_hint(exc))
            raise typer.Exit(2) from None
        ctx.meta[JSON_META] = as_json
        return ctx

    def invoke(self, ctx: typer.Context) -> Any:
        as_json = bool(ctx.meta.get(JSON_META))
        try:
            return super().invoke(ctx)
        except TransactionFailed as exc:
            report_error(exc, as_json=as_json, extra={"receipt": exc.receipt.to_json()},
                         hint=f"transaction {exc.receipt.hash} was committed at height {exc.receipt.height} and failed")
            raise typer.Exit(1) from None
        except BaychainError as exc:
            report_error(exc, as_json=as_json)
            raise typer.Exit(1) from None
        except click_exceptions.NoArgsIsHelpError:
            raise
        except click_exceptions.UsageError as exc:
            report_error(usage_error(exc), as_json=as_json, hint=_hint(exc))
            raise typer.Exit(2) from None
        except OSError as exc:
            if exc.filename is None:
                raise
            report_error(BaychainError(Code.BAD_REQUEST, f"{exc.strerror or exc}: {exc.filename}"), as_json=as_json)
            raise typer.Exit(1) from None


def _hint(exc: click_exceptions.UsageError) -> str:
    if exc.ctx is None:
        return ""
    return f"Try '{exc.ctx.command_path} --help' for help."


app = typer.Typer(
    cls=BaychainGroup,
    help="baychain: a consortium blockchain for the Greater Bay Area.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    node: str = typer.Option(DEFAULT_NODE, "--node", envvar="BAYCHAIN_NODE", help="Node API URL"),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable JSON output (allowed anywhere)"),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for the node (and for commits)"),
) -> None:
    """baychain: a consortium blockchain for the Greater Bay Area."""
    if timeout <= 0:
        raise BaychainError(Code.BAD_REQUEST, "--timeout must be positive")
    ctx.obj = Settings(node=node, json=json_output or bool(ctx.meta.get(JSON_META)), timeout=timeout)


@app.command()
def dev(
    home: Path = typer.Option(Path(".baychain/dev"), help="Node home: genesis and data live here"),
    host: str = typer.Option("127.0.0.1", help="API listen address"),
    port: int = typer.Option(8545, help="API port"),
    chain_id: str = typer.Option("baychain-dev", help="Chain id for a new chain"),
    block_interval: float = typer.Option(0.2, help="Seconds between blocks"),
    max_block_txs: int = typer.Option(10_000, help="Most transactions in one block"),
) -> None:
    """Start a single-node chain (embedded engine) with its HTTP API."""
    _fixed_hash_seed()
    from baychain.api.server import serve
    from baychain.node import NodeConfig, SoloNode

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    node = SoloNode(NodeConfig(home=home, chain_id=chain_id, block_interval=block_interval, max_block_txs=max_block_txs))
    typer.echo(f"baychain dev: chain {node.app.chain_id} at height {node.app.height}, API on http://{host}:{port}")
    serve(node, host, port)


@app.command()
def demo(
    directory: Path = typer.Option(Path(".baychain/demo"), "--dir", help="Directory of the demo network (an earlier demo there is replaced)"),
    engine: str = typer.Option("auto", "--engine", help="cometbft (4 validators), solo (embedded), or auto: CometBFT when installed"),
    host: str = typer.Option("127.0.0.1", help="API listen address (embedded engine)"),
    port: int = typer.Option(8545, help="API port of the embedded engine (0 = any free port)"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep the network running after the walkthrough"),
) -> None:
    """Create a GBA consortium (6 organisations, certificates, committee), play its scenarios end to end, keep it running."""
    _fixed_hash_seed()
    from rich.console import Console

    from baychain.demo import run_demo

    run_demo(directory, engine=engine, host=host, port=port, serve=serve, console=Console(highlight=False))


def _fixed_hash_seed() -> None:
    """Node processes run with PYTHONHASHSEED=0 (determinism rule); re-exec once if not."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "baychain.cli.main", *sys.argv[1:]])


chain.register(app)
app.add_typer(keys.app, name="keys")
app.add_typer(notary.app, name="notary")
app.add_typer(contract.app, name="contract")
app.add_typer(points.app, name="points")
app.add_typer(net.app, name="net")
app.add_typer(gateway.app, name="gateway")
app.add_typer(node_cmd.app, name="node")
app.add_typer(ca.app, name="ca")
app.add_typer(gov.app, name="gov")
app.add_typer(identity.app, name="identity")
app.add_typer(gov.regulator_app, name="regulator")
app.add_typer(scf.app, name="scf")
app.add_typer(invoice.app, name="invoice")
app.add_typer(trace.app, name="trace")


if __name__ == "__main__":
    app()
