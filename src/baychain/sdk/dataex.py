"""Driving your organisation's data gateway, and reading the data-exchange records on chain.

    from baychain.sdk.dataex import GatewayAdmin, DataExchangeReader

    with GatewayAdmin.from_home(".baychain/gateway") as gw:     # the running gateway's admin API
        gw.put("rec-1", {"subject": "A123456(7)", "categories": ["identity"], "fields": {...}}, anchor=True)
        gw.send("rec-1", peer="hk-bank.example:7443", purpose="account-opening")

    reader = DataExchangeReader(client)                        # a baychain.sdk.Client
    reader.policy("GD", "HK"); reader.audit_log(organisation="Hong Kong Bank")
    Governance(client).propose(member, "pause GD->MO", [policy_action("GD", "MO", {...})])

`GatewayAdmin` talks to the gateway's loopback admin API with the bearer token from the
gateway home; refusals come back as BaychainError with the stable code (a refused transfer
also carries `transfer`, the id of its record on chain).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from baychain.errors import BaychainError, Code
from baychain.gateway.config import GatewayConfig, admin_token

DAY_NS = 86_400 * 10**9


class GatewayAdmin:
    """A client of one gateway's admin API."""

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    @classmethod
    def from_home(cls, home: str | Path, *, timeout: float = 60.0) -> GatewayAdmin:
        """The admin API of the gateway whose home directory this is (address and token from it)."""
        home = Path(home)
        config = GatewayConfig.load(home)
        return cls(f"http://{config.admin_host}:{config.admin_port}", admin_token(home), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.TransportError as exc:
            raise BaychainError(Code.UNAVAILABLE, f"the gateway at {self.url} is not running ({exc or type(exc).__name__})") from None
        try:
            doc = resp.json()
        except ValueError:
            raise BaychainError(Code.INTERNAL, f"the gateway answered HTTP {resp.status_code} without JSON") from None
        if resp.status_code != 200:
            try:
                code = Code(doc.get("code"))
            except ValueError:
                code = Code.INTERNAL
            error = BaychainError(code, doc.get("message", f"HTTP {resp.status_code}"))
            error.transfer = doc.get("transfer")  # type: ignore[attr-defined]
            raise error
        return doc

    def status(self) -> dict[str, Any]:
        return self.request("GET", "/v1/status")

    def put(self, record_id: str, record: dict[str, Any], *, anchor: bool = False, schema: str = "") -> dict[str, Any]:
        return self.request("POST", "/v1/records", {"id": record_id, "record": record, "anchor": anchor, "schema": schema})

    def records(self) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/records")

    def anchor(self, record_id: str, schema: str = "") -> dict[str, Any]:
        return self.request("POST", "/v1/anchor", {"id": record_id, "schema": schema})

    def consent(self, subject: str, recipient: str, purpose: str, categories: list[str], *, days: int,
                reference: str = "") -> int:
        return self.request("POST", "/v1/consents", {
            "subject": subject, "recipient": recipient, "purpose": purpose, "categories": list(categories),
            "expiry_ns": _after(days), "reference": reference})["id"]

    def withdraw_consent(self, consent_id: int) -> None:
        self.request("POST", "/v1/consents/withdraw", {"id": consent_id})

    def assess(self, reference: str, document: str, recipient: str, purpose: str, categories: list[str]) -> int:
        return self.request("POST", "/v1/assessments", {
            "reference": reference, "document": document, "recipient": recipient, "purpose": purpose,
            "categories": list(categories)})["id"]

    def file(self, reference: str, assessment: int, recipient: str, jurisdiction: str, purpose: str,
             categories: list[str], retention_days: int) -> int:
        return self.request("POST", "/v1/filings", {
            "reference": reference, "assessment": assessment, "recipient": recipient,
            "recipient_jurisdiction": jurisdiction, "purpose": purpose, "categories": list(categories),
            "retention_days": retention_days})["id"]

    def grant(self, grantee: str, purpose: str, categories: list[str], *, days: int) -> int:
        return self.request("POST", "/v1/grants", {"grantee": grantee, "purpose": purpose,
                                                   "categories": list(categories), "expiry_ns": _after(days)})["id"]

    def revoke_grant(self, grant_id: int) -> None:
        self.request("POST", "/v1/grants/revoke", {"id": grant_id})

    def send(self, record_id: str, *, peer: str, purpose: str) -> dict[str, Any]:
        return self.request("POST", "/v1/send", {"id": record_id, "peer": peer, "purpose": purpose})

    def verify(self, record: dict[str, Any], *, peer: str, purpose: str) -> dict[str, Any]:
        return self.request("POST", "/v1/verify", {"record": record, "peer": peer, "purpose": purpose})

    def received(self) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/received")


class DataExchangeReader:
    """Read-only views of the `dataex` contract through a node client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def policies(self) -> dict[str, Any]:
        return self.client.view("dataex", "policies")

    def policy(self, source: str, destination: str) -> dict[str, Any]:
        return self.client.view("dataex", "policy", {"source": source, "destination": destination})

    def record(self, kind: str, record_id: int) -> dict[str, Any]:
        """A consent, assessment, filing, grant or transfer by id."""
        return self.client.view("dataex", "record", {"kind": kind, "id": record_id})

    def audit_log(self, *, start: int = 0, limit: int = 100, organisation: str = "") -> dict[str, Any]:
        return self.client.view("dataex", "audit_log", {"start": start, "limit": limit, "organisation": organisation})


def policy_action(source: str, destination: str, policy: dict[str, Any]) -> dict[str, Any]:
    """The governed action that sets one jurisdiction pair's policy, for a committee proposal
    (`baychain.sdk.governance.Governance.propose`)."""
    return {"contract": "dataex", "method": "set_policy",
            "args": {"source": source, "destination": destination, "policy": dict(policy)}}


def _after(days: int) -> int:
    if type(days) is not int or days <= 0:
        raise BaychainError(Code.BAD_REQUEST, "days must be a positive integer")
    return time.time_ns() + days * DAY_NS
