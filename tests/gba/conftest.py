"""Fixtures for the GBA scenario tests (helpers in gba_support.py).

    consortium   the PKI of the consortium's organisations (session-wide)
    gba          a fresh identity-required chain driven block by block (gba_support.GbaChain)
    gba_node     a real solo node with its HTTP API and a one-member committee, for SDK and CLI tests
    gba_cli      `baychain` against gba_node, with a key directory of its own
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from baychain.chain.genesis import Genesis
from baychain.sdk import Client, Key
from baychain.sdk.governance import Governance
from baychain.sdk.testing import local_node
from gba_support import Consortium, GbaChain, make_consortium
from support import Cli

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


@pytest.fixture
def gba_cli(gba_node, tmp_path) -> Cli:
    return Cli(gba_node.url, tmp_path / "keys", PASSPHRASE)
