"""The application's own mempool under CometBFT (node.json `mempool = "app"`), on a real
application: PrepareProposal proposes from it, each commit settles it, and the relay
delivers admitted transactions to the peers' `/v1/relay`."""

from __future__ import annotations

import http.server
import time

from baychain import encoding
from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest
from baychain.engine.cometbft import CometEngine
from baychain.engine.relay import Relay
from baychain.errors import Code
from support import Signer, http_server

CHAIN = "pool-chain"


def engine(tmp_path) -> CometEngine:
    app = Application(tmp_path / "app", verify_workers=0)
    app.init_chain(InitChainRequest(CHAIN, 0, 1, [], b"{}"))
    return CometEngine(app, "http://127.0.0.1:9", relay_peers=[])  # its RPC is never called in this mode


def run_block(eng: CometEngine, height: int, txs: list[bytes]) -> None:
    eng.abci_app.finalize_block(BlockRequest(height, height * 10**9, bytes(32), b"p", txs))
    eng.abci_app.commit()


def test_proposals_come_from_the_pool_and_each_commit_settles_it(tmp_path) -> None:
    eng = engine(tmp_path)
    alice, bob = Signer(CHAIN), Signer(CHAIN)
    a0, a1 = alice.tx("notary", "notarize", digest=bytes(32)).raw, alice.tx("notary", "notarize", digest=bytes([1]) * 32).raw
    b0 = bob.tx("notary", "notarize", digest=bytes([2]) * 32).raw
    bob.nonce = 0
    b0_other = bob.tx("notary", "notarize", digest=bytes([3]) * 32).raw  # the same nonce, another transaction
    results = eng.submit_many([a0, a1, b0, b0_other, a0])
    assert [r.code for r in results] == [0, 0, 0, Code.NONCE_REPLAYED, Code.DUPLICATE_TX]
    assert len(eng.mempool) == 3

    # CometBFT's nop mempool hands PrepareProposal nothing: the pool fills the block, in order, up to its size
    assert eng.abci_app.prepare_proposal([], 10**6, 1, 10**9) == [a0, a1, b0]
    assert eng.abci_app.prepare_proposal([], len(a0) + len(a1), 1, 10**9) == [a0, a1]

    run_block(eng, 1, [a0])  # another proposer's block: a0 leaves the pool, a1 and b0 still hold
    assert eng.abci_app.prepare_proposal([], 10**6, 2, 2 * 10**9) == [a1, b0]
    run_block(eng, 2, [b0_other])  # bob's other transaction wins the nonce: the recheck drops b0
    assert eng.abci_app.prepare_proposal([], 10**6, 3, 3 * 10**9) == [a1]
    assert eng.receive([b0])[0].code == Code.NONCE_REPLAYED  # relayed again later: refused
    eng.close()
    eng.app.close()


class _Peer(http.server.BaseHTTPRequestHandler):
    received: list[list[bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.path == "/v1/relay" and self.headers["Content-Type"] == "application/cbor"
        _Peer.received.append(encoding.decode(body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_the_relay_delivers_batches_to_every_peer_and_drops_what_a_dead_peer_cannot_take(caplog) -> None:
    with http_server(_Peer) as dead_url:
        pass  # nothing listens there any more
    with http_server(_Peer) as url:
        relay = Relay([url, dead_url], timeout=2)
        try:
            relay.send([b"tx1", b"tx2"])
            relay.send([b"tx3"])
            relay.send([])
            deadline = time.monotonic() + 10
            while (sum(map(len, _Peer.received)) < 3 or relay.dropped[dead_url] < 3) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert [tx for batch in _Peer.received for tx in batch] == [b"tx1", b"tx2", b"tx3"]
            assert relay.sent == {url: 3, dead_url: 0} and relay.dropped == {url: 0, dead_url: 3}
            assert any("relaying" in r.message and dead_url in r.message for r in caplog.records)
        finally:
            relay.close()



def test_a_relay_is_checked_as_submissions_are(tmp_path) -> None:
    """What a peer relays is admitted like a submission (and refused the same way), and
    the API takes only a CBOR array of transactions."""
    from fastapi.testclient import TestClient

    from baychain.api.server import create_api
    from baychain.network.home import NodeHome, NodeSettings
    from baychain.network.runtime import CometNode

    eng = engine(tmp_path)
    node = CometNode(eng.app, eng, NodeSettings(name="n", mempool="app"), NodeHome(tmp_path / "home"))
    alice = Signer(CHAIN)
    good = alice.tx("notary", "notarize", digest=bytes(32)).raw
    with TestClient(create_api(node), raise_server_exceptions=False) as client:
        assert client.post("/v1/relay", content=encoding.encode([good, b"junk"])).json() == {"admitted": 1}
        assert list(eng.mempool.take(10, 10**6)) == [good]
        for body in (b"\xff", encoding.encode({"a": 1}), encoding.encode([1, 2])):
            resp = client.post("/v1/relay", content=body)
            assert resp.status_code == 400 and resp.json()["error"] == "BAD_REQUEST", body
    eng.close()
    eng.app.close()
