"""One consortium chain with a gateway for each of three organisations, shared by the module's tests
(each test uses its own data subjects, so their consents and records never collide)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway_support import Consortium, consortium


@pytest.fixture(scope="module")
def gba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    with consortium(tmp_path_factory.mktemp("gba")) as c:
        for org in ("Shenzhen Data Co", "Hong Kong Bank", "Macao Clinic"):
            c.start_gateway(org)
        yield c
