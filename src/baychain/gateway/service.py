"""The gateway: an organisation's records, kept at home, made checkable by others.

What the owner does (through the admin API, the CLI or directly):

- `put` a record into the vault; `anchor` it: the keyed hashes of the record and its
  subject go on chain (`dataex.anchor`), the record stays here;
- record consent, impact assessments, filings and access grants on chain;
- `send` a record to another organisation's gateway: over mutual TLS the recipient
  proves who it is, the chain decides (`dataex.transfer`, recorded allowed or
  refused), and only an allowed transfer carries the record;
- `verify_at` another gateway: present a record held here and learn whether it matches
  what that gateway's owner anchored, and when.

What a peer gateway asks (`peer_verify`, `peer_transfer`, served by `server.py`):

- verification without disclosure: the owner computes the keyed hash of the presented
  record with its own key, looks for its anchor, has the chain record the check
  (`dataex.verification`, refused without a live grant) and answers only
  {matched, anchored_height, anchored_time_ns, audit}: never the record, never the hash;
- receipt of a transfer: stored only if the chain holds an allowed transfer from the
  peer's organisation to this one that was not yet received; acknowledged on chain
  (`dataex.receive`).
"""

from __future__ import annotations

import hashlib
import http.client
import ssl
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from baychain import encoding
from baychain.errors import BaychainError, Code
from baychain.contracts.system.dataex import record_key
from baychain.gateway import tls
from baychain.gateway.config import GatewayConfig
from baychain.gateway.records import Record, normalise, record_digest, subject_ref
from baychain.gateway.vault import Vault, open_secrets
from baychain.identity.certificates import load_certificates, to_der
from baychain.identity.verification import CertIdentity
from baychain.sdk.client import Client
from baychain.sdk.keys import Key

DAY_NS = 86_400 * 10**9
PEER_TIMEOUT = 30.0
CBOR = "application/cbor"


class TransferRefused(BaychainError):
    """The chain refused a transfer; the attempt is on record as transfer `transfer_id`."""

    def __init__(self, code: Code, message: str, transfer_id: int) -> None:
        super().__init__(code, message)
        self.transfer_id = transfer_id


class Gateway:
    """One organisation's gateway, unlocked with its owner's passphrase."""

    def __init__(self, home: str | Path, passphrase: str, *, client: Client | None = None) -> None:
        self.home = Path(home)
        self.config = GatewayConfig.load(self.home)
        secrets = open_secrets(self.home / "keys.json", passphrase)
        self._hmac_key = secrets.hmac_key
        self.signer = _load_signer(self.home / "signer.json", passphrase)
        self.server_tls = tls.server_context(self.home, passphrase)
        self.client_tls = tls.client_context(self.home, passphrase)
        self.client = client or Client(self.config.node)
        try:
            binding = self.client.view("identity", "binding", {"address": self.signer.address})
        except BaychainError as exc:
            if exc.code != Code.NOT_FOUND:
                raise
            raise BaychainError(Code.ACCOUNT_UNBOUND, f"the gateway's signing key {self.signer.address} is bound to no "
                                                      "certificate of its organisation (bind it: baychain identity bind)") from None
        self.organisation: str = binding["organisation"]
        self.jurisdiction: str = binding["jurisdiction"]
        own = tls.identify(to_der(load_certificates((self.home / "tls" / "node.pem").read_bytes())[0]), self.client)
        if own.organisation != self.organisation:
            raise BaychainError(Code.BAD_REQUEST, f"the gateway's TLS certificate is {own.organisation}'s but its signing "
                                                  f"key acts for {self.organisation}: both must be the same organisation's")
        self.vault = Vault(self.home / "vault", secrets.storage_key)

    def close(self) -> None:
        self.vault.close()
        self.client.close()

    # -- keyed hashes --------------------------------------------------------------------

    def digest(self, record: Any) -> bytes:
        return record_digest(self._hmac_key, record)

    def subject_ref(self, subject: str) -> bytes:
        return subject_ref(self._hmac_key, subject)

    # -- the owner's records -----------------------------------------------------------------

    def put(self, record_id: str, record: Any, *, anchor: bool = False, schema: str = "") -> dict[str, Any]:
        """Store a record (sealed); with `anchor`, anchor it on chain as well."""
        if not 0 < len(record_id) <= 128:
            raise BaychainError(Code.BAD_ARGUMENTS, "a record id is 1-128 characters")
        clean = normalise(record)
        self.vault.put("records", record_id, {"record": clean, "anchor": None}, overwrite=False)
        out = {"id": record_id, "digest": self.digest(clean).hex()}
        if anchor:
            out["anchor"] = self.anchor(record_id, schema=schema)
        return out

    def record(self, record_id: str) -> Record:
        entry = self.vault.get("records", record_id)
        if entry is None:
            raise BaychainError(Code.NOT_FOUND, f"the vault holds no record {record_id!r}")
        return entry["record"]

    def records(self) -> list[dict[str, Any]]:
        """Ids, categories and anchors of the records held (not their content)."""
        return [{"id": name, "categories": e["record"]["categories"], "digest": self.digest(e["record"]).hex(),
                 "anchor": e["anchor"]} for name, e in self.vault.items("records")]

    def anchor(self, record_id: str, schema: str = "") -> dict[str, Any]:
        """Anchor a stored record's keyed hashes on chain; the height and time it got."""
        entry = self.vault.get("records", record_id)
        if entry is None:
            raise BaychainError(Code.NOT_FOUND, f"the vault holds no record {record_id!r}")
        record = entry["record"]
        receipt = self._call("anchor", digest=self.digest(record), subject=self.subject_ref(record["subject"]),
                             categories=record["categories"], schema=schema)
        entry["anchor"] = {"height": receipt["height"], "time_ns": receipt["time_ns"]}
        self.vault.put("records", record_id, entry)
        return entry["anchor"]

    # -- consent, assessments, filings, grants (on chain) ---------------------------------------

    def consent(self, subject: str, recipient: str, purpose: str, categories: list[str], *,
                expiry_ns: int, reference: str = "") -> int:
        """Record the subject's consent; the subject appears on chain only as its keyed reference."""
        return self._call("consent", subject=self.subject_ref(subject), recipient=recipient, purpose=purpose,
                          categories=list(categories), expiry_ns=expiry_ns, reference=reference)["id"]

    def withdraw_consent(self, consent_id: int) -> None:
        self._call("withdraw_consent", id=consent_id)

    def assess(self, reference: str, document: bytes, recipient: str, purpose: str, categories: list[str]) -> int:
        """Record an impact assessment by reference and the SHA-256 of its document."""
        return self._call("assess", reference=reference, digest=hashlib.sha256(document).digest(), recipient=recipient,
                          purpose=purpose, categories=list(categories))["id"]

    def file(self, reference: str, assessment: int, recipient: str, recipient_jurisdiction: str, purpose: str,
             categories: list[str], retention_days: int) -> int:
        return self._call("file", reference=reference, assessment=assessment, recipient=recipient,
                          recipient_jurisdiction=recipient_jurisdiction, purpose=purpose,
                          categories=list(categories), retention_days=retention_days)["id"]

    def grant(self, grantee: str, purpose: str, categories: list[str], *, expiry_ns: int) -> int:
        return self._call("grant", grantee=grantee, purpose=purpose, categories=list(categories),
                          expiry_ns=expiry_ns)["id"]

    def revoke_grant(self, grant_id: int) -> None:
        self._call("revoke_grant", id=grant_id)

    # -- talking to other gateways ------------------------------------------------------------------

    def send(self, record_id: str, peer: str, purpose: str) -> dict[str, Any]:
        """Transfer a record to the gateway at `peer` (host:port) if the chain allows it.

        Every attempt is recorded on chain; a refusal raises TransferRefused with the
        rule's code, and the record never leaves."""
        record = self.record(record_id)
        with _PeerConnection(peer, self.client_tls) as conn:
            try:
                recipient = self.identify(conn.peer_certificate()).organisation
            except BaychainError as exc:
                recipient = f"unverified peer {conn.address}"
                conn.failure = exc
            decision = self._call("transfer", record=self.digest(record), recipient=recipient, purpose=purpose)
            if not decision["allowed"]:
                reason = decision["reason"] if conn.failure is None else f"{decision['reason']} ({conn.failure.message})"
                raise TransferRefused(Code(decision["code"]), reason, decision["id"])
            answer = conn.post("/v1/peer/transfer", {"transfer": decision["id"], "record": record})
        return {"transfer": decision["id"], "recipient": recipient, "audit": decision["audit"],
                "receipt_audit": answer["audit"]}

    def verify_at(self, peer: str, record: Any, purpose: str) -> dict[str, Any]:
        """Ask the gateway at `peer` whether `record` matches what its owner anchored."""
        clean = normalise(record)
        with _PeerConnection(peer, self.client_tls) as conn:
            owner = self.identify(conn.peer_certificate())
            answer = conn.post("/v1/peer/verify", {"record": clean, "purpose": purpose})
        return {"owner": owner.organisation, **answer}

    def identify(self, der: bytes | None) -> CertIdentity:
        """The organisation behind a peer certificate, by the registry on chain."""
        return tls.identify(der, self.client)

    # -- what peers ask -----------------------------------------------------------------------------

    def peer_verify(self, peer: CertIdentity, body: Any) -> dict[str, Any]:
        """Compare a presented record with this organisation's anchors; answer match and time only."""
        if type(body) is not dict or type(body.get("purpose")) is not str:
            raise BaychainError(Code.BAD_REQUEST, 'a verification request is {"record", "purpose"}')
        digest = self.digest(body.get("record"))
        try:
            anchored = self.client.view("dataex", "anchored", {"digest": digest})
            matched = anchored["organisation"] == self.organisation
        except BaychainError as exc:
            if exc.code != Code.NOT_FOUND:
                raise
            matched = False
        decision = self._call("verification", requester=peer.organisation, purpose=body["purpose"],
                              digest=digest if matched else b"")
        if not decision["allowed"]:
            raise BaychainError(Code(decision["code"]), decision["reason"])
        return {"matched": decision["matched"], "anchored_height": decision["anchored_height"],
                "anchored_time_ns": decision["anchored_time_ns"], "audit": decision["audit"]}

    def peer_transfer(self, peer: CertIdentity, body: Any) -> dict[str, Any]:
        """Keep a record sent under an allowed transfer from the peer's organisation to this one."""
        if type(body) is not dict or type(body.get("transfer")) is not int:
            raise BaychainError(Code.BAD_REQUEST, 'a transfer is {"transfer": id, "record"}')
        record = normalise(body.get("record"))
        tid = body["transfer"]
        entry = self._transfer(tid)
        if not (entry["allowed"] and entry["recipient"] == self.organisation and entry["source"] == peer.organisation):
            raise BaychainError(Code.TRANSFER_NOT_AUTHORISED,
                                f"the chain holds no allowed transfer {tid} from {peer.organisation} to {self.organisation}")
        if entry["received"] is not None:
            raise BaychainError(Code.ALREADY_EXISTS, f"transfer {tid} was already received")
        name = f"transfer/{tid}"
        self.vault.put("received", name, {
            "transfer": tid, "source": entry["source"], "purpose": entry["purpose"], "record": record,
            "retain_until_ns": entry["time_ns"] + entry["retention_days"] * DAY_NS}, overwrite=False)
        try:
            receipt = self._call("receive", id=tid)
        except BaseException:
            self.vault.delete("received", name)  # not acknowledged on chain: not kept
            raise
        return {"stored": True, "audit": receipt["audit"]}

    def received(self) -> list[dict[str, Any]]:
        """Records received by transfer, with source, purpose and retention."""
        return [value for _, value in self.vault.items("received")]

    def purge_expired(self, now_ns: int | None = None) -> list[int]:
        """Delete received records whose retention period (from the filing) is over."""
        now = now_ns if now_ns is not None else time.time_ns()
        gone = [v["transfer"] for _, v in self.vault.items("received") if v["retain_until_ns"] <= now]
        for tid in gone:
            self.vault.delete("received", f"transfer/{tid}")
        return gone

    # -- plumbing -----------------------------------------------------------------------------------

    def _call(self, method: str, **args: Any) -> Any:
        return self.client.call(self.signer, "dataex", method, args).data

    def _transfer(self, tid: int, wait: float = 5.0) -> dict[str, Any]:
        """The transfer record, proof-checked against the app hash (so a lying API cannot make
        this gateway accept data); waits briefly for the sender's block to reach this node."""
        deadline = time.monotonic() + wait
        while True:
            entry = self.client.get_contract_value("dataex", record_key("transfer", tid))
            if entry is not None:
                return entry
            if time.monotonic() > deadline:
                raise BaychainError(Code.TRANSFER_NOT_AUTHORISED, f"the chain holds no transfer {tid}")
            time.sleep(0.05)


class _PeerConnection:
    """One mutually authenticated TLS connection to a peer gateway, speaking canonical CBOR."""

    def __init__(self, peer: str, context: ssl.SSLContext) -> None:
        parts = urlsplit(peer if "//" in peer else f"//{peer}")
        if not parts.hostname or not parts.port:
            raise BaychainError(Code.BAD_REQUEST, f"a peer gateway is host:port, got {peer!r}")
        self.address = f"{parts.hostname}:{parts.port}"
        self.failure: BaychainError | None = None
        self._conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=PEER_TIMEOUT)
        self._handshake_error: BaychainError | None = None
        try:
            self._conn.connect()
        except ssl.SSLError as exc:
            self._handshake_error = BaychainError(Code.PEER_UNTRUSTED, f"TLS with {self.address} failed: {exc.reason or exc}")
        except OSError as exc:
            raise BaychainError(Code.UNAVAILABLE, f"cannot reach the gateway at {self.address}: {exc}") from None

    def __enter__(self) -> _PeerConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()

    def peer_certificate(self) -> bytes:
        if self._handshake_error is not None:
            raise self._handshake_error
        return self._conn.sock.getpeercert(binary_form=True)

    def post(self, path: str, body: Any) -> Any:
        if self._handshake_error is not None:
            raise self._handshake_error
        self._conn.request("POST", path, body=encoding.encode(body), headers={"Content-Type": CBOR})
        resp = self._conn.getresponse()
        doc = encoding.decode(resp.read(), Code.BAD_REQUEST)
        if resp.status != 200:
            raise BaychainError(_code(doc.get("code")), doc.get("message", f"the peer answered HTTP {resp.status}"))
        return doc


def _code(number: Any) -> Code:
    try:
        return Code(number)
    except ValueError:
        return Code.INTERNAL


def _load_signer(path: Path, passphrase: str) -> Key:
    try:
        return Key.load(path, passphrase)
    except BaychainError as exc:
        raise BaychainError(Code.VAULT_LOCKED, f"cannot open the gateway's signing key: {exc.message}") from None

