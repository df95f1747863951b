"""Personal data never reaches the ledger, and what does reach it cannot be reversed.

A whole exchange runs on a fresh chain (anchors, consents, filings, grants, a
verification, an allowed and a refused transfer, a withdrawal); then the ledger is
searched byte by byte, and an attacker with a dictionary of every possible ID number
tries to match the keyed hashes on it."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

import pytest

from baychain.gateway import TransferRefused
from baychain.gateway.records import SUBJECT_LABEL
from gateway_support import DAY_NS, PASSPHRASE

SZ, HK = "Shenzhen Data Co", "Hong Kong Bank"
DICTIONARY = range(0, 20_000)  # every number of a (deliberately small) ID space


def record_id(i: int) -> str:
    """Long enough that finding it by chance in kilobytes of ciphertext is out of the question
    (a 3-byte id like "p-0" turns up in random bytes about once per 16 MiB per form)."""
    return f"kyc-record-{i:04d}"


def hkid(n: int) -> str:
    return f"K{n:06d}(5)"


def people() -> list[dict]:
    return [{"subject": hkid(n), "categories": ["contact", "identity"],
             "fields": {"name": f"Wong Siu Ming {n}", "phone": f"+852 6{n % 1000:03d} {n % 10000:04d}",
                        "mainland_id": f"44030519{n % 100:02d}0101{n % 1000:03d}X"}}
            for n in (1_234, 5_678, 9_012, 13_579)]


@pytest.fixture(scope="module")
def exchanged(gba):
    """Run every kind of on-chain record through the real gateways; the people involved."""
    sz, hk = gba.gateways[SZ], gba.gateways[HK]
    everyone = people()
    for i, record in enumerate(everyone):
        sz.put(record_id(i), record, anchor=True)
    aid = sz.assess("PIA-2026-001", b"assessment", HK, "kyc", ["contact", "identity"])
    sz.file("GD-HK-SC-2026-001", aid, HK, "HK", "kyc", ["contact", "identity"], 365)
    consents = [sz.consent(p["subject"], HK, "kyc", ["contact", "identity"], expiry_ns=time.time_ns() + DAY_NS)
                for p in everyone]
    sz.grant(HK, "kyc", ["contact", "identity"], expiry_ns=time.time_ns() + DAY_NS)
    assert hk.verify_at(gba.peer(SZ), everyone[0], "kyc")["matched"]
    assert not hk.verify_at(gba.peer(SZ), dict(everyone[0], subject=hkid(1)), "kyc")["matched"]
    sz.send(record_id(1), gba.peer(HK), "kyc")
    sz.withdraw_consent(consents[2])
    with pytest.raises(TransferRefused):
        sz.send(record_id(2), gba.peer(HK), "kyc")
    return everyone


def forms(text: str) -> list[bytes]:
    """The ways a string could sit in stored bytes: UTF-8, UTF-16, hex, digits only."""
    digits = "".join(ch for ch in text if ch.isalnum())
    out = []
    for t in dict.fromkeys((text, digits)):
        out += [t.encode(), t.encode("utf-16-le"), t.encode().hex().encode(), t.encode().hex().upper().encode()]
    return out


def sensitive(everyone: list[dict]) -> list[str]:
    return [v for p in everyone for v in (p["subject"], p["fields"]["phone"], p["fields"]["mainland_id"], p["fields"]["name"])]


def test_a_scan_of_the_whole_ledger_finds_no_raw_id_or_phone_numbers(gba, exchanged):
    node_home = Path(gba.node.node.config.home)
    files = [p for p in node_home.rglob("*") if p.is_file()]
    assert any(p.name == "data.mdb" for p in files)
    # every block and transaction as the API serves them, decoded
    served = []
    for height in range(1, gba.client.height() + 1):
        block = gba.client.block(height)
        served.append(json.dumps(block).encode())
        served += [json.dumps(gba.client.tx(h)).encode() for h in block["txs"]]
    stored = [p.read_bytes() for p in files]

    # the scan works: what is meant to be on chain is found (organisation names, filing references)
    assert all(any(f in blob for blob in stored for f in forms(t)) for t in (SZ, "GD-HK-SC-2026-001"))
    assert any(b"GD-HK-SC-2026-001" in s for s in served)
    # and nothing personal is: not in a state value, block, transaction, receipt or index
    for secret in sensitive(exchanged):
        for form in forms(secret):
            assert not any(form in blob for blob in stored), f"{secret!r} is stored in the node's files"
            assert not any(form in s for s in served), f"{secret!r} is served by the node's API"


def test_the_vault_is_encrypted_at_rest(gba, exchanged):
    for name in (SZ, HK):
        vault = gba.gateways[name].home / "vault"
        blobs = [p.read_bytes() for p in vault.rglob("*") if p.is_file()]
        assert blobs and sum(len(b) for b in blobs) > 0
        for secret in sensitive(exchanged) + [record_id(0), record_id(1)]:  # not even the record ids
            for form in forms(secret):
                assert not any(form in b for b in blobs), f"{secret!r} is readable in {name}'s vault"
    keyfile = (gba.gateways[SZ].home / "keys.json").read_text()
    assert PASSPHRASE not in keyfile


def test_a_dictionary_attack_on_the_anchored_hashes_fails_without_the_key(gba, exchanged):
    sz = gba.gateways[SZ]
    # what anyone reading the chain gets: the anchors' keyed subject references and record digests
    anchors = [gba.client.view("dataex", "anchored", {"digest": r.events[0]["attributes"]["digest"]})
               for r in gba.client.search_events("dataex.anchored")]
    on_chain = {bytes.fromhex(a["subject"]) for a in anchors}
    digests = {bytes.fromhex(a["digest"]) for a in anchors}
    assert len(on_chain) == len(exchanged) == len(digests)
    assert {hkid(n) for n in DICTIONARY} >= {p["subject"] for p in exchanged}  # the dictionary holds every real ID

    # without the owner's key: plain hashes, the label, empty and guessed keys — nothing matches
    guessed_keys = [bytes(32), b"\xff" * 32, hashlib.sha256(SZ.encode()).digest(), secrets.token_bytes(32)]
    for n in DICTIONARY:
        candidate = hkid(n).encode()
        tries = [hashlib.sha256(candidate).digest(), hashlib.sha256(SUBJECT_LABEL + candidate).digest(),
                 *(hmac.new(k, SUBJECT_LABEL + candidate, hashlib.sha256).digest() for k in guessed_keys)]
        assert on_chain.isdisjoint(tries), f"{hkid(n)} was matched without the key"
        assert digests.isdisjoint(tries)

    # with the owner's key the same dictionary finds exactly the real subjects: the hashes are what they claim
    found = {hkid(n) for n in DICTIONARY if sz.subject_ref(hkid(n)) in on_chain}
    assert found == {p["subject"] for p in exchanged}
    assert {sz.digest(p) for p in exchanged} == digests
