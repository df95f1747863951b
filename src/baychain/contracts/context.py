"""The context a contract method runs in: caller, block, storage and events.

Storage is a key-value space private to each contract (keys are strings, values are
canonical values). Writes go to a per-transaction overlay that the application merges
into the block only if the method returns normally, so a failed call changes nothing.
Reads see the transaction's own writes first, then the block's, then committed state.
Compute is counted from storage operations, identically on every node.

A method sees who it acts for (`sender`, and from the certificate binding its
`organisation`, `jurisdiction` and `role`), reads governance parameters (`param`),
raises regulator alerts (`alert`: kept even when the call then fails, so an attempted
double spend is on record), and calls other contracts (`call`): the callee's writes
join the caller's only if it returns normally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from baychain import encoding
from baychain.app.types import Event
from baychain.errors import BaychainError, Code

if TYPE_CHECKING:
    from baychain.contracts.base import Contract, Method

Reader = Callable[[bytes], "bytes | None"]
Resolver = Callable[[str, str], "tuple[Contract, Method]"]  # raises UNKNOWN_CONTRACT / UNKNOWN_METHOD

COST_BASE = 1_000
COST_READ = 100
COST_WRITE = 500
MAX_WRITES_PER_TX = 256
MAX_EVENTS_PER_TX = 64
MAX_VALUE_BYTES = 16_384
MAX_STATE_KEY_BYTES = 256  # well inside the state store's 511-byte limit, with room for the namespace
MAX_CALL_DEPTH = 8
GOVERNANCE = "contract:governance"  # the sender a governed method sees: a passed proposal is executing
PARAM_PREFIX = "param/"  # governance parameters: c/governance/param/<name>
END_OF_TIME = 1 << 64  # a block time no block reaches: the end of a verdict that holds at any time


class Caller(NamedTuple):
    """Who a transaction acts for: the account and, from its certificate binding, the
    organisation, jurisdiction (GD, HK, MO) and role. Empty strings for a key that is
    bound to no certificate (a chain without identity.required). Immutable, and made
    for every transaction a node admits: a named tuple is made in a quarter of the time
    of a frozen dataclass."""

    account: str
    organisation: str = ""
    jurisdiction: str = ""
    role: str = ""


def contract_key(contract: str, key: str) -> bytes:
    """The state key of a contract's storage entry."""
    return f"c/{contract}/{key}".encode()


class Context:
    """Everything a contract method may touch. Nothing else is reachable from it."""

    __slots__ = ("contract", "sender", "signer", "organisation", "jurisdiction", "role", "height", "time_ns",
                 "tx_hash", "_read", "writes", "events", "alerts", "compute", "readonly", "depth", "proposal", "_resolve")

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
        caller: Caller | None = None,
        resolve: Resolver | None = None,
        depth: int = 0,
        proposal: int = 0,
    ) -> None:
        self.contract = contract
        self.sender = sender  # the account the transaction acts for (after a key rotation: the account, not the key)
        self.signer = signer or sender  # the address of the key that signed the transaction
        if caller is None:
            self.organisation = self.jurisdiction = self.role = ""
        else:
            self.organisation, self.jurisdiction, self.role = caller.organisation, caller.jurisdiction, caller.role
        self.height = height
        self.time_ns = time_ns
        self.tx_hash = tx_hash
        self.readonly = readonly
        self.depth = depth
        self.proposal = proposal  # the executing proposal's id inside a governed call; 0 otherwise
        self._read = read
        self._resolve = resolve
        self.writes: dict[bytes, bytes | None] = {}
        self.events: list[Event] = []
        self.alerts: list[Event] = []
        self.compute = COST_BASE

    def get(self, key: str, default: Any = None) -> Any:
        """Read a value of this contract's storage."""
        self.compute += COST_READ
        skey = f"c/{self.contract}/{key}".encode()  # contract_key, inlined: every storage call runs this
        writes = self.writes
        raw = writes[skey] if skey in writes else self._read(skey)
        if raw is None:
            return default
        return encoding.decode(raw, Code.INTERNAL)  # written by put() through encoding.encode: canonical

    def has(self, key: str) -> bool:
        self.compute += COST_READ
        skey = f"c/{self.contract}/{key}".encode()
        writes = self.writes
        raw = writes[skey] if skey in writes else self._read(skey)
        return raw is not None

    def put(self, key: str, value: Any) -> None:
        """Write a value; visible to later reads in this transaction at once."""
        raw = encoding.encode(value)
        if len(raw) > MAX_VALUE_BYTES:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"a stored value may be at most {MAX_VALUE_BYTES} bytes")
        skey = f"c/{self.contract}/{key}".encode()
        writes = self.writes
        if len(skey) > MAX_STATE_KEY_BYTES or self.readonly or len(writes) >= MAX_WRITES_PER_TX:
            self._write(skey, raw)  # checks each in turn and names the problem
            return
        self.compute += COST_WRITE  # _write's common case, inlined: every storage write runs this
        writes[skey] = raw

    def delete(self, key: str) -> None:
        self._write(f"c/{self.contract}/{key}".encode(), None)

    def emit(self, event_type: str, **attributes: Any) -> None:
        """Record an event, indexed by `<contract>.<event_type>` and by each attribute
        (its text: bytes as hex, anything else as `str`)."""
        self.add_event(event_type, [(k, v.hex() if type(v) is bytes else str(v)) for k, v in attributes.items()])

    def add_event(self, event_type: str, attributes: list[tuple[str, str]]) -> None:
        """Record an event whose attributes are texts already (emit's second half)."""
        if len(self.events) >= MAX_EVENTS_PER_TX:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"at most {MAX_EVENTS_PER_TX} events per transaction")
        self.events.append(Event(f"{self.contract}.{event_type}", attributes))

    def alert(self, kind: str, **attributes: Any) -> None:
        """Raise a regulator alert (`<contract>.alert`, attribute `kind` first). Unlike an
        event it is kept when the call then fails: the refused attempt is what matters."""
        if self.readonly:
            return
        if len(self.alerts) >= MAX_EVENTS_PER_TX:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"at most {MAX_EVENTS_PER_TX} alerts per transaction")
        attrs = [("kind", kind)] + [(k, v.hex() if type(v) is bytes else str(v)) for k, v in attributes.items()]
        self.alerts.append(Event(f"{self.contract}.alert", attrs))

    def param(self, name: str, default: Any = None) -> Any:
        """A governance parameter (set only by a passed proposal), or `default` if never set."""
        self.compute += COST_READ
        skey = contract_key("governance", PARAM_PREFIX + name)
        raw = self.writes[skey] if skey in self.writes else self._read(skey)
        return default if raw is None else encoding.decode(raw, Code.INTERNAL)

    def method_of(self, contract: str, method: str) -> "Method":
        """Another contract's method (or view), to check a call before making it."""
        if self._resolve is None:
            raise BaychainError(Code.NOT_AUTHORIZED, "contract calls are not available here")
        return self._resolve(contract, method)[1]

    def call(self, contract: str, method: str, /, **args: Any) -> Any:
        """Call another contract's method; it sees `sender == "contract:<this contract>"`.

        Atomic: the callee's writes and events join this call's only if it returns
        normally; if it raises, they are dropped and the error propagates (its alerts
        and compute are kept). Views may be called from anywhere, governed methods only
        by the governance contract."""
        if self._resolve is None:
            raise BaychainError(Code.NOT_AUTHORIZED, "contract calls are not available here")
        if self.depth + 1 >= MAX_CALL_DEPTH:
            raise BaychainError(Code.CALL_DEPTH_EXCEEDED, f"contract calls nest at most {MAX_CALL_DEPTH} deep")
        target, m = self._resolve(contract, method)
        if m.governed and self.sender != GOVERNANCE and self.contract != "governance":
            raise BaychainError(Code.GOVERNED_METHOD, f"{contract}.{method} runs only as an action of a passed proposal")
        kwargs = m.check_args(args)
        parent_writes, parent_read = self.writes, self._read

        def read(key: bytes) -> bytes | None:
            return parent_writes[key] if key in parent_writes else parent_read(key)

        child = Context(read, contract=contract, sender=f"contract:{self.contract}", height=self.height,
                        time_ns=self.time_ns, tx_hash=self.tx_hash, readonly=self.readonly or m.is_view,
                        signer=self.signer, resolve=self._resolve, depth=self.depth + 1, proposal=self.proposal)
        try:
            value = m.func(target, child, **kwargs)
        finally:
            self.compute += child.compute
            self.alerts.extend(child.alerts)
        if len(self.writes) + sum(1 for k in child.writes if k not in self.writes) > MAX_WRITES_PER_TX:
            raise BaychainError(Code.LIMIT_EXCEEDED, f"at most {MAX_WRITES_PER_TX} writes per transaction")
        self.writes.update(child.writes)
        self.events.extend(child.events)
        return value

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
