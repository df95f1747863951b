"""Helpers for the GBA scenario tests: a consortium of organisations in the three
jurisdictions on an identity-required chain, driven block by block by the real
Application (tests/identity/chain_support.Chain), with the scenario parties the
committee registers.

    make_consortium()  a root CA and one CA per organisation below (a session fixture)
    GbaChain           a fresh chain; .member(org) binds a new key of that organisation,
                       .register(contract, party, kind) registers a party through the committee
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "identity"))

from baychain import encoding  # noqa: E402
from baychain.app.types import TxResult  # noqa: E402
from baychain.identity import Jurisdiction, Role, create_org_ca, create_root  # noqa: E402
from chain_support import DAY, Chain, Key, der, pem, user_cert  # noqa: E402
from governance_support import action  # noqa: E402
from identity_support import T0  # noqa: E402

CORE = "Shenzhen Core Manufacturing"  # GD: the core enterprise (obligor)
GD_BANK = "Guangdong Bank"
HK_BANK = "Hong Kong Bank"
HK_LOGISTICS = "HK Logistics"  # a tier-1 supplier
MO_IMPORTER = "Macao Importer"  # a tier-2 supplier
GD_PAY = "Shenzhen Pay"  # a payment institution
REGULATOR = "GBA Regulator"
ORGANISATIONS = [
    (CORE, Jurisdiction.GD, Role.MEMBER),
    (GD_BANK, Jurisdiction.GD, Role.MEMBER),
    (HK_BANK, Jurisdiction.HK, Role.MEMBER),
    (HK_LOGISTICS, Jurisdiction.HK, Role.MEMBER),
    (MO_IMPORTER, Jurisdiction.MO, Role.MEMBER),
    (GD_PAY, Jurisdiction.GD, Role.MEMBER),
    (REGULATOR, Jurisdiction.GD, Role.REGULATOR),
]


@dataclass
class Consortium:
    root: Any
    cas: dict[str, tuple[Any, Any]]  # organisation -> (CA certificate, CA key)


def make_consortium() -> Consortium:
    """A root CA and one organisation CA per entry of ORGANISATIONS, issued at T0."""
    root = create_root("GBA Consortium Root CA", now=T0)
    cas = {}
    for name, jurisdiction, role in ORGANISATIONS:
        issued = create_org_ca(root.certificate, root.private_key, name, jurisdiction, role, now=T0)
        cas[name] = (issued.certificate, issued.private_key)
    return Consortium(root.certificate, cas)


class GbaChain(Chain):
    """An identity-required chain with every consortium organisation registered."""

    def __init__(self, path: Path, consortium: Consortium) -> None:
        self.consortium = consortium
        self.committee = Key()
        super().__init__(path, {
            "governance": {"members": [{"account": self.committee.address, "organisation": REGULATOR}]},
            "identity": {
                "root": pem(consortium.root),
                "organisations": [{"name": name, "ca": pem(cert)} for name, (cert, _) in consortium.cas.items()],
                "required": True,
            },
        })
        regulator_ca, regulator_ca_key = consortium.cas[REGULATOR]
        self.ok(self.committee.tx("identity", "bind", cert=der(user_cert(regulator_ca, regulator_ca_key, self.committee,
                                                                           "committee"))))

    def member(self, organisation: str, name: str = "staff") -> Key:
        """A new key of `organisation`, bound on chain to a certificate of its CA."""
        ca, ca_key = self.consortium.cas[organisation]
        key = Key()
        self.ok(key.tx("identity", "bind", cert=der(user_cert(ca, ca_key, key, name))))
        return key

    def register(self, contract: str, party: str, kind: str, **extra: Any) -> None:
        """The committee registers `party` as `kind` in `contract` (a passed proposal)."""
        self.executed([self.committee], action(contract, "register_party", party=party, kind=kind, **extra))

    def set_param(self, name: str, value: Any) -> None:
        """The committee sets a governance parameter (a passed proposal)."""
        self.executed([self.committee], action("governance", "set_param", name=name, value=value))

    def call(self, key: Key, contract: str, method: str, **args: Any) -> Any:
        """One transaction in its own block that must succeed; its decoded return value."""
        result = self.ok(key.tx(contract, method, **args))
        return encoding.decode(result.data) if result.data else None

    def fail(self, key: Key, contract: str, method: str, code: Any, **args: Any) -> str:
        """One transaction that fails with `code` inside its contract and changes nothing but the
        signer's nonce (and, if it raised any, the regulator's alert log)."""
        before = self.state_of(contract)
        log = self.fails(key.tx(contract, method, **args), code)
        assert self.state_of(contract) == before, "a failed call changed the contract's state"
        return log

    def state_of(self, contract: str) -> list[tuple[bytes, bytes]]:
        """Every committed storage entry of a contract, read from the state store."""
        prefix, out, after = f"c/{contract}/".encode(), [], None
        while page := self.app.state.scan(prefix, start_after=after, limit=1000):
            out.extend(page)
            after = page[-1][0]
        return out

    def view_of(self, contract: str, method: str, **args: Any) -> Any:
        return self.app.view(contract, method, args)

    def alerts(self, kind: str = "") -> list[dict[str, Any]]:
        return self.app.view("audit", "alerts", {"kind": kind, "limit": 500})["alerts"]

    def same_block(self, *txs: Any) -> list[TxResult]:
        """Several transactions in one block, in this order: their results."""
        return self.block(*txs).tx_results
