"""Fixtures for the traceability tests (helpers in trace_support.py)."""

from __future__ import annotations

import pytest

from trace_support import TraceChain, make_consortium


@pytest.fixture(scope="session")
def consortium():
    return make_consortium()


@pytest.fixture
def chain(tmp_path, consortium):
    c = TraceChain(tmp_path, consortium)
    yield c
    c.app.close()
