"""The built-in contracts' rules, each tried against."""

from __future__ import annotations

from baychain.errors import Code


def run(node, *txs):
    results = node.engine.submit_many([t.raw for t in txs])
    node.engine.produce_block()
    return [r.code if r.code else node.app.blocks.tx(t.hash).code for r, t in zip(results, txs)]


def test_account_names_are_unique_and_registered_once(node, alice, bob):
    assert run(node, alice.tx("accounts", "register", name="hk-bank", metadata={"jurisdiction": "HK"})) == [0]
    assert run(node, bob.tx("accounts", "register", name="hk-bank")) == [Code.ALREADY_EXISTS]
    assert run(node, alice.tx("accounts", "register", name="other")) == [Code.ALREADY_EXISTS]
    assert run(node, bob.tx("accounts", "register", name="X!")) == [Code.BAD_ARGUMENTS]
    assert node.app.view("accounts", "resolve", {"name": "hk-bank"}) == alice.address
    assert node.app.view("accounts", "get", {"address": alice.address})["metadata"] == {"jurisdiction": "HK"}


def test_a_digest_is_notarized_once_with_owner_and_time(node, alice, bob):
    digest = bytes(range(32))
    assert run(node, alice.tx("notary", "notarize", digest=digest, metadata={"title": "contract"})) == [0]
    assert run(node, bob.tx("notary", "notarize", digest=digest)) == [Code.ALREADY_EXISTS]
    assert run(node, bob.tx("notary", "notarize", digest=b"short")) == [Code.BAD_ARGUMENTS]
    record = node.app.view("notary", "lookup", {"digest": digest})
    assert record["owner"] == alice.address and record["height"] == 1


def test_only_the_issuer_issues_and_balances_never_go_negative(node, alice, bob):
    assert run(node, alice.tx("points", "create", symbol="PTS", title="P"),
               alice.tx("points", "issue", symbol="PTS", to=bob.address, amount=50)) == [0, 0]
    assert run(node, bob.tx("points", "issue", symbol="PTS", to=bob.address, amount=1)) == [Code.NOT_AUTHORIZED]
    assert run(node, bob.tx("points", "transfer", symbol="PTS", to=alice.address, amount=51)) == [Code.INSUFFICIENT_BALANCE]
    assert run(node, bob.tx("points", "transfer", symbol="PTS", to=alice.address, amount=0)) == [Code.BAD_ARGUMENTS]
    assert run(node, bob.tx("points", "transfer", symbol="PTS", to=alice.address, amount=-5)) == [Code.BAD_ARGUMENTS]
    assert run(node, bob.tx("points", "transfer", symbol="PTS", to="not-an-address", amount=5)) == [Code.BAD_ARGUMENTS]
    assert run(node, bob.tx("points", "transfer", symbol="NOPE", to=alice.address, amount=5)) == [Code.NOT_FOUND]
    assert run(node, bob.tx("points", "transfer", symbol="PTS", to=alice.address, amount=50)) == [0]
    assert node.app.view("points", "balance", {"symbol": "PTS", "account": bob.address}) == 0
    assert node.app.view("points", "balance", {"symbol": "PTS", "account": alice.address}) == 50
    assert node.app.view("points", "info", {"symbol": "PTS"})["supply"] == 50


def test_contract_interfaces_are_listed_with_types(node):
    described = {c["name"]: c for c in node.app.describe_contracts()}
    transfer = next(m for m in described["points"]["methods"] if m["name"] == "transfer")
    assert transfer["params"] == [
        {"name": "symbol", "type": "str", "required": True},
        {"name": "to", "type": "str", "required": True},
        {"name": "amount", "type": "int", "required": True},
    ]
    assert transfer["doc"] and not transfer["view"]


def test_an_oversize_storage_key_fails_the_transaction_not_the_block(node, alice):
    # accounts.register stores under name/<name>; the name rule caps it, so use the
    # Context directly as a contract would
    from baychain.contracts.context import MAX_STATE_KEY_BYTES, Context
    from baychain.errors import BaychainError

    ctx = Context(lambda k: None, contract="points", sender=alice.address, height=1, time_ns=0)
    try:
        ctx.put("k" * MAX_STATE_KEY_BYTES, 1)
    except BaychainError as exc:
        assert exc.code == Code.LIMIT_EXCEEDED
    else:
        raise AssertionError("oversize key accepted")
    assert ctx.writes == {}
