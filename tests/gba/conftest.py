"""Fixtures for the GBA scenario tests (helpers in gba_support.py)."""

from __future__ import annotations

import pytest

from gba_support import Consortium, GbaChain, make_consortium


@pytest.fixture(scope="session")
def consortium() -> Consortium:
    return make_consortium()


@pytest.fixture
def gba(tmp_path, consortium):
    chain = GbaChain(tmp_path, consortium)
    yield chain
    chain.app.close()
