"""Every CLI failure exits non-zero with `error CODE_NAME (code N): message` (or JSON), no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path



def _assert_error(result, name: str, code: int, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert f"error {name} (code {code}):" in result.stderr, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_method_is_reported_with_its_code(cli):
    cli.new_key("alice")
    _assert_error(cli("tx", "send", "-k", "alice", "points", "nosuch", "-a", "x=1"), "UNKNOWN_METHOD", 202)
    _assert_error(cli("tx", "send", "-k", "alice", "nosuch", "method"), "UNKNOWN_CONTRACT", 201)
    _assert_error(cli("query", "points", "nosuch"), "UNKNOWN_METHOD", 202)


def test_bad_argument_types_are_reported_with_bad_arguments(cli):
    cli.new_key("alice")
    bad_int = cli("tx", "send", "-k", "alice", "points", "issue", "-a", "symbol=X", "-a", "to=bc1", "-a", "amount=ten")
    _assert_error(bad_int, "BAD_ARGUMENTS", 203)
    assert "'amount' must be an integer" in bad_int.stderr
    _assert_error(cli("query", "notary", "lookup", "-a", "digest=nothex"), "BAD_ARGUMENTS", 203)
    _assert_error(cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=ONLY"), "BAD_ARGUMENTS", 203)
    _assert_error(cli("query", "points", "info", "--args-json", "{not json"), "BAD_ARGUMENTS", 203)
    _assert_error(cli("query", "points", "info", "-a", "novalue"), "BAD_ARGUMENTS", 203)


def test_contract_failures_are_reported_with_the_receipt_code(cli):
    cli.new_key("alice")
    cli.new_key("mallory")
    assert cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=OWN", "-a", "title=t").exit_code == 0
    alice = cli.json("keys", "show", "alice")["address"]
    stolen = cli("tx", "send", "-k", "mallory", "points", "issue", "-a", "symbol=OWN", "-a", f"to={alice}", "-a", "amount=1")
    _assert_error(stolen, "NOT_AUTHORIZED", 204)
    assert "was committed at height" in stolen.stderr


def test_wrong_passphrase_is_a_clear_error(cli):
    cli.new_key("alice")
    result = cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=PW", "-a", "title=t",
                 env=cli.env(BAYCHAIN_PASSPHRASE="not it"))
    _assert_error(result, "BAD_REQUEST", 301)
    assert "wrong passphrase" in result.stderr


def test_missing_key_and_usage_errors(cli):
    _assert_error(cli("keys", "show", "nobody"), "NOT_FOUND", 205)
    _assert_error(cli("keys", "show"), "BAD_REQUEST", 301, exit_code=2)
    _assert_error(cli("status", "--bogus"), "BAD_REQUEST", 301, exit_code=2)
    _assert_error(cli("state", "get", "not-hex"), "BAD_REQUEST", 301)
    _assert_error(cli("block", "abc"), "BAD_REQUEST", 301)
    _assert_error(cli("block", "999999"), "NOT_FOUND", 205)
    _assert_error(cli("tx", "get", "00" * 32), "NOT_FOUND", 205)


def test_unreachable_node_is_a_clear_error(cli):
    url = f"http://127.0.0.1:{_free_port()}"
    result = cli("--node", url, "status")
    assert result.exit_code == 1
    assert f"cannot reach the node at {url}" in result.stderr
    assert "Traceback" not in result.output
    as_json = cli("status", "--json", "--node", url)  # global options anywhere
    assert as_json.exit_code == 1
    body = json.loads(as_json.stdout)
    assert set(body) == {"code", "error", "message"} and "cannot reach the node" in body["message"]


def test_json_errors_parse(cli):
    result = cli("--json", "query", "points", "nosuch")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"code": 202, "error": "UNKNOWN_METHOD",
                                         "message": "contract 'points' has no view 'nosuch'"}
    usage = cli("keys", "show", "--json")
    assert usage.exit_code == 2 and json.loads(usage.stdout)["error"] == "BAD_REQUEST"


def _baychain(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "from baychain.cli.main import app; app()", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def test_the_installed_command_fails_without_a_traceback():
    env = {**os.environ, "BAYCHAIN_NODE": f"http://127.0.0.1:{_free_port()}"}
    proc = _baychain("status", env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error ") and "cannot reach the node" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_dev_command_runs_a_node_the_cli_can_use(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "BAYCHAIN_NODE": f"http://127.0.0.1:{port}"}
    cmd = [sys.executable, "-c", "from baychain.cli.main import app; app()", "dev", "--home", str(tmp_path / "dev"),
           "--port", str(port), "--block-interval", "0.05"]
    dev = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            proc = _baychain("--json", "status", env=env)
            if proc.returncode == 0 or time.monotonic() > deadline or dev.poll() is not None:
                break
            time.sleep(0.3)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["chain_id"] == "baychain-dev"
    finally:
        dev.terminate()
        try:
            dev.wait(timeout=15)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()
