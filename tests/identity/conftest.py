"""A consortium PKI built in memory at a fixed time (T0), shared by the identity tests."""

from __future__ import annotations

import pytest

from baychain.identity import Jurisdiction, Kind, Role, create_org_ca, create_root, issue_leaf
from identity_support import T0, Pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    root = create_root("GBA Consortium Root CA", now=T0)
    org = create_org_ca(root.certificate, root.private_key, "Bank of Example", Jurisdiction.HK, Role.MEMBER, now=T0)
    reg = create_org_ca(root.certificate, root.private_key, "GBA Regulator", Jurisdiction.GD, Role.REGULATOR, now=T0)
    alice = issue_leaf(org.certificate, org.private_key, "alice", Kind.USER, now=T0)
    node = issue_leaf(org.certificate, org.private_key, "node0", Kind.NODE, now=T0, dns_names=["node0.example", "127.0.0.1"])
    return Pki(root.certificate, root.private_key, org.certificate, org.private_key, reg.certificate, reg.private_key,
               alice.certificate, alice.private_key, node.certificate, node.private_key)
