"""`baychain`: run nodes, manage keys, send transactions, read the chain.

Human-readable output by default; `--json` on reading commands for scripts. Every
failure exits non-zero and prints the stable error code and its sentence.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

app = typer.Typer(help="baychain: a consortium blockchain for the Greater Bay Area.", no_args_is_help=True)


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
    from baychain.api.server import serve
    from baychain.node import NodeConfig, SoloNode

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    node = SoloNode(NodeConfig(home=home, chain_id=chain_id, block_interval=block_interval, max_block_txs=max_block_txs))
    typer.echo(f"baychain dev: chain {node.app.chain_id} at height {node.app.height}, API on http://{host}:{port}")
    serve(node, host, port)


if __name__ == "__main__":
    app()
