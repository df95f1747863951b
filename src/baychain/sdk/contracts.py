"""Deployed contracts from Python: propose a source's approval, upload it, read the registry.

    contracts = Contracts(client)
    pid = contracts.propose(member, "token", source)          # committee members vote on it
    contracts.deploy(anyone, "token", source)                 # once the proposal passed
    contracts.info("token"); contracts.versions("token"); contracts.source("token", 1)

The committee votes on the SHA-256 of the exact source (`code_hash`); `check` runs the
same language check the chain runs, so a source that would be refused is caught before
anyone votes on it.
"""

from __future__ import annotations

from typing import Any

from baychain.runtime.deployed import code_hash
from baychain.runtime.language import Program, check
from baychain.sdk.client import Client, Receipt
from baychain.sdk.governance import Governance, action
from baychain.sdk.keys import Key


class Contracts:
    """The contract registry of one chain, through a node's API."""

    def __init__(self, client: Client, *, timeout: float = 30.0) -> None:
        self.client = client
        self.timeout = timeout

    @staticmethod
    def check(source: str) -> Program:
        """The language check (raises CONTRACT_INVALID), locally."""
        return check(source)

    def propose(self, key: Key, name: str, source: str, *, title: str = "", description: str = "") -> int:
        """Propose approving `source` for `name` (after checking it); the proposal's id."""
        check(source)
        approve = action("contracts", "approve", name=name, code_hash=code_hash(source))
        return Governance(self.client, timeout=self.timeout).propose(
            key, title or f"deploy contract {name} ({code_hash(source).hex()[:16]})", [approve], description=description)

    def deploy(self, key: Key, name: str, source: str) -> Receipt:
        """Upload an approved source: deploys `name`, or upgrades it to a new version."""
        return self.client.call(key, "contracts", "deploy", {"name": name, "source": source}, timeout=self.timeout)

    def names(self) -> list[str]:
        return self.client.view("contracts", "names")

    def info(self, name: str) -> dict[str, Any]:
        return self.client.view("contracts", "info", {"name": name})

    def versions(self, name: str) -> list[dict[str, Any]]:
        return self.client.view("contracts", "versions", {"name": name})

    def source(self, name: str, version: int = 0) -> str:
        return self.client.view("contracts", "source", {"name": name, "version": version})

    def approval(self, name: str) -> dict[str, Any] | None:
        return self.client.view("contracts", "approval", {"name": name})
