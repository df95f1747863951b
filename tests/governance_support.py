"""Committee decisions in tests: a genesis committee, and a proposal passed by its votes."""

from __future__ import annotations

from typing import Any, Callable

from baychain import encoding
from baychain.app.types import TxResult

Send = Callable[[Any], TxResult]  # one signed transaction in, its result in a committed block out


def committee(*members: Any, organisation: str = "Committee", **params: Any) -> dict[str, Any]:
    """`app_state.governance` with these signers as members of weight 1 (and optional params,
    given as keyword arguments with `__` for the dot: governance__approval_bps=5000)."""
    return {"members": [{"account": m.address, "organisation": f"{organisation} {i}", "weight": 1}
                        for i, m in enumerate(members)],
            "params": {k.replace("__", "."): v for k, v in params.items()}}


def propose(send: Send, proposer: Any, actions: list[dict[str, Any]], title: str = "test proposal") -> int:
    result = send(proposer.tx("governance", "propose", title=title, actions=actions))
    assert result.code == 0, result
    return encoding.decode(result.data)["id"]


def vote(send: Send, voter: Any, pid: int, approve: bool = True) -> dict[str, Any]:
    result = send(voter.tx("governance", "vote", id=pid, approve=approve))
    assert result.code == 0, result
    return encoding.decode(result.data)


def decide(send: Send, members: list[Any], actions: list[dict[str, Any]], title: str = "test proposal") -> dict[str, Any]:
    """Propose with the first member, vote yes with each until decided; the proposal summary."""
    pid = propose(send, members[0], actions, title)
    summary: dict[str, Any] = {}
    for member in members:
        summary = vote(send, member, pid)
        if summary["status"] != "open":
            break
    return summary


def action(contract: str, method: str, /, **args: Any) -> dict[str, Any]:
    return {"contract": contract, "method": method, "args": args}
