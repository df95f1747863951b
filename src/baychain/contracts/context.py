"""The context a contract method runs in: caller, block, storage and events.

Storage is a key-value space private to each contract (keys are strings, values are
canonical values). Writes go to a per-transaction overlay that the application merges
into the block only if the method returns normally, so a failed call changes nothing.
Reads see the transaction's own writes first, then the block's, then committed state.
Compute is counted from storage operations, identically on every node.
"""

from __future__ import annotations

from typing import Any, Callable

import cbor2

from baychain import encoding
from baychain.app.types import Event
from baychain.errors import BaychainError, Code

Reader = Callable[[bytes], "bytes | None"]

COST_BASE = 1_000
COST_READ = 100
COST_WRITE = 500
MAX_WRITES_PER_TX = 256
MAX_EVENTS_PER_TX = 64
MAX_VALUE_BYTES = 16_384
MAX_STATE_KEY_BYTES = 256  # well inside the state store's 511-byte limit, with room for the namespace


def contract_key(contract: str, key: str) -> bytes:
    """The state key of a contract's storage entry."""
    return f"c/{contract}/{key}".encode()


class Context:
    """Everything a contract method may touch. Nothing else is reachable from it."""

    __slots__ = ("contract", "sender", "signer", "height", "time_ns", "tx_hash", "_read", "writes", "events", "compute", "readonly")

    def __init__(
        self,
        read: Reader,
        *,
        contract: str,
        sender: str,
        height: int,
        time_ns: int,
        tx_hash: bytes = b"",
        readonly: bool = False,
        signer: str = "",
    ) -> None:
        self.contract = contract
        self.sender = sender  # the account the transaction acts for (after a key rotation: the account, not the key)
        self.signer = signer or sender  # the address of the key that signed the transaction
        self.height = height
        self.time_ns = time_ns
        self.tx_hash = tx_hash
        self.readonly = readonly
        self._read = read
        self.writes: dict[bytes, bytes | None] = {}
        self.events: list[Event] = []
        self.compute = COST_BASE

    def get(self, key: str, default: Any = None) -> Any:
        """Read a value of this contract's storage."""
        self.compute += COST_READ
        skey = contract_key(self.contract, key)
        raw = self.writes[skey] if skey in self.writes else self._read(skey)
        if raw is None:
            return default
        return cbor2.loads(raw)  # written by put() through encoding.encode: canonical already

    def has(self, key: str) -> bool:
        self.compute += COST_READ
        skey = contract_key(self.contract, key)
        raw = self.writes[skey] if skey in self.writes else self._read(skey)
        return raw is not None

    def put(self, key: str, value: Any) -> None:
        """Write a value; visible to later reads in this transaction at once."""
        raw = encoding.encode(value)
        if len(raw) > MAX_VALUE_BYTES:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"a stored value may be at most {MAX_VALUE_BYTES} bytes")
        self._write(contract_key(self.contract, key), raw)

    def delete(self, key: str) -> None:
        self._write(contract_key(self.contract, key), None)

    def emit(self, event_type: str, **attributes: Any) -> None:
        """Record an event, indexed by `<contract>.<event_type>` and by each attribute."""
        if len(self.events) >= MAX_EVENTS_PER_TX:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"at most {MAX_EVENTS_PER_TX} events per transaction")
        attrs = [(k, v.hex() if type(v) is bytes else str(v)) for k, v in attributes.items()]
        self.events.append(Event(f"{self.contract}.{event_type}", attrs))

    def require(self, condition: bool, code: Code, message: str) -> None:
        """Abort the call (and every write it made) unless `condition` holds."""
        if not condition:
            raise BaychainError(code, message)

    def _write(self, skey: bytes, raw: bytes | None) -> None:
        if len(skey) > MAX_STATE_KEY_BYTES:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"a storage key may be at most {MAX_STATE_KEY_BYTES} bytes")
        if self.readonly:
            raise BaychainError(Code.NOT_AUTHORIZED, "views cannot write state")
        if len(self.writes) >= MAX_WRITES_PER_TX and skey not in self.writes:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"at most {MAX_WRITES_PER_TX} writes per transaction")
        self.compute += COST_WRITE
        self.writes[skey] = raw
