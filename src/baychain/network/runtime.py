"""One CometBFT-mode node, in one Python process.

`run_node(home)` (what `baychain node start --home DIR` runs) opens the application,
then, on one asyncio event loop:

1. binds the HTTP API's port (so a port clash fails before anything else starts);
2. starts the ABCI server on the address config.toml's `proxy_app` names, with the
   application calls on one worker thread so the loop keeps serving the API;
3. starts the API (uvicorn) — commits reach its waiters through `Application.on_commit`;
4. starts `cometbft node --home DIR/cometbft` once the ABCI server listens, and
   supervises it: if CometBFT exits on its own (it stops on an application failure or
   an app-hash mismatch), the node stops and exits non-zero rather than serving stale
   reads as if all were well;
5. with `filter_peers` on, restarts that child when a connected peer is no longer in
   the node registry, which cuts the connection (`baychain.network.outsiders`).

SIGTERM or SIGINT stops everything in reverse: CometBFT first (it may still be calling
the application), then the ABCI server, the API, and finally the application's store.
A SIGKILL at any instant is safe too: the application commits each block atomically,
CometBFT replays what the application lacks on the next start, and the CometBFT child
dies with the node process. A node killed between a state-sync restore and its first
block syncs again (`statesync.sync_again_if_unfinished`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from baychain.abci.server import AbciServer
from baychain.app.application import Application
from baychain.engine.cometbft import CometbftProcess, CometEngine
from baychain.network import cometbft, outsiders, statesync
from baychain.network.home import NodeHome, NodeSettings

log = logging.getLogger("baychain.node")


@dataclass
class CometNode:
    """What the HTTP API needs from a node: the application and its engine."""

    app: Application
    engine: CometEngine
    settings: NodeSettings
    home: NodeHome


def _api_server_class() -> Any:
    import uvicorn

    class ApiServer(uvicorn.Server):
        """uvicorn without its own signal handling: the node process owns SIGTERM/SIGINT."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return ApiServer


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only
    # when the listening socket says TCP; without it keep-alive clients wait ~40 ms per
    # response (Nagle's algorithm against delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def run_node(home: Path, *, binary: str | None = None) -> int:
    """Run the node in `home` until SIGTERM/SIGINT; the process exit status."""
    return asyncio.run(_run(NodeHome(Path(home)), binary))


async def _run(home: NodeHome, binary: str | None) -> int:
    import uvicorn

    from baychain.api.server import create_api

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per RPC call otherwise
    settings = home.load()
    binary = cometbft.check_binary(binary)
    abci_address, rpc_url = cometbft.endpoints(home.cometbft)
    if os.environ.get("PYTHONHASHSEED") != "0":
        log.warning("PYTHONHASHSEED is not 0; application processes should run with a fixed hash seed")

    try:
        api_socket = _bind(settings.api_host, settings.api_port)
    except OSError as exc:
        log.error("cannot listen for the API on %s:%d: %s", settings.api_host, settings.api_port, exc)
        return 2

    node_id = None
    if cometbft.read_config(home.cometbft).get("filter_peers"):
        log.info("filter_peers is on: peers are limited to the nodes of the on-chain registry (contract `network`)")
        node_id = cometbft.read_keys(home.cometbft).node_id
    options: dict[str, int] = {"verify_workers": settings.admission_workers,
                               "snapshot_interval": settings.snapshot_interval, "snapshot_keep": settings.snapshot_keep}
    if settings.keep_versions is not None:
        options["keep_versions"] = settings.keep_versions
    app = Application(home.data, **options)
    app_mempool = settings.mempool == "app"
    cometbft.set_config(home.cometbft, {("mempool", "type"): "nop" if app_mempool else "flood"})  # node.json decides
    engine = CometEngine(app, rpc_url, relay_peers=settings.relay_peers if app_mempool else None)
    node = CometNode(app, engine, settings, home)
    abci = AbciServer(engine.abci_app, app_thread=True, events=settings.cometbft_events)
    api_server = _api_server_class()(
        uvicorn.Config(
            create_api(node), log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2
        )
    )
    child = CometbftProcess(binary, home.cometbft)
    api_task: asyncio.Task[None] | None = None
    exit_code = 0
    try:
        try:
            await abci.start(abci_address)
        except OSError as exc:
            log.error("cannot listen for ABCI on %s: %s", abci_address, exc)
            return 2
        api_task = asyncio.create_task(api_server.serve(sockets=[api_socket]), name="api")
        statesync.sync_again_if_unfinished(home, app.restored_only)
        await child.start()
        log.info(
            "node %s (%s, %s) running: chain %s at height %d; API http://%s:%d, CometBFT RPC %s, ABCI %s",
            settings.name, settings.organisation or "-", settings.jurisdiction or "-", app.chain_id or "(genesis)",
            app.height, settings.api_host, settings.api_port, rpc_url, abci.address,
        )
        child_task = asyncio.create_task(child.wait(), name="cometbft")
        stop_task = asyncio.create_task(stop.wait(), name="stop")
        watch_task = asyncio.create_task(outsiders.watch(engine, node_id), name="outsiders") if node_id else None
        while True:
            done, _ = await asyncio.wait({child_task, stop_task, api_task} | ({watch_task} if watch_task else set()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if watch_task not in done or done - {watch_task}:
                break
            if watch_task.exception() is not None:
                log.error("watching the peers against the registry failed (%r); removed nodes keep their connections",
                          watch_task.exception())
                watch_task = None
                continue
            log.warning("peers %s are no longer in the node registry: restarting cometbft to cut their connections",
                        ", ".join(watch_task.result()))
            child_task.cancel()
            await child.stop()
            statesync.sync_again_if_unfinished(home, app.restored_only)
            await child.start()
            child_task = asyncio.create_task(child.wait(), name="cometbft")
            watch_task = asyncio.create_task(outsiders.watch(engine, node_id), name="outsiders")
        if stop_task in done:
            log.info("stopping node %s", settings.name)
        elif child_task in done:
            code = child_task.result()
            log.error("cometbft exited on its own (status %s); stopping node %s", code, settings.name)
            engine.halt(RuntimeError(f"cometbft exited with status {code}"))
            exit_code = 1
        else:
            log.error("the API server stopped unexpectedly; stopping node %s", settings.name)
            exit_code = 1
        for task in (child_task, stop_task, watch_task):
            if task is not None:
                task.cancel()
    finally:
        await child.stop()
        await abci.stop()
        api_server.should_exit = True
        if api_task is not None:
            try:
                await asyncio.wait_for(api_task, 10)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - shutting down regardless
                log.warning("the API server did not stop cleanly")
        api_socket.close()
        engine.close()
        app.close()
        log.info("node %s stopped", settings.name)
    return exit_code
