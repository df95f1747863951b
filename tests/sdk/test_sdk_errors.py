"""Bad input through the SDK gets the same stable code (and sentence) as through the raw API."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest

from baychain import encoding
from baychain import transactions as txs
from baychain.errors import BaychainError, Code
from baychain.sdk import Client, Key


def _raw_api_error(url: str, raw: bytes) -> tuple[Code, str]:
    resp = httpx.post(f"{url}/v1/txs", json={"tx": raw.hex()}, timeout=10)
    assert resp.status_code >= 400
    body = resp.json()
    assert body["error"] == Code(body["code"]).name
    return Code(body["code"]), body["message"]


def _sdk_error(client: Client, raw: bytes) -> BaychainError:
    with pytest.raises(BaychainError) as err:
        client.submit(raw)
    return err.value


def _signed(client: Client, key: Key, **overrides) -> bytes:
    fields = dict(contract="notary", method="notarize", args={"digest": hashlib.sha256(key.public_key).digest()},
                  nonce=client.next_nonce(key.address))
    fields.update(overrides)
    return client.build_tx(key, fields.pop("contract"), fields.pop("method"), fields.pop("args"), **fields).raw


def _bad_signature(client: Client, key: Key) -> bytes:
    body, signature = encoding.decode(_signed(client, key))
    return encoding.encode([body, bytes([signature[0] ^ 1]) + signature[1:]])


def _oversize(client: Client, key: Key) -> bytes:
    """Sign by hand: the SDK itself refuses to build a transaction over the limit."""
    body = encoding.encode([txs.TX_VERSION, client.chain_id, key.suite.suite_id, key.public_key,
                            client.next_nonce(key.address), client.height() + 100, "notary", "notarize",
                            {"digest": b"\x00" * 32, "metadata": {"blob": b"\x00" * txs.MAX_TX_BYTES}}])
    return encoding.encode([body, key.sign(txs.SIGN_DOMAIN + body)])


CASES: dict[str, tuple[Callable[[Client, Key], bytes], Code]] = {
    "bad signature": (_bad_signature, Code.BAD_SIGNATURE),
    "wrong chain id": (lambda c, k: _signed(c, k, chain_id="some-other-chain"), Code.WRONG_CHAIN_ID),
    "replayed nonce": (lambda c, k: _signed(c, k, nonce=0), Code.NONCE_REPLAYED),
    "nonce gap": (lambda c, k: _signed(c, k, nonce=c.next_nonce(k.address) + 5), Code.NONCE_GAP),
    "expired": (lambda c, k: _signed(c, k, expiry_height=c.height()), Code.TX_EXPIRED),
    "oversize": (_oversize, Code.TX_TOO_LARGE),
    "unknown contract": (lambda c, k: _signed(c, k, contract="nosuch"), Code.UNKNOWN_CONTRACT),
    "unknown method": (lambda c, k: _signed(c, k, method="nosuch"), Code.UNKNOWN_METHOD),
    "view as a transaction": (lambda c, k: _signed(c, k, method="lookup"), Code.UNKNOWN_METHOD),
    "wrong argument type": (lambda c, k: _signed(c, k, args={"digest": "not bytes"}), Code.BAD_ARGUMENTS),
    "missing argument": (lambda c, k: _signed(c, k, args={}), Code.BAD_ARGUMENTS),
    "unknown argument": (lambda c, k: _signed(c, k, args={"digest": b"\x00" * 32, "extra": 1}), Code.BAD_ARGUMENTS),
    "not a transaction": (lambda c, k: b"\x82\x00", Code.MALFORMED_TX),
}


@pytest.fixture(scope="module")
def used_key(node) -> Key:
    """A key whose nonce 0 is already committed."""
    key = Key.generate()
    with Client(node.url) as client:
        client.call(key, "accounts", "register", {"name": f"user-{key.address[3:15]}"})
    return key


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_and_api_reject_bad_transactions_with_the_same_code(node, client, used_key, case):
    make, expected = CASES[case]
    raw = make(client, used_key)
    sdk = _sdk_error(client, raw)
    api_code, api_message = _raw_api_error(node.url, raw)
    assert sdk.code == api_code == expected
    assert sdk.message == api_message
    assert client.next_nonce(used_key.address) == 1  # a rejected transaction changes nothing


def test_call_rejections_carry_the_node_codes(client, key):
    with pytest.raises(BaychainError) as err:
        client.call(key, "nosuch", "method", {})
    assert err.value.code == Code.UNKNOWN_CONTRACT
    with pytest.raises(BaychainError) as err:
        client.call(key, "points", "nosuch", {})
    assert err.value.code == Code.UNKNOWN_METHOD
    with pytest.raises(BaychainError) as err:
        client.call(key, "points", "create", {"symbol": 5, "title": "x"})
    assert err.value.code == Code.BAD_ARGUMENTS
    assert "symbol" in err.value.message
    # nothing was admitted, so the account can still use nonce 0
    assert client.call(key, "points", "create", {"symbol": "REJ", "title": "x"}).ok
    assert client.tx(client.txs_by_signer(key.address)[0]["hash"])["decoded"]["nonce"] == 0


def test_an_oversize_call_fails_locally_with_the_api_code(client, key):
    with pytest.raises(BaychainError) as err:
        client.call(key, "notary", "notarize", {"digest": b"\x00" * 32, "metadata": {"blob": b"\x00" * txs.MAX_TX_BYTES}})
    assert err.value.code == Code.TX_TOO_LARGE


def test_view_rejections_carry_the_node_codes(client):
    cases = [
        (("nosuch", "x", {}), Code.UNKNOWN_CONTRACT),
        (("points", "nosuch", {}), Code.UNKNOWN_METHOD),
        (("points", "create", {"symbol": "A", "title": "t"}), Code.UNKNOWN_METHOD),  # not a view
        (("points", "balance", {"symbol": 1, "account": "x"}), Code.BAD_ARGUMENTS),
        (("notary", "lookup", {"digest": b"\x01" * 32}), Code.NOT_FOUND),
    ]
    for (contract, method, args), expected in cases:
        with pytest.raises(BaychainError) as err:
            client.view(contract, method, args)
        assert err.value.code == expected, (contract, method)
        raw = httpx.post(f"{client.base_url}/v1/contracts/{contract}/{method}/query",
                         json={"args": {k: v.hex() if isinstance(v, bytes) else v for k, v in args.items()}})
        assert raw.json()["code"] == expected
