"""`baychain ca` through typer's CliRunner: human and --json output, stable error format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from baychain.cli import ca as ca_cli
from baychain.cli.main import app
from baychain.identity import CADirectory, load_certificate, serial_hex, to_pem
from baychain.sdk import Key, KeyStore
from identity_support import byo_ca, byo_leaf, make_cert

if not any(group.name == "ca" for group in app.registered_groups):  # until cli/main.py registers it
    app.add_typer(ca_cli.app, name="ca")

PASS = "cli passphrase"


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "ca"
        self.keys_dir = tmp_path / "keys"
        self.runner = CliRunner()

    def env(self, **extra: str) -> dict[str, str]:
        return {"BAYCHAIN_CA_DIR": str(self.dir), "BAYCHAIN_CA_PASSPHRASE": PASS,
                "BAYCHAIN_KEYS_DIR": str(self.keys_dir), "COLUMNS": "200", **extra}

    def __call__(self, *args: str, env: dict[str, str] | None = None, input: str | None = None):
        return self.runner.invoke(app, ["ca", *args], env=env if env is not None else self.env(), input=input)

    def ok(self, *args: str, **kwargs):
        result = self(*args, **kwargs)
        assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **kwargs):
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)


def assert_error(result, name: str, code: int, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert f"error {name} (code {code}):" in result.stderr, result.output
    assert "Traceback" not in result.output


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(tmp_path)
    c.ok("init-root")
    c.ok("init-org", "--org", "Bank of Example", "--jurisdiction", "HK", "--role", "member")
    return c


def org_dir(cli: Cli) -> Path:
    return cli.dir / "orgs" / "bank-of-example"


def test_operator_workflow_human_output(cli):
    out = cli.ok("issue", "--org", "Bank of Example", "--kind", "user", "alice").stdout
    assert "user certificate" in out and "CN=alice" in out and "address" in out and "bc1" in out
    assert "(encrypted, mode 0600)" in out
    out = cli.ok("issue", "--org", "bank of example", "--kind", "node", "node0", "--dns", "node0.example").stdout
    assert "node certificate" in out
    listing = cli.ok("list").stdout
    assert "GBA Consortium Root CA" in listing and "Bank of Example" in listing and "HK" in listing
    shown = cli.ok("show", str(org_dir(cli) / "ca.pem")).stdout
    assert "jurisdiction" in shown and "HK" in shown and "member" in shown and "keyCertSign" in shown
    verified = cli.ok("verify", str(org_dir(cli) / "users" / "alice.pem")).stdout
    assert verified.startswith("VALID for signing transactions") and "Bank of Example" in verified
    assert cli.ok("verify", str(org_dir(cli) / "nodes" / "node0.pem")).stdout.startswith("VALID for a node")
    assert cli.ok("verify", str(org_dir(cli) / "ca.pem")).stdout.startswith("VALID organisation CA of Bank of Example")
    assert cli.ok("verify", str(cli.dir / "root" / "ca.pem")).stdout.startswith("VALID the consortium root CA")


def test_json_output(cli):
    issued = cli.json("issue", "--org", "Bank of Example", "alice")
    assert issued["certificate"].endswith("users/alice.pem") and issued["key"].endswith("users/alice.key.pem")
    assert issued["extended_key_usage"] == ["clientAuth", "baychainTransactionSigning"]
    verified = cli.json("verify", issued["certificate"])
    assert verified["valid"] is True and verified["usage"] == "transaction"
    assert (verified["organisation"], verified["jurisdiction"], verified["role"], verified["kind"]) == (
        "Bank of Example", "HK", "member", "user")
    assert verified["serial"] == issued["serial"] and verified["address"] == issued["address"]
    listing = cli.json("list")
    assert [o["organisation"] for o in listing["orgs"]] == ["Bank of Example"]
    assert listing["root"]["subject"] == "CN=GBA Consortium Root CA"
    shown = cli.json("show", issued["certificate"])
    assert shown["serial"] == issued["serial"] and shown["ca"] is False


def test_revoke_and_verify(cli):
    alice = cli.json("issue", "--org", "Bank of Example", "alice")
    revoked = cli.json("revoke", alice["serial"], "--reason", "keyCompromise")
    assert revoked["serial"] == alice["serial"] and revoked["reason"] == "keyCompromise"
    assert revoked["crl"].endswith("crl.pem")
    assert_error(cli("verify", alice["certificate"]), "CERT_REVOKED", 214)
    error = json.loads(cli("verify", alice["certificate"], "--json").stdout)
    assert error["code"] == 214 and error["error"] == "CERT_REVOKED" and "revoked" in error["message"]
    assert_error(cli("revoke", alice["serial"]), "ALREADY_EXISTS", 206)
    crl = x509.load_pem_x509_crl((org_dir(cli) / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(alice["serial"], 16)) is not None


def test_revoke_by_file_and_with_openssl_style_serial(cli):
    bob = cli.json("issue", "--org", "Bank of Example", "bob")
    colons = ":".join(bob["serial"][i:i + 2] for i in range(0, len(bob["serial"]), 2)).lower()
    cli.ok("revoke", colons)
    carol = cli.json("issue", "--org", "Bank of Example", "carol")
    cli.ok("revoke", carol["certificate"])
    assert_error(cli("revoke", "ABCDEF"), "NOT_FOUND", 205)


def test_renew(cli):
    alice = cli.json("issue", "--org", "Bank of Example", "alice")
    same = cli.json("renew", alice["serial"])
    assert same["serial"] != alice["serial"] and same["public_key"] == alice["public_key"]
    fresh = cli.json("renew", same["serial"], "--new-key", "--days", "30")
    assert fresh["public_key"] != alice["public_key"] and fresh["key"].endswith("alice.key.pem")
    assert_error(cli("renew", alice["serial"]), "BAD_REQUEST", 301)  # superseded
    org_serial = cli.json("list")["orgs"][0]["serial"]
    assert cli.json("renew", org_serial)["ca"] is True
    assert_error(cli("renew", org_serial, "--new-key"), "BAD_REQUEST", 301)
    out = cli.ok("renew", fresh["serial"]).stdout
    assert "the old certificate stays valid" in out


def test_crl_command(cli):
    before = json.loads((cli.dir / "root" / "revoked.json").read_text())["crl_number"]
    assert cli.json("crl")["crl"].endswith("root/crl.pem")
    assert cli.json("crl", "--org", "Bank of Example")["crl"].endswith("bank-of-example/crl.pem")
    assert json.loads((cli.dir / "root" / "revoked.json").read_text())["crl_number"] == before + 1


def test_certificate_bound_to_an_existing_signing_key(cli):
    key = Key.generate()
    KeyStore(cli.keys_dir).save("alice", key, "k", scrypt_n=2**12)
    issued = cli.json("issue", "--org", "Bank of Example", "alice", "--key", "alice")
    assert issued["address"] == key.address and issued["key"] is None
    assert cli.json("verify", issued["certificate"])["address"] == key.address


def test_certificate_for_a_csr(cli, tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "n1")])).sign(key, None))
    path = tmp_path / "n1.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    issued = cli.json("issue", "--org", "Bank of Example", "--kind", "node", "n1", "--csr", str(path))
    assert load_certificate(Path(issued["certificate"]).read_bytes()).public_key() == key.public_key()
    assert_error(cli("issue", "--org", "Bank of Example", "n2", "--csr", str(path), "--key", "x"), "BAD_REQUEST", 301)


def test_import_org_and_verify_its_certificates(cli, tmp_path):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    byo = byo_ca(ca_key)
    (tmp_path / "byo.pem").write_bytes(to_pem(byo))
    shown = cli.json("import-org", str(tmp_path / "byo.pem"), "--jurisdiction", "MO", "--role", "auditor")
    assert shown["organisation"] == "Macao Trust Bank" and shown["imported"] is True and shown["key_type"] == "ecdsa-p256"
    leaf, _ = byo_leaf(byo, ca_key)
    (tmp_path / "teller.pem").write_bytes(to_pem(leaf))
    verified = cli.json("verify", str(tmp_path / "teller.pem"), "--at", "2030-01-02T00:00:00Z")
    assert (verified["organisation"], verified["jurisdiction"], verified["role"]) == ("Macao Trust Bank", "MO", "auditor")
    assert cli.json("revoke", serial_hex(leaf.serial_number), "--org", "Macao Trust Bank")["crl"] is None
    assert_error(cli("verify", str(tmp_path / "teller.pem"), "--at", "2030-01-02T00:00:00Z"), "CERT_REVOKED", 214)
    # a leaf certificate is not a CA
    (tmp_path / "leaf-as-ca.pem").write_bytes(to_pem(leaf))
    assert_error(cli("import-org", str(tmp_path / "leaf-as-ca.pem"), "--org", "X", "--jurisdiction", "HK", "--role", "member"),
                 "CERT_WRONG_USAGE", 215)


def test_verify_failures_have_their_codes(cli, tmp_path):
    alice = cli.json("issue", "--org", "Bank of Example", "alice")
    assert_error(cli("verify", alice["certificate"], "--at", "2199-01-01"), "CERT_EXPIRED", 212)
    assert_error(cli("verify", alice["certificate"], "--at", "1000000000000000000"), "CERT_NOT_YET_VALID", 213)
    assert_error(cli("verify", str(org_dir(cli) / "ca.pem"), "--usage", "transaction"), "CERT_WRONG_USAGE", 215)
    assert_error(cli("verify", alice["certificate"], "--usage", "node"), "CERT_WRONG_USAGE", 215)
    self_signed = make_cert("mallory", ed25519.Ed25519PrivateKey.generate())
    (tmp_path / "self.pem").write_bytes(to_pem(self_signed))
    assert_error(cli("verify", str(tmp_path / "self.pem")), "CERT_SELF_SIGNED", 210)
    other = CADirectory(tmp_path / "other")
    from datetime import datetime, timezone

    other.init_root("Other Root", PASS, now=datetime.now(timezone.utc))
    other.init_org("Stranger", "HK", "member", PASS, now=datetime.now(timezone.utc))
    stranger = other.issue("Stranger", "user", "s", PASS, now=datetime.now(timezone.utc))
    assert_error(cli("verify", str(stranger.cert_path)), "CERT_UNKNOWN_CA", 211)
    der = bytearray(Path(alice["certificate"]).read_bytes())
    tampered = load_certificate(bytes(der)).public_bytes(serialization.Encoding.DER)
    broken = bytearray(tampered)
    broken[-1] ^= 1
    (tmp_path / "broken.der").write_bytes(bytes(broken))
    assert_error(cli("verify", str(tmp_path / "broken.der")), "CERT_INVALID", 209)
    (tmp_path / "junk.pem").write_text("junk")
    assert_error(cli("show", str(tmp_path / "junk.pem")), "CERT_INVALID", 209)
    assert_error(cli("verify", alice["certificate"], "--at", "yesterday"), "BAD_REQUEST", 301)


def test_command_line_errors_are_reported_in_the_stable_format(cli, tmp_path):
    assert_error(cli("init-root"), "ALREADY_EXISTS", 206)
    assert_error(cli("init-org", "--org", "X", "--jurisdiction", "SZ"), "BAD_REQUEST", 301)
    assert_error(cli("init-org", "--org", "X", "--jurisdiction", "HK", "--role", "boss"), "BAD_REQUEST", 301)
    assert_error(cli("issue", "--org", "Nobody", "x"), "NOT_FOUND", 205)
    assert_error(cli("issue", "--org", "Bank of Example", "--kind", "robot", "x"), "BAD_REQUEST", 301)
    assert_error(cli("issue", "--org", "Bank of Example", "x", env=cli.env(BAYCHAIN_CA_PASSPHRASE="wrong")), "BAD_REQUEST", 301)
    assert_error(cli("revoke", "nothex"), "BAD_REQUEST", 301)
    assert_error(cli("revoke", "01", "--reason", "because"), "BAD_REQUEST", 301)
    assert_error(cli("show", str(tmp_path / "missing.pem")), "BAD_REQUEST", 301, exit_code=2)
    error = json.loads(cli("issue", "--org", "Nobody", "x", "--json").stdout)
    assert error == {"code": 205, "error": "NOT_FOUND", "message": error["message"]}


def test_passphrase_is_prompted_when_not_given(tmp_path):
    c = Cli(tmp_path)
    env = {k: v for k, v in c.env().items() if k != "BAYCHAIN_CA_PASSPHRASE"}
    c.ok("init-root", env=env, input="typed secret\ntyped secret\n")
    c.ok("init-org", "--org", "Bank", "--jurisdiction", "MO", env=env, input="typed secret\n")
    assert_error(c("issue", "--org", "Bank", "x", env=env, input="wrong\n"), "BAD_REQUEST", 301)
    c.ok("issue", "--org", "Bank", "x", env=env, input="typed secret\n")
    key = (c.dir / "orgs" / "bank" / "users" / "x.key.pem").read_bytes()
    serialization.load_pem_private_key(key, b"typed secret")
