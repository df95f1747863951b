"""Committee governance: weighted votes, thresholds, expiry, atomic execution, history;
and the policy it governs: freezes, the negative list, access rules, regulators' powers."""

from __future__ import annotations

import json

import pytest

from baychain import encoding
from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest
from baychain.contracts.base import Contract
from baychain.contracts.context import Context
from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code
from governance_support import action
from support import Signer, state_but_block

CHAIN_ID = "governance-test"
SECOND = 10**9
HOUR = 3600 * SECOND


class Chain:
    """The application driven block by block at explicit times."""

    def __init__(self, path, app_state: dict) -> None:
        self.app = Application(path / "data")
        self.time = 1_700_000_000 * SECOND
        self.app.init_chain(InitChainRequest(CHAIN_ID, self.time, 1, [], json.dumps(app_state).encode()))

    def block(self, *txs, advance: int = SECOND):
        self.time += advance
        height = self.app.height + 1
        result = self.app.finalize_block(BlockRequest(height, self.time, sha256(b"%d" % height), b"p", [t.raw for t in txs]))
        self.app.commit()
        return result

    def run(self, tx, advance: int = SECOND):
        return self.block(tx, advance=advance).tx_results[0]

    def ok(self, tx, advance: int = SECOND):
        result = self.run(tx, advance)
        assert result.code == 0, result
        return encoding.decode(result.data) if result.data else None

    def fails(self, tx, code, advance: int = SECOND) -> str:
        """Refused or failed with `code`, and nothing but (at most) the sender's nonce changed."""
        before = self.app.view("governance", "proposals", {})
        result = self.run(tx, advance)
        assert result.code == int(code), result
        assert self.app.view("governance", "proposals", {}) == before
        return result.log

    def admitted(self, tx) -> int:
        """check_tx's verdict (without keeping the transaction in the mempool's nonce view)."""
        code = self.app.check_tx(tx.raw).code
        self.app._mempool_nonces.clear()
        return code

    def view(self, contract: str, method: str, /, **args):
        return self.app.view(contract, method, args)


@pytest.fixture
def members():
    return [Signer(CHAIN_ID) for _ in range(4)]


@pytest.fixture
def regulator():
    return Signer(CHAIN_ID)


@pytest.fixture
def chain(tmp_path, members, regulator):
    weights = [3, 1, 1, 1]
    app_state = {
        "governance": {"members": [{"account": m.address, "organisation": f"Org {i}", "weight": w}
                                   for i, (m, w) in enumerate(zip(members, weights))]},
        "policy": {"regulators": [regulator.address]},
    }
    c = Chain(tmp_path, app_state)
    yield c
    c.app.close()


def propose(chain, member, *actions, **kwargs) -> int:
    return chain.ok(member.tx("governance", "propose", title="t", actions=list(actions), **kwargs))["id"]


def vote(chain, member, pid: int, approve: bool = True) -> dict:
    return chain.ok(member.tx("governance", "vote", id=pid, approve=approve))


PARAM = action("governance", "set_param", name="scf.max_term_days", value=180)


# -- voting ------------------------------------------------------------------------------------------------


def test_weighted_votes_pass_a_proposal_only_at_both_thresholds_and_it_executes(chain, members) -> None:
    a, b, c, d = members  # weights 3, 1, 1, 1: total 6; defaults 2/3 participation and 2/3 approval
    pid = propose(chain, b, PARAM)
    assert vote(chain, b, pid)["status"] == "open"       # 1 of 6 voted
    assert vote(chain, c, pid, False)["status"] == "open"  # 2 of 6 voted, 1 yes
    assert chain.view("governance", "param", name="scf.max_term_days") is None
    summary = vote(chain, a, pid)                          # 5 of 6 voted; 4 yes of 5 = 80%
    assert (summary["status"], summary["yes"], summary["no"]) == ("executed", 4, 1)
    assert chain.view("governance", "param", name="scf.max_term_days") == 180
    record = chain.view("governance", "proposal", id=pid)
    assert [(v["account"], v["approve"], v["weight"]) for v in record["votes"]] == [
        (b.address, True, 1), (c.address, False, 1), (a.address, True, 3)]
    assert record["executed_height"] == chain.app.height and record["results"] == [None]


def test_a_proposal_that_cannot_reach_approval_is_rejected_and_changes_nothing(chain, members) -> None:
    a, b, c, d = members
    pid = propose(chain, a, PARAM)
    assert vote(chain, b, pid, False)["status"] == "open"  # 1 of 6 against: 5 of 6 could still approve
    assert vote(chain, a, pid, False)["status"] == "rejected"  # 4 of 6 against: at most 2 of 6 could approve
    assert chain.view("governance", "param", name="scf.max_term_days") is None
    assert [p["id"] for p in chain.view("governance", "proposals", status="rejected")["proposals"]] == [pid]


def test_only_members_propose_and_vote_and_each_votes_once(chain, members) -> None:
    a, b, c, d = members
    outsider = Signer(CHAIN_ID)
    chain.fails(outsider.tx("governance", "propose", title="t", actions=[PARAM]), Code.NOT_A_MEMBER)
    pid = propose(chain, a, PARAM)
    chain.fails(outsider.tx("governance", "vote", id=pid, approve=True), Code.NOT_A_MEMBER)
    vote(chain, b, pid)
    chain.fails(b.tx("governance", "vote", id=pid, approve=False), Code.ALREADY_VOTED)
    assert chain.view("governance", "proposal", id=pid)["yes"] == 1
    chain.fails(a.tx("governance", "vote", id=99, approve=True), Code.NOT_FOUND)


def test_a_member_added_after_the_proposal_does_not_vote_on_it(chain, members) -> None:
    a, b, c, d = members
    newcomer = Signer(CHAIN_ID)
    pending = propose(chain, a, PARAM)
    add = propose(chain, a, action("governance", "add_member", account=newcomer.address, organisation="New Org", weight=5))
    vote(chain, a, add)
    assert vote(chain, b, add)["status"] == "executed"
    assert newcomer.address in [m["account"] for m in chain.view("governance", "members")["members"]]
    chain.fails(newcomer.tx("governance", "vote", id=pending, approve=True), Code.NOT_A_MEMBER)


def test_only_governed_methods_can_be_proposed_and_actions_are_checked_when_proposed(chain, members) -> None:
    a = members[0]
    for bad, code in [
        (action("points", "transfer", symbol="X", to=a.address, amount=1), Code.BAD_ARGUMENTS),  # not a committee power
        (action("nowhere", "x"), Code.UNKNOWN_CONTRACT),
        (action("network", "nothing"), Code.UNKNOWN_METHOD),
        (action("policy", "freeze", account=a.address), Code.BAD_ARGUMENTS),  # missing reason
        ({"contract": "policy"}, Code.BAD_ARGUMENTS),
    ]:
        chain.fails(a.tx("governance", "propose", title="t", actions=[bad]), code)
    chain.fails(a.tx("governance", "propose", title="t", actions=[]), Code.BAD_ARGUMENTS)
    chain.fails(a.tx("policy", "freeze", account=a.address, reason="direct"), Code.GOVERNED_METHOD)


# -- expiry, failure, execution ------------------------------------------------------------------------------


def test_an_expired_proposal_cannot_be_voted_or_executed(chain, members) -> None:
    a, b, c, d = members
    pid = propose(chain, a, PARAM, voting_period_ns=HOUR)
    vote(chain, a, pid)
    chain.block(advance=HOUR)
    assert chain.view("governance", "proposal", id=pid)["status"] == "expired"
    chain.fails(b.tx("governance", "vote", id=pid, approve=True), Code.PROPOSAL_EXPIRED)
    chain.fails(a.tx("governance", "execute", id=pid), Code.PROPOSAL_EXPIRED)
    assert chain.view("governance", "param", name="scf.max_term_days") is None


def test_a_failed_proposal_applies_none_of_its_actions_and_cannot_be_executed_again(chain, members) -> None:
    a, b, c, d = members
    pid = propose(chain, a, PARAM, action("governance", "set_param", name="governance.approval_bps", value=0))
    vote(chain, a, pid)
    summary = vote(chain, b, pid)
    assert summary["status"] == "failed"
    assert (summary["error"]["action"], summary["error"]["code"]) == (1, Code.BAD_ARGUMENTS)
    assert chain.view("governance", "param", name="scf.max_term_days") is None  # action 0 rolled back
    log = chain.fails(a.tx("governance", "execute", id=pid), Code.PROPOSAL_CLOSED)
    assert "failed" in log


def test_without_auto_execute_a_passed_proposal_runs_by_execute_once(tmp_path, members) -> None:
    a = members[0]
    chain = Chain(tmp_path, {"governance": {"members": [{"account": a.address, "organisation": "Solo"}],
                                            "params": {"governance.auto_execute": False}}})
    try:
        pid = propose(chain, a, PARAM)
        chain.fails(a.tx("governance", "execute", id=pid), Code.PROPOSAL_NOT_PASSED)
        assert vote(chain, a, pid)["status"] == "passed"
        assert chain.view("governance", "param", name="scf.max_term_days") is None
        assert chain.ok(a.tx("governance", "execute", id=pid))["status"] == "executed"
        assert chain.view("governance", "param", name="scf.max_term_days") == 180
        chain.fails(a.tx("governance", "execute", id=pid), Code.PROPOSAL_CLOSED)
    finally:
        chain.app.close()


def test_the_proposer_may_cancel_an_open_proposal(chain, members) -> None:
    a, b, c, d = members
    pid = propose(chain, a, PARAM)
    chain.fails(b.tx("governance", "cancel", id=pid), Code.NOT_AUTHORIZED)
    chain.ok(a.tx("governance", "cancel", id=pid))
    chain.fails(b.tx("governance", "vote", id=pid, approve=True), Code.PROPOSAL_CLOSED)


def test_every_node_decides_the_same(tmp_path, members, regulator) -> None:
    a, b, c, d = members
    app_state = {"governance": {"members": [{"account": m.address, "organisation": f"O{i}"} for i, m in enumerate(members)]}}
    txs = [a.tx("governance", "propose", title="t", actions=[PARAM]), a.tx("governance", "vote", id=1, approve=True),
           b.tx("governance", "vote", id=1, approve=True), c.tx("governance", "vote", id=1, approve=False),
           d.tx("governance", "vote", id=1, approve=True)]
    roots = []
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        chain = Chain(tmp_path / name, app_state)
        codes = [r.code for r in chain.block(*txs).tx_results]
        roots.append((chain.app.info().last_app_hash, codes, chain.view("governance", "proposal", id=1)["status"]))
        chain.app.close()
    assert roots[0] == roots[1]
    assert roots[0][1:] == ([0, 0, 0, 0, Code.PROPOSAL_CLOSED], "executed")  # 3 of 4 yes: decided before d votes


# -- policy: freezes, the negative list, rules ---------------------------------------------------------------


def decide(chain, members, *actions) -> dict:
    a, b = members[0], members[1]
    pid = propose(chain, a, *actions)
    vote(chain, a, pid)
    return vote(chain, b, pid)  # 4 of 6 voted, all yes: passed


def pass_(chain, members, *actions) -> dict:
    summary = decide(chain, members, *actions)
    assert summary["status"] == "executed", summary
    return summary


def test_a_frozen_accounts_transactions_are_refused_and_change_nothing(chain, members) -> None:
    alice = Signer(CHAIN_ID)
    chain.ok(alice.tx("points", "create", symbol="GBA", title="GBA points"))
    pass_(chain, members, action("policy", "freeze", account=alice.address, reason="court order 2026-17"))
    tx = alice.tx("points", "issue", symbol="GBA", to=alice.address, amount=5)
    assert chain.admitted(tx) == Code.ACCOUNT_FROZEN
    before, nonce = state_but_block(chain.app), chain.app.nonce(alice.address)
    result = chain.run(tx)
    assert result.code == Code.ACCOUNT_FROZEN and "court order 2026-17" in result.log
    assert (state_but_block(chain.app), chain.app.nonce(alice.address)) == (before, nonce)
    entry = chain.view("policy", "frozen", account=alice.address)
    assert entry["author"].startswith("proposal:") and entry["source"] == "committee"
    pass_(chain, members, action("policy", "unfreeze", account=alice.address))
    alice.nonce = nonce
    chain.ok(alice.tx("points", "issue", symbol="GBA", to=alice.address, amount=5))


def test_a_blacklisted_account_or_organisation_is_refused_with_reason_author_and_time(tmp_path, members, regulator) -> None:
    mallory = Signer(CHAIN_ID)
    app_state = {"governance": {"members": [{"account": members[0].address, "organisation": "Committee"}]},
                 "policy": {"regulators": [regulator.address]}}
    chain = Chain(tmp_path, app_state)
    try:
        chain.ok(regulator.tx("policy", "list_entity", entity=mallory.address, reason="sanctioned by HKMA notice 12"))
        entry = chain.view("policy", "listed", entity=mallory.address)
        assert (entry["author"], entry["reason"], entry["height"], entry["time_ns"]) == (
            regulator.address, "sanctioned by HKMA notice 12", chain.app.height, chain.time)
        tx = mallory.tx("notary", "notarize", digest=bytes(32))
        assert chain.admitted(tx) == Code.BLACKLISTED
        before = state_but_block(chain.app)
        assert chain.run(tx).code == Code.BLACKLISTED
        assert state_but_block(chain.app) == before
        mallory.nonce = 0  # refused: its nonce was not consumed
        # the regulator's own actions are on chain, in order
        assert [(a["action"], a["target"], a["author"]) for a in chain.view("policy", "regulator_actions")["actions"]] == [
            ("blacklist", mallory.address, regulator.address)]
        # a non-regulator has no such power
        chain.fails(mallory.tx("policy", "list_entity", entity=regulator.address, reason="revenge"), Code.BLACKLISTED)
        bystander = Signer(CHAIN_ID)
        chain.fails(bystander.tx("policy", "list_entity", entity=regulator.address, reason="x"), Code.NOT_AUTHORIZED)
    finally:
        chain.app.close()


def test_an_organisation_on_the_negative_list_is_refused_by_its_certificate_attribute(tmp_path, members) -> None:
    from baychain.contracts.context import Caller
    from baychain.contracts.system import policy

    chain = Chain(tmp_path, {"policy": {"blacklist": [{"entity": "org:Shady Trading Ltd", "reason": "fraud case 9"}]}})
    try:
        chain.block()
        read = chain.app.state.get
        with pytest.raises(BaychainError) as exc:
            policy.admit_caller(Caller("bc1" + "0" * 40, "Shady Trading Ltd", "HK", "member"), "notary", "notarize", read, chain.time)
        assert exc.value.code == Code.BLACKLISTED and "fraud case 9" in exc.value.message
        policy.admit_caller(Caller("bc1" + "0" * 40, "Honest Bank", "HK", "member"), "notary", "notarize", read, chain.time)
    finally:
        chain.app.close()


def test_access_rules_restrict_methods_by_role_organisation_and_jurisdiction(chain, members) -> None:
    alice = Signer(CHAIN_ID)  # an unbound key: no role, organisation or jurisdiction
    pass_(chain, members, action("policy", "set_rule", contract="notary", method="notarize", roles=["regulator"],
                                 organisations=[], jurisdictions=["HK", "MO"]))
    tx = alice.tx("notary", "notarize", digest=bytes(32))
    assert chain.admitted(tx) == Code.PERMISSION_DENIED
    assert "role regulator" in chain.fails(tx, Code.PERMISSION_DENIED)
    check = chain.view("policy", "check", account=alice.address, contract="notary", method="notarize",
                       role="regulator", jurisdiction="HK")
    assert check == {"admitted": True, "code": 0}
    check = chain.view("policy", "check", account=alice.address, contract="notary", method="notarize",
                       role="regulator", jurisdiction="GD")
    assert check["error"] == "PERMISSION_DENIED"
    # other methods are untouched; clearing the rule opens the method again
    alice.nonce = 0  # the refused transaction consumed no nonce
    chain.ok(alice.tx("points", "create", symbol="ABC", title="abc"))
    pass_(chain, members, action("policy", "clear_rule", contract="notary", method="notarize"))
    alice.nonce = chain.app.nonce(alice.address)
    chain.ok(alice.tx("notary", "notarize", digest=bytes(32)))
    # governance itself cannot be fenced off
    summary = decide(chain, members, action("policy", "set_rule", contract="governance", method="*", roles=["auditor"],
                                            organisations=[], jurisdictions=[]))
    assert (summary["status"], summary["error"]["code"]) == ("failed", Code.NOT_AUTHORIZED)


def test_a_regulators_expedited_freeze_acts_at_once_and_lapses_unless_confirmed(chain, members, regulator) -> None:
    alice, bob = Signer(CHAIN_ID), Signer(CHAIN_ID)
    frozen = chain.ok(regulator.tx("policy", "expedite_freeze", account=alice.address, reason="suspected fraud"))
    assert frozen["until_ns"] == chain.time + 72 * HOUR
    assert chain.run(alice.tx("notary", "notarize", digest=bytes(32))).code == Code.ACCOUNT_FROZEN
    alice.nonce = 0
    chain.block(advance=72 * HOUR)  # lapsed
    chain.ok(alice.tx("notary", "notarize", digest=bytes(32)))
    # frozen again, then confirmed by the committee: no longer lapses
    chain.ok(regulator.tx("policy", "expedite_freeze", account=bob.address, reason="suspected fraud"))
    pass_(chain, members, action("policy", "freeze", account=bob.address, reason="confirmed by the committee"))
    chain.block(advance=100 * HOUR)
    assert chain.run(bob.tx("notary", "notarize", digest=bytes(32))).code == Code.ACCOUNT_FROZEN
    chain.fails(regulator.tx("policy", "lift_expedited_freeze", account=bob.address), Code.NOT_AUTHORIZED)
    # only regulators have the expedited path
    chain.fails(members[0].tx("policy", "expedite_freeze", account=bob.address, reason="x"), Code.NOT_AUTHORIZED)
    actions = chain.view("policy", "regulator_actions")["actions"]
    assert [(a["action"], a["target"]) for a in actions] == [("freeze", alice.address), ("freeze", bob.address)]


# -- alerts ---------------------------------------------------------------------------------------------------


def test_alerts_are_recorded_even_when_the_transaction_that_raised_them_fails(tmp_path) -> None:
    class Vault(Contract):
        name = "vault"

        def take(self, ctx: Context, item: str) -> None:
            if ctx.get(item):
                ctx.alert("double_take", item=item)
                ctx.require(False, Code.ALREADY_EXISTS, f"{item} was taken already")
            ctx.put(item, True)

    chain = Chain(tmp_path, {})
    chain.app.contracts["vault"] = Vault()
    try:
        thief = Signer(CHAIN_ID)
        chain.ok(thief.tx("vault", "take", item="gold"))
        result = chain.run(thief.tx("vault", "take", item="gold"))
        assert result.code == Code.ALREADY_EXISTS
        assert [(e.type, dict(e.attributes)) for e in result.events] == [("vault.alert", {"kind": "double_take", "item": "gold"})]
        log = chain.view("audit", "alerts")
        assert log["count"] == 1
        alert = log["alerts"][0]
        assert (alert["kind"], alert["contract"], alert["attributes"], alert["failed"], alert["signer"]) == (
            "double_take", "vault", {"item": "gold"}, True, thief.address)
        assert chain.view("audit", "alerts", kind="other")["alerts"] == []
    finally:
        chain.app.close()


def test_genesis_sections_are_checked(tmp_path, members) -> None:
    for i, (section, match) in enumerate([
        ({"governance": {"members": []}}, "at least one member"),
        ({"governance": {"members": [{"account": "nope", "organisation": "X"}]}}, "not an account address"),
        ({"governance": {"members": [{"account": members[0].address, "organisation": "X"}],
                         "params": {"governance.approval_bps": 0}}}, "approval_bps"),
        ({"policy": {"regulators": ["x"]}}, "regulators"),
        ({"policy": {"rules": [{"contract": "governance"}]}}, "rule 0"),
    ]):
        app = Application(tmp_path / f"d{i}")
        try:
            with pytest.raises(BaychainError, match=match):
                app.init_chain(InitChainRequest(CHAIN_ID, 1, 1, [], json.dumps(section).encode()))
        finally:
            app.close()
