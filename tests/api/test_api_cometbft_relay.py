"""`/v1/status` names the node's CometBFT RPC, and `/v1/cometbft/...` relays the three
calls a light client needs (nothing relayed needs trusting: signatures are checked)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from baychain.api.server import create_api
from baychain.errors import Code
from baychain.network.rpc import RpcError


def test_a_solo_node_has_no_cometbft_headers(client):
    status = client.get("/v1/status").json()
    assert status["cometbft_rpc"] is None
    assert status["earliest_height"] == 1  # it has every block (a state-synced node starts later)
    resp = client.get("/v1/cometbft/commit", params={"height": 1})
    assert resp.status_code == 404 and resp.json()["code"] == Code.NOT_FOUND
    resp = client.post("/v1/cometbft/evidence", json={"evidence": {"type": "tendermint/DuplicateVoteEvidence"}})
    assert resp.status_code == 404 and "no evidence pool" in resp.json()["message"]
    assert client.post("/v1/cometbft/evidence", json={"evidence": "not an object"}).status_code == 400


class FakeRpc:
    url = "http://127.0.0.1:26657"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def call(self, method: str, **params):
        self.calls.append((method, params))
        if int(params["height"]) > 5:
            raise RpcError("height 6 must be less than or equal to the current blockchain height 5")
        return {"method": method, **params}


def test_commit_header_and_validators_are_relayed_unchanged(node):
    node.engine.rpc = FakeRpc()  # as CometEngine has it
    with TestClient(create_api(node), raise_server_exceptions=False) as client:
        assert client.get("/v1/status").json()["cometbft_rpc"] == FakeRpc.url
        assert client.get("/v1/cometbft/commit", params={"height": 3}).json() == {"method": "commit", "height": "3"}
        assert client.get("/v1/cometbft/validators", params={"height": 2, "page": 2, "per_page": 50}).json() == {
            "method": "validators", "height": "2", "page": "2", "per_page": "50"}
        late = client.get("/v1/cometbft/header", params={"height": 6})
        assert late.status_code == 404 and late.json()["code"] == Code.HEIGHT_UNAVAILABLE
        assert "must be less than or equal" in late.json()["message"]  # the light client waits on this
        assert client.get("/v1/cometbft/broadcast_tx_sync", params={"height": 1}).json()["code"] == Code.NOT_FOUND
        assert client.get("/v1/cometbft/commit", params={"height": 0}).json()["code"] == Code.BAD_REQUEST
    assert [m for m, _ in node.engine.rpc.calls] == ["commit", "validators", "header"]
