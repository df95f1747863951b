"""Committee governance, policy and regulator powers from Python.

Every change to the consortium itself is a proposal of governed actions that the
committee votes on (see `baychain.contracts.system.governance`); this module builds
those actions and walks a proposal through its votes:

    gov = Governance(client)
    pid = gov.propose(alice, "Admit Macao Trust", [action("identity", "register_org", ca=der)])
    gov.vote(bob, pid)                        # the deciding vote executes it
    gov.decide([alice, bob, carol], [freeze_action(account, "court order")])

Regulators' expedited powers (granted in the genesis) are plain calls:
`expedite_freeze`, `list_entity`, and the alert log `alerts`.
"""

from __future__ import annotations

from typing import Any, Iterator

from baychain.sdk.client import Client, Receipt, StreamEvent
from baychain.sdk.keys import Key


def action(contract: str, method: str, /, **args: Any) -> dict[str, Any]:
    """One governed call a proposal makes when it passes."""
    return {"contract": contract, "method": method, "args": args}


class Governance:
    """Proposals, votes and history of one chain, through a node's API."""

    def __init__(self, client: Client, *, timeout: float = 30.0) -> None:
        self.client = client
        self.timeout = timeout

    # -- proposals -------------------------------------------------------------------------------

    def propose(self, key: Key, title: str, actions: list[dict[str, Any]], *, description: str = "",
                voting_period_ns: int = 0) -> int:
        """Submit a proposal; its id."""
        args: dict[str, Any] = {"title": title, "actions": actions, "description": description}
        if voting_period_ns:
            args["voting_period_ns"] = voting_period_ns
        return self._call(key, "propose", args).data["id"]

    def vote(self, key: Key, proposal_id: int, approve: bool = True) -> dict[str, Any]:
        """Vote; the proposal's summary after the vote (status open, executed, failed or rejected)."""
        return self._call(key, "vote", {"id": proposal_id, "approve": approve}).data

    def execute(self, key: Key, proposal_id: int) -> dict[str, Any]:
        return self._call(key, "execute", {"id": proposal_id}).data

    def cancel(self, key: Key, proposal_id: int) -> None:
        self._call(key, "cancel", {"id": proposal_id})

    def decide(self, keys: list[Key], actions: list[dict[str, Any]], title: str = "", *,
               description: str = "") -> dict[str, Any]:
        """Propose with the first key and vote yes with each in turn until the proposal is
        decided: what a local network whose committee keys are all at hand does."""
        title = title or ", ".join(f"{a['contract']}.{a['method']}" for a in actions)
        pid = self.propose(keys[0], title, actions, description=description)
        summary: dict[str, Any] = {"id": pid, "status": "open"}
        for key in keys:
            summary = self.vote(key, pid)
            if summary["status"] != "open":
                break
        return summary

    def _call(self, key: Key, method: str, args: dict[str, Any]) -> Receipt:
        return self.client.call(key, "governance", method, args, timeout=self.timeout)

    # -- history -----------------------------------------------------------------------------

    def proposal(self, proposal_id: int) -> dict[str, Any]:
        return self.client.view("governance", "proposal", {"id": proposal_id})

    def proposals(self, status: str = "", start: int = 1, limit: int = 50) -> list[dict[str, Any]]:
        return self.client.view("governance", "proposals", {"status": status, "start": start, "limit": limit})["proposals"]

    def members(self) -> dict[str, Any]:
        return self.client.view("governance", "members")

    def params(self) -> dict[str, Any]:
        return self.client.view("governance", "params")

    # -- regulators ------------------------------------------------------------------------------

    def expedite_freeze(self, regulator: Key, account: str, reason: str) -> dict[str, Any]:
        """A regulator's emergency freeze: in force at once, lapsing unless the committee confirms it."""
        return self.client.call(regulator, "policy", "expedite_freeze", {"account": account, "reason": reason},
                                timeout=self.timeout).data

    def list_entity(self, regulator: Key, entity: str, reason: str) -> Receipt:
        """Put an account or org:<name> on the negative list (a regulator's direct power)."""
        return self.client.call(regulator, "policy", "list_entity", {"entity": entity, "reason": reason}, timeout=self.timeout)

    def alerts(self, start: int = 0, limit: int = 100, kind: str = "") -> dict[str, Any]:
        """The on-chain alert log, oldest first."""
        return self.client.view("audit", "alerts", {"start": start, "limit": limit, "kind": kind})

    def stream_alerts(self, *, read_timeout: float = 60.0) -> Iterator[StreamEvent]:
        """Alerts as they are committed (server-sent events of every `<contract>.alert`)."""
        return self.client.stream_events("*.alert", read_timeout=read_timeout)
