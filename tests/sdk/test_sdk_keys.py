"""Keys and encrypted key files."""

from __future__ import annotations

import json
import stat

import pytest

from baychain.crypto.suites import address_of
from baychain.errors import BaychainError, Code
from baychain.sdk import Key, KeyStore

FAST = 2**12  # scrypt cost for tests; the default is 2**15


def test_generated_key_derives_its_address_from_its_public_key():
    key = Key.generate()
    assert key.address == address_of(key.suite.suite_id, key.public_key)
    assert key.suite.verify(key.public_key, b"msg", key.sign(b"msg"))
    assert key.private_key.hex() not in repr(key)


def test_key_file_roundtrip_restores_the_same_key(tmp_path):
    key = Key.generate()
    path = key.save(tmp_path / "k.json", "correct horse", scrypt_n=FAST)
    loaded = Key.load(path, "correct horse")
    assert loaded.private_key == key.private_key
    assert loaded.public_key == key.public_key
    assert loaded.address == key.address


def test_key_file_never_contains_the_private_key_in_clear(tmp_path):
    key = Key.generate()
    text = key.save(tmp_path / "k.json", "pw", scrypt_n=FAST).read_text()
    doc = json.loads(text)
    assert key.private_key.hex() not in text
    assert doc["version"] == 1 and doc["suite"] == "ed25519" and doc["address"] == key.address
    assert doc["kdf"]["name"] == "scrypt" and doc["cipher"]["name"] == "chacha20-poly1305"


def test_wrong_passphrase_is_rejected_with_a_clear_error(tmp_path):
    path = Key.generate().save(tmp_path / "k.json", "right", scrypt_n=FAST)
    with pytest.raises(BaychainError) as err:
        Key.load(path, "wrong")
    assert err.value.code == Code.BAD_REQUEST
    assert "wrong passphrase" in err.value.message


def test_key_file_has_mode_0600_and_keystore_dir_0700(tmp_path):
    store = KeyStore(tmp_path / "keys")
    path = store.save("alice", Key.generate(), "pw", scrypt_n=FAST)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.dir.stat().st_mode) == 0o700


def test_editing_the_plaintext_header_makes_the_file_undecryptable(tmp_path):
    key, other = Key.generate(), Key.generate()
    path = key.save(tmp_path / "k.json", "pw", scrypt_n=FAST)
    doc = json.loads(path.read_text())
    doc["address"], doc["public_key"] = other.address, other.public_key.hex()
    path.write_text(json.dumps(doc))
    with pytest.raises(BaychainError) as err:
        Key.load(path, "pw")
    assert err.value.code == Code.BAD_REQUEST


def test_save_refuses_to_overwrite_an_existing_key(tmp_path):
    path = Key.generate().save(tmp_path / "k.json", "pw", scrypt_n=FAST)
    with pytest.raises(BaychainError) as err:
        Key.generate().save(path, "pw", scrypt_n=FAST)
    assert err.value.code == Code.ALREADY_EXISTS


def test_keystore_lists_and_shows_keys_without_the_passphrase(tmp_path):
    store = KeyStore(tmp_path)
    alice, bob = Key.generate(), Key.generate()
    store.save("bob", bob, "pw", scrypt_n=FAST)
    store.save("alice", alice, "pw", scrypt_n=FAST)
    assert store.names() == ["alice", "bob"]
    info = store.info("alice")
    assert info.address == alice.address and info.public_key == alice.public_key
    assert store.load("bob", "pw").address == bob.address
    with pytest.raises(BaychainError) as err:
        store.info("carol")
    assert err.value.code == Code.NOT_FOUND
    with pytest.raises(BaychainError):
        store.path("../escape")
