"""`baychain demo`: a Greater Bay Area consortium on your machine, its scenarios played end to end.

It creates a local consortium — a Guangdong core enterprise and bank, a Hong Kong bank
and logistics firm, a Macao importer and a regulator — with real X.509 certificates,
certificate-bound accounts and committee governance (`baychain.demo.network`), then
plays supply-chain finance, e-invoices, traceability, governance and the regulator's
alert log through the SDK (`baychain.demo.walkthrough`), and leaves the network and
its API running to explore.

It runs on four CometBFT validators when the pinned CometBFT is installed (`make
cometbft`), and otherwise on the embedded engine, saying so. The story is the same
code on both: it sees nothing but a node's HTTP API.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from baychain.demo.network import COMETBFT, DEFAULT_DIR, SOLO, Network, clear, cometbft_problem, start_cometbft, start_solo
from baychain.demo.walkthrough import WALLET, DemoFailed, Walkthrough
from baychain.network.committee import LOCAL_PASSPHRASE
from baychain.errors import BaychainError, Code
from baychain.sdk.client import Client

ENGINES = ("auto", COMETBFT, SOLO)
# The voucher's payment term, in seconds of chain time: long enough to finance it before it
# matures even on a busy machine (CometBFT commits about a block a second), short enough to
# see it settled.
TERM_SECONDS = {SOLO: 15, COMETBFT: 30}

__all__ = ["DEFAULT_DIR", "DemoFailed", "ENGINES", "run_demo"]


def run_demo(directory: Path = DEFAULT_DIR, *, engine: str = "auto", host: str = "127.0.0.1", port: int = 8545,
             serve: bool = True, term_seconds: int | None = None, console: Console | None = None) -> dict[str, Any]:
    """Create the consortium in `directory` (replacing an earlier demo there), run the
    walkthrough, then keep it running if `serve`; what happened (see `Walkthrough.outcome`).
    `term_seconds` overrides the voucher's payment term (TERM_SECONDS).

    `engine` is "cometbft", "solo" or "auto" (CometBFT when it is installed). CometBFT
    nodes are detached processes that outlive this call when serving; the solo node
    lives in this process, which then serves until interrupted (Ctrl-C)."""
    if engine not in ENGINES:
        raise BaychainError(Code.BAD_REQUEST, f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    console = console or Console(highlight=False)
    directory = Path(directory)
    network = _start(directory, engine, host, port, console)
    stopped = False
    try:
        with Client(network.api_url, timeout=30) as client:
            term = term_seconds or TERM_SECONDS[network.engine]
            outcome = Walkthrough(client, network, console, term_seconds=term).run()
        outcome["urls"] = _explore(network, outcome, console, serve=serve)
        if serve and network.engine == SOLO:
            console.print("The embedded node keeps running in this process; press Ctrl-C to stop it.")
            try:
                network.wait()
            except KeyboardInterrupt:
                console.print("stopping…")
        if serve and network.engine == COMETBFT:
            stopped = True  # the validators outlive us: that is the point
        return outcome
    finally:
        if not stopped:
            network.stop()


def _start(directory: Path, engine: str, host: str, port: int, console: Console) -> Network:
    clear(directory)
    if engine == "auto":
        problem = cometbft_problem()
        engine = SOLO if problem else COMETBFT
        if problem:
            console.print(f"[yellow]CometBFT is not available ({problem}).[/]\n[yellow]Running on the embedded "
                          "engine: one node, the same application and the same walkthrough. For four validators, "
                          "install CometBFT with `make cometbft` and run the demo again.[/]")
    if engine == COMETBFT:
        console.print(f"Starting 4 CometBFT validators in {directory} …")
        return start_cometbft(directory, progress=console.print)
    console.print(f"Starting the embedded engine in {directory} …")
    return start_solo(directory, host=host, port=port)


def _explore(network: Network, outcome: dict[str, Any], console: Console, *, serve: bool) -> dict[str, str]:
    """Print where to look next; the URLs."""
    api = network.api_url
    trace = outcome["trace"]
    urls = {
        "api": api,
        "docs": f"{api}/docs",
        "consumer": f"{api}/01/{trace['gtin']}/10/{trace['lot']}",
        "alerts": f"{api}/v1/regulator/alerts",
        "events": f"{api}/v1/events/stream",
    }
    cli = _cli_name()
    console.rule("[bold]Explore[/]", align="left")
    console.print(f"done at height {outcome['height']} (app hash {outcome['app_hash'][:16]}…) in "
                  f"{outcome['seconds']:.0f} s on {network.engine}")
    if not serve:
        console.print("(--no-serve: the network stops now)")
        return urls
    for name, url in network.urls.items():
        console.print(f"  node {name:<12} {url}")
    console.print(f"  API docs           {urls['docs']}")
    console.print(f"  consumer QR link   {urls['consumer']}")
    console.print(f"  regulator alerts   {urls['alerts']}")
    console.print(f"  live events        {urls['events']}")
    console.print(f"  committee keys     {network.directory / 'keys'}")
    console.print(f"  staff keys         {network.directory / WALLET}  (passphrase of both: {LOCAL_PASSPHRASE})")
    console.print(f"  consortium CA      {network.directory / 'ca'}   e.g. {cli} ca list --dir {network.directory / 'ca'}")
    console.print(f"  data gateways      {network.directory / 'gateways'}   {cli} gateway start --home …/gd-bank")
    console.print("  try the CLI:")
    console.print(f"    export BAYCHAIN_NODE={api} BAYCHAIN_KEYS_DIR={network.directory / WALLET} "
                  f"BAYCHAIN_PASSPHRASE={LOCAL_PASSPHRASE}")
    console.print(f"    {cli} regulator alerts; {cli} gov list; {cli} scf tree {outcome['scf']['voucher']}; "
                  f"{cli} trace verify {trace['gtin']} {trace['lot']}")
    if network.engine == COMETBFT:
        console.print(f"  status             {cli} net status --dir {network.directory}")
        console.print(f"Stop it with: [bold]{cli} net down --dir {network.directory}[/]")
    return urls


def _cli_name() -> str:
    """How to call the CLI from the user's shell: the virtualenv's script when its virtualenv is
    not activated (as after `make demo`), else `baychain`."""
    script = Path(sys.executable).parent / "baychain"
    if sys.prefix == sys.base_prefix or os.environ.get("VIRTUAL_ENV") or not script.exists():
        return "baychain"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
