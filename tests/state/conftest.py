"""Fixtures for the state tests (helpers live in state_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lmdb
import pytest

from baychain.state import StateStore, open_env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[lmdb.Environment]:
    environment = open_env(tmp_path / "db")
    yield environment
    environment.close()


@pytest.fixture
def store(env: lmdb.Environment) -> StateStore:
    return StateStore(env, keep_versions=1000)
