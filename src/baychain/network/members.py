"""The organisations that run a network's nodes.

A baychain consortium spans the Greater Bay Area's three jurisdictions — Guangdong
(GD, mainland law), Hong Kong (HK) and Macao (MO) — so every member records where it
operates and what part it plays (a `member` keeps the ledger and transacts, a
`regulator` watches it). The founding four of a local network are a Guangdong bank, a
Hong Kong bank, a Macao financial institution and a regulator; the organisation names
are illustrative.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from baychain.contracts.system.network import JURISDICTIONS, NODE_NAME as _NAME, ROLES


@dataclass(frozen=True)
class Member:
    """One organisation running one node. `name` is the node's short name (a slug)."""

    name: str
    organisation: str
    jurisdiction: str
    role: str = "member"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"node name {self.name!r}: use 1-32 lowercase letters, digits and '-'")
        if self.jurisdiction not in JURISDICTIONS:
            raise ValueError(f"jurisdiction {self.jurisdiction!r}: one of {', '.join(JURISDICTIONS)}")
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r}: one of {', '.join(ROLES)}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


FOUNDING_MEMBERS: tuple[Member, ...] = (
    Member("gd-bank", "Guangdong Bay Commercial Bank", "GD", "member"),
    Member("hk-bank", "Hong Kong Harbour Bank", "HK", "member"),
    Member("mo-finance", "Macao Pearl Financial Institution", "MO", "member"),
    Member("regulator", "Greater Bay Area Joint Financial Regulator", "GD", "regulator"),
)


def default_members(count: int) -> list[Member]:
    """The founding four, then further members rotating through the jurisdictions."""
    if count < 1:
        raise ValueError("a network needs at least one validator")
    members = list(FOUNDING_MEMBERS[:count])
    for i in range(len(members), count):
        jurisdiction = JURISDICTIONS[i % len(JURISDICTIONS)]
        members.append(Member(f"member-{i + 1}", f"Member organisation {i + 1} ({jurisdiction})", jurisdiction))
    return members
