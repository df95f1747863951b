"""The application's interface, shaped after ABCI 2.0 but in plain Python.

Both engines drive the application through exactly these calls and types: the solo
engine calls them in-process, the CometBFT engine translates ABCI protobuf messages
to and from them. The application never learns which engine is driving it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(slots=True)
class Event:
    """A typed event with ordered string attributes (indexed by type and attribute)."""

    type: str
    attributes: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"type": self.type, "attributes": {k: v for k, v in self.attributes}}


@dataclass(slots=True)
class TxResult:
    """Outcome of check_tx or of one transaction in finalize_block."""

    code: int = 0
    log: str = ""
    data: bytes = b""
    events: list[Event] = field(default_factory=list)
    compute_used: int = 0
    codespace: str = "baychain"

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass(slots=True)
class ValidatorUpdate:
    """A change of voting power; power 0 removes the validator."""

    pub_key_type: str  # "ed25519"
    pub_key: bytes
    power: int


@dataclass(slots=True)
class InitChainRequest:
    chain_id: str
    time_ns: int
    initial_height: int
    validators: list[ValidatorUpdate]
    app_state: bytes  # genesis app_state, canonical JSON bytes


@dataclass(slots=True)
class InitChainResult:
    validators: list[ValidatorUpdate]
    app_hash: bytes


@dataclass(slots=True)
class InfoResult:
    last_height: int
    last_app_hash: bytes
    version: str
    app_version: int = 1


@dataclass(frozen=True, slots=True)
class Misbehavior:
    """Evidence of a validator's fault that the block commits (CometBFT verified it).

    `kind` is "duplicate_vote" (two different votes for one height and round) or
    "light_client_attack" (signatures on a header that conflicts with the chain);
    `validator` is the faulty validator's 20-byte address; `height` and `time_ns` are
    of the block the fault concerns; the powers are those of that height's set."""

    kind: str
    validator: bytes
    power: int
    height: int
    time_ns: int
    total_power: int


@dataclass(slots=True)
class BlockRequest:
    """What finalize_block (and process_proposal) receive about a block."""

    height: int
    time_ns: int
    hash: bytes
    proposer: bytes
    txs: list[bytes]
    misbehavior: list[Misbehavior] = field(default_factory=list)


@dataclass(slots=True)
class FinalizeResult:
    tx_results: list[TxResult]
    events: list[Event]
    validator_updates: list[ValidatorUpdate]
    app_hash: bytes


@dataclass(slots=True)
class CommitResult:
    retain_height: int = 0


@dataclass(slots=True)
class QueryResult:
    code: int = 0
    log: str = ""
    key: bytes = b""
    value: bytes = b""
    proof: bytes = b""  # canonical CBOR of a state proof (see baychain.state.proofs)
    height: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state-sync snapshot as ListSnapshots lists it and OfferSnapshot offers it."""

    height: int
    format: int
    chunks: int
    hash: bytes
    metadata: bytes


class OfferResult(Enum):
    """The answer to an offered snapshot (ABCI's ResponseOfferSnapshot.Result)."""

    ACCEPT = "ACCEPT"
    REJECT = "REJECT"  # not this one; CometBFT offers the next
    REJECT_FORMAT = "REJECT_FORMAT"  # no snapshot of this format


class ApplyResult(Enum):
    """The answer to one applied chunk (ABCI's ResponseApplySnapshotChunk.Result)."""

    ACCEPT = "ACCEPT"
    RETRY = "RETRY"  # fetch the chunks in `refetch` again, not from `reject_senders`
    REJECT_SNAPSHOT = "REJECT_SNAPSHOT"  # the snapshot is bad; CometBFT offers another
    ABORT = "ABORT"  # no restore under way


@dataclass(slots=True)
class ApplyChunkResult:
    result: ApplyResult
    refetch: list[int] = field(default_factory=list)
    reject_senders: list[str] = field(default_factory=list)
