"""A real single-node chain inside the current process, for application tests.

    with local_node(tmp_path) as node:
        client = Client(node.url)
        ...

It runs the embedded (solo) engine and the node's HTTP API (uvicorn, on a free
loopback port, in a background thread), exactly what `baychain dev` runs, so tests
exercise the real admission, execution, proofs and error codes — no mocks. Leaving
the block stops the API server, then the engine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LocalNode:
    url: str
    node: Any  # baychain.node.SoloNode
    server: Any  # uvicorn.Server


@contextmanager
def local_node(
    home: str | Path,
    *,
    chain_id: str | None = None,
    block_interval: float = 0.05,
    startup_timeout: float = 15.0,
) -> Iterator[LocalNode]:
    """Start a node in `home` with its API on 127.0.0.1:<free port>; stop both on exit."""
    import uvicorn

    from baychain.api.server import create_api
    from baychain.node import NodeConfig, SoloNode

    config = NodeConfig(home=Path(home), block_interval=block_interval)
    if chain_id is not None:
        config.chain_id = chain_id
    node = SoloNode(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_api(node), log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="baychain-api", daemon=True)
    node.start()
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the node's API server did not start")
            time.sleep(0.01)
        yield LocalNode(url=f"http://127.0.0.1:{port}", node=node, server=server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        node.stop()
