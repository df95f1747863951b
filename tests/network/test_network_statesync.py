"""State sync with four real validators on 127.0.0.1: `baychain net join` adds a node to the
running network (its home, the committee's vote, a trust anchor the light client verified
from the genesis); it starts from the members' latest snapshot, never executes the blocks
before it, survives a kill -9 right after the restore, and then agrees with every member
on every block it executes."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from baychain import encoding
from baychain.errors import BaychainError, Code
from baychain.network.backfill import backfill
from baychain.network import cometbft, statesync
from baychain.network.home import NodeHome
from baychain.network.processes import kill_node, start_node, stop_node
from baychain.network.rpc import CometRpc
from baychain.sdk import Client, Key
from baychain.network.manifest import NetworkManifest
from netsupport import kill_strays, running_network
from support import Signer, http_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHAIN_ID = "baychain-statesync-test"
INTERVAL = 50  # ~17 s of blocks: a snapshot outlives the joiner's 15 s of snapshot discovery


@contextlib.contextmanager
def tampering(upstream: str, height: int, *, field: int, value: object) -> Iterator[str]:
    """The URL of a member that relays `upstream`'s API but changes one field of the first
    transaction record of block `height` it serves for backfills: a member that lies."""
    class Liar(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            response = httpx.get(upstream + self.path, timeout=10)
            body = response.content
            if self.path == f"/v1/history/{height}":
                block, txs = encoding.decode(body)
                record = encoding.decode(txs[0])
                record[field] = value
                body = encoding.encode([block, [encoding.encode(record), *txs[1:]]])
            self.send_response(response.status_code)
            self.send_header("Content-Type", response.headers.get("content-type", "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Liar) as url:
        yield url


def snapshot_heights(net, name: str) -> list[int]:
    directory = net.home(name).data / "snapshots"
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.exists() else []


def test_a_node_joining_late_restores_a_snapshot_and_then_agrees_with_every_member(tmp_path) -> None:
    with running_network(tmp_path / "net", CHAIN_ID, snapshot_interval=INTERVAL) as net:
        gd, hk, mo, reg = net.names
        # State written before the snapshot reaches the new node only through it.
        signer = Signer(CHAIN_ID)
        raws = [signer.tx("notary", "notarize", digest=bytes([i]) * 32, metadata={"n": i}).raw for i in range(8)]
        results = net.post(gd, "/v1/txs/batch", {"txs": [r.hex() for r in raws]})["results"]
        assert [r["code"] for r in results] == [0] * len(raws), results
        first = results[0]["hash"]
        net.wait_for(lambda: net.clients[gd].get(f"/v1/txs/{results[-1]['hash']}/receipt").status_code == 200,
                     "the notarizations to commit", 30)

        height = net.api(gd, f"/v1/txs/{results[-1]['hash']}/receipt")["height"]
        snapshot = (height // INTERVAL + 1) * INTERVAL  # the first snapshot that holds them
        net.wait_for(lambda: all(snapshot in snapshot_heights(net, n) for n in net.names),
                     f"every member's snapshot of height {snapshot}", 90)

        rpcs = [net.manifest.node(n).rpc_url for n in (hk, mo, reg)]
        stranger = NodeHome(tmp_path / "stranger")  # `cometbft init`'s own genesis: another chain
        cometbft.init_home(stranger.cometbft)
        with pytest.raises(BaychainError) as refused:
            statesync.enable(stranger, rpcs)
        assert refused.value.code == Code.WRONG_CHAIN_ID

        # One command: the home, the committee's vote, the trust anchor, the start.
        out = subprocess.run([sys.executable, "-m", "baychain.cli.net", "join", "--dir", str(net.directory), "--name", "joiner",
                              "--organisation", "Macao Cold Chain Ltd", "--jurisdiction", "MO", "--json"],
                             capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONHASHSEED="0"))
        assert out.returncode == 0, out.stderr
        joined = json.loads(out.stdout)
        anchor_height = joined["trust_height"]
        assert anchor_height >= snapshot
        entry = NetworkManifest.load(net.directory).node("joiner")  # `net up/down/status` manage it from now on
        joiner, ports = NodeHome(net.directory / entry.home), entry.ports
        try:
            assert net.post(gd, "/v1/contracts/network/node/query", {"args": {"node_id": entry.node_id}})["value"]["name"] == "joiner"
            again = subprocess.run([sys.executable, "-m", "baychain.cli.net", "join", "--dir", str(net.directory), "--name",
                                    "joiner", "--organisation", "X", "--jurisdiction", "MO"], capture_output=True, text=True, timeout=60)
            assert again.returncode == 1 and "ALREADY_EXISTS" in again.stderr

            # Killed with -9 the moment its application has restored the snapshot, then
            # restarted: it goes on without a manual reset. With no block on the restore
            # yet, the node clears CometBFT's stores (which v0.38 could not start from) and
            # syncs again; the application takes the same snapshot without work, or a
            # newer one in its place.
            net.wait_for(lambda: "state restored from the snapshot" in joiner.log_file.read_text(errors="replace"),
                         "the joiner's application to restore a snapshot", 120)
            kill_node(joiner)
            start_node(joiner)
            with CometRpc(f"http://127.0.0.1:{ports['rpc']}") as rpc:
                def synced() -> bool:
                    info = rpc.status()["sync_info"]
                    return not info["catching_up"] and int(info["latest_block_height"]) > anchor_height + 3

                net.wait_for(synced, "the joiner to restore a snapshot and catch up", 150)
                earliest = int(rpc.status()["sync_info"]["earliest_block_height"])
            log = joiner.log_file.read_text(errors="replace")
            assert "state restored from the snapshot of height" in log, log[-3000:]
            # CometBFT, too, holds no block below the snapshot it restored (after the restart,
            # this one or a newer one).
            assert snapshot < earliest and (earliest - 1) % INTERVAL == 0

            url = f"http://127.0.0.1:{ports['api']}"
            status = httpx.get(f"{url}/v1/status").json()
            assert status["earliest_height"] == earliest and status["block_time_ns"] > 0
            with Client(url, timeout=20) as client:
                record = client.view("notary", "lookup", {"digest": bytes([0]) * 32})
                assert record["metadata"] == {"n": 0}  # state from before the snapshot
                assert client.status()["height"] > anchor_height
            # History from before the snapshot is not here (it is on the members) ...
            assert httpx.get(f"{url}/v1/txs/{first}/receipt").status_code == 404
            assert net.clients[gd].get(f"/v1/txs/{first}/receipt").status_code == 200
            # ... until it is filled in from them, while the node runs, each block checked
            # against the signed headers: a member changing a result is caught, and so is
            # one changing a log (covered by no header) when another member is asked too.
            at = net.api(gd, f"/v1/txs/{first}/receipt")["height"]
            members = {n: net.manifest.node(n).api_url for n in (gd, mo)}
            with tampering(members[gd], at, field=7, value=5) as liar:  # the code of the block's first transaction
                with pytest.raises(BaychainError) as caught:
                    backfill(joiner.data, [liar])
                assert caught.value.code == Code.PROOF_INVALID and "results" in caught.value.message
            assert httpx.get(f"{url}/v1/status").json()["earliest_height"] == at + 1  # what was checked is kept
            with tampering(members[gd], at, field=8, value="forged") as liar:  # its log
                with pytest.raises(BaychainError) as caught:
                    backfill(joiner.data, [liar, members[mo]])
                assert caught.value.code == Code.PROOF_INVALID and "different records" in caught.value.message
            out = subprocess.run([sys.executable, "-m", "baychain.cli.node_cmd", "backfill", "--home", str(joiner.path),
                                  "--from", members[gd], "--from", members[mo], "--json"],
                                 capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONHASHSEED="0"))
            assert out.returncode == 0, out.stderr
            assert json.loads(out.stdout) == {"filled": at, "history_from": 1}
            assert httpx.get(f"{url}/v1/status").json()["earliest_height"] == 1
            assert httpx.get(f"{url}/v1/txs/{first}/receipt").json() == net.api(gd, f"/v1/txs/{first}/receipt")
            for height in range(1, earliest):
                assert httpx.get(f"{url}/v1/blocks/{height}").json() == net.api(gd, f"/v1/blocks/{height}"), height
            signed = httpx.get(f"{url}/v1/txs", params={"signer": signer.address}).json()["txs"]
            assert signed == net.clients[gd].get("/v1/txs", params={"signer": signer.address}).json()["txs"] and len(signed) == len(raws)  # indexes too

            # Every block the joiner executed has the members' block hash and app hash.
            tip = min(int(v) for v in net.heights().values())
            for height in range(earliest, tip + 1):
                mine = httpx.get(f"{url}/v1/blocks/{height}").json()
                theirs = net.api(gd, f"/v1/blocks/{height}")
                assert (mine["hash"], mine["app_hash"]) == (theirs["hash"], theirs["app_hash"]), height

            # And it takes part: a transaction sent to it commits on every member.
            with Client(url, timeout=20) as client:
                receipt = client.call(Key.generate(), "notary", "notarize", {"digest": bytes([99]) * 32})
                assert receipt.ok
            net.wait_for(lambda: all(net.clients[n].get(f"/v1/txs/{receipt.hash}/receipt").status_code == 200
                                     for n in net.names), "the joiner's transaction on every member", 30)
            stop_node(joiner)
            with pytest.raises(BaychainError) as refused:  # it has run: its state is its own now
                statesync.enable(joiner, rpcs)
            assert refused.value.code == Code.BAD_REQUEST and "has run before" in refused.value.message

            # `--replay` instead: a node that executes every block from height 1 reaches the
            # same state as the one that restored the snapshot.
            out = subprocess.run([sys.executable, "-m", "baychain.cli.net", "join", "--dir", str(net.directory), "--name",
                                  "replayer", "--organisation", "Zhuhai Port Ltd", "--jurisdiction", "GD", "--replay", "--json"],
                                 capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONHASHSEED="0"))
            assert out.returncode == 0, out.stderr
            assert json.loads(out.stdout)["trust_height"] is None
            replayer = NetworkManifest.load(net.directory).node("replayer")
            target = tip + 2
            net.wait_for(lambda: httpx.get(f"{replayer.api_url}/v1/status").json()["height"] >= target,
                         "the replaying node to catch up", 120)
            assert httpx.get(f"{replayer.api_url}/v1/status").json()["earliest_height"] == 1
            assert httpx.get(f"{replayer.api_url}/v1/txs/{first}/receipt").status_code == 200  # it has all the history
            assert httpx.get(f"{replayer.api_url}/v1/blocks/{target}").json()["app_hash"] == net.api(gd, f"/v1/blocks/{target}")["app_hash"]
        finally:
            stop_node(joiner)
            kill_strays(joiner.path)
            replayer_home = NodeHome(net.directory / "nodes" / "replayer")
            stop_node(replayer_home)
            kill_strays(replayer_home.path)
