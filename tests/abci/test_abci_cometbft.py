"""End to end: the real pinned CometBFT binary drives the ABCI server (one validator).

Needs the binary from scripts/install-cometbft.sh (<repo>/.tools/bin/cometbft, or
`cometbft` on PATH). Without it the test skips locally and fails under CI (CI=true).
Everything listens on 127.0.0.1 only, on free ports.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from baychain.abci.server import AbciServer
from support import eventually, pinned_cometbft

pytestmark = pytest.mark.slow



def cometbft_binary() -> str:
    """The pinned cometbft binary, or skip (bare local run) / fail (make test, CI) with the reason."""
    return pinned_cometbft()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_toml(path: Path, settings: dict[tuple[str, str], str]) -> None:
    """Set `key = value` lines per (section, key); "" is the top-level section."""
    section = ""
    done = set()
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        header = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if header:
            section = header.group(1)
            continue
        match = re.match(r"^(\s*)([A-Za-z0-9_]+)\s*=", line)
        if match and (section, match.group(2)) in settings:
            lines[i] = f"{match.group(1)}{match.group(2)} = {settings[(section, match.group(2))]}"
            done.add((section, match.group(2)))
    missing = set(settings) - done
    assert not missing, f"settings not found in {path}: {missing}"
    path.write_text("\n".join(lines) + "\n")


class ServerThread:
    """The ABCI server on its own event loop in a background thread."""

    def __init__(self, app) -> None:
        self.app = app
        self.server: AbciServer | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="abci-server", daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.server = AbciServer(self.app)
        await self.server.start("tcp://127.0.0.1:0")
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.stop()

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None or self.server is None:
            raise RuntimeError(f"ABCI server did not start: {self._error!r}")
        return self.server.port

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def rpc(port: int, method: str, **params: str) -> dict:
    query = urllib.parse.urlencode(params)
    url = f"http://127.0.0.1:{port}/{method}" + (f"?{query}" if query else "")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # CometBFT answers RPC errors with HTTP 500
        body = json.loads(exc.read() or b"{}") or {"error": str(exc)}
    if "error" in body:
        raise RuntimeError(f"RPC {method} failed: {body['error']}")
    return body["result"]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "cometbft log tail:\n" + "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return "(no cometbft log)"


class Node:
    """One CometBFT validator home plus the ABCI server it talks to."""

    def __init__(self, binary: str, home: Path, log_path: Path) -> None:
        self.binary = binary
        self.home = home
        self.log_path = log_path
        self.rpc_port = free_port()
        self.p2p_port = free_port()
        self.server: ServerThread | None = None
        self.process: subprocess.Popen | None = None

    def init(self, chain_id: str) -> None:
        subprocess.run(
            [self.binary, "init", "--home", str(self.home)], check=True, capture_output=True, timeout=60
        )
        genesis_path = self.home / "config" / "genesis.json"
        genesis = json.loads(genesis_path.read_text())
        genesis["chain_id"] = chain_id
        # Vote extensions on from height 1, so ExtendVote runs through the server too.
        genesis["consensus_params"]["abci"]["vote_extensions_enable_height"] = "1"
        genesis_path.write_text(json.dumps(genesis, indent=2))

    def start(self, app) -> None:
        self.server = ServerThread(app)
        abci_port = self.server.start()
        set_toml(
            self.home / "config" / "config.toml",
            {
                ("", "proxy_app"): f'"tcp://127.0.0.1:{abci_port}"',
                ("rpc", "laddr"): f'"tcp://127.0.0.1:{self.rpc_port}"',
                ("p2p", "laddr"): f'"tcp://127.0.0.1:{self.p2p_port}"',
                ("p2p", "pex"): "false",
                ("consensus", "timeout_commit"): '"100ms"',
            },
        )
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [self.binary, "node", "--home", str(self.home)], stdout=log_file, stderr=subprocess.STDOUT
            )

    def rpc(self, method: str, **params: str) -> dict:
        return rpc(self.rpc_port, method, **params)

    def height(self) -> int:
        return int(self.rpc("status")["sync_info"]["latest_block_height"])

    def wait_for(self, predicate, what: str, timeout_s: float = 60):
        return eventually(predicate, what, timeout_s, lambda: log_tail(self.log_path))

    def assert_alive(self) -> None:
        assert self.process is not None and self.process.poll() is None, log_tail(self.log_path)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        if self.server is not None:
            self.server.stop()
            self.server = None


class RecordingApp:
    """Wraps an application and remembers the app hash it returned per height."""

    def __init__(self, app) -> None:
        self._app = app
        self.app_hashes: dict[int, bytes] = {}

    def finalize_block(self, block):
        result = self._app.finalize_block(block)
        self.app_hashes[block.height] = result.app_hash
        return result

    def __getattr__(self, name):
        return getattr(self._app, name)


def test_cometbft_commits_a_tx_and_reports_the_app_hash(tmp_path, kv_app_class) -> None:
    node = Node(cometbft_binary(), tmp_path / "cometbft", tmp_path / "cometbft.log")
    app = kv_app_class()
    node.init("kv-test-chain")
    node.start(app)
    try:
        node.wait_for(lambda: node.height() >= 2, "the first blocks")
        node.assert_alive()

        tx = b"greeting=hello-bay-area"
        result = node.rpc("broadcast_tx_commit", tx="0x" + tx.hex())
        assert result["check_tx"]["code"] == 0, result
        assert result["tx_result"]["code"] == 0, result
        height = int(result["height"])
        assert height > 0

        block = node.wait_for(lambda: node.rpc("block", height=str(height + 1)), f"block {height + 1}")
        assert block["block"]["header"]["app_hash"] == app.app_hashes[height].hex().upper()
        assert app.store[b"greeting"] == b"hello-bay-area"

        results = node.rpc("block_results", height=str(height))
        (tx_result,) = results["txs_results"]
        assert tx_result["gas_used"] == str(len(tx))
        assert [e["type"] for e in tx_result["events"]] == ["kv"]

        rejected = node.rpc("broadcast_tx_sync", tx="0x" + b"no-equals-sign".hex())
        assert rejected["code"] == 7 and rejected["codespace"] == "baychain"

        query = node.rpc("abci_query", path='"/store"', data="0x" + b"greeting".hex())
        assert query["response"]["code"] == 0
        assert node.rpc("abci_info")["response"]["version"] == "kv-test"

        assert "init_chain" in app.calls and "prepare_proposal" in app.calls
        assert "process_proposal" in app.calls and "check_tx" in app.calls
        counts = node.server.server.request_counts
        assert counts.get("extend_vote", 0) > 0 and counts.get("finalize_block", 0) >= height
        node.assert_alive()
    finally:
        node.stop()


def test_cometbft_runs_the_baychain_application_across_a_restart(tmp_path) -> None:
    from baychain import encoding
    from baychain import transactions as txs
    from baychain.app.application import Application
    from baychain.crypto.suites import ED25519

    chain_id = "baychain-abci-test"
    node = Node(cometbft_binary(), tmp_path / "cometbft", tmp_path / "cometbft.log")
    node.init(chain_id)
    data_dir = tmp_path / "app"
    app = RecordingApp(Application(data_dir))
    node.start(app)
    try:
        node.wait_for(lambda: node.height() >= 2, "the first blocks")
        key = ED25519.generate()
        digest = bytes(range(32))
        tx = txs.sign(
            txs.build(
                chain_id=chain_id, suite=ED25519.suite_id, signer=ED25519.public_key(key), nonce=0,
                expiry_height=1_000_000, contract="notary", method="notarize",
                args={"digest": digest, "metadata": {"title": "abci test"}},
            ),
            key,
        )
        result = node.rpc("broadcast_tx_commit", tx="0x" + tx.raw.hex())
        assert result["check_tx"]["code"] == 0, result
        assert result["tx_result"]["code"] == 0, result
        height = int(result["height"])
        block = node.wait_for(lambda: node.rpc("block", height=str(height + 1)), f"block {height + 1}")
        assert block["block"]["header"]["app_hash"] == app.app_hashes[height].hex().upper()

        try:  # the mempool cache or the app's nonce check must refuse a replay
            replay = node.rpc("broadcast_tx_sync", tx="0x" + tx.raw.hex())
        except RuntimeError as exc:
            assert "already exists" in str(exc)
        else:
            assert replay["code"] != 0, replay

        view = node.rpc(
            "abci_query", path='"/view/notary/lookup"', data="0x" + encoding.encode({"digest": digest}).hex()
        )
        assert view["response"]["code"] == 0, view
        node.assert_alive()

        # Restart both processes on the same data: the Info handshake must line up.
        node.stop()
        stopped_at = max(app.app_hashes)
        app.close()
        app = RecordingApp(Application(data_dir))
        node.start(app)
        node.wait_for(lambda: node.height() >= stopped_at + 2, "blocks after the restart")
        node.assert_alive()
        later = node.height() - 1
        header = node.rpc("block", height=str(later + 1))["block"]["header"]
        assert header["app_hash"] == app.app_hashes[later].hex().upper()
    finally:
        node.stop()
        app.close()
