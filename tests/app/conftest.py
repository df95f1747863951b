from __future__ import annotations

import pytest

from baychain.node import NodeConfig, SoloNode
from support import Signer


@pytest.fixture
def node(tmp_path):
    n = SoloNode(NodeConfig(home=tmp_path / "node", chain_id="test-chain"))
    yield n
    n.stop()


@pytest.fixture
def alice(node):
    return Signer(node.app.chain_id)


@pytest.fixture
def bob(node):
    return Signer(node.app.chain_id)
