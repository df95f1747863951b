"""A node killed with SIGKILL at random moments under load loses nothing it acknowledged.

The node runs as a real process (`baychain dev`, the embedded engine behind the HTTP
API) on one home directory. The test process loads it over HTTP on 127.0.0.1 —
batches of points transfers, single transfers that wait for their commit — while a
poller records the blocks the node reports as committed. At a random moment (seeded)
the node is killed with SIGKILL, and:

* the data directory, opened as a restarting node opens it, must hold one consistent
  history (tests/crash/crash_helpers.py: handshake = last block = state root, app
  hashes chain, every listed tx stored with its receipt, nonces = committed txs,
  supply = sum of balances, latest values hash to the app hash);
* every block the node reported and every transaction whose commit it acknowledged
  must be there, unchanged (same app hash, same receipt);
* the node restarts on the same home, serves the same history over HTTP, and takes
  load again; then the next kill.

At the end the whole chain is replayed into a fresh application from genesis: every
block must give the app hash that was recorded before the crashes.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from crash_helpers import check_data_dir, replay

from support import Signer

pytestmark = pytest.mark.slow

SEED = 20240917
KILLS = 7
CHAIN_ID = "crash-chain"
SYMBOL = "CRASH"
EXPIRY = 2**40
BATCH_ACCOUNTS = 48
WAIT_ACCOUNTS = 3
INITIAL = 10**9
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeProcess:
    """`baychain dev` in a child process, killable with SIGKILL."""

    def __init__(self, home: Path, log_path: Path) -> None:
        self.home = home
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONHASHSEED="0")
        log = open(self.log_path, "ab")
        log.write(f"\n--- start on port {port} ---\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "baychain.cli.main", "dev", "--home", str(self.home), "--port", str(port),
             "--chain-id", CHAIN_ID, "--block-interval", "0.05"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"node did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class Load:
    """Drives the node over HTTP from three threads and records what it acknowledged."""

    def __init__(self, url: str, batch_signers: list[Signer], wait_signers: list[Signer], rng: random.Random) -> None:
        self.url = url
        self.batch_signers = batch_signers
        self.wait_signers = wait_signers
        self.rng = random.Random(rng.random())
        self.stop = threading.Event()
        self.acked_txs: dict[str, dict[str, Any]] = {}  # hash hex -> receipt json
        self.acked_blocks: dict[int, dict[str, Any]] = {}  # height -> block json
        self.admitted = 0
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._guard, args=(f,), daemon=True)
                        for f in (self._batches, self._waits, self._poll)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
            assert not t.is_alive(), "a load thread did not stop"
        if self.errors:
            raise self.errors[0]

    def _guard(self, body: Any) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=10.0) as client:
                body(client)
        except httpx.TransportError:
            if not self.stop.is_set():  # the node died: expected only once we stop
                self.stop.wait()
        except BaseException as exc:  # surfaced by join()
            if not self.stop.is_set():
                self.errors.append(exc)

    def _transfer(self, signer: Signer, signers: list[Signer]) -> Any:
        to = self.rng.choice([s for s in signers if s is not signer])
        return signer.tx("points", "transfer", expiry_height=EXPIRY, symbol=SYMBOL, to=to.address,
                         amount=self.rng.randint(1, 5))

    def _batches(self, client: httpx.Client) -> None:
        signers = self.batch_signers
        while not self.stop.is_set():
            # One transaction per account per batch: a rejected one rolls its account back.
            picked = self.rng.sample(signers, self.rng.randint(8, len(signers)))
            sent = [(s, self._transfer(s, signers)) for s in picked]
            r = client.post("/v1/txs/batch", json={"txs": [tx.raw.hex() for _, tx in sent]})
            assert r.status_code == 200, r.text
            for (signer, tx), res in zip(sent, r.json()["results"]):
                if res["code"] == 0:
                    self.admitted += 1
                else:  # the only acceptable rejection: no room yet
                    assert res["error"] == "MEMPOOL_FULL", res
                    signer.nonce = tx.nonce
            time.sleep(self.rng.uniform(0.0, 0.03))

    def _waits(self, client: httpx.Client) -> None:
        while not self.stop.is_set():
            signer = self.rng.choice(self.wait_signers)
            tx = self._transfer(signer, self.wait_signers)
            r = client.post("/v1/txs", json={"tx": tx.raw.hex(), "wait": True, "timeout": 10})
            body = r.json()
            if r.status_code != 200:
                # A slow machine: not committed in time (it may still be), or no room yet.
                assert body["error"] in ("TIMEOUT", "MEMPOOL_FULL"), body
                if body["error"] == "MEMPOOL_FULL":
                    signer.nonce = tx.nonce
                continue
            assert body["status"] == "committed" and body["code"] == 0, body
            assert body["hash"] == tx.hash.hex()
            self.acked_txs[body["hash"]] = body

    def _poll(self, client: httpx.Client) -> None:
        while not self.stop.is_set():
            r = client.get("/v1/blocks/latest")
            if r.status_code == 200:
                block = r.json()
                self.acked_blocks[block["height"]] = block
            time.sleep(0.05)


def resync(client: httpx.Client, signers: list[Signer]) -> None:
    """After a crash the mempool is gone: continue from each account's committed nonce."""
    for s in signers:
        s.nonce = client.get(f"/v1/accounts/{s.address}").json()["nonce"]


def submit_and_wait(client: httpx.Client, tx: Any) -> dict[str, Any]:
    r = client.post("/v1/txs", json={"tx": tx.raw.hex(), "wait": True, "timeout": 30})
    assert r.status_code == 200 and r.json()["code"] == 0, r.text
    return r.json()


def check_online(client: httpx.Client, acked_blocks: dict[int, dict[str, Any]], acked_txs: dict[str, dict[str, Any]],
                 signers: list[Signer]) -> None:
    """After a restart the node serves exactly the history it acknowledged before."""
    height = client.get("/v1/status").json()["height"]
    assert height >= max(acked_blocks, default=0), "the node restarted below a height it had reported"
    for h, before in acked_blocks.items():
        after = client.get(f"/v1/blocks/{h}").json()
        for field in ("hash", "app_hash", "last_app_hash", "txs", "time_ns"):
            assert after[field] == before[field], f"block {h}: {field} changed across the crash"
    for tx_hash, before in acked_txs.items():
        after = client.get(f"/v1/txs/{tx_hash}/receipt").json()
        for field in ("height", "index", "code", "events"):
            assert after[field] == before[field], f"tx {tx_hash}: receipt {field} changed across the crash"
    total = sum(client.post("/v1/contracts/points/balance/query",
                            json={"args": {"symbol": SYMBOL, "account": s.address}}).json()["value"] for s in signers)
    supply = client.post("/v1/contracts/points/info/query", json={"args": {"symbol": SYMBOL}}).json()["value"]["supply"]
    assert total == supply


@pytest.mark.timeout(300)
def test_kill9_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    home = tmp_path / "node"
    node = NodeProcess(home, tmp_path / "node.log")
    issuer = Signer(CHAIN_ID, seed=bytes([200]) * 32)
    batch_signers = [Signer(CHAIN_ID, seed=bytes([i + 1]) * 32) for i in range(BATCH_ACCOUNTS)]
    wait_signers = [Signer(CHAIN_ID, seed=bytes([100 + i]) * 32) for i in range(WAIT_ACCOUNTS)]
    everyone = batch_signers + wait_signers

    acked_blocks: dict[int, dict[str, Any]] = {}
    acked_txs: dict[str, dict[str, Any]] = {}
    node.start()
    try:
        with httpx.Client(base_url=node.url, timeout=30.0) as client:
            submit_and_wait(client, issuer.tx("points", "create", expiry_height=EXPIRY, symbol=SYMBOL, title="crash"))
            for s in everyone:
                issue = issuer.tx("points", "issue", expiry_height=EXPIRY, symbol=SYMBOL, to=s.address, amount=INITIAL)
                r = client.post("/v1/txs/batch", json={"txs": [issue.raw.hex()]})
                assert r.json()["results"][0]["code"] == 0, r.text
            submit_and_wait(client, issuer.tx("points", "issue", expiry_height=EXPIRY, symbol=SYMBOL,
                                              to=issuer.address, amount=1))

        admitted = 0
        for round_no in range(KILLS):
            load = Load(node.url, batch_signers, wait_signers, rng)
            load.start()
            delay = rng.uniform(0.3, 2.5)
            time.sleep(delay)
            node.kill()  # SIGKILL, mid-load: possibly mid-commit
            load.join()
            admitted += load.admitted
            acked_blocks.update(load.acked_blocks)
            acked_txs.update(load.acked_txs)

            # What the crash left on disk is one consistent history holding all it acknowledged.
            summary = check_data_dir(home / "data")
            for h, before in acked_blocks.items():
                assert h <= summary.height, f"round {round_no}: acknowledged block {h} lost (disk at {summary.height})"
                assert summary.blocks[h]["app_hash"].hex() == before["app_hash"], f"block {h}: app hash changed"
                assert [t.hex() for t in summary.blocks[h]["txs"]] == before["txs"]
            for tx_hash, receipt in acked_txs.items():
                h = receipt["height"]
                assert h <= summary.height and summary.blocks[h]["txs"][receipt["index"]] == bytes.fromhex(tx_hash), (
                    f"round {round_no}: tx {tx_hash} acknowledged at height {h} lost (disk at {summary.height})")

            node.start()
            with httpx.Client(base_url=node.url, timeout=30.0) as client:
                status = client.get("/v1/status").json()
                assert status["height"] == summary.height, "the restarted node is not at the height left on disk"
                assert status["app_hash"] == summary.app_hash.hex()
                check_online(client, acked_blocks, acked_txs, everyone + [issuer])
                resync(client, everyone)
            print(f"round {round_no}: killed after {delay:.2f} s at height {summary.height}, "
                  f"{summary.tx_count} txs on disk, {len(load.acked_txs)} commits acknowledged this round")

        # Enough happened for the test to mean something.
        assert len(acked_txs) >= KILLS and len(acked_blocks) >= KILLS and admitted > 500, (len(acked_txs), admitted)
    finally:
        node.kill()

    final = check_data_dir(home / "data")
    assert replay(home / "genesis.json", home / "data", tmp_path / "replayed") == final.height
