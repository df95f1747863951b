"""Keyed hashes of records (test vectors) and the encrypted vault, without a chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import lmdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baychain import encoding
from baychain.errors import BaychainError, Code
from baychain.gateway.records import normalise, record_digest, subject_ref
from baychain.gateway.vault import Vault, create_secrets, open_secrets

VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text())
KEY = bytes.fromhex(VECTORS["key"])


@pytest.mark.parametrize("case", VECTORS["records"], ids=lambda c: c["name"])
def test_record_digests_match_the_vectors(case):
    canonical = bytes.fromhex(case["canonical"])
    assert encoding.encode(normalise(case["record"])) == canonical
    # the construction, spelled out: HMAC-SHA256 over the domain label and the canonical CBOR
    expected = hmac.new(KEY, b"baychain/dataex/record/v1\x00" + canonical, hashlib.sha256).hexdigest()
    assert record_digest(KEY, case["record"]).hex() == case["digest"] == expected


@pytest.mark.parametrize("case", VECTORS["subjects"], ids=lambda c: c["subject"])
def test_subject_refs_match_the_vectors(case):
    expected = hmac.new(KEY, b"baychain/dataex/subject/v1\x00" + case["subject"].encode(), hashlib.sha256).hexdigest()
    assert subject_ref(KEY, case["subject"]).hex() == case["ref"] == expected


def test_field_order_does_not_matter_but_one_byte_does():
    by_name = {c["name"]: c["digest"] for c in VECTORS["records"]}
    assert by_name["hk-identity-record"] == by_name["field-order-does-not-matter"]
    assert by_name["hk-identity-record"] != by_name["one-changed-byte"]
    assert record_digest(bytes(32), VECTORS["records"][0]["record"]).hex() != by_name["hk-identity-record"]  # another key


_text = st.text(min_size=1, max_size=30)
_records = st.fixed_dictionaries({
    "subject": _text, "categories": st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4),
    "fields": st.dictionaries(st.text(max_size=10), st.one_of(_text, st.integers(-10**12, 10**12)), min_size=1, max_size=5)})


@settings(max_examples=200, deadline=None)
@given(record=_records, data=st.data())
def test_any_one_changed_character_of_any_field_changes_the_digest(record, data):
    """Change one character of one text field (one byte when it is ASCII) or add one to a number:
    the digest differs."""
    name = data.draw(st.sampled_from(sorted(record["fields"])))
    value = record["fields"][name]
    if isinstance(value, int):
        changed = value + 1
    else:
        i = data.draw(st.integers(0, len(value) - 1))
        changed = value[:i] + ("a" if value[i] != "a" else "b") + value[i + 1:]
    assert changed != value
    forged = dict(record, fields={**record["fields"], name: changed})
    assert record_digest(KEY, forged) != record_digest(KEY, record)


@pytest.mark.parametrize("bad", [
    None, [], {"subject": "x", "categories": ["a"]}, {"subject": "", "categories": ["a"], "fields": {}},
    {"subject": "x", "categories": [], "fields": {}}, {"subject": "x", "categories": ["a"], "fields": []},
    {"subject": "x", "categories": ["a"], "fields": {"f": 1.5}}, {"subject": "x", "categories": ["a"], "fields": {}, "more": 1},
])
def test_malformed_records_are_refused(bad):
    with pytest.raises(BaychainError) as err:
        record_digest(KEY, bad)
    assert err.value.code == Code.RECORD_INVALID


def test_the_vault_opens_only_with_the_passphrase_and_detects_tampering(tmp_path):
    keys = create_secrets(tmp_path / "keys.json", "owner passphrase", scrypt_n=2**10)
    with pytest.raises(BaychainError) as again:
        create_secrets(tmp_path / "keys.json", "owner passphrase", scrypt_n=2**10)
    assert again.value.code == Code.ALREADY_EXISTS
    with pytest.raises(BaychainError) as wrong:
        open_secrets(tmp_path / "keys.json", "guess")
    assert wrong.value.code == Code.VAULT_LOCKED
    assert open_secrets(tmp_path / "keys.json", "owner passphrase") == keys

    vault = Vault(tmp_path / "vault", keys.storage_key)
    vault.put("records", "r1", {"subject": "A123456(7)"})
    vault.put("records", "r2", {"subject": "B765432(1)"})
    assert vault.get("records", "r1") == {"subject": "A123456(7)"} and vault.get("records", "nope") is None
    assert [n for n, _ in vault.items("records")] == ["r1", "r2"]
    with pytest.raises(BaychainError) as exists:
        vault.put("records", "r1", {}, overwrite=False)
    assert exists.value.code == Code.ALREADY_EXISTS
    vault.close()

    # swap two sealed values on disk: each is bound to its own entry, so neither opens
    env = lmdb.open(str(tmp_path / "vault"), max_dbs=2)
    db = env.open_db(b"records")
    with env.begin(write=True, db=db) as txn:
        (k1, v1), (k2, v2) = list(txn.cursor())
        txn.put(k1, v2)
        txn.put(k2, v1)
    env.close()
    vault = Vault(tmp_path / "vault", keys.storage_key)
    with pytest.raises(BaychainError) as tampered:
        vault.get("records", "r1")
    assert tampered.value.code == Code.VAULT_LOCKED
    vault.close()
    stranger = Vault(tmp_path / "vault", bytes(32))  # another key finds no entry by name, and opens none
    assert stranger.get("records", "r1") is None
    with pytest.raises(BaychainError) as other_key:
        list(stranger.items("records"))
    assert other_key.value.code == Code.VAULT_LOCKED
    stranger.close()
