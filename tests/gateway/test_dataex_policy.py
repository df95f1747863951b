"""Jurisdiction rules are data: genesis defaults per (source, destination) pair, changed only by
a passed committee proposal. Also the contract's own refusals of bad input."""

from __future__ import annotations

import json
import time

import pytest

from baychain.contracts.system.dataex import DEFAULT_POLICIES, GBA
from baychain.gateway import TransferRefused
from baychain.errors import BaychainError, Code
from baychain.sdk import Key
from baychain.sdk.dataex import policy_action
from baychain.sdk.client import TransactionFailed
from gateway_support import DAY_NS

SZ, HK, MO = "Shenzhen Data Co", "Hong Kong Bank", "Macao Clinic"
CLOSED = {"allowed": False, "filing": True, "assessment": True, "consent": True, "max_retention_days": 365,
          "denied_categories": [], "law": "suspended by the committee"}


def test_every_gba_pair_has_a_genesis_policy(gba):
    policies = gba.client.view("dataex", "policies")
    assert sorted(policies) == sorted(f"{s}/{d}" for s in GBA for d in GBA) == sorted(DEFAULT_POLICIES)
    for pair, policy in policies.items():
        source, destination = pair.split("/")
        cross = source != destination
        assert policy["allowed"] and policy["consent"]
        assert (policy["filing"], policy["assessment"]) == (cross, cross)
    assert "PIPL" in policies["GD/HK"]["law"]


def test_no_member_can_change_a_policy(gba):
    sz = gba.gateways[SZ]
    with pytest.raises(BaychainError) as refused:
        gba.client.call(sz.signer, "dataex", "set_policy", {"source": "GD", "destination": "HK", "policy": CLOSED})
    assert refused.value.code == Code.GOVERNED_METHOD
    with pytest.raises(BaychainError) as admin:
        gba.client.call(gba.admin, "dataex", "set_policy", {"source": "GD", "destination": "HK", "policy": CLOSED})
    assert admin.value.code == Code.GOVERNED_METHOD
    assert gba.client.view("dataex", "policy", {"source": "GD", "destination": "HK"})["allowed"] is True


def test_a_committee_policy_change_binds_the_transfer_rules(gba):
    """Close the GD->MO pair by a passed proposal: the next transfer is refused by policy; deny one
    category instead: refused for that category; restore the default: allowed again."""
    sz = gba.gateways[SZ]
    record = {"subject": "P000001(1)", "categories": ["identity"], "fields": {"phone": "+853 6000 0001"}}
    sz.put("policy-1", record, anchor=True)
    aid = sz.assess("PIA-p", b"doc", MO, "referral", ["identity"])
    sz.file("SC-p", aid, MO, "MO", "referral", ["identity"], 365)
    sz.consent(record["subject"], MO, "referral", ["identity"], expiry_ns=time.time_ns() + DAY_NS)
    assert sz.send("policy-1", gba.peer(MO), "referral")["transfer"] > 0

    def set_policy(policy: dict) -> dict:
        return policy_action("GD", "MO", policy)

    gba.decide(set_policy(CLOSED))
    assert gba.client.view("dataex", "policy", {"source": "GD", "destination": "MO"}) == CLOSED
    with pytest.raises(TransferRefused) as closed:
        sz.send("policy-1", gba.peer(MO), "referral")
    assert closed.value.code == Code.POLICY_FORBIDS_TRANSFER

    gba.decide(set_policy({**DEFAULT_POLICIES["GD/MO"], "denied_categories": ["identity"]}))
    with pytest.raises(TransferRefused) as denied:
        sz.send("policy-1", gba.peer(MO), "referral")
    assert denied.value.code == Code.POLICY_FORBIDS_TRANSFER and "identity" in denied.value.message

    gba.decide(set_policy(DEFAULT_POLICIES["GD/MO"]))
    assert sz.send("policy-1", gba.peer(MO), "referral")["transfer"] > closed.value.transfer_id


@pytest.mark.parametrize("bad", [{**CLOSED, "extra": 1}, {**CLOSED, "allowed": 1}, {**CLOSED, "max_retention_days": 0},
                                 {k: v for k, v in CLOSED.items() if k != "law"}])
def test_a_malformed_policy_fails_its_proposal_and_changes_nothing(gba, bad):
    before = gba.client.view("dataex", "policies")
    pid = gba.client.call(gba.admin, "governance", "propose", {"title": "bad policy", "actions": [
        {"contract": "dataex", "method": "set_policy", "args": {"source": "HK", "destination": "GD", "policy": bad}}]}).data["id"]
    summary = gba.client.call(gba.admin, "governance", "vote", {"id": pid, "approve": True}).data
    assert summary["status"] == "failed" and "policy" in str(summary), summary
    assert gba.client.view("dataex", "policies") == before


def test_dataex_needs_an_organisation_and_well_formed_input(gba):
    sz = gba.gateways[SZ]
    outsider = Key.generate()  # bound to no certificate
    with pytest.raises(BaychainError) as unbound:
        gba.client.call(outsider, "dataex", "anchor", {"digest": bytes(32), "subject": bytes(32), "categories": ["a"]})
    assert unbound.value.code == Code.ACCOUNT_UNBOUND
    for args, code in [
        ({"digest": b"short", "subject": bytes(32), "categories": ["a"]}, Code.BAD_ARGUMENTS),
        ({"digest": bytes(32), "subject": bytes(32), "categories": []}, Code.BAD_ARGUMENTS),
    ]:
        with pytest.raises(TransactionFailed) as bad:
            gba.client.call(sz.signer, "dataex", "anchor", args)
        assert bad.value.code == code
    with pytest.raises(TransactionFailed) as past:
        sz.consent("Q1", HK, "kyc", ["identity"], expiry_ns=1)
    assert past.value.code == Code.BAD_ARGUMENTS
    with pytest.raises(TransactionFailed) as foreign:
        gba.gateways[HK].withdraw_consent(sz.consent("Q2", HK, "kyc", ["identity"], expiry_ns=time.time_ns() + DAY_NS))
    assert foreign.value.code == Code.NOT_AUTHORIZED
    with pytest.raises(TransactionFailed) as retention:
        aid = sz.assess("PIA-r", b"doc", HK, "retention", ["identity"])
        sz.file("SC-r", aid, HK, "HK", "retention", ["identity"], 10_000)
    assert retention.value.code == Code.POLICY_FORBIDS_TRANSFER
    with pytest.raises(TransactionFailed) as wrong_place:
        sz.file("SC-w", aid, HK, "MO", "retention", ["identity"], 30)
    assert wrong_place.value.code == Code.BAD_ARGUMENTS


def test_the_genesis_may_replace_default_policies(tmp_path):
    """`app_state.dataex.policies` is in force from block 1; a malformed one stops the chain from starting."""
    from baychain.app.application import Application
    from baychain.app.types import BlockRequest, InitChainRequest
    from baychain.crypto.hashing import sha256

    def start(app_state: dict, where: str) -> Application:
        app = Application(tmp_path / where)
        app.init_chain(InitChainRequest("policy-genesis", 10**18, 1, [], json.dumps(app_state).encode()))
        app.finalize_block(BlockRequest(1, 10**18 + 1, sha256(b"1"), b"p", []))
        app.commit()
        return app

    strict = {**DEFAULT_POLICIES["HK/MO"], "denied_categories": ["health", "health"], "max_retention_days": 90}
    app = start({"dataex": {"policies": {"HK/MO": strict}}}, "good")
    assert app.view("dataex", "policy", {"source": "HK", "destination": "MO"}) == {**strict, "denied_categories": ["health"]}
    assert app.view("dataex", "policy", {"source": "GD", "destination": "HK"}) == DEFAULT_POLICIES["GD/HK"]
    app.close()
    for bad in ({"policies": {"HK/SG": strict}}, {"policies": {"HK/MO": {**strict, "allowed": "yes"}}}, {"rules": {}}):
        with pytest.raises(BaychainError) as refused:
            start({"dataex": bad}, f"bad{len(str(bad))}")
        assert refused.value.code == Code.BAD_REQUEST and "app_state.dataex" in refused.value.message
