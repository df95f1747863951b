"""A real node for the CLI tests, and a runner with the node, key directory and
passphrase set through the environment (as a script would set them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baychain.cli.main import app
from baychain.sdk import Key, KeyStore
from baychain.sdk.testing import LocalNode, local_node

PASSPHRASE = "test passphrase"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    with local_node(tmp_path_factory.mktemp("cli-node"), block_interval=0.05) as running:
        yield running


@dataclass
class Cli:
    url: str
    keys_dir: Path
    runner: CliRunner

    def env(self, **extra: str) -> dict[str, str]:
        return {"BAYCHAIN_NODE": self.url, "BAYCHAIN_KEYS_DIR": str(self.keys_dir),
                "BAYCHAIN_PASSPHRASE": PASSPHRASE, "COLUMNS": "200", **extra}

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):
        return self.runner.invoke(app, list(args), input=input, env=env if env is not None else self.env())

    def json(self, *args: str):
        result = self("--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def new_key(self, name: str) -> Key:
        key = Key.generate()
        KeyStore(self.keys_dir).save(name, key, PASSPHRASE, scrypt_n=2**12)
        return key


@pytest.fixture
def cli(node: LocalNode, tmp_path: Path) -> Cli:
    return Cli(node.url, tmp_path / "keys", CliRunner())
