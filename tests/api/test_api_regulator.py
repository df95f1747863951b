"""The regulator's HTTP view on a real node: the alert log, the live `*.alert` stream, and
the audit trail of committee and policy events."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from baychain.chain.genesis import Genesis
from baychain.contracts.base import Contract
from baychain.contracts.context import Context
from baychain.errors import BaychainError, Code
from baychain.sdk import Client, Key
from baychain.sdk.governance import Governance, action
from baychain.sdk.testing import local_node

CHAIN_ID = "regulator-api"


class Vault(Contract):
    """Takes each item once; a second attempt is refused and alerted."""

    name = "vault"

    def take(self, ctx: Context, item: str) -> None:
        if ctx.get(item):
            ctx.alert("double_take", item=item)
            ctx.require(False, Code.ALREADY_EXISTS, f"{item} was taken already")
        ctx.put(item, True)
        ctx.emit("taken", item=item)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    chair, regulator = Key.generate(), Key.generate()
    home = tmp_path_factory.mktemp("regulator-api")
    Genesis(chain_id=CHAIN_ID, time_ns=time.time_ns(), app_state={
        "governance": {"members": [{"account": chair.address, "organisation": "Committee"}]},
        "policy": {"regulators": [regulator.address]}}).save(home / "genesis.json")
    with local_node(home, chain_id=CHAIN_ID) as node:
        node.node.app.contracts["vault"] = Vault()
        with Client(node.url, timeout=20) as client:
            yield client, chair, regulator


def test_alerts_reach_the_log_and_the_stream_and_nothing_else_does(chain) -> None:
    client, _, _ = chain
    thief = Key.generate()
    received: queue.Queue = queue.Queue()

    def follow() -> None:
        for event in Governance(client).stream_alerts(read_timeout=30):
            if event.event == "tx_event":
                received.put(event.data)
                return

    listener = threading.Thread(target=follow, daemon=True)
    listener.start()
    time.sleep(0.5)  # subscribed before the alert commits
    client.call(thief, "vault", "take", {"item": "gold"})  # emits vault.taken: not an alert
    with pytest.raises(BaychainError) as refused:
        client.call(thief, "vault", "take", {"item": "gold"})
    assert refused.value.code == Code.ALREADY_EXISTS
    streamed = received.get(timeout=20)
    assert (streamed["type"], streamed["attributes"]) == ("vault.alert", {"kind": "double_take", "item": "gold"})

    log = client.request("GET", "/v1/regulator/alerts")
    assert log["count"] == 1
    alert = log["alerts"][0]
    assert (alert["kind"], alert["contract"], alert["failed"], alert["signer"]) == ("double_take", "vault", True, thief.address)
    assert client.request("GET", "/v1/regulator/alerts", params={"kind": "other"})["alerts"] == []


def test_the_audit_trail_lists_committee_and_regulator_actions_only(chain) -> None:
    client, chair, regulator = chain
    someone = Key.generate()
    client.notarize(someone, bytes(32))  # an ordinary transaction: not an audit event
    summary = Governance(client).decide([chair], [action("policy", "freeze", account=someone.address, reason="court order")])
    assert summary["status"] == "executed"
    Governance(client).expedite_freeze(regulator, chair.address, "drill")
    trail = client.request("GET", "/v1/regulator/audit")
    types = [e["type"] for tx in trail["txs"] for e in tx["events"]]
    assert {"governance.proposed", "governance.voted", "governance.executed", "policy.frozen"} <= set(types)
    assert types.count("policy.frozen") == 2  # the committee's freeze and the regulator's expedited one
    assert all(not t.startswith("notary.") for t in types)
    assert "policy.frozen" in trail["types"]
