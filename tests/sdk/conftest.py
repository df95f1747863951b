"""A real node for the SDK tests: solo engine + HTTP API on a free loopback port.

One node serves the whole directory (tests use fresh keys, so their nonces and
records never collide); `fresh_node` gives a test a chain of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from baychain.sdk import Client, Key
from baychain.sdk.testing import LocalNode, local_node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    with local_node(tmp_path_factory.mktemp("sdk-node"), block_interval=0.05) as running:
        yield running


@pytest.fixture
def fresh_node(tmp_path) -> Iterator[LocalNode]:
    with local_node(tmp_path / "node", block_interval=0.05) as running:
        yield running


@pytest.fixture
def client(node: LocalNode) -> Iterator[Client]:
    with Client(node.url, timeout=10) as c:
        yield c


@pytest.fixture
def key() -> Key:
    return Key.generate()
