"""Proof-checked reads: the client believes a value only if its proof matches the block's app hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import httpx
import pytest

from baychain import encoding
from baychain.contracts.context import contract_key
from baychain.errors import BaychainError, Code
from baychain.sdk import Client, Key
from baychain.state.proofs import Proof, verify_proof


@pytest.fixture(scope="module")
def issuer(node) -> Key:
    """A key that created programme PRF and holds 5 of its points (issued at two heights)."""
    key = Key.generate()
    with Client(node.url) as client:
        client.call(key, "points", "create", {"symbol": "PRF", "title": "proofs"})
        client.call(key, "points", "issue", {"symbol": "PRF", "to": key.address, "amount": 2})
        client.call(key, "points", "issue", {"symbol": "PRF", "to": key.address, "amount": 3})
    return key


def test_verified_read_returns_the_stored_value(client, issuer):
    prog = client.get_contract_value("points", "prog/PRF")
    assert prog == {"symbol": "PRF", "title": "proofs", "issuer": issuer.address, "supply": 5}
    raw = client.get_state(contract_key("points", "prog/PRF"))
    assert raw == encoding.encode(prog)
    assert client.points_balance("PRF", issuer.address) == 5


def test_proven_absence_returns_none(client, issuer):
    assert client.get_contract_value("points", "prog/NOSUCH") is None
    assert client.get_state(b"no such key at all") is None
    assert client.points_balance("PRF", Key.generate().address) == 0
    assert client.verify_notarization(hashlib.sha256(b"never notarized").digest()) is None


def test_reads_at_an_earlier_height_prove_the_value_then(client, issuer):
    first_issue = client.search_events("points.issued", "symbol", "PRF")[0]
    assert client.points_balance("PRF", issuer.address, height=first_issue.height) == 2
    proven = client.prove_state(contract_key("points", f"bal/PRF/{issuer.address}"), height=first_issue.height)
    assert proven.height == first_issue.height
    assert proven.app_hash.hex() == client.block(first_issue.height)["app_hash"]
    assert verify_proof(proven.app_hash, proven.proof)


def test_verify_notarization_returns_the_proven_record(client, key):
    digest = hashlib.sha256(b"contract.pdf").digest()
    receipt = client.notarize(key, digest, {"kind": "e-contract"})
    record = client.verify_notarization(digest)
    assert record["owner"] == key.address and record["digest"] == digest
    assert record["height"] == receipt.height and record["tx"].hex() == receipt.hash


def test_a_proof_against_another_blocks_app_hash_is_rejected(client, issuer):
    first_issue = client.search_events("points.issued", "symbol", "PRF")[0]
    old_root = bytes.fromhex(client.block(first_issue.height)["app_hash"])
    key = contract_key("points", f"bal/PRF/{issuer.address}")
    with pytest.raises(BaychainError) as err:
        client.get_state(key, app_hash=old_root)  # latest value, earlier root
    assert err.value.code == Code.PROOF_INVALID
    with pytest.raises(BaychainError) as err:
        client.get_contract_value("points", "prog/NOSUCH", app_hash=bytes(32))
    assert err.value.code == Code.PROOF_INVALID


class Tamper(httpx.HTTPTransport):
    """A man in the middle between the client and the real node: rewrites JSON answers."""

    def __init__(self, path_prefix: str, edit: Callable[[dict], None]) -> None:
        super().__init__()
        self.path_prefix = path_prefix
        self.edit = edit
        self.hits = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not request.url.path.startswith(self.path_prefix) or response.status_code != 200:
            return response
        response.read()
        doc = response.json()
        self.edit(doc)
        self.hits += 1
        return httpx.Response(200, json=doc, request=request)


def _flip_sibling(doc: dict) -> None:
    proof = Proof.from_bytes(bytes.fromhex(doc["proof"]))
    step = proof.steps[0]
    first = bytearray(step.siblings[0])
    first[0] ^= 0x01
    proof.steps[0] = type(step)(step.bitmap, (bytes(first),) + tuple(step.siblings[1:]))
    doc["proof"] = proof.to_bytes().hex()


def _flip_last_proof_byte(doc: dict) -> None:
    raw = bytearray(bytes.fromhex(doc["proof"]))
    raw[-1] ^= 0x01
    doc["proof"] = raw.hex()


def _lie_about_value(doc: dict) -> None:
    fake = encoding.encode({"symbol": "PRF", "title": "proofs", "issuer": "bc1" + "0" * 40, "supply": 5})
    doc["value"] = fake.hex()


def _lie_consistently(doc: dict) -> None:
    """Change the value in the answer and in the proof alike: only the Merkle check can tell."""
    fake = encoding.encode(10**6)
    proof = Proof.from_bytes(bytes.fromhex(doc["proof"]))
    proof.value = fake
    doc["value"], doc["decoded"], doc["proof"] = fake.hex(), 10**6, proof.to_bytes().hex()


def _lie_about_decoded(doc: dict) -> None:
    doc["decoded"] = 10**6


def _claim_absent(doc: dict) -> None:
    doc["exists"], doc["value"] = False, None
    doc.pop("decoded", None)


def _other_height(doc: dict) -> None:
    doc["height"] = max(1, doc["height"] - 1)


@pytest.mark.parametrize(
    "edit",
    [_flip_sibling, _flip_last_proof_byte, _lie_about_value, _lie_consistently, _lie_about_decoded, _claim_absent, _other_height],
)
def test_a_tampered_state_answer_is_detected(node, issuer, edit):
    tamper = Tamper("/v1/state/", edit)
    with Client(node.url, transport=tamper) as client:
        with pytest.raises(BaychainError) as err:
            client.get_contract_value("points", f"bal/PRF/{issuer.address}")
    assert tamper.hits == 1
    assert err.value.code == Code.PROOF_INVALID


def test_a_tampered_block_app_hash_is_detected(node, issuer):
    def edit(doc: dict) -> None:
        doc["app_hash"] = "ab" * 32

    with Client(node.url, transport=Tamper("/v1/blocks/", edit)) as client:
        with pytest.raises(BaychainError) as err:
            client.get_contract_value("points", "prog/PRF")
    assert err.value.code == Code.PROOF_INVALID


def test_an_untampered_answer_through_the_same_proxy_passes(node, issuer):
    tamper = Tamper("/v1/state/", lambda doc: None)
    with Client(node.url, transport=tamper) as client:
        assert client.points_balance("PRF", issuer.address) == 5
    assert tamper.hits == 1


def test_unverified_read_reports_what_the_node_says(client, issuer):
    resp = client.get_state_unverified(contract_key("points", "prog/PRF"))
    assert resp["exists"] and resp["decoded"]["supply"] == 5 and "proof" not in resp
    assert json.loads(json.dumps(resp)) == resp
