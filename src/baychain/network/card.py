"""Node cards: what one organisation tells the others about its node.

When members run their nodes on their own machines, nobody ever sees another
member's private keys. Each member creates its node (`baychain node init`) and shares
only its card — organisation, jurisdiction, role, node id, p2p address and validator
public key. The coordinator turns the cards into the shared genesis
(`baychain net genesis`); every member adopts that genesis and the others' p2p
addresses as persistent peers (`baychain node join`).

    {"name": "hk-bank", "organisation": "Hong Kong Harbour Bank", "jurisdiction": "HK",
     "role": "member", "node_id": "3f1c...", "p2p_address": "node.hkbank.example:26656",
     "validator_address": "AB12...", "validator_pub_key": "<base64>", "power": 10}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baychain.crypto.suites import is_address
from baychain.network import cometbft
from baychain.network.members import Member


@dataclass(frozen=True)
class NodeCard:
    member: Member
    node_id: str
    p2p_address: str  # host:port other members dial
    validator_address: str
    validator_pub_key: str
    power: int = 10

    @property
    def peer(self) -> str:
        """`id@host:port` for persistent_peers."""
        return f"{self.node_id}@{self.p2p_address}"

    @classmethod
    def from_keys(cls, member: Member, keys: cometbft.NodeKeys, p2p_address: str, power: int = 10) -> "NodeCard":
        return cls(member, keys.node_id, p2p_address, keys.validator_address, keys.validator_pub_key, power)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.member.to_json(),
            "node_id": self.node_id,
            "p2p_address": self.p2p_address,
            "peer": self.peer,
            "validator_address": self.validator_address,
            "validator_pub_key": self.validator_pub_key,
            "power": self.power,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "NodeCard":
        member = Member(doc["name"], doc["organisation"], doc["jurisdiction"], doc.get("role", "member"))
        return cls(member, doc["node_id"], doc["p2p_address"], doc["validator_address"].upper(),
                   doc["validator_pub_key"], int(doc.get("power", 10)))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "NodeCard":
        return cls.from_json(json.loads(Path(path).read_text()))


def genesis_from_cards(
    cards: list[NodeCard], *, chain_id: str, genesis_time: str, committee: list[dict[str, Any]] | tuple = ()
) -> dict[str, Any]:
    """The shared genesis of a network whose founding validators are `cards`.

    `app_state.network` seeds the on-chain node registry (contract `network`): every
    member with its node id, validator key and power. `app_state.governance` names the
    `committee` ({account, organisation, weight}) whose passed proposals change the
    registry, the organisations and the rules from then on. Without a committee nothing
    can ever change them.
    """
    names = [c.member.name for c in cards]
    if len(set(names)) != len(names):
        raise ValueError("two cards use the same node name")
    if len({c.node_id for c in cards}) != len(cards):
        raise ValueError("two cards share one node id")
    bad = [m for m in committee if not is_address(str(m.get("account", "")))]
    if bad:
        raise ValueError(f"committee member {bad[0].get('account')!r} is not an account address (bc1 + 40 hex digits)")
    app_state = {
        "network": {
            "members": [
                {
                    "name": c.member.name,
                    "organisation": c.member.organisation,
                    "jurisdiction": c.member.jurisdiction,
                    "role": c.member.role,
                    "node_id": c.node_id,
                    "validator_address": c.validator_address,
                    "validator_pub_key": c.validator_pub_key,
                    "power": c.power,
                }
                for c in cards
            ],
        }
    }
    if committee:
        app_state["governance"] = {"members": list(committee)}
    return cometbft.build_genesis(
        chain_id=chain_id,
        genesis_time=genesis_time,
        validators=[cometbft.GenesisValidator(c.member.name, c.validator_address, c.validator_pub_key, c.power) for c in cards],
        app_state=app_state,
    )
