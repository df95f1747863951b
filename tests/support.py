"""Helpers shared by tests: vector decoding, keys and transaction factories."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest
from typer.testing import CliRunner

from baychain import transactions as T
from baychain.crypto.suites import ED25519

VECTORS = Path(__file__).parent / "vectors"


def missing_tool(problem: str) -> NoReturn:
    """A tool the test needs is absent. Under `make test` (BAYCHAIN_REQUIRE_TOOLS=1, which
    installs every tool first) or CI=true that is a failure; in a bare local run, a skip."""
    if os.environ.get("BAYCHAIN_REQUIRE_TOOLS") == "1" or os.environ.get("CI", "").lower() == "true":
        pytest.fail(problem)
    pytest.skip(problem)


def state_but_block(app: Any) -> dict[bytes, bytes]:
    """Every committed (key, value) of an Application's state except `sys/block`, which
    every block rewrites: what "a block changed nothing" compares."""
    from baychain.app.application import KEY_LAST_BLOCK

    items = app.state.latest_items()
    try:
        return {key: value for key, value in items if key != KEY_LAST_BLOCK}
    finally:
        items.close()


@contextlib.contextmanager
def http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` behind a real HTTP server on a free loopback port, for the block; its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pinned_cometbft() -> str:
    """The pinned cometbft binary (scripts/install-cometbft.sh), or missing_tool with the reason."""
    from baychain.abci.version import COMETBFT_VERSION
    from baychain.network import cometbft

    try:
        return cometbft.check_binary()
    except cometbft.CometbftNotFound as exc:
        missing_tool(f"{exc} (pinned {COMETBFT_VERSION})")


def openssl_binary() -> str:
    """The openssl command line (scripts/install-system.sh), or missing_tool."""
    found = shutil.which("openssl")
    if found is None:
        missing_tool("openssl is not installed; run scripts/install-system.sh")
    return found


def eventually(predicate: Callable[[], Any], what: str, timeout: float, context: Callable[[], str],
               poll: float = 0.1) -> Any:
    """The first truthy value of `predicate`, asked every `poll` seconds (errors count as
    not yet); after `timeout` seconds an AssertionError naming `what`, the last error and
    `context()` (a process's log tail)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} ({last!r})\n{context()}")


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def untag(value: Any) -> Any:
    """Vector files write bytes as {"$bytes": hex}; turn them back into bytes."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value


class Signer:
    """A key pair that signs transactions with consecutive nonces."""

    def __init__(self, chain_id: str, seed: bytes | None = None) -> None:
        self.chain_id = chain_id
        self.private_key = seed or ED25519.generate()
        self.public_key = ED25519.public_key(self.private_key)
        self.nonce = 0
        self.address = T.build(chain_id=chain_id, suite=1, signer=self.public_key, nonce=0, expiry_height=0,
                               contract="x", method="x", args={}).sender

    def tx(self, contract: str, method: str, *, nonce: int | None = None, expiry_height: int = 10_000,
           chain_id: str | None = None, **args: Any) -> T.Transaction:
        if nonce is None:
            nonce = self.nonce
            self.nonce += 1
        return T.sign(
            T.build(chain_id=chain_id or self.chain_id, suite=1, signer=self.public_key, nonce=nonce,
                    expiry_height=expiry_height, contract=contract, method=method, args=args),
            self.private_key,
        )


@dataclass
class Cli:
    """`baychain` run in-process, with the node, key directory and passphrase set through
    the environment (as a script would set them)."""

    url: str
    keys_dir: Path
    passphrase: str
    runner: CliRunner = field(default_factory=CliRunner)

    def env(self, **extra: str) -> dict[str, str]:
        return {"BAYCHAIN_NODE": self.url, "BAYCHAIN_KEYS_DIR": str(self.keys_dir),
                "BAYCHAIN_PASSPHRASE": self.passphrase, "COLUMNS": "200", **extra}

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):
        from baychain.cli.main import app

        return self.runner.invoke(app, list(args), input=input, env=env if env is not None else self.env())

    def json(self, *args: str) -> Any:
        result = self("--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def new_key(self, name: str):
        """A fresh key saved in the key directory under `name` (cheap scrypt, for tests)."""
        from baychain.sdk import Key, KeyStore

        key = Key.generate()
        KeyStore(self.keys_dir).save(name, key, self.passphrase, scrypt_n=2**12)
        return key
