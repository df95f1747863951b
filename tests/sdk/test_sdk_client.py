"""The client against a real node: calls, receipts, nonces, views, events."""

from __future__ import annotations

import hashlib
import queue
import threading
import time

import httpx
import pytest

from baychain.errors import BaychainError, Code
from baychain.sdk import Client, Key, TransactionFailed


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def test_call_returns_the_committed_receipt(client, key):
    receipt = client.call(key, "points", "create", {"symbol": "RCPT", "title": "receipts"})
    assert receipt.status == "committed" and receipt.ok
    assert receipt.height >= 1
    assert receipt.events == [{"type": "points.created", "attributes": {"symbol": "RCPT", "issuer": key.address}}]
    tx = client.tx(receipt.hash)
    assert tx["decoded"]["sender"] == key.address
    assert tx["decoded"]["method"] == "create"
    assert client.receipt(receipt.hash) == receipt
    assert client.block(receipt.height)["txs"].count(receipt.hash) == 1


def test_consecutive_calls_count_nonces_locally(node, key):
    account_requests = []

    class Counting(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith("/v1/accounts/"):
                account_requests.append(request.url.path)
            return super().handle_request(request)

    with Client(node.url, transport=Counting()) as client:
        # Without waiting, all three are in the mempool together: re-reading the
        # committed nonce from the node would reuse nonce 0 and be rejected.
        pending = [client.notarize(key, _digest(f"nonce-{i}"), wait=False) for i in range(3)]
        receipts = [client.wait_for_receipt(p.hash) for p in pending]
        assert all(r.ok for r in receipts)
        assert [client.tx(r.hash)["decoded"]["nonce"] for r in receipts] == [0, 1, 2]
        assert len(account_requests) == 1
        assert client.next_nonce(key.address) == 3


def test_a_stale_local_nonce_is_resynchronized_once(node, key):
    with Client(node.url) as first, Client(node.url) as second:
        first.notarize(key, _digest("stale-0"))  # first now expects nonce 1
        second.notarize(key, _digest("stale-1"))  # ... but another client used it
        receipt = first.notarize(key, _digest("stale-2"))
        assert receipt.ok
        assert first.tx(receipt.hash)["decoded"]["nonce"] == 2


def test_an_explicit_nonce_is_used_as_given(client, key):
    client.notarize(key, _digest("explicit-0"))
    with pytest.raises(BaychainError) as err:
        client.notarize(key, _digest("explicit-1"), nonce=0)
    assert err.value.code == Code.NONCE_REPLAYED
    assert client.notarize(key, _digest("explicit-2"), nonce=1).ok


def test_a_failed_contract_call_raises_with_its_committed_receipt(client, key):
    digest = _digest("twice")
    client.notarize(key, digest)
    with pytest.raises(TransactionFailed) as err:
        client.notarize(key, digest)
    assert err.value.code == Code.ALREADY_EXISTS
    assert err.value.receipt.status == "committed" and err.value.receipt.height > 0
    # the failed call consumed its nonce; the next call goes through
    receipt = client.notarize(key, digest, check=False)
    assert receipt.code == Code.ALREADY_EXISTS and receipt.error == "ALREADY_EXISTS"
    assert client.notarize(key, _digest("after-twice")).ok


def test_view_reads_committed_state_with_typed_arguments(client, key):
    digest = _digest("view")
    client.notarize(key, digest, {"title": "contract"})
    record = client.view("notary", "lookup", {"digest": digest})
    assert record["owner"] == key.address and record["digest"] == digest.hex()
    assert record["metadata"] == {"title": "contract"}
    client.call(key, "points", "create", {"symbol": "VIEW", "title": "v"})
    assert client.view("points", "info", {"symbol": "VIEW"})["issuer"] == key.address


def test_status_account_and_contracts(client, key):
    status = client.status()
    assert status["chain_id"] == client.chain_id == "baychain-dev"
    assert client.account(key.address)["nonce"] == 0
    names = {c["name"] for c in client.contracts()}
    assert {"accounts", "notary", "points"} <= names
    issue = client.method_interface("points", "issue")
    assert [(p["name"], p["type"]) for p in issue["params"]] == [("symbol", "str"), ("to", "str"), ("amount", "int")]
    assert client.method_interface("points", "nope") is None


def test_search_events_and_transactions_by_signer(client, key):
    client.call(key, "points", "create", {"symbol": "EVT", "title": "events"})
    client.call(key, "points", "issue", {"symbol": "EVT", "to": key.address, "amount": 7})
    found = client.search_events("points.issued", "symbol", "EVT")
    assert len(found) == 1 and found[0].events[0]["attributes"]["amount"] == "7"
    assert client.search_events("points.issued", "symbol", "NOPE") == []
    mine = client.txs_by_signer(key.address)
    assert [t["decoded"]["method"] for t in mine] == ["create", "issue"]


def test_stream_events_delivers_transaction_events(node, key):
    got: queue.Queue = queue.Queue()

    def listen() -> None:
        with Client(node.url) as listener:
            for ev in listener.stream_events("notary.notarized"):
                if ev.event == "tx_event":
                    got.put(ev)
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    with Client(node.url) as client:
        deadline = time.monotonic() + 15
        i = 0
        while got.empty() and time.monotonic() < deadline:
            client.notarize(key, _digest(f"stream-{i}"))  # until the subscription is surely live
            i += 1
            time.sleep(0.2)
    ev = got.get(timeout=5)
    assert ev.data["type"] == "notary.notarized"
    assert ev.data["attributes"]["owner"] == key.address
    thread.join(timeout=5)


def test_api_errors_keep_their_stable_codes(client):
    with pytest.raises(BaychainError) as err:
        client.tx("00" * 32)
    assert err.value.code == Code.NOT_FOUND
    with pytest.raises(BaychainError) as err:
        client.block(10**9)
    assert err.value.code == Code.NOT_FOUND
    with pytest.raises(BaychainError) as err:
        client.account("not-an-address")
    assert err.value.code == Code.BAD_REQUEST
    with pytest.raises(BaychainError) as err:
        client.get_state(b"k", height=10**9)
    assert err.value.code == Code.HEIGHT_UNAVAILABLE


def test_an_unreachable_node_is_a_clear_error():
    with socket_closed_port() as port, Client(f"http://127.0.0.1:{port}", timeout=2) as client:
        with pytest.raises(BaychainError) as err:
            client.status()
    assert "cannot reach the node" in err.value.message


class socket_closed_port:
    """A loopback port nobody listens on."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        pass


def test_the_first_call_on_a_fresh_chain_makes_block_one(fresh_node):
    with Client(fresh_node.url) as client:
        assert client.status()["height"] == 0
        key = Key.generate()
        first = client.call(key, "accounts", "register", {"name": "alice-co"})
        assert first.height == 1
        assert client.view("accounts", "resolve", {"name": "alice-co"}) == key.address
