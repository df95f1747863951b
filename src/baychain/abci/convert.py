"""Translation between ABCI protobuf messages and the application's plain types.

The application (baychain.app) speaks dataclasses from `baychain.app.types`; CometBFT
speaks `tendermint.abci` protobuf. This module is the only place that knows both:

- times: `google.protobuf.Timestamp` -> integer nanoseconds since the Unix epoch;
- validator keys: `tendermint.crypto.PublicKey` oneof <-> (pub_key_type, pub_key bytes);
- per-tx results: `TxResult.compute_used` -> `gas_used` and `gas_wanted` (both part of
  the block's LastResultsHash together with code and data, so they must be deterministic);
- events: ordered (key, value) attributes, all marked for indexing;
- query proofs: the application's opaque proof bytes travel as a single `ProofOp`
  of type `PROOF_OP_TYPE`;
- state sync: `Snapshot` as is, the results' enums by name;
- evidence: `Misbehavior` (its type by name: DUPLICATE_VOTE -> "duplicate_vote").
"""

from __future__ import annotations

from collections.abc import Iterable

from baychain.abci.pb import abci_pb, crypto_pb, proof_pb
from baychain.app.types import (
    ApplyChunkResult,
    BlockRequest,
    Event,
    FinalizeResult,
    InfoResult,
    InitChainRequest,
    InitChainResult,
    Misbehavior,
    OfferResult,
    QueryResult,
    Snapshot,
    TxResult,
    ValidatorUpdate,
)

PROOF_OP_TYPE = "baychain/cbor"
"""`ProofOp.type` of a query proof: the data is the canonical CBOR of a state proof."""

_KEY_TYPES = ("ed25519", "secp256k1")


def timestamp_ns(ts) -> int:
    """A protobuf Timestamp as integer nanoseconds (no floats anywhere)."""
    return ts.seconds * 1_000_000_000 + ts.nanos


def validator_update_from_pb(update) -> ValidatorUpdate:
    key_type = update.pub_key.WhichOneof("sum")
    if key_type is None:
        raise ValueError("validator update without a public key")
    return ValidatorUpdate(
        pub_key_type=key_type, pub_key=getattr(update.pub_key, key_type), power=update.power
    )


def validator_update_to_pb(update: ValidatorUpdate):
    if update.pub_key_type not in _KEY_TYPES:
        raise ValueError(
            f"unsupported validator key type {update.pub_key_type!r} (expected one of {_KEY_TYPES})"
        )
    if update.power < 0:
        raise ValueError(f"negative validator power {update.power}")
    return abci_pb.ValidatorUpdate(
        pub_key=crypto_pb.PublicKey(**{update.pub_key_type: update.pub_key}), power=update.power
    )


def _validator_updates_to_pb(updates: Iterable[ValidatorUpdate]) -> list:
    seen: set[tuple[str, bytes]] = set()
    out = []
    for update in updates:
        key = (update.pub_key_type, update.pub_key)
        if key in seen:  # CometBFT halts on duplicates; fail loudly here instead
            raise ValueError(f"duplicate validator update for {update.pub_key.hex()}")
        seen.add(key)
        out.append(validator_update_to_pb(update))
    return out


def init_chain_request_from_pb(req) -> InitChainRequest:
    return InitChainRequest(
        chain_id=req.chain_id,
        time_ns=timestamp_ns(req.time),
        initial_height=req.initial_height,
        validators=[validator_update_from_pb(v) for v in req.validators],
        app_state=req.app_state_bytes,
    )


def init_chain_response(result: InitChainResult):
    return abci_pb.ResponseInitChain(
        validators=_validator_updates_to_pb(result.validators), app_hash=result.app_hash
    )


def info_response(result: InfoResult):
    return abci_pb.ResponseInfo(
        data="baychain",
        version=result.version,
        app_version=result.app_version,
        last_block_height=result.last_height,
        last_block_app_hash=result.last_app_hash,
    )


def block_request_from_pb(req) -> BlockRequest:
    """RequestProcessProposal and RequestFinalizeBlock carry the same block fields."""
    return BlockRequest(
        height=req.height,
        time_ns=timestamp_ns(req.time),
        hash=req.hash,
        proposer=req.proposer_address,
        txs=list(req.txs),
        misbehavior=[misbehavior_from_pb(m) for m in req.misbehavior],
    )


_MISBEHAVIOR_KINDS = {abci_pb.DUPLICATE_VOTE: "duplicate_vote", abci_pb.LIGHT_CLIENT_ATTACK: "light_client_attack"}


def misbehavior_from_pb(m) -> Misbehavior:
    return Misbehavior(
        kind=_MISBEHAVIOR_KINDS.get(m.type, "unknown"),
        validator=m.validator.address,
        power=m.validator.power,
        height=m.height,
        time_ns=timestamp_ns(m.time),
        total_power=m.total_voting_power,
    )


def _set_tx_result(message, result: TxResult, events: bool = True):
    """Fill the fields CheckTx and ExecTxResult share (code, data and gas enter the
    results hash; events only with `events`); fields left at their zero value are not
    set at all."""
    if result.code:
        message.code = result.code
        message.codespace = result.codespace
    if result.data:
        message.data = result.data
    if result.log:
        message.log = result.log
    if result.compute_used:
        message.gas_wanted = message.gas_used = result.compute_used
    if events:
        _add_events(message.events, result.events)
    return message


def _add_events(repeated, events: Iterable[Event]) -> None:
    """Write events into a message's repeated `events` field in place (`add()` is ~3x
    cheaper than building Event messages and copying them in)."""
    for event in events:
        add_attribute = repeated.add(type=event.type).attributes.add
        for key, value in event.attributes:
            add_attribute(key=key, value=value, index=True)


def check_tx_response(result: TxResult, events: bool = True):
    return _set_tx_result(abci_pb.ResponseCheckTx(), result, events)


def finalize_block_response(result: FinalizeResult, tx_count: int, events: bool = True):
    """The block's results, written into the response in place (~3 us per transaction;
    building each ExecTxResult first and copying it in cost ~10). Without `events`, the
    block's and the transactions' events are left out (they are not hashed)."""
    if len(result.tx_results) != tx_count:
        raise ValueError(
            f"finalize_block returned {len(result.tx_results)} tx results for {tx_count} txs"
        )
    response = abci_pb.ResponseFinalizeBlock(
        validator_updates=_validator_updates_to_pb(result.validator_updates),
        app_hash=result.app_hash,
    )
    add_result = response.tx_results.add
    if events:
        _add_events(response.events, result.events)
    for r in result.tx_results:
        _set_tx_result(add_result(), r, events)
    return response


def query_response(result: QueryResult):
    response = abci_pb.ResponseQuery(
        code=result.code,
        log=result.log,
        key=result.key,
        value=result.value,
        height=result.height,
        codespace="baychain" if result.code else "",
    )
    if result.proof:
        response.proof_ops.CopyFrom(
            proof_pb.ProofOps(
                ops=[proof_pb.ProofOp(type=PROOF_OP_TYPE, key=result.key, data=result.proof)]
            )
        )
    return response


def snapshot_from_pb(snapshot) -> Snapshot:
    return Snapshot(snapshot.height, snapshot.format, snapshot.chunks, bytes(snapshot.hash), bytes(snapshot.metadata))


def list_snapshots_response(snapshots: Iterable[Snapshot]):
    return abci_pb.ResponseListSnapshots(snapshots=[
        abci_pb.Snapshot(height=s.height, format=s.format, chunks=s.chunks, hash=s.hash, metadata=s.metadata)
        for s in snapshots
    ])


def offer_snapshot_response(result: OfferResult):
    return abci_pb.ResponseOfferSnapshot(result=getattr(abci_pb.ResponseOfferSnapshot, result.value))


def apply_snapshot_chunk_response(result: ApplyChunkResult):
    return abci_pb.ResponseApplySnapshotChunk(
        result=getattr(abci_pb.ResponseApplySnapshotChunk, result.result.value),
        refetch_chunks=result.refetch,
        reject_senders=result.reject_senders,
    )
