"""`baychain identity bind | rotate | status` on a real node whose genesis requires
certificates: from `baychain ca` files to a bound account that survives a key rotation."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from baychain.chain.genesis import Genesis
from baychain.cli.main import app
from baychain.sdk import Key, KeyStore
from baychain.sdk.testing import local_node

PASS = "cli passphrase"


def cli(base: Path, *args: str, node: str = "http://127.0.0.1:1"):
    env = {"BAYCHAIN_CA_DIR": str(base / "ca"), "BAYCHAIN_CA_PASSPHRASE": PASS, "BAYCHAIN_PASSPHRASE": PASS,
           "BAYCHAIN_KEYS_DIR": str(base / "keys"), "BAYCHAIN_NODE": node, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def ok(base: Path, *args: str, node: str = "http://127.0.0.1:1"):
    result = cli(base, "--json", *args, node=node)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_bind_rotate_and_status_from_the_command_line(tmp_path):
    keys = KeyStore(tmp_path / "keys")
    for name in ("alice", "alice-2", "chair"):
        keys.save(name, Key.generate(), PASS, scrypt_n=2**12)
    ok(tmp_path, "ca", "init-root")
    ok(tmp_path, "ca", "init-org", "--org", "Shenzhen Supply Co", "--jurisdiction", "GD")
    first = ok(tmp_path, "ca", "issue", "--org", "Shenzhen Supply Co", "alice", "--key", "alice")
    second = ok(tmp_path, "ca", "issue", "--org", "Shenzhen Supply Co", "alice-2", "--key", "alice-2")
    home = tmp_path / "node"
    home.mkdir()
    genesis = home / "genesis.json"
    Genesis(chain_id="accounts-cli", time_ns=time.time_ns()).save(genesis)
    ok(tmp_path, "ca", "genesis", "--into", str(genesis))
    ok(tmp_path, "gov", "genesis", "--member", "chair=Shenzhen Supply Co", "--into", str(genesis))
    alice, alice2 = keys.info("alice").address, keys.info("alice-2").address

    with local_node(home, chain_id="accounts-cli") as node:
        url = node.url
        assert ok(tmp_path, "identity", "status", "alice", node=url)["error"] == "ACCOUNT_UNBOUND", ok(tmp_path, "identity", "status", "alice", node=url)
        refused = cli(tmp_path, "tx", "send", "notary", "notarize", "-a", "digest=" + "11" * 32, "-k", "alice", node=url)
        assert refused.exit_code == 1 and "ACCOUNT_UNBOUND" in refused.output

        bound = ok(tmp_path, "identity", "bind", "--cert", first["certificate"], "-k", "alice", node=url)
        assert (bound["account"], bound["organisation"]) == (alice, "Shenzhen Supply Co")
        assert ok(tmp_path, "identity", "status", "alice", node=url) == {"address": alice, "admitted": True, "account": alice, "code": 0}
        ok(tmp_path, "tx", "send", "notary", "notarize", "-a", "digest=" + "22" * 32, "-k", "alice", node=url)

        ok(tmp_path, "identity", "rotate", "--account", "alice", "--old-key", "alice", "--new-key", "alice-2",
           "--cert", second["certificate"], node=url)
        assert ok(tmp_path, "identity", "status", "alice-2", node=url)["account"] == alice  # same account, new key
        assert ok(tmp_path, "identity", "status", "alice", node=url)["error"] == "ACCOUNT_UNBOUND"  # rotated out
        # a second rotation approved by the rotated-out key is refused, with the stable code
        again = cli(tmp_path, "identity", "rotate", "--account", alice, "--old-key", "alice", "--new-key", "alice",
                    "--cert", first["certificate"], node=url)
        assert again.exit_code == 1 and "error" in again.output
        assert ok(tmp_path, "identity", "status", alice2, node=url)["admitted"] is True
