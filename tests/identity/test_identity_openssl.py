"""The files are standard: openssl verifies the chain, shows the attributes, reads the
CRL and the encrypted keys, and a CA made with openssl can be brought to the chain."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from baychain.errors import BaychainError, Code
from baychain.identity import OID_EKU_TX_SIGNING, OID_JURISDICTION, OID_ROLE, CADirectory, Usage, load_certificate
from baychain.identity.certificates import datetime_to_ns, serial_hex
from support import openssl_binary

PASS = "correct horse battery staple"


def openssl(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([openssl_binary(), *args], capture_output=True, text=True, cwd=cwd, timeout=60)
    if check:
        assert result.returncode == 0, f"openssl {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def ca(tmp_path: Path) -> CADirectory:
    now = datetime.now(timezone.utc)
    d = CADirectory(tmp_path / "ca")
    d.init_root("GBA Consortium Root CA", PASS, now=now)
    d.init_org("Bank of Example", "HK", "member", PASS, now=now)
    d.init_org("Guangzhou Supplier Co", "GD", "auditor", PASS, now=now)
    d.issue("Bank of Example", "user", "alice", PASS, now=now)
    d.issue("Bank of Example", "user", "bob", PASS, now=now)
    d.issue("Bank of Example", "node", "node0", PASS, now=now, dns_names=("node0.bank.example",))
    return d


def test_openssl_verifies_user_and_node_certificates(ca):
    root, org = ca.root_dir / "ca.pem", ca.org("Bank of Example").dir
    for leaf in (org / "users" / "alice.pem", org / "nodes" / "node0.pem"):
        result = openssl("verify", "-CAfile", str(root), "-untrusted", str(org / "ca.pem"), str(leaf))
        assert result.stdout.strip().endswith(": OK")


def test_openssl_refuses_a_leaf_against_the_wrong_organisation(ca):
    root = ca.root_dir / "ca.pem"
    other = ca.org("Guangzhou Supplier Co").dir / "ca.pem"
    alice = ca.org("Bank of Example").dir / "users" / "alice.pem"
    assert openssl("verify", "-CAfile", str(root), "-untrusted", str(other), str(alice), check=False).returncode != 0


def test_openssl_text_shows_organisation_jurisdiction_and_role(ca):
    text = openssl("x509", "-in", str(ca.org("Bank of Example").dir / "ca.pem"), "-noout", "-text").stdout
    assert "O = Bank of Example" in text and "C = HK" in text
    assert f"{OID_JURISDICTION.dotted_string} = HK" in text
    assert f"{OID_ROLE.dotted_string} = member" in text
    assert "CA:TRUE, pathlen:0" in text and "Certificate Sign, CRL Sign" in text
    assert "X509v3 Subject Key Identifier" in text and "X509v3 Authority Key Identifier" in text
    gd = openssl("x509", "-in", str(ca.org("Guangzhou Supplier Co").dir / "ca.pem"), "-noout", "-text").stdout
    assert "C = CN, ST = Guangdong" in gd and f"{OID_JURISDICTION.dotted_string} = GD" in gd
    assert f"{OID_ROLE.dotted_string} = auditor" in gd
    leaf = openssl("x509", "-in", str(ca.org("Bank of Example").dir / "users" / "alice.pem"), "-noout", "-text").stdout
    assert "O = Bank of Example, OU = user, CN = alice" in leaf
    assert "CA:FALSE" in leaf and "Digital Signature, Non Repudiation" in leaf
    assert "TLS Web Client Authentication" in leaf and OID_EKU_TX_SIGNING.dotted_string in leaf
    root = openssl("x509", "-in", str(ca.root_dir / "ca.pem"), "-noout", "-text").stdout
    assert "CA:TRUE, pathlen:1" in root


def test_openssl_prints_the_serial_baychain_names_files_by(ca):
    alice = ca.org("Bank of Example").dir / "users" / "alice.pem"
    serial = openssl("x509", "-in", str(alice), "-noout", "-serial").stdout.strip().split("=", 1)[1]
    assert serial == serial_hex(load_certificate(alice.read_bytes()).serial_number)
    assert (ca.org("Bank of Example").dir / "issued" / f"{serial}.pem").exists()


def test_crl_is_signed_by_the_ca_and_openssl_refuses_the_revoked_certificate(ca):
    org = ca.org("Bank of Example")
    alice = org.dir / "users" / "alice.pem"
    serial = load_certificate(alice.read_bytes()).serial_number
    ca.revoke(serial, PASS, now=datetime.now(timezone.utc), reason="keyCompromise")
    crl = org.dir / "crl.pem"
    result = openssl("crl", "-in", str(crl), "-noout", "-text", "-CAfile", str(org.dir / "ca.pem"))
    assert "verify OK" in result.stderr + result.stdout
    assert f"Serial Number: {serial_hex(serial)}" in result.stdout
    assert "Key Compromise" in result.stdout and "X509v3 CRL Number" in result.stdout
    base = ["verify", "-crl_check", "-CRLfile", str(crl), "-CAfile", str(ca.root_dir / "ca.pem"),
            "-untrusted", str(org.dir / "ca.pem")]
    refused = openssl(*base, str(alice), check=False)
    assert refused.returncode != 0 and "certificate revoked" in refused.stdout + refused.stderr
    assert openssl(*base, str(org.dir / "users" / "bob.pem")).returncode == 0


def test_root_crl_lists_a_revoked_organisation_ca_for_openssl(ca):
    org = ca.org("Guangzhou Supplier Co")
    ca.revoke(org.certificate.serial_number, PASS, now=datetime.now(timezone.utc), reason="cessationOfOperation")
    text = openssl("crl", "-in", str(ca.root_dir / "crl.pem"), "-noout", "-text", "-CAfile", str(ca.root_dir / "ca.pem"))
    assert serial_hex(org.certificate.serial_number) in text.stdout and "Cessation Of Operation" in text.stdout


def test_keys_are_encrypted_pkcs8_that_openssl_opens_with_the_passphrase(ca):
    key = ca.org("Bank of Example").dir / "users" / "alice.key.pem"
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert (key.stat().st_mode & 0o777) == 0o600
    assert openssl("pkey", "-in", str(key), "-passin", f"pass:{PASS}", "-noout").returncode == 0
    assert openssl("pkey", "-in", str(key), "-passin", "pass:wrong", "-noout", check=False).returncode != 0
    # the key opened by openssl is the one in the certificate
    pub = openssl("pkey", "-in", str(key), "-passin", f"pass:{PASS}", "-pubout").stdout
    cert_pub = openssl("x509", "-in", str(key.with_name("alice.pem")), "-noout", "-pubkey").stdout
    assert pub == cert_pub


def test_an_org_ca_from_an_openssl_csr_keeps_its_key_with_the_organisation(tmp_path, ca):
    openssl("genpkey", "-algorithm", "ED25519", "-out", "org.key", cwd=tmp_path)
    openssl("req", "-new", "-key", "org.key", "-subj", "/CN=ignored", "-out", "org.csr", cwd=tmp_path)
    from baychain.identity import public_key_from_csr

    public = public_key_from_csr((tmp_path / "org.csr").read_bytes())
    files = ca.init_org("Macao Hospital", "MO", "member", PASS, now=datetime.now(timezone.utc), public_key=public)
    assert files.key_path is None and not (files.org.dir / "ca.key.pem").exists()
    # the organisation signs its own leaves with openssl; baychain verifies them
    leaf = _openssl_leaf(tmp_path, files.cert_path, tmp_path / "org.key", "nurse-1")
    identity = ca.verify(leaf.read_bytes(), datetime_to_ns(datetime.now(timezone.utc)))
    assert (identity.organisation, identity.jurisdiction) == ("Macao Hospital", "MO")


@pytest.mark.parametrize("algorithm", ["P-256", "ED25519"])
def test_a_ca_made_with_openssl_can_be_imported_and_its_certificates_verify(tmp_path, ca, algorithm):
    if algorithm == "P-256":
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "byo.key", cwd=tmp_path)
    else:
        openssl("genpkey", "-algorithm", "ED25519", "-out", "byo.key", cwd=tmp_path)
    openssl("req", "-x509", "-new", "-key", "byo.key", "-subj", "/C=MO/O=Macao Trust Bank/CN=Macao Trust Bank CA",
            "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "byo.pem", cwd=tmp_path)
    record = ca.import_org((tmp_path / "byo.pem").read_bytes(), None, "MO", "member")
    assert record.organisation == "Macao Trust Bank" and record.imported
    leaf = _openssl_leaf(tmp_path, tmp_path / "byo.pem", tmp_path / "byo.key", "teller-1")
    now = datetime_to_ns(datetime.now(timezone.utc))
    identity = ca.verify(leaf.read_bytes(), now)
    assert (identity.organisation, identity.jurisdiction, identity.role) == ("Macao Trust Bank", "MO", "member")
    assert identity.address and identity.address.startswith("bc1")
    # revoking it (the organisation's CA key is not here: recorded for the chain, no CRL)
    serial = load_certificate(leaf.read_bytes()).serial_number
    ca.revoke(serial, None, now=datetime.now(timezone.utc), org_name="Macao Trust Bank")
    with pytest.raises(BaychainError) as exc:
        ca.verify(leaf.read_bytes(), now)
    assert exc.value.code == Code.CERT_REVOKED
    with pytest.raises(BaychainError) as exc:
        ca.verify(leaf.read_bytes(), now, Usage.NODE)
    assert exc.value.code == Code.CERT_REVOKED


def test_openssl_self_signed_certificate_is_refused(tmp_path, ca):
    openssl("req", "-x509", "-newkey", "ED25519", "-nodes", "-keyout", "self.key", "-subj", "/O=Bank of Example/CN=alice",
            "-days", "30", "-out", "self.pem", cwd=tmp_path)
    with pytest.raises(BaychainError) as exc:
        ca.verify((tmp_path / "self.pem").read_bytes(), datetime_to_ns(datetime.now(timezone.utc)))
    assert exc.value.code == Code.CERT_SELF_SIGNED


def _openssl_leaf(tmp_path: Path, ca_pem: Path, ca_key: Path, name: str) -> Path:
    """A transaction-signing Ed25519 certificate issued with `openssl x509 -req`."""
    openssl("genpkey", "-algorithm", "ED25519", "-out", f"{name}.key", cwd=tmp_path)
    openssl("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr", cwd=tmp_path)
    (tmp_path / f"{name}.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage=clientAuth,{OID_EKU_TX_SIGNING.dotted_string}\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca_pem), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "365", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=tmp_path)
    return tmp_path / f"{name}.pem"
