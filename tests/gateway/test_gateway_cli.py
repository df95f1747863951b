"""`baychain gateway` end to end: two gateways started as real processes with `gateway start`,
driven by the CLI commands an operator types; a refused transfer exits with its stable code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baychain.cli.main import app
from baychain.identity import Kind, issue_leaf, to_pem
from baychain.identity.keys import encrypt_key
from baychain.sdk import Key
from gateway_support import PASSPHRASE, consortium

pytestmark = pytest.mark.slow
SZ, HK = "Shenzhen Data Co", "Hong Kong Bank"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chain(tmp_path):
    with consortium(tmp_path) as c:
        yield c


def cli(node: str, *args: str) -> tuple[int, dict | list | str]:
    env = {"BAYCHAIN_GATEWAY_PASSPHRASE": PASSPHRASE, "BAYCHAIN_PASSPHRASE": "signer pass",
           "BAYCHAIN_CA_KEY_PASSPHRASE": "tls key pass"}
    result = CliRunner().invoke(app, ["--node", node, "--json", *args], env=env)
    try:
        return result.exit_code, json.loads(result.output)
    except ValueError:
        return result.exit_code, result.output


def materials(c, org: str, where: Path) -> list[str]:
    """What an operator has from `baychain ca` and `baychain keys`: PEM files and a key file."""
    where.mkdir(parents=True)
    ca = c.cas[org]
    node = issue_leaf(ca.certificate, ca.private_key, "gw", Kind.NODE, now=c.now, dns_names=["127.0.0.1"])
    (where / "node.pem").write_bytes(to_pem(node.certificate))
    (where / "node.key.pem").write_bytes(encrypt_key(node.private_key, "tls key pass"))
    (where / "ca.pem").write_bytes(to_pem(ca.certificate))
    (where / "root.pem").write_bytes(to_pem(c.root.certificate))
    signer = Key.generate()
    signer.save(where / "signer.json", "signer pass", scrypt_n=2**10)
    c.bind(org, signer, f"{org}-gateway")
    return ["--node-cert", str(where / "node.pem"), "--node-key", str(where / "node.key.pem"),
            "--org-ca", str(where / "ca.pem"), "--root", str(where / "root.pem"), "--signer", str(where / "signer.json")]


def start(home: Path, node: str) -> subprocess.Popen:
    env = {**os.environ, "BAYCHAIN_GATEWAY_PASSPHRASE": PASSPHRASE}
    proc = subprocess.Popen([sys.executable, "-m", "baychain.cli.main", "--node", node, "gateway", "start", "--home", str(home)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code, doc = cli(node, "gateway", "status", "--home", str(home))
        if code == 0:
            return proc
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the gateway did not start")


def test_two_gateways_run_by_the_cli_verify_transfer_and_refuse_after_withdrawal(chain, tmp_path):
    node = chain.node.url
    homes, ports = {}, {}
    for org in (SZ, HK):
        homes[org] = tmp_path / org.split()[0].lower()
        ports[org] = free_port()
        code, doc = cli(node, "gateway", "init", "--home", str(homes[org]), *materials(chain, org, tmp_path / f"m-{org[:2]}"),
                        "--peer-port", str(ports[org]), "--admin-port", str(free_port()))
        assert code == 0, doc
    code, doc = cli(node, "gateway", "init", "--home", str(homes[SZ]), *materials(chain, SZ, tmp_path / "m-again"))
    assert code == 1 and doc["error"] == "ALREADY_EXISTS"

    procs = [start(homes[org], node) for org in (SZ, HK)]
    try:
        assert cli(node, "gateway", "status", "--home", str(homes[SZ]))[1]["organisation"] == SZ
        record = {"subject": "C112233(9)", "categories": ["identity"], "fields": {"phone": "+852 6123 0000"}}
        (tmp_path / "rec.json").write_text(json.dumps(record))
        code, put = cli(node, "gateway", "put", "r1", str(tmp_path / "rec.json"), "--anchor", "--home", str(homes[SZ]))
        assert code == 0 and put["anchor"]["height"] > 0
        sz_peer, hk_peer = f"127.0.0.1:{ports[SZ]}", f"127.0.0.1:{ports[HK]}"

        code, refused = cli(node, "gateway", "verify", str(tmp_path / "rec.json"), "--at", sz_peer, "--purpose", "kyc",
                            "--home", str(homes[HK]))
        assert code == 1 and refused["error"] == "GRANT_MISSING"
        assert cli(node, "gateway", "grant", HK, "--purpose", "kyc", "-c", "identity", "--home", str(homes[SZ]))[0] == 0
        code, verified = cli(node, "gateway", "verify", str(tmp_path / "rec.json"), "--at", sz_peer, "--purpose", "kyc",
                             "--home", str(homes[HK]))
        assert code == 0 and verified["matched"] is True and verified["anchored_height"] == put["anchor"]["height"]

        (tmp_path / "pia.txt").write_text("impact assessment")
        code, assessed = cli(node, "gateway", "assess", "PIA-1", str(tmp_path / "pia.txt"), "--recipient", HK,
                             "--purpose", "kyc", "-c", "identity", "--home", str(homes[SZ]))
        assert code == 0
        code, filed = cli(node, "gateway", "file", "SC-1", "--assessment", str(assessed["assessment"]), "--recipient", HK,
                          "--jurisdiction", "hk", "--purpose", "kyc", "-c", "identity", "--retention-days", "90",
                          "--home", str(homes[SZ]))
        assert code == 0, filed
        code, consented = cli(node, "gateway", "consent", record["subject"], "--recipient", HK, "--purpose", "kyc",
                              "-c", "identity", "--home", str(homes[SZ]))
        assert code == 0
        code, sent = cli(node, "gateway", "send", "r1", "--to", hk_peer, "--purpose", "kyc", "--home", str(homes[SZ]))
        assert code == 0, sent
        code, got = cli(node, "gateway", "received", "--home", str(homes[HK]))
        assert [r["record"] for r in got] == [record]

        assert cli(node, "gateway", "withdraw-consent", str(consented["consent"]), "--home", str(homes[SZ]))[0] == 0
        code, again = cli(node, "gateway", "send", "r1", "--to", hk_peer, "--purpose", "kyc", "--home", str(homes[SZ]))
        assert code == 1 and again["error"] == "CONSENT_WITHDRAWN" and again["transfer"] > sent["transfer"]

        code, log = cli(node, "gateway", "audit", "--organisation", HK)
        assert [(e["kind"], e["outcome"]) for e in log["entries"]] == [
            ("verification", "refused"), ("verification", "allowed"), ("transfer", "allowed"), ("receipt", "allowed"),
            ("transfer", "refused")]
        code, policies = cli(node, "gateway", "policies")
        assert code == 0 and policies["GD/HK"]["filing"] is True
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            assert proc.wait(timeout=15) == 0
