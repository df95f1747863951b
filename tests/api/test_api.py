"""The HTTP API: submission, reads, proofs, errors with stable codes, fuzzed input."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baychain import encoding
from baychain.contracts.context import contract_key
from baychain.errors import Code
from baychain.state.proofs import Proof, verify_proof


def submit(client, tx, wait=True):
    return client.post("/v1/txs", json={"tx": tx.raw.hex(), "wait": wait})


def assert_error(resp, code, status=400):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == int(code) and body["error"] == code.name and body["message"]


def test_submit_and_wait_returns_the_committed_receipt(client, alice):
    resp = submit(client, alice.tx("points", "create", symbol="PTS", title="Points"))
    assert resp.status_code == 200, resp.text
    receipt = resp.json()
    assert receipt["status"] == "committed" and receipt["code"] == 0 and receipt["height"] >= 1
    assert receipt["events"][0]["type"] == "points.created"
    tx = client.get(f"/v1/txs/{receipt['hash']}").json()
    assert tx["decoded"]["method"] == "create" and tx["decoded"]["sender"] == alice.address
    assert client.get(f"/v1/txs/{receipt['hash']}/receipt").json()["code"] == 0
    block = client.get(f"/v1/blocks/{receipt['height']}").json()
    assert receipt["hash"] in block["txs"]


def test_a_block_as_stored_is_served_for_backfills(client, alice, node):
    receipt = submit(client, alice.tx("points", "create", symbol="PTS", title="Points")).json()
    resp = client.get(f"/v1/history/{receipt['height']}")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/cbor"
    block_bytes, tx_bytes = encoding.decode(resp.content)
    assert (block_bytes, tx_bytes) == node.app.blocks.history(receipt["height"])
    assert encoding.decode(block_bytes)["txs"] == [bytes.fromhex(receipt["hash"])]
    assert encoding.decode(tx_bytes[0])[0] == bytes.fromhex(receipt["hash"])  # the stored transaction record
    assert client.get("/v1/status").json()["earliest_height"] == 1
    assert_error(client.get(f"/v1/history/{receipt['height'] + 5}"), Code.NOT_FOUND, 404)
    assert_error(client.get("/v1/history/-1"), Code.NOT_FOUND, 404)


def test_a_node_that_keeps_no_mempool_of_its_own_takes_no_relay(client):
    resp = client.post("/v1/relay", content=encoding.encode([b"x"]))  # the solo engine (and CometBFT's mempool)
    assert resp.status_code == 404 and resp.json()["error"] == "NOT_FOUND"


def test_submit_without_wait_returns_at_once(client, alice, node):
    resp = submit(client, alice.tx("points", "create", symbol="PTS", title="Points"), wait=False)
    assert resp.json()["status"] == "pending"


def test_failed_execution_is_committed_with_its_code(client, alice):
    submit(client, alice.tx("points", "create", symbol="PTS", title="Points"))
    resp = submit(client, alice.tx("points", "transfer", symbol="PTS", to="bc1" + "0" * 40, amount=5))
    assert resp.status_code == 200
    assert resp.json()["code"] == Code.INSUFFICIENT_BALANCE and resp.json()["error"] == "INSUFFICIENT_BALANCE"


def test_rejected_transactions_get_stable_codes(client, alice):
    good = alice.tx("points", "create", symbol="PTS", title="P")
    assert_error(client.post("/v1/txs", json={"tx": "zz"}), Code.MALFORMED_TX)
    assert_error(client.post("/v1/txs", json={"tx": "00ff"}), Code.MALFORMED_TX)
    assert_error(client.post("/v1/txs", json={"tx": encoding.encode([good.body, bytes(64)]).hex()}), Code.BAD_SIGNATURE)
    assert_error(submit(client, alice.tx("points", "create", chain_id="x", nonce=0, symbol="A1", title="t")), Code.WRONG_CHAIN_ID)
    assert_error(submit(client, alice.tx("points", "create", nonce=9, symbol="A1", title="t")), Code.NONCE_GAP)
    assert_error(submit(client, alice.tx("points", "create", nonce=0, expiry_height=0, symbol="A1", title="t")), Code.TX_EXPIRED)
    assert_error(submit(client, alice.tx("nope", "x", nonce=0)), Code.UNKNOWN_CONTRACT)
    assert_error(submit(client, alice.tx("points", "x", nonce=0)), Code.UNKNOWN_METHOD)
    assert_error(submit(client, alice.tx("points", "create", nonce=0, symbol=1, title="t")), Code.BAD_ARGUMENTS)
    assert_error(client.post("/v1/txs", json={"tx": "00" * 70_000}), Code.TX_TOO_LARGE)
    assert submit(client, good).json()["code"] == 0
    assert_error(submit(client, good), Code.NONCE_REPLAYED)
    assert client.get("/v1/status").json()["height"] == 1


def test_malformed_requests_use_the_same_error_shape(client):
    assert_error(client.post("/v1/txs", json={"nope": 1}), Code.BAD_REQUEST)
    assert_error(client.post("/v1/txs", content=b"{not json", headers={"content-type": "application/json"}), Code.BAD_REQUEST)
    assert_error(client.get("/v1/blocks/999"), Code.NOT_FOUND, 404)
    assert_error(client.get("/v1/blocks/abc"), Code.BAD_REQUEST)
    assert_error(client.get("/v1/txs/" + "00" * 32), Code.NOT_FOUND, 404)
    assert_error(client.get("/v1/no/such/route"), Code.NOT_FOUND, 404)
    assert_error(client.get("/v1/txs", params={"signer": "bob"}), Code.BAD_REQUEST)
    assert_error(client.post("/v1/contracts/points/transfer/query", json={"args": {}}), Code.UNKNOWN_METHOD)
    assert_error(client.post("/v1/contracts/points/balance/query", json={"args": {"symbol": 1}}), Code.BAD_ARGUMENTS)


def test_state_query_with_proof_verifies_against_the_block_app_hash(client, alice):
    submit(client, alice.tx("points", "create", symbol="PTS", title="P"))
    receipt = submit(client, alice.tx("points", "issue", symbol="PTS", to=alice.address, amount=77)).json()
    key = contract_key("points", f"bal/PTS/{alice.address}")
    body = client.get(f"/v1/state/{key.hex()}", params={"prove": True, "height": receipt["height"]}).json()
    assert body["exists"] and body["decoded"] == 77
    app_hash = bytes.fromhex(client.get(f"/v1/blocks/{receipt['height']}").json()["app_hash"])
    proof = Proof.from_bytes(bytes.fromhex(body["proof"]))
    assert proof.value == bytes.fromhex(body["value"]) and verify_proof(app_hash, proof)
    absent = client.get(f"/v1/state/{contract_key('points', 'nothing').hex()}", params={"prove": True}).json()
    assert not absent["exists"] and verify_proof(bytes.fromhex(absent["app_hash"]), Proof.from_bytes(bytes.fromhex(absent["proof"])))


def test_views_accounts_contracts_and_event_search(client, alice):
    submit(client, alice.tx("accounts", "register", name="mo-importer", metadata={"jurisdiction": "MO"}))
    digest = bytes([9]) * 32
    submit(client, alice.tx("notary", "notarize", digest=digest))
    view = client.post("/v1/contracts/notary/lookup/query", json={"args": {"digest": digest.hex()}}).json()
    assert view["value"]["owner"] == alice.address and view["value"]["digest"] == digest.hex()
    account = client.get(f"/v1/accounts/{alice.address}").json()
    assert account["nonce"] == 2 and account["profile"]["name"] == "mo-importer"
    names = [c["name"] for c in client.get("/v1/contracts").json()["contracts"]]
    assert names == sorted(names) and {"accounts", "notary", "points"} <= set(names)
    found = client.get("/v1/events", params={"type": "notary.notarized", "attr": "owner", "value": alice.address}).json()
    assert len(found["txs"]) == 1
    assert len(client.get("/v1/txs", params={"signer": alice.address}).json()["txs"]) == 2


def test_health_metrics_and_openapi(client, alice):
    submit(client, alice.tx("points", "create", symbol="PTS", title="P"))
    assert client.get("/health").json()["status"] == "ok"
    metrics = client.get("/metrics").text
    assert "baychain_height 1.0" in metrics and 'baychain_txs_committed_total{result="ok"} 1.0' in metrics
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/txs", "/v1/txs/batch", "/v1/state/{key_hex}", "/v1/events/stream", "/health", "/metrics"):
        assert path in paths


def test_batch_submission_reports_each_result(client, alice):
    txs = [alice.tx("points", "create", symbol=f"P{i}", title="t") for i in range(3)]
    body = client.post("/v1/txs/batch", json={"txs": [t.raw.hex() for t in txs] + ["00"]}).json()
    assert [r["code"] for r in body["results"]] == [0, 0, 0, Code.MALFORMED_TX]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, st.fixed_dictionaries({"tx": st.text(max_size=80)}, optional={"wait": json_values, "timeout": json_values})),
       path=st.sampled_from(["/v1/txs", "/v1/txs/batch", "/v1/contracts/points/balance/query", "/v1/contracts/x/y/query"]))
def test_fuzzed_api_input_gets_typed_rejections_never_a_crash(client, body, path):
    resp = client.post(path, json=body)
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        err = resp.json()
        assert Code(err["code"]).name == err["error"] and err["message"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segment=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"), min_size=1, max_size=30))
def test_fuzzed_path_parameters_get_typed_rejections(client, segment):
    segment = quote(segment, safe="")
    for path in (f"/v1/blocks/{segment}", f"/v1/txs/{segment}", f"/v1/state/{segment}", f"/v1/accounts/{segment}"):
        resp = client.get(path)
        assert resp.status_code < 500, (path, resp.text)
        if resp.status_code >= 400:
            assert "code" in resp.json()
