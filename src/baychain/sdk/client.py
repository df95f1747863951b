"""The node client: talk to a baychain node's HTTP API, sign transactions, check proofs.

    from baychain.sdk import Client, Key

    key = Key.generate()
    with Client("http://127.0.0.1:8545") as client:
        receipt = client.call(key, "points", "create", {"symbol": "GBA", "title": "Bay points"})
        balance = client.get_contract_value("points", f"bal/GBA/{key.address}")  # proof-checked

Every error the node reports ({code, error, message}) is raised as a `BaychainError`
with the same stable code the API and the CLI show. Reads of state with `get_state` or
`get_contract_value` do not trust the node's answer: the Merkle proof is checked
against the app hash of the block at that height, and any disagreement raises
PROOF_INVALID.

With a light client (`Client(url, light=LightClient(...))`, see
baychain.network.light) the app hash itself is not taken from the node either: it
comes from the next block's header, checked against the validators' signatures, so a
proof-checked read trusts no single node at all.

Nonces are tracked per signer inside the client: the first call asks the node for
the account's next nonce, later calls count locally, and a nonce rejection makes the
client ask again (once, automatically). One client used from several threads
serializes its calls.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import quote
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from baychain import encoding
from baychain import transactions as txs
from baychain.contracts.context import contract_key
from baychain.errors import BaychainError, Code
from baychain.sdk.keys import Key
from baychain.state.proofs import Proof, verify_proof

DEFAULT_NODE = "http://127.0.0.1:8545"
DEFAULT_EXPIRY_BLOCKS = 100
MAX_WAIT = 120.0  # the API's upper bound on a commit wait

# No stable code names "node unreachable" yet; use one if errors.py gains it.
UNREACHABLE = Code.__members__.get("UNAVAILABLE", Code.INTERNAL)
_NONCE_CODES = (Code.NONCE_REPLAYED, Code.NONCE_GAP)


@dataclass(frozen=True)
class Receipt:
    """The outcome of a transaction. `height` is 0 while it is still pending."""

    hash: str
    status: str  # "committed" or "pending"
    code: int = 0
    error: str | None = None
    log: str = ""
    height: int = 0
    index: int = 0
    data: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)
    compute_used: int = 0

    @property
    def ok(self) -> bool:
        return self.code == 0

    @classmethod
    def from_json(cls, doc: dict[str, Any], status: str = "committed") -> Receipt:
        return cls(
            hash=doc["hash"], status=doc.get("status", status), code=doc.get("code", 0), error=doc.get("error"),
            log=doc.get("log", ""), height=doc.get("height", 0), index=doc.get("index", 0), data=doc.get("data"),
            events=doc.get("events", []), compute_used=doc.get("compute_used", 0),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash, "status": self.status, "code": self.code, "error": self.error, "log": self.log,
            "height": self.height, "index": self.index, "data": self.data, "events": self.events,
            "compute_used": self.compute_used,
        }


class TransactionFailed(BaychainError):
    """A committed transaction whose contract call failed; its receipt says why."""

    def __init__(self, receipt: Receipt) -> None:
        super().__init__(_code(receipt.code), receipt.log or "transaction failed")
        self.receipt = receipt


@dataclass(frozen=True)
class ProvenState:
    """A state entry (or its absence) proved against a block's app hash."""

    key: bytes
    value: bytes | None  # raw canonical bytes; None = proven absent
    height: int
    app_hash: bytes
    proof: Proof

    @property
    def exists(self) -> bool:
        return self.value is not None

    def decoded(self) -> Any:
        return None if self.value is None else encoding.decode(self.value, Code.PROOF_INVALID)


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event: `event` is "block", "block_event", "tx_event" or "overflow"."""

    event: str
    data: dict[str, Any]


class Client:
    """A synchronous client of one node's HTTP API."""

    def __init__(
        self,
        base_url: str = DEFAULT_NODE,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        light: Any = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.light = light
        """A `LightClient`: when set, proof-checked reads verify the app hash through
        validator signatures instead of taking it from this node (see prove_state)."""
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        self._chain_id: str | None = None
        self._nonces: dict[str, int] = {}
        self._lock = threading.RLock()
        self._interfaces: dict[str, dict[str, Any]] | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------

    def request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> Any:
        """One API request; returns the JSON body or raises BaychainError with the node's code."""
        try:
            resp = self._http.request(method, path, timeout=timeout if timeout is not None else self.timeout, **kwargs)
        except httpx.TimeoutException:
            raise BaychainError(Code.TIMEOUT, f"the node at {self.base_url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise BaychainError(UNREACHABLE, f"cannot reach the node at {self.base_url}: {exc or type(exc).__name__}") from None
        return _body(resp)

    # -- chain ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Chain id, height, app hash, mempool size, engine and version."""
        status = self.request("GET", "/v1/status")
        self._chain_id = status.get("chain_id") or self._chain_id
        return status

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self.status()
        if not self._chain_id:
            raise BaychainError(Code.INTERNAL, "the node reports no chain id")
        return self._chain_id

    def height(self) -> int:
        return int(self.status()["height"])

    def block(self, height: int | str = "latest") -> dict[str, Any]:
        """A committed block (hashes as hex); `height` may be "latest"."""
        if height != "latest" and (type(height) is not int or height < 0):
            raise BaychainError(Code.BAD_REQUEST, f"block height must be a non-negative integer or 'latest', not {height!r}")
        return self.request("GET", f"/v1/blocks/{height}")

    def tx(self, tx_hash: str | bytes) -> dict[str, Any]:
        """A committed transaction: raw bytes, decoded fields and receipt."""
        return self.request("GET", f"/v1/txs/{_seg(_hexstr(tx_hash))}")

    def receipt(self, tx_hash: str | bytes) -> Receipt:
        return Receipt.from_json(self.request("GET", f"/v1/txs/{_seg(_hexstr(tx_hash))}/receipt"))

    def wait_for_receipt(self, tx_hash: str | bytes, timeout: float = 10.0, poll: float = 0.05) -> Receipt:
        """Poll until a submitted transaction is committed; TIMEOUT if it is not in time."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.receipt(tx_hash)
            except BaychainError as exc:
                if exc.code != Code.NOT_FOUND:
                    raise
            if time.monotonic() >= deadline:
                raise BaychainError(Code.TIMEOUT, f"transaction {_hexstr(tx_hash)} not committed within {timeout} s")
            time.sleep(poll)

    def account(self, address: str) -> dict[str, Any]:
        """An account's next nonce and registered profile."""
        return self.request("GET", f"/v1/accounts/{_seg(address)}")

    def next_nonce(self, address: str) -> int:
        """The next nonce the chain expects from `address` (committed state)."""
        return int(self.account(address)["nonce"])

    def contracts(self) -> list[dict[str, Any]]:
        """Every contract's interface: methods, views, parameter names and types."""
        contracts = self.request("GET", "/v1/contracts")["contracts"]
        self._interfaces = {c["name"]: c for c in contracts}
        return contracts

    def method_interface(self, contract: str, method: str) -> dict[str, Any] | None:
        """The interface of one method (None if the node lists no such method)."""
        if self._interfaces is None:
            self.contracts()
        assert self._interfaces is not None
        for m in self._interfaces.get(contract, {}).get("methods", []):
            if m["name"] == method:
                return m
        return None

    def search_events(
        self, type: str, attr: str | None = None, value: str | None = None, *, from_height: int = 0, limit: int = 100
    ) -> list[Receipt]:
        """Receipts of committed transactions that emitted an event (optionally with attr=value)."""
        params: dict[str, Any] = {"type": type, "from_height": from_height, "limit": limit}
        if attr is not None or value is not None:
            params.update(attr=attr, value=value)
        return [Receipt.from_json(r) for r in self.request("GET", "/v1/events", params=params)["txs"]]

    def txs_by_signer(self, address: str, *, from_height: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Committed transactions signed by an account, oldest first."""
        params = {"signer": address, "from_height": from_height, "limit": limit}
        return self.request("GET", "/v1/txs", params=params)["txs"]

    def stream_events(self, type: str | None = None, *, read_timeout: float = 60.0) -> Iterator[StreamEvent]:
        """Follow the node's server-sent event stream: a "block" per commit, a
        "block_event" per event of the block itself (evidence of a validator's
        misbehaviour it commits) and a "tx_event" per transaction event (events only of
        `type`, if given). Close the
        generator to hang up; an "overflow" event means the node dropped a slow reader."""
        params = {"type": type} if type else {}
        timeout = httpx.Timeout(self.timeout, read=read_timeout)
        try:
            with self._http.stream("GET", "/v1/events/stream", params=params, timeout=timeout) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    _body(resp)
                event, data = "message", []
                for line in resp.iter_lines():
                    if line == "":
                        if data:
                            yield StreamEvent(event, json.loads("\n".join(data)))
                        event, data = "message", []
                    elif line.startswith(":"):
                        continue
                    else:
                        name, _, val = line.partition(":")
                        val = val[1:] if val.startswith(" ") else val
                        if name == "event":
                            event = val
                        elif name == "data":
                            data.append(val)
        except httpx.TimeoutException:
            raise BaychainError(Code.TIMEOUT, f"the event stream of {self.base_url} went silent") from None
        except httpx.TransportError as exc:
            raise BaychainError(UNREACHABLE, f"cannot reach the node at {self.base_url}: {exc or type(exc).__name__}") from None

    # -- transactions ----------------------------------------------------------------------

    def build_tx(
        self,
        key: Key,
        contract: str,
        method: str,
        args: dict[str, Any] | None = None,
        *,
        nonce: int,
        expiry_height: int | None = None,
        expiry_blocks: int = DEFAULT_EXPIRY_BLOCKS,
        chain_id: str | None = None,
    ) -> txs.Transaction:
        """Build and sign a transaction (nothing is sent). Expiry defaults to the
        chain's height plus `expiry_blocks`."""
        if expiry_height is None:
            expiry_height = self.height() + expiry_blocks
        tx = txs.build(
            chain_id=chain_id if chain_id is not None else self.chain_id,
            suite=key.suite.suite_id,
            signer=key.public_key,
            nonce=nonce,
            expiry_height=expiry_height,
            contract=contract,
            method=method,
            args=dict(args or {}),
        )
        return txs.sign(tx, key.private_key)

    def submit(self, raw: bytes, *, wait: bool = False, timeout: float = 10.0) -> Receipt:
        """Submit signed transaction bytes. With `wait`, return once committed (the
        receipt may still carry a contract's failure code); otherwise a pending receipt."""
        if not 0 < timeout <= MAX_WAIT:
            raise BaychainError(Code.BAD_REQUEST, f"timeout must be in (0, {MAX_WAIT}] seconds")
        body = {"tx": bytes(raw).hex(), "wait": wait, "timeout": timeout}
        doc = self.request("POST", "/v1/txs", json=body, timeout=self.timeout + (timeout if wait else 0))
        return Receipt.from_json(doc, status="committed" if wait else "pending")

    def submit_batch(self, raws: list[bytes]) -> list[dict[str, Any]]:
        """Submit many transactions at once; one {hash, code, error, message} each (no waiting)."""
        return self.request("POST", "/v1/txs/batch", json={"txs": [bytes(r).hex() for r in raws]})["results"]

    def call(
        self,
        key: Key,
        contract: str,
        method: str,
        args: dict[str, Any] | None = None,
        *,
        wait: bool = True,
        nonce: int | None = None,
        expiry_blocks: int = DEFAULT_EXPIRY_BLOCKS,
        timeout: float = 10.0,
        check: bool = True,
    ) -> Receipt:
        """Build, sign and submit a contract call; with `wait`, return its committed receipt.

        The nonce comes from the client's tracker unless given. With `check`, a
        committed but failed call raises TransactionFailed (a BaychainError with the
        receipt's code); with check=False its receipt is returned.
        """
        with self._lock:
            auto = nonce is None
            for attempt in (0, 1):
                n = self._nonces.get(key.address) if auto else nonce
                fetched = n is None
                if n is None:
                    n = self.next_nonce(key.address)
                tx = self.build_tx(key, contract, method, args, nonce=n, expiry_blocks=expiry_blocks)
                try:
                    receipt = self.submit(tx.raw, wait=wait, timeout=timeout)
                except BaychainError as exc:
                    if exc.code == Code.TIMEOUT:  # admitted; the nonce is taken
                        self._nonces[key.address] = n + 1
                    elif exc.code in _NONCE_CODES or exc.code in (Code.DUPLICATE_TX, UNREACHABLE):
                        self._nonces.pop(key.address, None)
                        if auto and not fetched and attempt == 0 and exc.code in _NONCE_CODES:
                            continue  # our count was stale (e.g. the node restarted): ask again once
                    raise
                self._nonces[key.address] = n + 1
                break
        if check and not receipt.ok:
            raise TransactionFailed(receipt)
        return receipt

    def forget_nonce(self, address: str) -> None:
        """Drop the locally tracked nonce of an account (the next call asks the node)."""
        with self._lock:
            self._nonces.pop(address, None)

    # -- reads -------------------------------------------------------------------------------

    def view(self, contract: str, method: str, args: dict[str, Any] | None = None, *, height: int = 0) -> Any:
        """Call a read-only contract view (bytes come back as hex strings). Not proof-checked."""
        body = {"args": jsonable(dict(args or {})), "height": height}
        return self.request("POST", f"/v1/contracts/{_seg(contract)}/{_seg(method)}/query", json=body)["value"]

    def get_state_unverified(self, key: bytes, *, height: int = 0, prove: bool = False) -> dict[str, Any]:
        """The node's raw answer for a state key (hex fields), trusting the node."""
        params: dict[str, Any] = {"height": height}
        if prove:
            params["prove"] = "true"
        return self.request("GET", f"/v1/state/{bytes(key).hex()}", params=params)

    def prove_state(
        self, key: bytes, *, height: int = 0, app_hash: bytes | None = None, light: Any = None
    ) -> ProvenState:
        """Read a state key with its Merkle proof and check it.

        The proof is verified against `app_hash` if given (a root you trust); else, with
        a light client (`light`, or the client's own), against the app hash in the header
        of the next height, accepted only if validators with more than 2/3 of the power
        signed it (baychain.network.light; waits for that block if needed) — so no node
        needs to be trusted; else against the app hash of the block at the answer's height
        as this node reports it. Anything that disagrees raises PROOF_INVALID.
        """
        key = bytes(key)
        light = light if light is not None else self.light
        if app_hash is not None and light is not None and light is not self.light:
            raise BaychainError(Code.BAD_REQUEST, "give either app_hash or light, not both")
        resp = self.get_state_unverified(key, height=height, prove=True)
        try:
            answered_height = resp["height"]
            if type(answered_height) is not int or (height and answered_height != height):
                raise _proof_error(f"asked for height {height}, the node answered for {answered_height!r}")
            if resp["key"] != key.hex():
                raise _proof_error("the node answered for a different key")
            proof = Proof.from_bytes(bytes.fromhex(resp["proof"]))
            claimed = None if not resp["exists"] else bytes.fromhex(resp["value"])
        except (KeyError, TypeError, ValueError):
            raise _proof_error("the node's state answer is malformed") from None
        if app_hash is None and light is not None:
            if answered_height < 1:
                raise BaychainError(Code.HEIGHT_UNAVAILABLE, "no block is committed yet, so there is no app hash to verify against")
            app_hash = light.verified_app_hash(answered_height, wait=max(self.timeout, 10.0))
        elif app_hash is None:
            if answered_height < 1:
                raise BaychainError(Code.HEIGHT_UNAVAILABLE, "no block is committed yet, so there is no app hash to verify against")
            block = self.block(answered_height)
            try:
                if block["height"] != answered_height:
                    raise _proof_error(f"asked for block {answered_height}, got block {block['height']!r}")
                app_hash = bytes.fromhex(block["app_hash"])
            except (KeyError, TypeError, ValueError):
                raise _proof_error("the node's block answer is malformed") from None
        if proof.key != key:
            raise _proof_error("the proof is for a different key")
        if proof.value != claimed:
            raise _proof_error("the proof's value differs from the value the node reported")
        if not verify_proof(app_hash, proof):
            raise _proof_error(f"the proof does not verify against app hash {app_hash.hex()} of block {answered_height}")
        if claimed is not None and "decoded" in resp:
            try:
                decoded = jsonable(encoding.decode(claimed, Code.PROOF_INVALID))
            except BaychainError:
                decoded = None
            if decoded != resp["decoded"]:
                raise _proof_error("the node's decoded value differs from the proven bytes")
        return ProvenState(key, claimed, answered_height, app_hash, proof)

    def get_state(self, key: bytes, height: int = 0, *, app_hash: bytes | None = None, light: Any = None) -> bytes | None:
        """A state value's raw bytes, proof-checked; None when the key is proven absent."""
        return self.prove_state(key, height=height, app_hash=app_hash, light=light).value

    def get_contract_value(
        self, contract: str, key: str, height: int = 0, *, app_hash: bytes | None = None, light: Any = None
    ) -> Any:
        """A contract storage value, decoded and proof-checked; None when proven absent."""
        proven = self.prove_state(contract_key(contract, key), height=height, app_hash=app_hash, light=light)
        return proven.decoded()

    # -- built-in contracts ---------------------------------------------------------------------

    def notarize(self, key: Key, digest: bytes, metadata: dict[str, Any] | None = None, **kwargs: Any) -> Receipt:
        """Anchor a 32-byte document digest (e.g. SHA-256 of a file) with metadata."""
        return self.call(key, "notary", "notarize", {"digest": bytes(digest), "metadata": dict(metadata or {})}, **kwargs)

    def verify_notarization(self, digest: bytes, height: int = 0) -> dict[str, Any] | None:
        """The notarization record of a digest, proof-checked; None when proven absent."""
        from baychain.runtime.contracts import notary_record_key as record_key

        record = self.get_contract_value("notary", record_key(bytes(digest)), height)
        if record is not None and record.get("digest") != bytes(digest):
            raise _proof_error("the proven record is for a different digest")
        return record

    def points_balance(self, symbol: str, address: str, height: int = 0) -> int:
        """An account's points balance, proof-checked (0 when it holds none)."""
        value = self.get_contract_value("points", f"bal/{symbol}/{address}", height)
        return 0 if value is None else value


def jsonable(value: Any) -> Any:
    """A canonical value as the API's JSON shows it: bytes become hex, recursively."""
    kind = type(value)
    if kind is bytes or kind is bytearray:
        return bytes(value).hex()
    if kind is list or kind is tuple:
        return [jsonable(v) for v in value]
    if kind is dict:
        return {k: jsonable(v) for k, v in value.items()}
    return value


def _code(number: Any) -> Code:
    try:
        return Code(int(number))
    except (TypeError, ValueError):
        return Code.INTERNAL


def _body(resp: httpx.Response) -> Any:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if resp.status_code < 400:
        if doc is None:
            raise BaychainError(Code.INTERNAL, f"the node sent a non-JSON answer (HTTP {resp.status_code})")
        return doc
    if isinstance(doc, dict) and "code" in doc:
        code = _code(doc["code"])
        message = str(doc.get("message", ""))
        if code.name != doc.get("error", code.name):
            message = f"{doc.get('error')} (code {doc['code']}): {message}"
        raise BaychainError(code, message)
    raise BaychainError(Code.INTERNAL, f"HTTP {resp.status_code} from the node: {resp.text[:200]}")


def _seg(value: str) -> str:
    """One URL path segment: nothing in a name can reach another endpoint."""
    return quote(str(value), safe="")


def _hexstr(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return value.removeprefix("0x")


def _proof_error(message: str) -> BaychainError:
    return BaychainError(Code.PROOF_INVALID, message)
