"""From a CA directory to a chain: `baychain ca genesis` writes the registry section,
and a key certified with `ca issue --key` binds and transacts."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from baychain.chain.genesis import Genesis
from baychain.cli.main import app
from baychain.errors import Code
from baychain.sdk import Key, KeyStore
from chain_support import CHAIN_ID, Chain, Key as ChainKey

PASS = "cli passphrase"


def run(tmp_path: Path, *args: str):
    env = {"BAYCHAIN_CA_DIR": str(tmp_path / "ca"), "BAYCHAIN_CA_PASSPHRASE": PASS,
           "BAYCHAIN_KEYS_DIR": str(tmp_path / "keys"), "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["ca", *args], env=env)
    assert result.exit_code == 0, result.output
    return result


def test_ca_genesis_section_registers_the_directory_on_chain(tmp_path):
    run(tmp_path, "init-root")
    run(tmp_path, "init-org", "--org", "Bank of Example", "--jurisdiction", "HK")
    run(tmp_path, "init-org", "--org", "广州银行", "--jurisdiction", "GD")
    key = Key.generate()
    KeyStore(tmp_path / "keys").save("alice", key, "k", scrypt_n=2**12)
    issued = json.loads(run(tmp_path, "issue", "--org", "广州银行", "alice", "--key", "alice", "--json").stdout)
    section = json.loads(run(tmp_path, "genesis").stdout)["identity"]
    assert [o["name"] for o in section["organisations"]] == ["Bank of Example", "广州银行"]
    assert section["required"] is True

    genesis_file = tmp_path / "genesis.json"
    Genesis(chain_id=CHAIN_ID, time_ns=time.time_ns()).save(genesis_file)
    run(tmp_path, "genesis", "--into", str(genesis_file))
    genesis = Genesis.load(genesis_file)
    assert genesis.app_state["identity"] == section

    chain = Chain(tmp_path, genesis.app_state, genesis_time=genesis.time_ns)
    alice = ChainKey(key.private_key)
    assert chain.run(alice.tx("notary", "notarize", digest=bytes(32))).code == Code.ACCOUNT_UNBOUND
    alice.nonce = 0
    chain.ok(alice.tx("identity", "bind", cert=Path(issued["certificate"]).read_bytes()))  # PEM, as the file holds it
    chain.ok(alice.tx("notary", "notarize", digest=bytes(32)))
    binding = chain.view("binding", address=key.address)
    assert (binding["organisation"], binding["jurisdiction"]) == ("广州银行", "GD")
    chain.app.close()
