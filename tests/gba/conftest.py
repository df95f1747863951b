"""Fixtures for the GBA scenario tests (helpers in gba_support.py).

    consortium   the PKI of the consortium's organisations (session-wide)
    gba          a fresh identity-required chain driven block by block (gba_support.GbaChain)
    gba_node     a real solo node with its HTTP API and a one-member committee, for SDK and CLI tests
    gba_cli      `baychain` against gba_node, with a key directory of its own
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from baychain.chain.genesis import Genesis
from baychain.cli.main import app
from baychain.sdk import Client, Key, KeyStore
from baychain.sdk.governance import Governance
from baychain.sdk.testing import local_node
from gba_support import Consortium, GbaChain, make_consortium

PASSPHRASE = "gba test passphrase"


@pytest.fixture(scope="session")
def consortium() -> Consortium:
    return make_consortium()


@pytest.fixture
def gba(tmp_path, consortium):
    chain = GbaChain(tmp_path, consortium)
    yield chain
    chain.app.close()


@dataclass
class GovernedNode:
    """A real solo node with its HTTP API whose genesis names one committee member."""

    url: str
    committee: Key

    def decide(self, *actions: dict) -> dict:
        """Pass a proposal of these governed actions; its summary."""
        with Client(self.url) as client:
            summary = Governance(client).decide([self.committee], list(actions))
        assert summary["status"] == "executed", summary
        return summary


@pytest.fixture(scope="module")
def gba_node(tmp_path_factory) -> Iterator[GovernedNode]:
    home = tmp_path_factory.mktemp("gba-node")
    committee = Key.generate()
    Genesis(chain_id="gba-node-test", time_ns=time.time_ns(), app_state={
        "governance": {"members": [{"account": committee.address, "organisation": "Committee"}]},
    }).save(home / "genesis.json")
    with local_node(home, block_interval=0.05) as running:
        yield GovernedNode(running.url, committee)


@dataclass
class Cli:
    """`baychain` run in-process against `gba_node`, with keys in a directory of its own."""

    url: str
    keys_dir: Path

    def __call__(self, *args: str):
        env = {"BAYCHAIN_NODE": self.url, "BAYCHAIN_KEYS_DIR": str(self.keys_dir), "BAYCHAIN_PASSPHRASE": PASSPHRASE,
               "COLUMNS": "200"}
        return CliRunner().invoke(app, list(args), env=env)

    def json(self, *args: str) -> Any:
        result = self("--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def new_key(self, name: str) -> Key:
        key = Key.generate()
        KeyStore(self.keys_dir).save(name, key, PASSPHRASE, scrypt_n=2**12)
        return key


@pytest.fixture
def gba_cli(gba_node, tmp_path) -> Cli:
    return Cli(gba_node.url, tmp_path / "keys")
