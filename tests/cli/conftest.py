"""A real node for the CLI tests, and a runner with the node, key directory and
passphrase set through the environment (as a script would set them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from baychain.sdk.testing import LocalNode, local_node

from support import Cli

PASSPHRASE = "test passphrase"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    with local_node(tmp_path_factory.mktemp("cli-node"), block_interval=0.05) as running:
        yield running


@pytest.fixture
def cli(node: LocalNode, tmp_path: Path) -> Cli:
    return Cli(node.url, tmp_path / "keys", PASSPHRASE)
