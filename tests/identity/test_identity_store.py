"""The CA directory: layout, encrypted keys with mode 0600, issue, renew, revoke, import."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from baychain.errors import BaychainError, Code
from baychain.identity import CADirectory, Usage, key_id, load_certificate, serial_hex, to_pem
from baychain.identity.certificates import datetime_to_ns
from baychain.identity.keys import decrypt_key
from identity_support import AT, T0, byo_ca, byo_leaf

PASS = "operator passphrase"
DAY = 86_400 * 10**9


def code_of(fn, *args, **kwargs) -> Code:
    with pytest.raises(BaychainError) as exc:
        fn(*args, **kwargs)
    return exc.value.code


@pytest.fixture
def ca(tmp_path: Path) -> CADirectory:
    d = CADirectory(tmp_path / "ca")
    d.init_root("GBA Consortium Root CA", PASS, now=T0)
    d.init_org("Bank of Example", "HK", "member", PASS, now=T0)
    return d


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_of_a_new_directory(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    org = ca.org("Bank of Example")
    assert org.slug == "bank-of-example" and org.dir == ca.dir / "orgs" / "bank-of-example"
    expected = ["root/ca.pem", "root/ca.key.pem", "root/revoked.json", "root/crl.pem",
                f"root/issued/{serial_hex(ca.root_cert().serial_number)}.pem",
                f"root/issued/{serial_hex(org.certificate.serial_number)}.pem",
                "orgs/bank-of-example/org.json", "orgs/bank-of-example/ca.pem", "orgs/bank-of-example/ca.key.pem",
                "orgs/bank-of-example/revoked.json", "orgs/bank-of-example/crl.pem",
                "orgs/bank-of-example/users/alice.pem", "orgs/bank-of-example/users/alice.key.pem",
                f"orgs/bank-of-example/issued/{serial_hex(alice.certificate.serial_number)}.pem"]
    for rel in expected:
        assert (ca.dir / rel).is_file(), rel
    assert json.loads((org.dir / "org.json").read_text()) == {
        "version": 1, "organisation": "Bank of Example", "jurisdiction": "HK", "role": "member", "imported": False}


def test_keys_are_encrypted_and_private(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    for key in (ca.root_dir / "ca.key.pem", ca.org("Bank of Example").dir / "ca.key.pem", alice.key_path):
        data = key.read_bytes()
        assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert mode(key) == 0o600
        decrypt_key(data, PASS)
        with pytest.raises(BaychainError) as exc:
            decrypt_key(data, "not it")
        assert exc.value.code == Code.BAD_REQUEST
    for directory in (ca.dir, ca.root_dir, ca.orgs_dir, ca.org("Bank of Example").dir, alice.key_path.parent):
        assert mode(directory) == 0o700, directory


def test_a_separate_passphrase_for_new_keys(ca):
    files = ca.issue("Bank of Example", "user", "alice", PASS, key_passphrase="alice's own", now=T0)
    decrypt_key(files.key_path.read_bytes(), "alice's own")
    assert code_of(decrypt_key, files.key_path.read_bytes(), PASS) == Code.BAD_REQUEST


def test_wrong_or_empty_passphrase_is_refused_before_anything_is_written(ca, tmp_path):
    assert code_of(ca.issue, "Bank of Example", "user", "alice", "wrong", now=T0) == Code.BAD_REQUEST
    assert not (ca.org("Bank of Example").dir / "users").exists()
    assert code_of(CADirectory(tmp_path / "other").init_root, "Root", "", now=T0) == Code.BAD_REQUEST
    assert not (tmp_path / "other" / "root" / "ca.pem").exists()


def test_duplicates_are_refused(ca):
    assert code_of(ca.init_root, "Again", PASS, now=T0) == Code.ALREADY_EXISTS
    assert code_of(ca.init_org, "bank of example", "HK", "member", PASS, now=T0) == Code.ALREADY_EXISTS
    ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    assert code_of(ca.issue, "Bank of Example", "user", "alice", PASS, now=T0) == Code.ALREADY_EXISTS
    assert code_of(ca.init_root, "Again", PASS, now=T0, force=True) == Code.ALREADY_EXISTS  # would orphan the orgs


def test_bad_names_and_unknown_organisations_are_refused(ca):
    assert code_of(ca.issue, "Bank of Example", "user", "../escape", PASS, now=T0) == Code.BAD_REQUEST
    assert code_of(ca.issue, "Nobody", "user", "x", PASS, now=T0) == Code.NOT_FOUND
    assert code_of(ca.issue, "Bank of Example", "robot", "x", PASS, now=T0) == Code.BAD_REQUEST
    assert code_of(ca.init_org, "X", "SZ", "member", PASS, now=T0) == Code.BAD_REQUEST
    assert code_of(CADirectory(ca.dir.parent / "empty").init_org, "X", "HK", "member", PASS, now=T0) == Code.NOT_FOUND


def test_organisations_with_non_ascii_names(ca):
    files = ca.init_org("广州银行", "GD", "member", PASS, now=T0)
    assert files.org.slug == "广州银行"
    assert ca.org("广州银行").organisation == "广州银行"
    leaf = ca.issue("广州银行", "user", "li.wei", PASS, now=T0)
    assert ca.verify(leaf.certificate, AT).organisation == "广州银行"


def test_verify_uses_the_whole_directory(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    node = ca.issue("Bank of Example", "node", "node0", PASS, now=T0)
    assert ca.verify(alice.certificate, AT).address
    assert ca.verify(node.certificate, AT, Usage.NODE).kind == "node"
    assert code_of(ca.verify, node.certificate, AT) == Code.CERT_WRONG_USAGE
    assert ca.verify_ca(ca.org("Bank of Example").certificate, AT).organisation == "Bank of Example"
    assert ca.verify_ca(ca.root_cert(), AT) is None


def test_a_user_can_be_certified_for_the_key_they_already_hold(ca):
    from baychain.crypto.suites import ED25519, address_of
    from baychain.identity.keys import raw_public_key
    from baychain.sdk.keys import Key

    sdk_key = Key.generate()
    public = ed25519.Ed25519PublicKey.from_public_bytes(sdk_key.public_key)
    files = ca.issue("Bank of Example", "user", "alice", PASS, now=T0, public_key=public)
    assert files.key_path is None and not (ca.org("Bank of Example").dir / "users" / "alice.key.pem").exists()
    identity = ca.verify(files.certificate, AT)
    assert identity.address == sdk_key.address == address_of(ED25519.suite_id, raw_public_key(public))


def test_revoke_updates_the_list_and_the_crl(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    org = ca.org("Bank of Example")
    entry = ca.revoke(alice.certificate.serial_number, PASS, now=T0 + timedelta(days=1), reason="keyCompromise")
    assert entry.reason == "keyCompromise" and entry.revoked_at_ns == AT and "alice" in entry.subject
    doc = json.loads((org.dir / "revoked.json").read_text())
    assert doc["issuer_key_id"] == key_id(org.certificate.public_key())
    assert doc["revoked"][0]["serial"] == serial_hex(alice.certificate.serial_number)
    assert doc["crl_number"] == 2  # 1 when the CA was created, 2 now
    from cryptography import x509

    crl = x509.load_pem_x509_crl((org.dir / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(alice.certificate.serial_number) is not None
    assert code_of(ca.verify, alice.certificate, AT) == Code.CERT_REVOKED
    assert code_of(ca.revoke, alice.certificate.serial_number, PASS, now=T0) == Code.ALREADY_EXISTS


def test_revoking_an_org_ca_is_the_roots_business(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    org = ca.org("Bank of Example")
    ca.revoke(org.certificate.serial_number, PASS, now=T0, reason="cessationOfOperation")
    root_doc = json.loads((ca.root_dir / "revoked.json").read_text())
    assert root_doc["revoked"][0]["serial"] == serial_hex(org.certificate.serial_number)
    assert code_of(ca.verify, alice.certificate, AT) == Code.CERT_REVOKED
    assert code_of(ca.verify_ca, org.certificate, AT) == Code.CERT_REVOKED


def test_revoke_refusals(ca):
    assert code_of(ca.revoke, ca.root_cert().serial_number, PASS, now=T0) == Code.BAD_REQUEST
    assert code_of(ca.revoke, 12345, PASS, now=T0) == Code.NOT_FOUND
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    assert code_of(ca.revoke, alice.certificate.serial_number, "wrong", now=T0) == Code.BAD_REQUEST
    ca.init_org("Other", "MO", "member", PASS, now=T0)
    assert code_of(ca.revoke, alice.certificate.serial_number, PASS, now=T0, org_name="Other") == Code.BAD_REQUEST


def test_publish_crl_renumbers_and_re_signs(ca):
    first = json.loads((ca.root_dir / "revoked.json").read_text())["crl_number"]
    ca.publish_crl(None, PASS, now=T0 + timedelta(days=29))
    ca.publish_crl("Bank of Example", PASS, now=T0 + timedelta(days=29))
    assert json.loads((ca.root_dir / "revoked.json").read_text())["crl_number"] == first + 1
    from cryptography import x509

    crl = x509.load_pem_x509_crl((ca.root_dir / "crl.pem").read_bytes())
    assert crl.next_update_utc == T0 + timedelta(days=59)


def test_renew_a_user_with_the_same_key(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    key_before = alice.key_path.read_bytes()
    renewed = ca.renew(alice.certificate.serial_number, PASS, now=T0 + timedelta(days=300))
    assert renewed.cert_path == alice.cert_path
    assert load_certificate(renewed.cert_path.read_bytes()) == renewed.certificate
    assert renewed.certificate.public_key() == alice.certificate.public_key()
    assert alice.key_path.read_bytes() == key_before and renewed.key_path == alice.key_path
    assert ca.verify(renewed.certificate, AT + 300 * DAY).address == ca.verify(alice.certificate, AT).address
    assert (ca.org("Bank of Example").dir / "issued" / f"{serial_hex(alice.certificate.serial_number)}.pem").exists()
    # only the current certificate can be renewed
    assert code_of(ca.renew, alice.certificate.serial_number, PASS, now=T0) == Code.BAD_REQUEST


def test_renew_a_node_with_a_new_key_keeps_the_old_key_aside(ca):
    node = ca.issue("Bank of Example", "node", "node0", PASS, now=T0)
    old_key = node.key_path.read_bytes()
    renewed = ca.renew(node.certificate.serial_number, PASS, now=T0, generate_key=True)
    assert renewed.certificate.public_key() != node.certificate.public_key()
    new_key = decrypt_key(renewed.key_path.read_bytes(), PASS)
    assert new_key.public_key() == renewed.certificate.public_key()
    kept = ca.org("Bank of Example").dir / "issued" / f"{serial_hex(node.certificate.serial_number)}.key.pem"
    assert kept.read_bytes() == old_key and mode(kept) == 0o600
    assert ca.verify(renewed.certificate, AT, Usage.NODE).kind == "node"


def test_renew_a_user_onto_their_own_new_key(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    mine = ed25519.Ed25519PrivateKey.generate()
    renewed = ca.renew(alice.certificate.serial_number, PASS, now=T0, public_key=mine.public_key())
    assert renewed.certificate.public_key() == mine.public_key()
    assert renewed.key_path is None and not alice.key_path.exists()  # the stale key is moved aside


def test_renew_cas_with_their_keys(ca):
    org = ca.org("Bank of Example")
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    renewed_org = ca.renew(org.certificate.serial_number, PASS, now=T0 + timedelta(days=100))
    assert ca.org("Bank of Example").certificate == renewed_org.certificate
    renewed_root = ca.renew(ca.root_cert().serial_number, PASS, now=T0 + timedelta(days=100))
    assert ca.root_cert() == renewed_root.certificate
    # alice was issued under the first organisation CA certificate and verifies under the renewed ones
    assert ca.verify(alice.certificate, AT + 101 * DAY).organisation == "Bank of Example"
    assert code_of(ca.renew, renewed_org.certificate.serial_number, PASS, now=T0, generate_key=True) == Code.BAD_REQUEST
    # the CA's revocation list survives its renewal (same key)
    ca.revoke(alice.certificate.serial_number, PASS, now=T0 + timedelta(days=101))
    assert code_of(ca.verify, alice.certificate, AT + 101 * DAY) == Code.CERT_REVOKED


@pytest.mark.parametrize("curve", ["ed25519", "p256"])
def test_import_an_organisations_own_ca(ca, curve):
    ca_key = ed25519.Ed25519PrivateKey.generate() if curve == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    cert = byo_ca(ca_key)
    record = ca.import_org(to_pem(cert), None, "MO", "member")
    assert (record.organisation, record.jurisdiction, record.role, record.imported) == ("Macao Trust Bank", "MO", "member", True)
    assert not (record.dir / "ca.key.pem").exists() and not (record.dir / "crl.pem").exists()
    leaf, _ = byo_leaf(cert, ca_key)
    assert ca.verify(leaf, AT).organisation == "Macao Trust Bank"
    assert code_of(ca.import_org, to_pem(cert), "Another Name", "MO", "member") == Code.ALREADY_EXISTS
    assert code_of(ca.issue, "Macao Trust Bank", "user", "x", PASS, now=T0) == Code.BAD_REQUEST  # its key is not here
    ca.revoke(leaf.serial_number, None, now=T0, org_name="Macao Trust Bank")
    assert code_of(ca.verify, leaf, AT) == Code.CERT_REVOKED


def test_import_needs_attributes_and_a_ca_certificate(ca):
    key = ed25519.Ed25519PrivateKey.generate()
    assert code_of(ca.import_org, to_pem(byo_ca(key)), None, None, "member") == Code.BAD_REQUEST
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    assert code_of(ca.import_org, to_pem(alice.certificate), "X", "HK", "member") == Code.CERT_WRONG_USAGE
    assert code_of(ca.import_org, b"junk", "X", "HK", "member") == Code.CERT_INVALID
    two = to_pem(byo_ca(key)) + to_pem(byo_ca(ed25519.Ed25519PrivateKey.generate()))
    assert code_of(ca.import_org, two, "X", "HK", "member") == Code.BAD_REQUEST


def test_baychain_attributes_of_an_imported_ca_are_used(ca, tmp_path):
    other = CADirectory(tmp_path / "elsewhere")
    other.init_root("Another consortium", PASS, now=T0)
    files = other.init_org("Roaming Bank", "HK", "regulator", PASS, now=T0)
    record = ca.import_org(to_pem(files.certificate))
    assert (record.organisation, record.jurisdiction, record.role) == ("Roaming Bank", "HK", "regulator")
    leaf = other.issue("Roaming Bank", "user", "r", PASS, now=T0)
    assert ca.verify(leaf.certificate, AT).role == "regulator"


def test_time_is_the_callers(ca):
    alice = ca.issue("Bank of Example", "user", "alice", PASS, now=T0)
    assert code_of(ca.verify, alice.certificate, datetime_to_ns(T0 - timedelta(days=1))) == Code.CERT_NOT_YET_VALID
    assert code_of(ca.verify, alice.certificate, datetime_to_ns(T0 + timedelta(days=366))) == Code.CERT_EXPIRED
