from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from baychain.api.server import create_api
from baychain.node import NodeConfig, SoloNode
from support import Signer


@pytest.fixture
def node(tmp_path):
    n = SoloNode(NodeConfig(home=tmp_path / "node", chain_id="api-chain", block_interval=0.02))
    n.start()
    yield n
    n.stop()


@pytest.fixture
def client(node):
    with TestClient(create_api(node), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def alice(node):
    return Signer(node.app.chain_id)
