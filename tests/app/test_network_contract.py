"""The on-chain node registry (contract `network`): genesis, changes only by passed
committee proposals, the peer filter CometBFT asks, and the validator updates
finalize_block returns."""

from __future__ import annotations

import base64
import json
import os

import pytest

from baychain.abci import convert
from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest, ValidatorUpdate
from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code
from governance_support import action, committee, decide
from support import Signer

CHAIN_ID = "network-test"


def node_id(i: int) -> str:
    return sha256(b"node %d" % i)[:20].hex()


def pub_key(i: int) -> bytes:
    return sha256(b"validator %d" % i)


def genesis_members(count: int = 4, power: int = 10) -> list[dict]:
    return [
        {"name": f"org-{i}", "organisation": f"Organisation {i}", "jurisdiction": ("GD", "HK", "MO")[i % 3],
         "role": "member", "node_id": node_id(i), "validator_pub_key": base64.b64encode(pub_key(i)).decode(),
         "power": power}
        for i in range(count)
    ]


class Chain:
    """The application driven block by block, as an engine would."""

    def __init__(self, tmp_path, deciders: list[Signer], *, members: list[dict] | None = None, network: bool = True,
                 validators: list[ValidatorUpdate] | None = None, extra: dict | None = None) -> None:
        self.app = Application(tmp_path / "data")
        self.deciders = deciders
        self.last = None
        members = genesis_members() if members is None else members
        app_state = {"network": {"members": members, **(extra or {})}} if network else {}
        if deciders:
            app_state["governance"] = committee(*deciders)
        if validators is None:
            validators = [ValidatorUpdate("ed25519", base64.b64decode(m["validator_pub_key"]), m["power"])
                          for m in members if m.get("power")]
        self.app.init_chain(InitChainRequest(CHAIN_ID, 1, 1, validators, json.dumps(app_state).encode()))

    def block(self, *txs):
        height = self.app.height + 1
        result = self.app.finalize_block(BlockRequest(height, height * 10**9, sha256(b"%d" % height), b"p", [t.raw for t in txs]))
        self.app.commit()
        self.last = result
        return result

    def send(self, tx):
        return self.block(tx).tx_results[0]

    def decide(self, *actions) -> dict:
        """A proposal of these network actions, passed by the committee: its summary, and in
        `self.last` the block of the deciding vote (where the actions ran)."""
        return decide(self.send, self.deciders, [action("network", m, **a) for m, a in actions])

    def codes(self, *txs) -> list[int]:
        return [r.code for r in self.block(*txs).tx_results]

    def allows(self, node: str) -> bool:
        res = self.app.query(f"/p2p/filter/id/{node}", b"", 0, False)
        assert res.code in (0, int(Code.NOT_AUTHORIZED)), res
        return res.code == 0

    def view(self, method: str, **args):
        return self.app.view("network", method, args)


@pytest.fixture
def admin():
    return Signer(CHAIN_ID)


@pytest.fixture
def chain(tmp_path, admin):
    c = Chain(tmp_path, [admin])
    yield c
    c.app.close()


def add_node(i: int, power: int = 0, **over):
    args = {"node_id": node_id(i), "name": f"org-{i}", "organisation": f"Organisation {i}", "jurisdiction": "HK",
            "role": "member", "validator_pub_key": pub_key(i), "power": power, **over}
    return ("add_node", args)


def test_genesis_members_form_the_registry_before_the_first_block(chain, admin) -> None:
    # CometBFT filters peers before any block exists: the pending genesis answers.
    assert chain.app.height == 0
    assert chain.allows(node_id(0)) and chain.allows(node_id(3).upper())
    assert not chain.allows(node_id(9))
    chain.block()
    assert [n["node_id"] for n in chain.view("nodes")] == sorted(node_id(i) for i in range(4))
    assert chain.view("validators")["total_power"] == 40
    assert chain.view("node", node_id=node_id(1))["validator_pub_key"] == pub_key(1)
    assert [m["account"] for m in chain.app.view("governance", "members", {})["members"]] == [admin.address]


def test_an_unknown_node_is_refused_by_the_peer_filter_and_addresses_are_not(chain) -> None:
    chain.block()
    refused = chain.app.query(f"/p2p/filter/id/{node_id(9)}", b"", 0, False)
    assert refused.code == Code.NOT_AUTHORIZED and "not a member" in refused.log
    for junk in ("zz", "", "../" * 200, node_id(0) + "00"):
        assert chain.app.query(f"/p2p/filter/id/{junk}", b"", 0, False).code == Code.NOT_AUTHORIZED
    assert chain.app.query("/p2p/filter/addr/10.0.0.1:26656", b"", 0, False).code == 0
    assert chain.app.query("/p2p/filter/other/x", b"", 0, False).code == Code.UNKNOWN_QUERY


def test_the_registry_changes_only_by_passed_proposals(chain, admin) -> None:
    mallory = Signer(CHAIN_ID)
    chain.block()
    name, args = add_node(7)
    # Nobody calls the registry's methods directly, not even a committee member.
    assert chain.codes(
        mallory.tx("network", name, **args),
        admin.tx("network", "remove_node", node_id=node_id(0)),
        mallory.tx("network", "set_power", node_id=node_id(0), power=100),
    ) == [Code.GOVERNED_METHOD] * 3
    # And only members propose.
    assert chain.codes(mallory.tx("governance", "propose", title="x", actions=[action("network", name, **args)])) == [Code.NOT_A_MEMBER]
    assert not chain.allows(node_id(7))
    assert chain.view("node", node_id=node_id(0))["power"] == 10


def test_a_node_added_on_chain_is_accepted_and_a_removed_one_refused(chain, admin) -> None:
    chain.block()
    assert chain.decide(add_node(7))["status"] == "executed"  # a non-voting member: no validator change
    assert chain.last.validator_updates == []
    assert chain.allows(node_id(7))
    assert chain.decide(("remove_node", {"node_id": node_id(0)}))["status"] == "executed"
    assert not chain.allows(node_id(0))
    assert chain.last.validator_updates == [ValidatorUpdate("ed25519", pub_key(0), 0)]  # power 0 removes
    assert chain.view("validators")["total_power"] == 30
    with pytest.raises(BaychainError) as gone:
        chain.view("node", node_id=node_id(0))
    assert gone.value.code == Code.NOT_FOUND


def test_validator_updates_are_merged_per_key_last_change_wins(chain, admin) -> None:
    chain.block()
    summary = chain.decide(
        ("set_power", {"node_id": node_id(1), "power": 20}),
        ("set_power", {"node_id": node_id(1), "power": 30}),   # same key again: last wins
        add_node(5, power=5),
        ("set_power", {"node_id": node_id(5), "power": 0}),    # added and demoted: no change
        ("set_power", {"node_id": node_id(2), "power": 0}),
        ("set_power", {"node_id": node_id(2), "power": 10}),   # back where it started: no change
        add_node(6, power=7),
    )
    assert summary["status"] == "executed"
    result = chain.last
    assert sorted((u.pub_key, u.power) for u in result.validator_updates) == sorted([(pub_key(1), 30), (pub_key(6), 7)])
    assert len(convert.finalize_block_response(result, 1).validator_updates) == 2  # what CometBFT receives
    assert chain.block().validator_updates == []  # the next block changes nothing
    assert chain.view("validators")["total_power"] == 30 + 10 + 10 + 10 + 7


def test_registry_rules(chain, admin) -> None:
    chain.block()
    bad = [
        (add_node(0), Code.ALREADY_EXISTS),                                    # registered already
        (add_node(8, validator_pub_key=pub_key(1)), Code.ALREADY_EXISTS),      # another node's validator key
        (add_node(8, node_id="NOT-HEX"), Code.BAD_ARGUMENTS),
        (add_node(8, jurisdiction="SZ"), Code.BAD_ARGUMENTS),
        (add_node(8, validator_pub_key=b"short", power=1), Code.BAD_ARGUMENTS),
        (add_node(8, validator_pub_key=b"", power=1), Code.BAD_ARGUMENTS),    # power needs a key
        (add_node(8, power=10**13), Code.BAD_ARGUMENTS),
        (("set_power", {"node_id": node_id(9), "power": 1}), Code.NOT_FOUND),
        (("set_power", {"node_id": node_id(0), "power": 10}), Code.ALREADY_EXISTS),  # unchanged
        (("set_power", {"node_id": node_id(0), "power": -1}), Code.BAD_ARGUMENTS),
    ]
    for act, code in bad:
        before = chain.app.view("network", "validators", {})
        summary = chain.decide(act)
        assert (summary["status"], summary["error"]["code"]) == ("failed", code), act
        assert chain.app.view("network", "validators", {}) == before
    # The set never becomes empty, and the registry never loses its last node: a proposal that
    # would do it fails as a whole (no action of it applies).
    demote_all = [("set_power", {"node_id": node_id(i), "power": 0}) for i in range(4)]
    summary = chain.decide(*demote_all)
    assert (summary["status"], summary["error"]["code"], summary["error"]["action"]) == ("failed", Code.NOT_AUTHORIZED, 3)
    assert chain.view("validators")["total_power"] == 40
    assert chain.decide(*demote_all[:3])["status"] == "executed"
    assert chain.view("validators")["total_power"] == 10
    summary = chain.decide(*[("remove_node", {"node_id": node_id(i)}) for i in range(4)])
    assert (summary["status"], summary["error"]["code"]) == ("failed", Code.NOT_AUTHORIZED)
    assert len(chain.view("nodes")) == 4


def test_a_removed_validator_key_can_be_registered_again(chain, admin) -> None:
    chain.block()
    assert chain.decide(("remove_node", {"node_id": node_id(3)}), add_node(8, validator_pub_key=pub_key(3), power=10))["status"] == "executed"
    assert chain.last.validator_updates == []  # the same key keeps the same power: nothing for CometBFT to do


def test_genesis_must_agree_with_the_consensus_validators(tmp_path, admin) -> None:
    with pytest.raises(BaychainError, match="differ from the genesis validators"):
        Chain(tmp_path / "a", [admin], validators=[ValidatorUpdate("ed25519", pub_key(0), 10)])
    bad = genesis_members()
    bad[1]["node_id"] = bad[0]["node_id"]
    with pytest.raises(BaychainError, match="listed twice"):
        Chain(tmp_path / "b", [admin], members=bad)
    with pytest.raises(BaychainError, match="admins are gone"):  # the interim admin path is gone for good
        Chain(tmp_path / "c", [admin], extra={"admins": [admin.address]})
    # Members given by validator address alone take key and power from the genesis validators.
    by_address = genesis_members()
    for m in by_address:
        key = base64.b64decode(m.pop("validator_pub_key"))
        m.pop("power")
        m["validator_address"] = sha256(key)[:20].hex().upper()
    chain = Chain(tmp_path / "d", [admin], members=by_address,
                  validators=[ValidatorUpdate("ed25519", pub_key(i), 10) for i in range(4)])
    chain.block()
    assert chain.view("validators")["total_power"] == 40
    chain.app.close()


def test_a_chain_without_a_registry_accepts_every_peer_and_nobody_can_add_nodes(tmp_path) -> None:
    chain = Chain(tmp_path, [], network=False, validators=[])
    try:
        assert chain.allows(os.urandom(20).hex())
        chain.block()
        assert chain.allows(os.urandom(20).hex())
        someone = Signer(CHAIN_ID)
        name, args = add_node(1)
        assert chain.codes(someone.tx("network", name, **args),
                           someone.tx("governance", "propose", title="x", actions=[action("network", name, **args)])
                           ) == [Code.GOVERNED_METHOD, Code.NOT_A_MEMBER]
    finally:
        chain.app.close()


def test_committed_evidence_becomes_a_regulator_alert_naming_the_node(chain, admin) -> None:
    from baychain.app.types import Misbehavior

    chain.block()
    faulty = sha256(pub_key(2))[:20]
    unknown = bytes(20)
    height = chain.app.height + 1
    evidence = [Misbehavior("duplicate_vote", faulty, 10, height - 1, (height - 1) * 10**9, 40),
                Misbehavior("light_client_attack", unknown, 5, height - 1, (height - 1) * 10**9, 40)]
    result = chain.app.finalize_block(BlockRequest(height, height * 10**9, sha256(b"%d" % height), b"p", [],
                                                   evidence))
    chain.app.commit()

    # The block's own events, in finalize_block's answer and in its record.
    assert [e.type for e in result.events] == ["network.alert", "network.alert"]
    block = chain.app.blocks.block(height)
    assert [e["attributes"]["validator"] for e in block["events"]] == [faulty.hex(), unknown.hex()]
    # The audit log, provable like any state: node named when its key is registered.
    alerts = chain.app.view("audit", "alerts", {"kind": "validator_misbehavior"})["alerts"]
    assert [(a["contract"], a["height"], a["tx"], a["signer"]) for a in alerts] == [("network", height, b"", "")] * 2
    first, second = (a["attributes"] for a in alerts)
    assert first == {"misbehavior": "duplicate_vote", "validator": faulty.hex(), "node_id": node_id(2),
                     "name": "org-2", "organisation": "Organisation 2", "jurisdiction": "MO",
                     "evidence_height": str(height - 1), "evidence_time_ns": str((height - 1) * 10**9),
                     "power": "10", "total_power": "40"}
    assert second["misbehavior"] == "light_client_attack" and second["node_id"] == "" and second["name"] == ""
    # Nothing else changes: the validator keeps its power until the committee decides.
    assert chain.view("node", node_id=node_id(2))["power"] == 10
    assert result.validator_updates == []


def test_a_block_without_evidence_records_no_block_events(chain) -> None:
    result = chain.block()
    assert result.events == []
    assert "events" not in chain.app.blocks.block(chain.app.height)
    assert chain.app.view("audit", "alerts", {})["count"] == 0
