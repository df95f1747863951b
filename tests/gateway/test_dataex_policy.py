"""Jurisdiction rules are data: genesis defaults per (source, destination) pair, changed only by
the committee. Also the contract's own refusals of bad input (nothing half-applied)."""

from __future__ import annotations

import time

import pytest

from baychain.contracts.context import GOVERNANCE, Caller, Context
from baychain.contracts.system.dataex import DEFAULT_POLICIES, GBA, DataExchange
from baychain.errors import BaychainError, Code
from baychain.sdk import Key
from baychain.sdk.client import TransactionFailed
from gateway_support import DAY_NS

SZ, HK = "Shenzhen Data Co", "Hong Kong Bank"
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
    """A passed proposal calls set_policy with the sender GOVERNANCE; the transfer rules then
    read the new policy (run here over the proposal's writes on top of the committed state)."""
    sz = gba.gateways[SZ]
    record = {"subject": "P000001(1)", "categories": ["identity"], "fields": {"phone": "+852 5000 0001"}}
    sz.put("policy-1", record, anchor=True)
    aid = sz.assess("PIA-p", b"doc", HK, "kyc", ["identity"])
    sz.file("SC-p", aid, HK, "HK", "kyc", ["identity"], 365)
    sz.consent(record["subject"], HK, "kyc", ["identity"], expiry_ns=time.time_ns() + DAY_NS)

    app = gba.node.node.app
    height, now = app.height, time.time_ns()
    contract = DataExchange()

    def read(key: bytes):
        return app.state.get(key)

    def member_ctx(reader) -> Context:
        account = sz.signer.address
        return Context(reader, contract="dataex", sender=account, height=height + 1, time_ns=now,
                       caller=Caller(account, SZ, "GD", "member"), resolve=app.resolve)

    assert contract.transfer(member_ctx(read), record=sz.digest(record), recipient=HK, purpose="kyc")["allowed"]

    committee = Context(read, contract="dataex", sender=GOVERNANCE, height=height + 1, time_ns=now, resolve=app.resolve)
    for bad in ({**CLOSED, "extra": 1}, {**CLOSED, "allowed": 1}, {**CLOSED, "max_retention_days": 0}):
        with pytest.raises(BaychainError) as invalid:
            contract.set_policy(committee, source="GD", destination="HK", policy=bad)
        assert invalid.value.code == Code.BAD_ARGUMENTS
    with pytest.raises(BaychainError):
        contract.set_policy(committee, source="GD", destination="SG", policy=CLOSED)
    assert committee.writes == {}  # refused input wrote nothing
    contract.set_policy(committee, source="GD", destination="HK", policy=CLOSED)

    def after(key: bytes):
        return committee.writes[key] if key in committee.writes else read(key)

    decision = contract.transfer(member_ctx(after), record=sz.digest(record), recipient=HK, purpose="kyc")
    assert (decision["allowed"], decision["code"]) == (False, Code.POLICY_FORBIDS_TRANSFER)
    denied = Context(after, contract="dataex", sender=GOVERNANCE, height=height + 1, time_ns=now, resolve=app.resolve)
    contract.set_policy(denied, source="GD", destination="HK", policy={**DEFAULT_POLICIES["GD/HK"], "denied_categories": ["identity"]})
    decision = contract.transfer(member_ctx(lambda k: denied.writes[k] if k in denied.writes else read(k)),
                                 record=sz.digest(record), recipient=HK, purpose="kyc")
    assert decision["code"] == Code.POLICY_FORBIDS_TRANSFER and "identity" in decision["reason"]


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
