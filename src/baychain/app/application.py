"""The application: baychain's deterministic state machine.

Engines drive it through the ABCI-shaped calls in `baychain.app.types`:

    info            last committed height and app hash (the restart handshake)
    init_chain      genesis: chain id and initial state (kept pending until block 1)
    check_tx        admission to the mempool: decode, chain id, expiry, signature,
                    nonce against the mempool's view, contract/method/argument types
    prepare/process_proposal   block assembly and its deterministic acceptance
    finalize_block  execute a block: per-transaction results and the new app hash
    commit          persist the block, its receipts and the new state atomically
    query           state with Merkle proofs, read-only contract views
    list_snapshots, load_snapshot_chunk    state-sync snapshots this node serves
    offer_snapshot, apply_snapshot_chunk   restore a new node from a peer's snapshot

State changes only in finalize_block, from the block's contents and header time,
and becomes durable only in commit. A transaction that fails before execution
(bad signature, wrong chain, expired, wrong nonce) changes nothing; one that fails
inside its contract keeps none of its writes and only consumes its nonce, so it can
never be replayed.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from dataclasses import dataclass
from operator import methodcaller
from pathlib import Path
from typing import Any, Callable

import cbor2

from baychain import __version__, encoding
from baychain.app.admission import Checker
from baychain.app.standing import Standings, recording
from baychain.app.types import (
    ApplyChunkResult,
    ApplyResult,
    BlockRequest,
    CommitResult,
    FinalizeResult,
    InfoResult,
    InitChainRequest,
    InitChainResult,
    OfferResult,
    QueryResult,
    Snapshot,
    TxResult,
)
from baychain.chain.blockstore import BlockStore, TxRecord
from baychain.chain.snapshots import FORMAT as SNAPSHOT_FORMAT, RESTORE_BATCH_BYTES, Restore, SnapshotError, SnapshotStore
from baychain.contracts.base import Contract, Method
from baychain.contracts.context import Context
from baychain.contracts.system import audit, dataex, governance, identity, network, policy, system_contracts
from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code
from baychain.runtime import contracts as shipped, registry
from baychain.runtime.deployed import DeployedContract, Runtime
from baychain.state.lmdb_env import open_env
from baychain.state.store import StateStore
from baychain.transactions import Transaction

log = logging.getLogger("baychain.app")

KEY_CHAIN_ID = b"sys/chain_id"
KEY_LAST_BLOCK = b"sys/block"
"""[height, time in ns] of the block that made the state: under the app hash, so a state
restored from a snapshot proves its own block time (and a proof can show a state's time)."""
NONCE_PREFIX = b"sys/nonce/"
VERIFIED_CACHE_SIZE = 200_000
NONCES_KEPT = 1_000_000  # committed nonces remembered (see Application._nonce); past it the memo starts afresh
# The node holds ~10^5 long-lived objects (mempool, checked transactions, kept standings)
# and makes a few new ones per transaction; CPython's default policy re-traverses all of
# them in a full collection every time a quarter as many new ones have survived, several
# times a second under load (~45 ms each). Almost all garbage here is freed by reference
# counting, so the middle generation is collected only every 1,000 young collections
# (~700,000 surviving allocations, more than the few blocks a pending transaction's
# objects live: most of them are gone by then, instead of traversed once more), and a
# full collection is considered after each of those (CPython still runs one only when the
# survivors grew the old generation by a quarter).
GC_THRESHOLDS = (700, 1000, 1)

CommitListener = Callable[[dict[str, Any], list[TxRecord]], None]


@dataclass(slots=True)
class _PendingBlock:
    record: dict[str, Any]
    txs: list[TxRecord]
    written: dict[bytes, bytes | None]  # the state changes


class Application:
    """One node's copy of the state machine, persisted in `data_dir`."""

    def __init__(self, data_dir: str | Path, *, keep_versions: int = 100, verify_workers: int = 2,
                 snapshot_interval: int = 0, snapshot_keep: int = 2) -> None:
        """`snapshot_interval`: after every block whose height is a multiple of it, write a
        state-sync snapshot (0: never); the newest `snapshot_keep` are kept and served."""
        if type(snapshot_interval) is not int or snapshot_interval < 0:
            raise ValueError("snapshot_interval must be a whole number of blocks >= 0")
        gc.set_threshold(*GC_THRESHOLDS)  # the node process's collector (see GC_THRESHOLDS)
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        self.env = open_env(path / "chain")
        self._keep_versions = keep_versions
        self._load()
        self._checker = Checker(verify_workers)
        self._listeners: list[CommitListener] = []
        self.snapshot_interval = snapshot_interval
        self.snapshots = SnapshotStore(path / "snapshots", keep=snapshot_keep)
        self._snapshot_thread: threading.Thread | None = None
        self._snapshot_stop = threading.Event()
        self._restore: Restore | None = None
        self.restore_batch_bytes = RESTORE_BATCH_BYTES
        """A restore stages and writes the chunks received in parts of about this size."""

    def _load(self) -> None:
        """Read what the application keeps from its LMDB environment, and start every
        cache afresh (at start, and after a restore that no block built on is erased)."""
        self.state = StateStore(self.env, keep_versions=self._keep_versions)
        self.blocks = BlockStore(self.env)
        if self.state.version and not self.blocks.last_height:  # a restore cut short by a crash
            log.warning("erasing the parts of a state-sync restore that did not finish (state version %d)",
                        self.state.version)
            with self.env.begin(write=True) as txn:
                self.state.erase(txn)
            self.state = StateStore(self.env, keep_versions=self._keep_versions)
        if self.state.version != self.blocks.last_height:
            raise RuntimeError(
                f"state version {self.state.version} differs from block height {self.blocks.last_height}"
            )
        self.contracts: dict[str, Contract] = system_contracts()
        self.runtime = Runtime()  # deployed contracts: code in state, run sandboxed and metered
        for name in shipped.SYSTEM:  # built-in contracts written in the contract language
            self.contracts[name] = self.runtime.load(name, shipped.source(name))
        self.contracts[registry.NAME] = registry.Contracts(self.runtime, frozenset(self.contracts))
        self._reader: Callable[[bytes], bytes | None] = self._read_committed  # the state resolve() finds deployed code in
        raw_chain_id = self.state.get(KEY_CHAIN_ID)
        self.chain_id: str | None = encoding.decode(raw_chain_id) if raw_chain_id else None
        self._genesis: dict[bytes, bytes | None] = {}
        self._pending: _PendingBlock | None = None
        self._mempool_nonces: dict[str, int] = {}
        self._nonces: dict[str, int] = {}  # committed nonces read so far; commit drops those its block wrote
        self._standings = Standings(self.state.version)  # passing verdicts kept between rechecks
        self._verified: OrderedDict[bytes, Transaction] = OrderedDict()
        self._admission_snapshot: AbstractContextManager[Callable[[bytes], bytes | None]] | None = None
        self._admission_read: Callable[[bytes], bytes | None] | None = None  # see _open_admission_read
        # (height, time) of the last committed block, for views: reading them from the
        # block record would decode every tx hash of that block on every query.
        last = self.blocks.block(self.blocks.last_height) if self.blocks.last_height else None
        self._last_block: tuple[int, int] = (last["height"], last["time_ns"]) if last else (0, 0)
        if last is None and self.blocks.base:  # restored from a snapshot, no block since
            self._last_block = self.blocks.base

    def close(self) -> None:
        self._snapshot_stop.set()  # a snapshot being written is abandoned (nothing is left of it)
        self.finish_snapshot()
        self._close_admission_read()
        self._checker.close()
        self.env.close()

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(block_record, tx_records)` after every commit."""
        self._listeners.append(listener)

    @property
    def height(self) -> int:
        return self.blocks.last_height

    @property
    def last_block(self) -> tuple[int, int]:
        """(height, time in ns) of the last committed block, or of the snapshot restored."""
        return self._last_block

    # -- handshake and genesis ---------------------------------------------------------

    def info(self) -> InfoResult:
        return InfoResult(last_height=self.blocks.last_height, last_app_hash=self.blocks.last_app_hash, version=__version__)

    def init_chain(self, req: InitChainRequest) -> InitChainResult:
        """Record the genesis; it is written together with the first block."""
        if self.blocks.last_height != 0:
            raise BaychainError(Code.BAD_REQUEST, "init_chain on a chain that already has blocks")
        if req.initial_height not in (0, 1):
            raise BaychainError(Code.BAD_REQUEST, "baychain chains start at height 1")
        app_state = json.loads(req.app_state) if req.app_state else {}
        if not isinstance(app_state, dict):
            raise BaychainError(Code.BAD_REQUEST, "genesis app_state must be a JSON object")
        self.chain_id = req.chain_id
        self._nonces.clear()
        self._close_admission_read()  # its reader looks into the pending genesis, replaced here
        self._genesis = {KEY_CHAIN_ID: encoding.encode(req.chain_id)}
        self._genesis.update(network.genesis_state(app_state, req.validators))  # node registry and validators
        self._genesis.update(identity.genesis_state(app_state, req.chain_id, req.time_ns))  # root, organisation CAs
        self._genesis.update(governance.genesis_state(app_state))  # the committee and its parameters
        self._genesis.update(policy.genesis_state(app_state))  # regulators, negative list, access rules
        self._genesis.update(dataex.genesis_state(app_state))  # jurisdiction policies replacing the defaults
        app_hash = self.state.stage(dict(self._genesis), 1)
        self.state.discard()
        return InitChainResult(validators=list(req.validators), app_hash=app_hash)

    # -- mempool admission -------------------------------------------------------------

    def check_tx(self, raw: bytes, recheck: bool = False) -> TxResult:
        """Admit one transaction to the mempool, or say why not."""
        return self.check_txs([raw])[0]

    def check_txs(self, raws: list[bytes]) -> list[TxResult]:
        """Admit a batch: signatures are verified in parallel, nonces in order, and every
        state read is served by one read snapshot of committed state."""
        return [TxResult() if exc is None else TxResult(code=int(exc.code), log=exc.message)
                for exc in self._refusals(raws)]

    def recheck(self, raws: list[bytes]) -> list[bytes]:
        """The transactions of `raws` (a mempool, in order) that check_txs admits now: the
        solo engine's recheck after each block, which keeps the survivors and needs no
        result object for each of them."""
        return [raw for raw, exc in zip(raws, self._refusals(raws)) if exc is None]

    def _refusals(self, raws: list[bytes]) -> list[BaychainError | None]:
        """check_txs's verdicts: None for an admitted transaction, else why not.

        In order, for each decoded and verified transaction: the envelope (chain id,
        expiry), the nonce against the mempool's view, then its standing (kept, or judged
        afresh in committed state). The per-call values are read once per batch: the
        recheck after every block runs this for every pending transaction."""
        out: list[BaychainError | None] = []
        add = out.append
        decoded = self._decode_verified(raws)
        read = self._admission_read or self._open_admission_read()
        recorded, keys = recording(read)
        chain_id, height, block_time_ns = self.chain_id, self.blocks.last_height + 1, self._last_block[1]
        mempool_nonces, kept = self._mempool_nonces, self._standings.get
        for tx in decoded:
            if isinstance(tx, BaychainError):
                add(tx)
                continue
            try:
                if tx.chain_id != chain_id or height > tx.expiry_height:
                    self._check_envelope(tx, height)  # raises WRONG_CHAIN_ID or TX_EXPIRED
                sender = tx.sender
                expected = mempool_nonces.get(sender)
                if expected is None:
                    expected = self._nonce(sender, read)
                if tx.nonce != expected:
                    _check_nonce(tx.nonce, expected)  # raises NONCE_REPLAYED or NONCE_GAP
                if kept(tx.raw, block_time_ns) is None:  # else nothing it rests on has changed
                    self._judge(tx, recorded, keys, block_time_ns)
            except BaychainError as exc:
                add(exc)
            else:
                mempool_nonces[sender] = expected + 1
                add(None)
        return out

    def _open_admission_read(self) -> Callable[[bytes], bytes | None]:
        """A reader of committed state (before block 1, the pending genesis first) for
        admission, on one LMDB read snapshot kept until the next commit: nothing else
        writes the environment, so until then the snapshot is the committed state, and
        CheckTx bursts (a few to a few dozen transactions each) need not open one each."""
        self._admission_snapshot = self.state.latest_reader()
        state_get = self._admission_snapshot.__enter__()
        genesis = self._genesis
        read = (lambda key: genesis[key] if key in genesis else state_get(key)) if genesis else state_get
        self._admission_read = read
        return read

    def _close_admission_read(self) -> None:
        """End admission's snapshot: before a commit writes (a reader left open would see
        the old state and keep LMDB from reusing the pages it frees), at init_chain and close."""
        snapshot = self._admission_snapshot
        if snapshot is not None:
            self._admission_snapshot = self._admission_read = None
            snapshot.__exit__(None, None, None)

    def _judge(self, tx: Transaction, read: Callable[[bytes], bytes | None], keys: list[bytes], time_ns: int) -> None:
        """The transaction's standing in committed state (see baychain.app.standing): raise
        the refusal, or keep the passing verdict with the keys (read through `read`, which
        notes them in `keys`) and block times it rests on."""
        keys.clear()
        caller, since, until = identity.admit(tx, read, time_ns)  # certificate-bound key? (identity.required)
        policy_since, policy_until = policy.admit(caller, tx, read, time_ns)  # negative list, freezes, access rules
        contract, method = self._resolve(tx)
        kwargs = method.check_args(tx.args)
        if tx.contract in self.contracts:  # built-in: the method cannot change (a deployed one is read from state)
            self._standings.keep(tx.raw, caller, contract, method, kwargs, keys, max(since, policy_since),
                                 min(until, policy_until))

    def _check_envelope(self, tx: Transaction, height: int) -> None:
        if tx.chain_id != self.chain_id:
            raise BaychainError(Code.WRONG_CHAIN_ID, f"transaction is for chain {tx.chain_id!r}, this is {self.chain_id!r}")
        if height > tx.expiry_height:
            raise BaychainError(Code.TX_EXPIRED, f"transaction expired at height {tx.expiry_height}; the chain is at {height}")

    def resolve(self, contract_name: str, method_name: str) -> tuple[Contract | DeployedContract, Method]:
        """A contract and one of its methods (or views) by name, for calls between contracts.
        Built-in contracts first, then deployed ones (CONTRACT_DISABLED if disabled)."""
        contract = self.contracts.get(contract_name) or registry.find(self.runtime, contract_name, self._reader)
        if contract is None:
            raise BaychainError(Code.UNKNOWN_CONTRACT, f"no contract named {contract_name!r}")
        method = contract.methods.get(method_name)
        if method is None:
            raise BaychainError(Code.UNKNOWN_METHOD, f"contract {contract_name!r} has no method {method_name!r}")
        return contract, method

    def _resolve(self, tx: Transaction) -> tuple[Contract | DeployedContract, Method]:
        """The method a transaction calls: not a view, and not a committee power."""
        contract, method = self.resolve(tx.contract, tx.method)
        if method.is_view:
            raise BaychainError(Code.UNKNOWN_METHOD, f"contract {tx.contract!r} has no method {tx.method!r}")
        if method.governed:
            raise BaychainError(Code.GOVERNED_METHOD, f"{tx.contract}.{tx.method} runs only as an action of a passed "
                                                      "proposal; propose it with governance.propose")
        return contract, method

    def _read_committed(self, key: bytes) -> bytes | None:
        """Committed state; before block 1 is committed, the pending genesis first."""
        genesis = self._genesis
        return genesis[key] if key in genesis else self.state.get(key)

    def _nonce(self, sender: str, read: Callable[[bytes], bytes | None]) -> int:
        """The sender's next nonce in committed state (as `read` sees it), remembered until a
        commit writes it: admission, the recheck after every block and delivery each ask."""
        nonce = self._nonces.get(sender)
        if nonce is None:
            raw = read(NONCE_PREFIX + sender.encode())
            nonce = encoding.decode(raw, Code.INTERNAL) if raw else 0  # written by encoding.encode
            if len(self._nonces) >= NONCES_KEPT:
                self._nonces.clear()
            self._nonces[sender] = nonce
        return nonce

    def _committed_nonce(self, sender: str) -> int:
        raw = self.state.get(NONCE_PREFIX + sender.encode())
        return encoding.decode(raw, Code.INTERNAL) if raw else 0

    def _decode_verified(self, raws: list[bytes]) -> list[Transaction | BaychainError]:
        """Decode and signature-check transactions, each only once per node.

        Good transactions are cached by their raw bytes, so a transaction admitted by
        check_tx is neither decoded nor verified again when its block is executed.
        Safe to call from a second thread (see `preverify`): the cache is only ever
        read, inserted into and trimmed.
        """
        cache = self._verified
        found = [cache.get(raw) for raw in raws]
        todo = [raw for raw, tx in zip(raws, found) if tx is None]
        if not todo:
            return found  # type: ignore[return-value]
        checked = iter(self._checker.check(todo))
        out: list[Transaction | BaychainError] = []
        for tx in found:
            if tx is None:
                tx = next(checked)
                if isinstance(tx, Transaction):
                    cache[tx.raw] = tx
            out.append(tx)
        while len(cache) > VERIFIED_CACHE_SIZE:
            try:
                cache.popitem(last=False)
            except KeyError:  # trimmed by the other thread meanwhile
                break
        return out

    def preverify(self, raws: list[bytes]) -> None:
        """Check transactions ahead of check_txs, without the engine's lock.

        The checks run on worker processes for large batches, so a submitter can wait
        for them while blocks execute; check_txs then finds them in the cache.
        """
        self._decode_verified(raws)

    # -- proposals ---------------------------------------------------------------------

    def prepare_proposal(self, txs_in: list[bytes], max_tx_bytes: int, height: int, time_ns: int) -> list[bytes]:
        """Take mempool transactions in order until the block is full."""
        out: list[bytes] = []
        total = 0
        for raw in txs_in:
            total += len(raw)
            if total > max_tx_bytes:
                break
            out.append(raw)
        return out

    def process_proposal(self, block: BlockRequest) -> bool:
        """Accept a proposal unless it holds bytes no correct mempool could hold.

        A correct proposer only proposes transactions that decoded and verified, and
        both checks are deterministic, so refusing otherwise is safe. The checked
        transactions stay cached, so finalize_block does not check them again.
        """
        return not any(isinstance(t, BaychainError) for t in self._decode_verified(block.txs))

    # -- execution -----------------------------------------------------------------------

    def finalize_block(self, block: BlockRequest) -> FinalizeResult:
        """Execute a block against committed state; nothing is persisted until commit."""
        if block.height != self.blocks.last_height + 1:
            raise BaychainError(
                Code.INTERNAL, f"finalize_block for height {block.height}; next is {self.blocks.last_height + 1}"
            )
        if self.chain_id is None:
            raise BaychainError(Code.INTERNAL, "finalize_block before init_chain")
        overlay: dict[bytes, bytes | None] = dict(self._genesis) if block.height == 1 else {}
        decoded = self._decode_verified(block.txs)

        results: list[TxResult] = []
        records: list[TxRecord] = []
        add_result, add_record, deliver, height = results.append, records.append, self._deliver, block.height
        resolve = self.resolve  # one bound method for every call of the block
        with self.state.latest_reader(overlay) as read:  # one read snapshot for the whole block, overlay first
            self._reader = read  # contracts deployed earlier in this block resolve at once
            block_alerts = network.misbehavior_alerts(block.misbehavior, read)  # evidence the block commits
            if block_alerts:
                audit.record(overlay, read, block_alerts, height=height, time_ns=block.time_ns, tx_hash=b"",
                             signer="", failed=False)
            for index, (raw, tx) in enumerate(zip(block.txs, decoded)):
                if isinstance(tx, BaychainError):
                    result = TxResult(int(tx.code), tx.message)
                    add_record(TxRecord(sha256(raw), height, index, raw, "", "", "", result.code, result.log, b"", [], 0))
                else:
                    result = deliver(tx, block, overlay, read, resolve)
                    add_record(TxRecord(tx.hash, height, index, raw, tx.sender, tx.contract, tx.method,
                                        result.code, result.log, result.data, result.events, result.compute_used))
                add_result(result)
            self._reader = self._read_committed
        overlay[KEY_LAST_BLOCK] = encoding.encode([block.height, block.time_ns])

        app_hash = self.state.stage(overlay, block.height)
        record = {
            "chain_id": self.chain_id,
            "height": block.height,
            "time_ns": block.time_ns,
            "hash": block.hash,
            "proposer": block.proposer,
            "last_app_hash": self.blocks.last_app_hash,
            "app_hash": app_hash,
            "txs": [r.hash for r in records],
        }
        if block_alerts:
            record["events"] = [e.to_dict() for e in block_alerts]
        self._pending = _PendingBlock(record, records, overlay)
        updates = network.validator_updates(overlay, self._genesis, self.state.get)  # power changes of this block
        return FinalizeResult(tx_results=results, events=block_alerts, validator_updates=updates, app_hash=app_hash)

    def _deliver(self, tx: Transaction, block: BlockRequest, overlay: dict[bytes, bytes | None],
                 read: Callable[[bytes], bytes | None], resolve: Callable[[str, str], tuple[Contract, Method]]) -> TxResult:
        try:
            self._check_envelope(tx, block.height)
            sender = tx.sender
            nonce_key = NONCE_PREFIX + sender.encode()
            # written by encoding.encode: canonical; unless this block wrote it, as committed
            _check_nonce(tx.nonce, cbor2.loads(overlay[nonce_key]) if nonce_key in overlay else self._nonce(sender, read))
            standing = self._standings.get(tx.raw, block.time_ns, overlay)  # the verdict of admission, if it holds
            if standing is None:
                caller = identity.admit(tx, read, block.time_ns)[0]  # the bound account, or a CERT_*/ACCOUNT_UNBOUND refusal
                policy.admit(caller, tx, read, block.time_ns)  # BLACKLISTED, ACCOUNT_FROZEN, PERMISSION_DENIED
            else:
                caller = standing.caller
        except BaychainError as exc:
            return TxResult(int(exc.code), exc.message)
        # From here on the nonce is consumed, whatever the contract does.
        overlay[nonce_key] = encoding.encode(tx.nonce + 1)
        ctx = Context(read, contract=tx.contract, sender=caller.account, signer=sender, height=block.height,
                      time_ns=block.time_ns, tx_hash=tx.hash, caller=caller, resolve=resolve)
        try:
            if standing is None:
                contract, method = self._resolve(tx)
                kwargs = method.check_args(tx.args)
            else:
                contract, method, kwargs = standing.contract, standing.method, standing.kwargs
            value = method.func(contract, ctx, **kwargs)
            data = encoding.encode(value) if value is not None else b""
        except BaychainError as exc:
            result = TxResult(code=int(exc.code), log=exc.message, compute_used=ctx.compute)
        except Exception as exc:  # a contract bug: deterministic on every node, never fatal
            log.exception("contract %s.%s failed", tx.contract, tx.method)
            result = TxResult(code=int(Code.INTERNAL), log=f"contract error: {type(exc).__name__}", compute_used=ctx.compute)
        else:
            overlay.update(ctx.writes)
            result = TxResult(0, "", data, ctx.events, ctx.compute)
        if ctx.alerts:  # kept whatever the outcome: a refused attempt is what a regulator must see
            audit.record(overlay, read, ctx.alerts, height=block.height, time_ns=block.time_ns, tx_hash=tx.hash,
                         signer=sender, failed=not result.ok)
            result.events = [*result.events, *ctx.alerts]
        return result

    def commit(self) -> CommitResult:
        """Persist the finalized block and state in one atomic LMDB transaction."""
        pending = self._pending
        if pending is None:
            raise BaychainError(Code.INTERNAL, "commit without finalize_block")
        self._close_admission_read()
        try:
            with self.env.begin(write=True) as txn:
                self.state.write(txn)
                self.blocks.write(txn, pending.record, pending.txs)
        except BaseException:
            self.state.discard()
            self._pending = None
            raise
        self.state.committed()
        self.blocks.committed(pending.record["height"], pending.record["app_hash"])
        self._standings.committed(self.state.version, pending.written, [rec.raw for rec in pending.txs])
        self._last_block = (pending.record["height"], pending.record["time_ns"])
        self._pending = None
        self._genesis = {}
        self._mempool_nonces.clear()
        nonces = self._nonces
        for key in filter(methodcaller("startswith", NONCE_PREFIX), pending.written):
            nonces.pop(key[len(NONCE_PREFIX):].decode(), None)
        verified = self._verified
        for rec in pending.txs:
            verified.pop(rec.raw, None)
        for listener in self._listeners:
            listener(pending.record, pending.txs)
        height = pending.record["height"]
        if self.snapshot_interval and height % self.snapshot_interval == 0:
            self._start_snapshot(height, pending.record["time_ns"])
        return CommitResult(retain_height=0)

    # -- state-sync snapshots ------------------------------------------------------------

    def _start_snapshot(self, height: int, time_ns: int) -> None:
        """Write the snapshot of the state just committed, on a thread of its own: it reads
        one LMDB snapshot of this version while the next blocks commit."""
        if self._snapshot_thread is not None and self._snapshot_thread.is_alive():
            log.warning("snapshot of height %d skipped: the previous one is still being written", height)
            return
        items = self.state.latest_items()

        def write() -> None:
            try:
                made = self.snapshots.create(height, time_ns, items, self._snapshot_stop.is_set)
                if made is not None:
                    log.info("snapshot of height %d written: %d chunk(s)", height, made.chunks)
            except Exception:
                log.exception("snapshot of height %d failed", height)
            finally:
                items.close()

        self._snapshot_thread = threading.Thread(target=write, name=f"snapshot-{height}", daemon=True)
        self._snapshot_thread.start()

    def finish_snapshot(self) -> None:
        """Wait until the snapshot being written, if any, is on disk."""
        if self._snapshot_thread is not None:
            self._snapshot_thread.join()

    def list_snapshots(self) -> list[Snapshot]:
        return self.snapshots.list()

    def load_snapshot_chunk(self, height: int, format_: int, index: int) -> bytes:
        return self.snapshots.chunk(height, format_, index)

    @property
    def restored_only(self) -> bool:
        """Whether this node's state is a restored snapshot that no block has built on yet."""
        base = self.blocks.base
        return base is not None and base[0] == self.blocks.last_height

    def offer_snapshot(self, snapshot: Snapshot, app_hash: bytes) -> OfferResult:
        """Accept a snapshot to restore into this empty node. CometBFT's light client vouches
        for `app_hash`; the chunks are checked against it once they are all in.

        A node whose state is a restore no block has built on (it stopped before CometBFT
        recorded the restore, or before its first block) loses nothing to another restore:
        offered the same snapshot it keeps its state and accepts the chunks without work;
        offered another, it erases its restore and takes the new one."""
        self._restore = None
        self._erase_unfinished_restore()  # the parts of a snapshot CometBFT gave up on
        if snapshot.format != SNAPSHOT_FORMAT:
            return OfferResult.REJECT_FORMAT
        try:
            restore = Restore.offered(snapshot, app_hash)
        except SnapshotError as exc:
            log.warning("snapshot of height %d refused: %s", snapshot.height, exc.message)
            return OfferResult.REJECT
        if self.blocks.last_height:
            if not self.restored_only:
                log.warning("snapshot of height %d refused: this node has executed blocks up to height %d",
                            snapshot.height, self.blocks.last_height)
                return OfferResult.REJECT
            if (snapshot.height, app_hash) == (self.blocks.last_height, self.blocks.last_app_hash):
                restore.applied = len(restore.metadata.chunk_hashes)  # nothing left to apply
                self._restore = restore
                return OfferResult.ACCEPT
            log.info("erasing the state restored at height %d for the snapshot of height %d",
                     self.blocks.last_height, snapshot.height)
            self._erase()
        self._restore = restore
        return OfferResult.ACCEPT

    def _erase(self) -> None:
        """Delete all state and history (a restore no block built on, about to be replaced),
        in one LMDB transaction: a crash leaves either it or an empty node."""
        self._close_admission_read()
        with self.env.begin(write=True) as txn:
            self.state.erase(txn)
            self.blocks.erase(txn)
        self._load()

    def _erase_unfinished_restore(self) -> None:
        if self.state.version and not self.blocks.last_height:
            log.info("erasing the parts of an unfinished restore (state version %d)", self.state.version)
            self._erase()

    def apply_snapshot_chunk(self, index: int, chunk: bytes, sender: str) -> ApplyChunkResult:
        """Add one chunk of the accepted snapshot. Chunks are staged and written in parts
        of about `restore_batch_bytes`, so a restore holds one part in memory, not the
        whole state; with the last one, the whole state's root must be the trusted app
        hash, and the state becomes this node's at that height (else it is erased)."""
        restore = self._restore
        if restore is None:
            return ApplyChunkResult(ApplyResult.ABORT)
        if restore.complete:  # the same snapshot restored before a crash
            return ApplyChunkResult(ApplyResult.ACCEPT)
        if not restore.matches(index, chunk):
            return ApplyChunkResult(ApplyResult.RETRY, refetch=[index], reject_senders=[sender] if sender else [])
        try:
            restore.apply(index, chunk)
            if restore.complete or restore.batch_bytes >= self.restore_batch_bytes:
                self._write_restore_part(restore)
        except SnapshotError as exc:
            self._restore = None
            log.warning("snapshot of height %d rejected: %s", restore.height, exc.message)
            self._erase_unfinished_restore()
            return ApplyChunkResult(ApplyResult.REJECT_SNAPSHOT)
        return ApplyChunkResult(ApplyResult.ACCEPT)

    def _write_restore_part(self, restore: Restore) -> None:
        """Stage the pairs received since the last part onto the state restored so far, as
        version H, and commit them. With the last part the root must be the trusted app
        hash: then the block store's new base goes into the same LMDB transaction. Until
        then there is no base, so a crash leaves parts that the next start (or the next
        offer) erases."""
        self._close_admission_read()
        final = restore.complete
        batch = restore.take_batch()
        root = self.state.stage(batch, restore.height, restoring=True)
        if final:
            if root != restore.app_hash:
                self.state.discard()
                raise SnapshotError(f"the snapshot's state has root {root.hex()}, the chain's app hash is {restore.app_hash.hex()}")
            # the state (under the app hash) says which block made it: the metadata must agree
            raw = batch[KEY_LAST_BLOCK] if KEY_LAST_BLOCK in batch else self.state.get(KEY_LAST_BLOCK)
            made_by = encoding.decode(raw, Code.INTERNAL) if raw else None
            if made_by != [restore.height, restore.metadata.time_ns]:
                self.state.discard()
                raise SnapshotError(f"the snapshot's metadata gives block {restore.height} the time "
                                    f"{restore.metadata.time_ns}; its state says {made_by!r}")
        try:
            with self.env.begin(write=True) as txn:
                self.state.write(txn)
                if final:
                    self.blocks.restored(txn, restore.height, root, restore.metadata.time_ns)
        except BaseException:
            self.state.discard()
            raise
        if not final:
            self.state.committed()
            return
        self._load()  # everything as the next start will find it (chain id from the state)
        log.info("state restored from the snapshot of height %d (%d chunk(s), app hash %s)",
                 restore.height, len(restore.metadata.chunk_hashes), root.hex())

    # -- queries -------------------------------------------------------------------------

    def query(self, path: str, data: bytes, height: int = 0, prove: bool = False) -> QueryResult:
        """Answer a read; errors come back as codes, never as exceptions."""
        try:
            return self._query(path, data, height, prove)
        except BaychainError as exc:
            return QueryResult(code=int(exc.code), log=exc.message, height=height)

    def _query(self, path: str, data: bytes, height: int, prove: bool) -> QueryResult:
        if path.startswith(network.FILTER_PREFIX):  # CometBFT's peer filter, from the on-chain registry
            return network.filter_query(path, self._read_committed)
        version = height or self.state.version
        if version > self.state.version or version < 0:
            raise BaychainError(Code.HEIGHT_UNAVAILABLE, f"height {height} is not committed yet")
        if path == "/store":
            value = self.state.get(data, version if height else None)
            proof = self.state.prove(data, version).to_bytes() if prove else b""
            return QueryResult(key=data, value=value or b"", proof=proof, height=version,
                               code=0 if value is not None else int(Code.NOT_FOUND),
                               log="" if value is not None else "no value at this key")
        if path.startswith("/view/"):
            _, _, contract_name, method_name = path.split("/", 3)
            args = encoding.decode(data, Code.BAD_ARGUMENTS) if data else {}
            value = self.view(contract_name, method_name, args, height=height)
            return QueryResult(key=data, value=encoding.encode(value), height=version)
        if path == "/contracts":
            return QueryResult(value=encoding.encode(self.describe_contracts()), height=version)
        raise BaychainError(Code.UNKNOWN_QUERY, f"unknown query path {path!r}")

    def view(self, contract_name: str, method_name: str, args: Any, *, height: int = 0) -> Any:
        """Run a read-only contract method against committed state (latest or `height`)."""
        version = height or None
        # latest: committed state (before block 1, the pending genesis); else that height's version
        read = self._read_committed if version is None else (lambda k: self.state.get(k, version))
        self._reader = read  # deployed contracts resolve against the same state the view reads
        try:
            return self._view(contract_name, method_name, args, height, read)
        finally:
            self._reader = self._read_committed

    def find_method(self, contract_name: str, method_name: str) -> Method | None:
        """A method's interface by name (built-in or deployed), or None."""
        try:
            return self.resolve(contract_name, method_name)[1]
        except BaychainError:
            return None

    def _view(self, contract_name: str, method_name: str, args: Any, height: int,
              read: Callable[[bytes], bytes | None]) -> Any:
        try:
            contract, method = self.resolve(contract_name, method_name)
        except BaychainError as exc:
            if exc.code != Code.UNKNOWN_METHOD:
                raise
            method = None
        if method is None or not method.is_view:
            raise BaychainError(Code.UNKNOWN_METHOD, f"contract {contract_name!r} has no view {method_name!r}")
        if type(args) is not dict:
            raise BaychainError(Code.BAD_ARGUMENTS, "view arguments must be a map")
        kwargs = method.check_args(args)
        block_height, block_time_ns = self._last_block
        if height and height != block_height:
            block = self.blocks.block(height) or {}
            block_height, block_time_ns = block.get("height", 0), block.get("time_ns", 0)
        ctx = Context(read, contract=contract_name, sender="",
                      height=block_height, time_ns=block_time_ns, readonly=True, resolve=self.resolve)
        return method.func(contract, ctx, **kwargs)

    def nonce(self, address: str) -> int:
        """The next nonce the chain expects from an account (committed state)."""
        return self._committed_nonce(address)

    def describe_contracts(self) -> list[dict[str, Any]]:
        """Every contract's interface: the built-in ones, then the deployed ones."""
        return [c.describe() for _, c in sorted(self.contracts.items())] + registry.describe_all(
            self.runtime, self._read_committed)


def _check_nonce(nonce: int, expected: int) -> None:
    if nonce < expected:
        raise BaychainError(Code.NONCE_REPLAYED, f"nonce {nonce} was already used; the next nonce is {expected}")
    if nonce > expected:
        raise BaychainError(Code.NONCE_GAP, f"nonce {nonce} is ahead; the next nonce is {expected}")



