"""`baychain points`: read points balances (proof-checked). Send with `baychain tx send points ...`."""

from __future__ import annotations

from pathlib import Path

import typer

from baychain.cli.keys import KeysDir, resolve_address
from baychain.cli.output import emit_json, kv, settings
from baychain.contracts.context import contract_key

app = typer.Typer(help="Points programmes: balances, proved against the chain's app hash.", no_args_is_help=True)


@app.command("balance")
def balance(
    ctx: typer.Context,
    symbol: str = typer.Argument(..., help="Programme symbol, e.g. GBA"),
    address: str = typer.Argument(..., help="Account address (bc1…) or key name"),
    height: int = typer.Option(0, help="As of this height (0 = latest)"),
    keys_dir: Path = KeysDir,
) -> None:
    """An account's balance in a points programme, verified with a Merkle proof."""
    s = settings(ctx)
    account = resolve_address(address, keys_dir)
    with s.client() as client:
        proven = client.prove_state(contract_key("points", f"bal/{symbol}/{account}"), height=height)
    amount = proven.decoded() or 0
    if s.json:
        emit_json({"symbol": symbol, "account": account, "balance": amount, "height": proven.height, "verified": True})
        return
    kv([("symbol", symbol), ("account", account), ("balance", amount),
        ("proof", f"VERIFIED against app hash {proven.app_hash.hex()} of block {proven.height}")])
