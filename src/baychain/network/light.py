"""Light-client checks: trust an app hash only when the validators signed for it.

A state proof (baychain.state.proofs) shows that a value is in the state whose root is
some app hash. The SDK checks it against the app hash the queried node reports, so a
dishonest node could serve a made-up state with a matching made-up app hash. A light
client removes that trust: the app hash after block H is in the header of block H+1,
and that header is signed — through its hash, which the precommit votes sign — by the
validators. If validators holding more than two thirds of the voting power signed it,
the app hash is the chain's, whoever relayed it.

It recomputes, exactly as CometBFT v0.38 does:

- the header hash: RFC 6962 Merkle root of the header's fields, each protobuf-encoded
  (`Header.Hash` in types/block.go);
- the validator set hash: Merkle root of `SimpleValidator{pub_key, voting_power}` in
  the set's order (power descending, then address);
- each precommit's sign bytes: length-delimited `CanonicalVote{type, height, round,
  block_id, timestamp, chain_id}` (`VoteSignBytes` in types/vote.go), checked with Ed25519.

**Following validator-set changes.** The client starts from the genesis validator set.
When a header names another set (`validators_hash`), the client finds the height `h`
where the set changed (binary search over headers, which need not be trusted), verifies
header `h` with the set it trusts, takes the `next_validators_hash` those validators
signed in it, fetches the validator set of `h + 1` and accepts it only if it hashes to
that value. Each new set is thus vouched for by more than 2/3 of the previous one, back
to the genesis; the verified sets are remembered (`trusted_sets`).

**Trusting period and header times**, as CometBFT's light client (light/verifier.go).
Trust in a validator set rests on a header: first the anchor's own (the genesis block,
or header `height` of `from_trusted`), then the highest header verified with that set; a
set taken on at a change starts from its predecessor's header that named it. A header is
verified with a set only while the header that set's trust rests on is younger than
`trusting_period` by the local clock (`now`): `time + trusting_period > now`, else
TRUST_EXPIRED. A client in regular use keeps its trust, as each verified header moves it
forward; one left idle longer than the period, or anchored on an older header, is
re-anchored with `from_trusted` on a recent header checked out of band. A replaced set
stays trusted for the period after the last header verified with it. With or without a
period, a verified header's time must be after that of the header its set's trust rests
on (before it, for a lower height), and less than `max_clock_drift` (10 s) ahead of the
local clock (PROOF_INVALID).

`from_trusted` defaults to CometBFT's week; a genesis anchor has no period unless given
one, as its first header is as old as the chain and a period would refuse every chain
older than it. Without a period the trust assumption is the consortium's: a validator
set the client has trusted does not, by more than 2/3 of its power, sign a conflicting
header later — also after it was replaced (its validators are known organisations under
contract; witnesses, below, expose a breach).

Headers, commits and validator sets come from any source with CometBFT's RPC shape:
a node's CometBFT RPC (`CometRpc`), or a baychain node's HTTP API, which relays exactly
those three calls (`ApiRelay`, `GET /v1/cometbft/{commit|header|validators}`). Several
sources may be given; the next is tried when one fails. None needs to be trusted.

**Witnesses.** Signatures cannot tell two headers of one height apart if both verify:
that takes validators signing twice (or an old set's keys signing a made-up history),
which the trust assumption rules out but a client may want to detect. With
`witnesses`, every header the client verifies is compared with each witness's header of
that height. A witness that serves the same header, or none yet, changes nothing. A
different header is verified as the client verifies any, under the same rules: from the
validator sets both histories share (this client's, up to the last one whose first
header the witness's history names too, with the trust this client has in them),
following the validator-set changes the witness serves after them. If that fails
(trust expired included) the witness is set aside as faulty (`faulty_witnesses`) and
verification goes on; if it succeeds, two histories verify and the client refuses with
FORK_DETECTED rather than pick a side.
Before refusing it reports the fork (unless `report_forks=False`), as CometBFT's light
client does: each side's signed header goes to the other side's nodes as
`LightClientAttackEvidence` (baychain.network.evidence) through `broadcast_evidence`,
with the last height both histories share as the common height. The nodes of the real
chain verify the evidence against their own blocks and commit it, and every baychain
node records the validators at fault as regulator alerts; the answers are kept in
`evidence_reports`.

    light = LightClient("http://127.0.0.1:26657", "genesis.json")
    app_hash = light.verified_app_hash(height)             # app hash after block `height`
    proven = client.prove_state(key, height=height, light=light)   # SDK: proof + header
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from google.protobuf import wrappers_pb2

import baychain.abci.pb  # noqa: F401 - generates the protobuf modules if needed
from baychain.abci.codec import encode_frame
from baychain.abci.proto_gen.tendermint.crypto import keys_pb2
from baychain.abci.proto_gen.tendermint.types import canonical_pb2, types_pb2, validator_pb2
from baychain.abci.proto_gen.tendermint.version import types_pb2 as version_pb2
from baychain.crypto.suites import ED25519
from baychain.errors import BaychainError, Code
from baychain.network import evidence
from baychain.network.rpc import CometRpc, RpcError

BLOCK_ID_FLAG_COMMIT = 2
EVIDENCE_WAIT = 15.0
"""Seconds a fork's evidence waits for the node to commit the block after the fork's height."""
TRUSTING_PERIOD = timedelta(hours=168)
"""CometBFT's default trusting period (a week); `from_trusted`'s default."""
MAX_CLOCK_DRIFT = timedelta(seconds=10)
"""How far a header's time may be ahead of the local clock (CometBFT's default)."""
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class LightError(BaychainError):
    """A header, commit or validator set that does not prove what it claims (PROOF_INVALID),
    that could not be fetched (UNAVAILABLE, TIMEOUT), or trust too old to verify it with
    (TRUST_EXPIRED)."""

    def __init__(self, message: str, code: Code = Code.PROOF_INVALID) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class TrustedValidator:
    address: bytes  # 20 bytes: SHA-256(pub_key)[:20]
    pub_key: bytes  # Ed25519, 32 bytes
    power: int


def validators_from_genesis(genesis: dict[str, Any]) -> list[TrustedValidator]:
    return [_validator(v, v["power"], f"genesis validator {v.get('name', '')}") for v in genesis["validators"]]


def validators_from_rpc(pages: list[dict[str, Any]]) -> list[TrustedValidator]:
    """A validator set from the pages of CometBFT's `validators` RPC (not yet trusted)."""
    out = [_validator(v, v["voting_power"], f"validator {v.get('address', '')}") for page in pages for v in page["validators"]]
    if len({v.address for v in out}) != len(out):
        raise LightError("a validator is listed twice")
    return out


def _validator(doc: dict[str, Any], power: Any, what: str) -> TrustedValidator:
    try:
        if doc["pub_key"]["type"] != "tendermint/PubKeyEd25519":
            raise LightError(f"{what}: unsupported key type {doc['pub_key']['type']}")
        pub = base64.b64decode(doc["pub_key"]["value"])
        address = hashlib.sha256(pub).digest()[:20]
        if doc.get("address") and bytes.fromhex(doc["address"]) != address:
            raise LightError(f"{what}: address does not match its key")
        return TrustedValidator(address, pub, int(power))
    except (KeyError, TypeError, ValueError) as exc:
        raise LightError(f"{what}: malformed ({exc})") from None


# -- hashing as CometBFT does ------------------------------------------------------------------


def merkle_root(items: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash (CometBFT's crypto/merkle.HashFromByteSlices)."""
    if not items:
        return hashlib.sha256(b"").digest()
    if len(items) == 1:
        return hashlib.sha256(b"\x00" + items[0]).digest()
    split = 1 << ((len(items) - 1).bit_length() - 1)  # largest power of two below len
    return hashlib.sha256(b"\x01" + merkle_root(items[:split]) + merkle_root(items[split:])).digest()


def validator_set_hash(validators: list[TrustedValidator]) -> bytes:
    ordered = sorted(validators, key=lambda v: (-v.power, v.address))
    return merkle_root([
        validator_pb2.SimpleValidator(pub_key=keys_pb2.PublicKey(ed25519=v.pub_key), voting_power=v.power).SerializeToString()
        for v in ordered
    ])


def _hex(value: str) -> bytes:
    return bytes.fromhex(value) if value else b""


def _timestamp(text: str):
    """RFC 3339 (Go's RFC3339Nano: fraction optional, trailing zeros trimmed) -> Timestamp."""
    from google.protobuf.timestamp_pb2 import Timestamp

    if not text.endswith("Z"):
        raise LightError(f"unexpected time {text!r}")
    base, _, fraction = text[:-1].partition(".")
    seconds = calendar.timegm(datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").timetuple())
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return Timestamp(seconds=seconds, nanos=nanos)


def header_time(header: dict[str, Any]) -> int:
    """A header's block time, in nanoseconds since the epoch."""
    stamp = _timestamp(header["time"])
    return stamp.seconds * 1_000_000_000 + stamp.nanos


def _iso(ns: int) -> str:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _ns(period: timedelta) -> int:
    return period // timedelta(microseconds=1) * 1000


def expired(trusted_time: int, trusting_period: timedelta, now: int) -> bool:
    """Whether trust resting on a header of `trusted_time` has run out at `now` (both ns
    since the epoch): CometBFT keeps it while `trusted_time + trusting_period > now`."""
    return trusted_time + _ns(trusting_period) <= now


def parse_period(text: str) -> timedelta:
    """A duration written as CometBFT's config writes a trusting period (`168h0m0s`: hours,
    minutes, seconds, each optional); BAD_REQUEST for anything else or zero."""
    match = _DURATION.fullmatch(text)
    hours, minutes, seconds = (int(part or 0) for part in match.groups()) if match else (0, 0, 0)
    period = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not period:
        raise BaychainError(Code.BAD_REQUEST, f"trust period {text!r}: expected a duration such as 168h0m0s")
    return period


def _block_id(doc: dict[str, Any]) -> types_pb2.BlockID:
    bid = types_pb2.BlockID(hash=_hex(doc.get("hash", "")))
    parts = doc.get("parts") or {}
    bid.part_set_header.SetInParent()  # not nullable: always encoded, even when empty
    bid.part_set_header.total = int(parts.get("total", 0))
    bid.part_set_header.hash = _hex(parts.get("hash", ""))
    return bid


def header_hash(header: dict[str, Any]) -> bytes:
    """The block hash CometBFT computes from a header (JSON as the RPC returns it)."""
    version = version_pb2.Consensus(block=int(header["version"]["block"]), app=int(header["version"].get("app", 0)))

    def cdc_bytes(h: str) -> bytes:
        return wrappers_pb2.BytesValue(value=_hex(h)).SerializeToString()

    fields = [
        version.SerializeToString(),
        wrappers_pb2.StringValue(value=header["chain_id"]).SerializeToString(),
        wrappers_pb2.Int64Value(value=int(header["height"])).SerializeToString(),
        _timestamp(header["time"]).SerializeToString(),
        _block_id(header["last_block_id"]).SerializeToString(),
        cdc_bytes(header["last_commit_hash"]),
        cdc_bytes(header["data_hash"]),
        cdc_bytes(header["validators_hash"]),
        cdc_bytes(header["next_validators_hash"]),
        cdc_bytes(header["consensus_hash"]),
        cdc_bytes(header["app_hash"]),
        cdc_bytes(header["last_results_hash"]),
        cdc_bytes(header["evidence_hash"]),
        cdc_bytes(header["proposer_address"]),
    ]
    return merkle_root(fields)


def vote_sign_bytes(chain_id: str, height: int, round_: int, block_id: dict[str, Any], timestamp: str,
                    type_: int = types_pb2.SIGNED_MSG_TYPE_PRECOMMIT) -> bytes:
    """What a validator signs for a vote for `block_id` (length-delimited CanonicalVote);
    a precommit unless `type_` says otherwise."""
    vote = canonical_pb2.CanonicalVote(type=type_, height=height, round=round_, chain_id=chain_id)
    vote.block_id.hash = _hex(block_id["hash"])
    vote.block_id.part_set_header.SetInParent()
    vote.block_id.part_set_header.total = int(block_id["parts"]["total"])
    vote.block_id.part_set_header.hash = _hex(block_id["parts"]["hash"])
    vote.timestamp.CopyFrom(_timestamp(timestamp))
    body = vote.SerializeToString()
    return encode_frame(body)  # length-delimited, as the ABCI socket frames its messages


# -- verification ------------------------------------------------------------------------------


def verify_signed_header(chain_id: str, signed_header: dict[str, Any], validators: list[TrustedValidator]) -> dict[str, Any]:
    """Check that more than 2/3 of the trusted voting power signed this header; return it."""
    header, commit = signed_header["header"], signed_header["commit"]
    height = int(header["height"])
    if header["chain_id"] != chain_id:
        raise LightError(f"header is for chain {header['chain_id']!r}, not {chain_id!r}")
    if int(commit["height"]) != height:
        raise LightError(f"commit is for height {commit['height']}, header for {height}")
    if _hex(header["validators_hash"]) != validator_set_hash(validators):
        raise LightError(f"the validator set at height {height} is not the trusted one")
    computed = header_hash(header)
    if computed != _hex(commit["block_id"]["hash"]):
        raise LightError(f"header {height} hashes to {computed.hex().upper()}, the commit signs {commit['block_id']['hash']}")
    by_address = {v.address: v for v in validators}
    total = sum(v.power for v in validators)
    signed = 0
    seen: set[bytes] = set()
    for sig in commit["signatures"]:
        if int(sig["block_id_flag"]) != BLOCK_ID_FLAG_COMMIT:
            continue  # absent, or a vote for nil: not a vote for this block
        address = _hex(sig["validator_address"])
        validator = by_address.get(address)
        if validator is None or address in seen:
            continue
        message = vote_sign_bytes(chain_id, height, int(commit["round"]), commit["block_id"], sig["timestamp"])
        try:
            valid = ED25519.verify(validator.pub_key, message, base64.b64decode(sig["signature"] or ""))
        except ValueError:  # not base64
            valid = False
        if not valid:  # checked by the rule CometBFT itself applies (ZIP-215), see docs/TRANSACTIONS.md
            raise LightError(f"bad precommit signature from validator {sig['validator_address']} at height {height}")
        seen.add(address)
        signed += validator.power
    if signed * 3 <= total * 2:
        raise LightError(f"only {signed} of {total} voting power signed header {height}; more than 2/3 is needed")
    return header


# -- sources ------------------------------------------------------------------------------------

RELAYED = ("commit", "header", "validators", "broadcast_evidence")


class ApiRelay:
    """CometBFT's commit, header and validators calls, relayed by a baychain node's HTTP API.

    A node's CometBFT RPC usually listens on loopback only; its API relays these
    three calls unchanged (`GET /v1/cometbft/<method>`), and nothing it relays needs to
    be trusted: the light client checks every signature itself. Fork evidence goes the
    other way (`POST /v1/cometbft/evidence`, CometBFT's `broadcast_evidence`), and CometBFT
    verifies it before it counts.
    """

    def __init__(self, api_url: str, *, timeout: float = 10.0) -> None:
        import httpx

        self.url = api_url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        import httpx

        if method not in RELAYED:
            raise RpcError(f"the API relays only {', '.join(RELAYED)}")
        try:
            if method == "broadcast_evidence":
                resp = self._http.post("/v1/cometbft/evidence", json={"evidence": params["evidence"]})
            else:
                resp = self._http.get(f"/v1/cometbft/{method}", params=params)
            doc = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RpcError(f"baychain API at {self.url} unreachable: {exc or type(exc).__name__}") from None
        if resp.status_code != 200:
            raise RpcError(str(doc.get("message", doc)) if isinstance(doc, dict) else str(doc))
        return doc

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class EvidenceReport:
    """One submission of fork evidence: to whom, for which height, and CometBFT's answer."""

    node: str
    height: int
    accepted: bool
    detail: str


@dataclass(frozen=True)
class _Clock:
    """A light client's time rules: how long trust lasts after the header it rests on
    (None: for good), how far ahead of the local clock a header may be, and that clock
    (nanoseconds since the epoch)."""

    trusting_period: timedelta | None
    max_clock_drift: timedelta
    now: Callable[[], int]

    def __post_init__(self) -> None:
        if self.trusting_period is not None and self.trusting_period <= timedelta(0):
            raise ValueError("a trusting period must be positive (None: no trusting period)")
        if self.max_clock_drift < timedelta(0):
            raise ValueError("the maximum clock drift cannot be negative")


@dataclass(frozen=True)
class TrustedSet:
    """A verified validator set and the first height it signs."""

    height: int
    validators: tuple[TrustedValidator, ...]
    hash: bytes


class LightClient:
    """Verifies CometBFT headers fetched from untrusted sources, starting from the genesis
    validator set and following every validator-set change."""

    PER_PAGE = 100

    def __init__(
        self,
        sources: CometRpc | ApiRelay | str | list[CometRpc | ApiRelay | str],
        genesis: dict[str, Any] | str | Path,
        *,
        witnesses: list[CometRpc | ApiRelay | str] | None = None,
        poll: float = 0.1,
        report_forks: bool = True,
        trusting_period: timedelta | None = None,
        max_clock_drift: timedelta = MAX_CLOCK_DRIFT,
        now: Callable[[], int] = time.time_ns,
    ) -> None:
        """Anchored on the genesis. No trusting period by default: a genesis anchor rests on
        the chain's first block, and a period would refuse every chain older than it
        (docs/NETWORK.md, "Light-client checks")."""
        if isinstance(genesis, (str, Path)):
            genesis = json.loads(Path(genesis).read_text())
        validators = validators_from_genesis(genesis)
        self._init(sources, genesis["chain_id"], int(genesis.get("initial_height") or 1), validators, poll, witnesses,
                   report_forks, _Clock(trusting_period, max_clock_drift, now))

    @classmethod
    def from_trusted(
        cls, sources: Any, chain_id: str, height: int, validators: list[TrustedValidator], *,
        witnesses: list[CometRpc | ApiRelay | str] | None = None, poll: float = 0.1, report_forks: bool = True,
        trusting_period: timedelta | None = TRUSTING_PERIOD, max_clock_drift: timedelta = MAX_CLOCK_DRIFT,
        now: Callable[[], int] = time.time_ns,
    ) -> "LightClient":
        """Anchor on a validator set checked out of band: the set that signs `height`. Its
        trust rests on header `height` and expires `trusting_period` (default a week, as
        CometBFT's) after the latest header verified with it."""
        client = cls.__new__(cls)
        client._init(sources, chain_id, height, validators, poll, witnesses, report_forks,
                     _Clock(trusting_period, max_clock_drift, now))
        return client

    def _init(self, sources: Any, chain_id: str, height: int, validators: list[TrustedValidator], poll: float,
              witnesses: list[CometRpc | ApiRelay | str] | None, report_forks: bool, clock: "_Clock") -> None:
        self.chain_id = chain_id
        self.poll = poll
        self.report_forks = report_forks
        self._clock = clock
        self._reports: list[EvidenceReport] = []
        items = sources if isinstance(sources, list) else [sources]
        if not items:
            raise ValueError("a light client needs at least one source of headers")
        self.sources = [_source(s) for s in items]
        self.witnesses = [_source(w) for w in witnesses or []]
        given = [*items, *(witnesses or [])]
        self._owned = [s for s, g in zip([*self.sources, *self.witnesses], given) if isinstance(g, str)]
        self._trusted = [TrustedSet(height, tuple(validators), validator_set_hash(validators))]
        # For each trusted set (by the first height it signs), the header its trust rests on,
        # (height, block time in ns): the highest verified with it, or for a set taken on at a
        # change, its predecessor's header that named it. Empty until the anchor is verified.
        self._rests_on: dict[int, tuple[int, int]] = {}
        self._faulty: list[str] = []

    def close(self) -> None:
        for source in self._owned:
            source.close()

    def __enter__(self) -> "LightClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def validators(self) -> list[TrustedValidator]:
        """The validator set trusted at the latest height verified so far."""
        return list(self._trusted[-1].validators)

    @property
    def trusted_sets(self) -> list[TrustedSet]:
        """Every verified validator set, by the first height it signs."""
        return list(self._trusted)

    @property
    def evidence_reports(self) -> list[EvidenceReport]:
        """Every submission of fork evidence so far (see `report_forks`), oldest first."""
        return list(self._reports)

    @property
    def faulty_witnesses(self) -> list[str]:
        """Each time a witness served a header that differs and does not verify: who, which
        height, why."""
        return list(self._faulty)

    # -- verification ----------------------------------------------------------------------

    def verified_header(self, height: int, *, wait: float = 0.0) -> dict[str, Any]:
        """The header of `height`, verified by the validators of that height (whose set is
        verified back to the trust anchor) within the trusting period. With `wait`, waits up
        to that many seconds for the height to be committed."""
        anchor = self._trusted[0]
        if height < anchor.height:
            raise LightError(f"height {height} is below the trusted height {anchor.height}", Code.HEIGHT_UNAVAILABLE)
        signed = self._signed_header(height, wait)
        if anchor.height not in self._rests_on:
            self._anchor()
        for _ in range(10_000):
            trusted = self._trusted_at(height)
            claimed = _hex(signed["header"].get("validators_hash", ""))
            if claimed == trusted.hash:
                header = self._verify(signed, trusted)
                self._cross_check(height, signed)
                return header
            self._advance(trusted, height)
        raise LightError(f"too many validator-set changes before height {height}")

    def _anchor(self) -> None:
        """Verify the first header the anchor set signs (the genesis block, or `from_trusted`'s
        height): the client's trust rests on it first, so an anchor older than the trusting
        period is refused by the first verification from it."""
        anchor = self._trusted[0]
        header = verify_signed_header(self.chain_id, self._signed_header(anchor.height, 0.0), list(anchor.validators))
        self._rests_on[anchor.height] = (anchor.height, self._header_time(header, None))

    def _verify(self, signed: dict[str, Any], trusted: TrustedSet) -> dict[str, Any]:
        """Verify a signed header with a trusted set as CometBFT's light client does: the set's
        trust has not expired, more than 2/3 of its power signed, the header's time is sane.
        The set's trust then rests on this header if it is the highest verified with it."""
        self._check_trust(trusted)
        header = verify_signed_header(self.chain_id, signed, list(trusted.validators))
        at = self._header_time(header, trusted)
        if int(header["height"]) > self._rests_on[trusted.height][0]:
            self._rests_on[trusted.height] = (int(header["height"]), at)
        return header

    def _check_trust(self, trusted: TrustedSet) -> None:
        """TRUST_EXPIRED unless the header the set's trust rests on is younger than the
        trusting period (CometBFT: `trusted time + trusting period > now`)."""
        period = self._clock.trusting_period
        if period is None:
            return
        height, at = self._rests_on[trusted.height]
        now = self._clock.now()
        if not expired(at, period, now):
            return
        later = [t.height for t in self._trusted if t.height > trusted.height]
        if later:
            what = f"the validator set of height {trusted.height}, replaced at height {later[0]},"
            advice = "the headers a replaced set signed are no longer accepted once its trust has expired"
        else:
            what = f"the validator set of height {trusted.height}"
            advice = "re-anchor with LightClient.from_trusted on a recent header checked out of band"
        raise LightError(f"trust expired: {what} was last verified in header {height} of {_iso(at)}, more than the "
                         f"trusting period ({period}) before now ({_iso(now)}); {advice}", Code.TRUST_EXPIRED)

    def _header_time(self, header: dict[str, Any], trusted: TrustedSet | None) -> int:
        """A verified header's time, refused (PROOF_INVALID) as CometBFT refuses it: more than
        the allowed drift ahead of the local clock, or not after (for a lower height, not
        before) the time of the header the trusted set's trust rests on."""
        height, at = int(header["height"]), header_time(header)
        now = self._clock.now()
        if at >= now + _ns(self._clock.max_clock_drift):
            raise LightError(f"header {height} is from the future: its time {header['time']} is ahead of the local clock "
                             f"({_iso(now)}) by more than the allowed drift ({self._clock.max_clock_drift}); if it is not, "
                             f"this machine's clock is behind")
        if trusted is not None:
            base_height, base = self._rests_on[trusted.height]
            if height > base_height and at <= base:
                raise LightError(f"header {height}'s time {header['time']} is not after the time of header {base_height} "
                                 f"({_iso(base)}), verified before: block times increase with the height")
            if height < base_height and at >= base:
                raise LightError(f"header {height}'s time {header['time']} is not before the time of header {base_height} "
                                 f"({_iso(base)}), verified before: block times increase with the height")
        return at

    def _cross_check(self, height: int, signed: dict[str, Any]) -> None:
        """Compare a verified header with every witness's header of the same height. A
        different one is verified the way this client verifies, from the validator sets
        both histories share (`_replay`), following the validator-set changes the witness
        itself serves after them, so that a witness telling the truth about a history the
        sources hid is not mistaken for a liar."""
        ours = header_hash(signed["header"])
        for witness in self.witnesses:
            try:
                theirs = witness.call("commit", height=str(height))["signed_header"]
            except RpcError:
                continue  # unreachable, or not at this height yet: no evidence either way
            except (KeyError, TypeError):
                self._faulty.append(f"{witness.url} at height {height}: malformed commit answer")
                continue
            try:
                their_hash = header_hash(theirs["header"])
                if their_hash == ours:
                    continue
                if int(theirs["header"]["height"]) != height:
                    raise LightError(f"asked for header {height}, served header {theirs['header']['height']}")
                replay = self._replay(witness)
                if header_hash(replay.verified_header(height)) != their_hash:
                    raise LightError(f"served two different headers for height {height}")
            except (LightError, KeyError, TypeError, ValueError) as exc:
                why = exc.message if isinstance(exc, LightError) else f"malformed header ({exc!r})"
                self._faulty.append(f"{witness.url} at height {height}: {why}")
                continue
            reported = self._report_fork(height, signed, theirs, witness, replay) if self.report_forks else []
            accepted = [r for r in reported if r.accepted]
            raise LightError(
                f"fork detected at height {height}: witness {witness.url} serves header "
                f"{their_hash.hex()}, the sources {ours.hex()}; each verifies from the trust anchor "
                f"(validators signed conflicting headers); evidence accepted by {len(accepted)} of "
                f"{len(reported)} node(s) it was submitted to", Code.FORK_DETECTED)

    def _replay(self, witness: Any) -> "LightClient":
        """A light client of the witness's history, under the same rules, that starts from
        what both histories share: this client's validator sets up to the last one whose
        first header the witness's also names (found by bisection, as histories that part
        stay parted), each with the header its trust rests on here. Starting from any of
        this client's trusted sets is sound; the longest shared run lets the witness's own
        later set changes be followed with trust as fresh as this client's."""
        anchor = self._trusted[0]
        replay = LightClient.from_trusted(witness, self.chain_id, anchor.height, list(anchor.validators),
                                          trusting_period=self._clock.trusting_period,
                                          max_clock_drift=self._clock.max_clock_drift, now=self._clock.now)

        def named(index: int) -> bool:
            trusted = self._trusted[index]
            try:
                return _hex(replay._header(trusted.height)["validators_hash"]) == trusted.hash
            except (LightError, KeyError, TypeError, ValueError):
                return False

        low, high = 0, len(self._trusted) - 1
        while low < high:
            mid = (low + high + 1) // 2
            if named(mid):
                low = mid
            else:
                high = mid - 1
        replay._trusted = self._trusted[:low + 1]
        replay._rests_on = {t.height: self._rests_on[t.height] for t in replay._trusted}
        return replay

    def _report_fork(self, height: int, ours: dict[str, Any], theirs: dict[str, Any], witness: Any,
                     replay: "LightClient") -> list["EvidenceReport"]:
        """Submit each side's header to the other side as a light-client attack, as
        CometBFT's light client does: the client cannot tell which history is the chain's,
        and the nodes of each can (CometBFT verifies the evidence against its own blocks and
        commits it, naming the validators at fault). The headers submitted are those of
        the first height after the common one, which the common set signed (a later one
        may be signed only by a set the other side never had)."""
        first = height
        try:
            common = self._common_height(replay, height)
            first = common + 1  # where the histories part: the headers CometBFT can check against the common set
            if first != height:
                ours, theirs = self._signed_header(first, 0.0), replay._signed_header(first, 0.0)
            our_set, their_set = self._trusted_at(first).validators, replay._trusted_at(first).validators
            verify_signed_header(self.chain_id, ours, list(our_set))
            verify_signed_header(self.chain_id, theirs, list(their_set))
            common_time = self._header(common)["time"]
            common_set = list(self._trusted_at(common).validators)
            against_witness = evidence.light_client_attack(theirs, list(their_set), ours, common, common_time, common_set)
            against_sources = evidence.light_client_attack(ours, list(our_set), theirs, common, common_time, common_set)
        except (LightError, KeyError, TypeError, ValueError) as exc:
            why = exc.message if isinstance(exc, LightError) else f"{type(exc).__name__}: {exc}"
            reports = [EvidenceReport(witness.url, first, False, f"no evidence could be built: {why}")]
        else:
            reports = [self._submit(target, proof, first)
                       for target, proof in [*((s, against_witness) for s in self.sources), (witness, against_sources)]]
        self._reports.extend(reports)
        return reports

    def _submit(self, target: Any, proof: dict[str, Any], height: int) -> "EvidenceReport":
        """One submission. CometBFT checks a conflicting header against the commit of its
        own block of that height, which it stores with the next block: a fork at the
        newest height waits for that block (up to EVIDENCE_WAIT seconds)."""
        deadline = time.monotonic() + EVIDENCE_WAIT
        while True:
            try:
                answer = target.call("broadcast_evidence", evidence=proof)
                return EvidenceReport(target.url, height, True, f"evidence hash {answer.get('hash', '')}")
            except RpcError as exc:
                if "don't have commit at height" not in str(exc) or time.monotonic() >= deadline:
                    return EvidenceReport(target.url, height, False, str(exc))
            time.sleep(max(self.poll, 0.2))

    def _common_height(self, replay: "LightClient", height: int) -> int:
        """The last height below `height` where the witness's header (read through
        `replay`, whose source it is) is the sources' (the histories agree up to it and
        differ from it on: each header names the previous)."""
        def agree(h: int) -> bool:
            return header_hash(self._header(h)) == header_hash(replay._header(h))

        low, high = self._trusted[0].height, height
        if high - 1 > low and agree(high - 1):  # the usual case: they part at `height`
            return high - 1
        if not agree(low):
            raise LightError(f"the witness's history differs already at the trust anchor (height {low})")
        while high - low > 1:
            mid = (low + high) // 2
            if agree(mid):
                low = mid
            else:
                high = mid
        return low

    def verified_app_hash(self, height: int, *, wait: float = 10.0) -> bytes:
        """The app hash after block `height`, from the verified header of `height + 1`
        (waiting up to `wait` seconds for that block)."""
        return _hex(self.verified_header(height + 1, wait=wait)["app_hash"])

    def _trusted_at(self, height: int) -> TrustedSet:
        return next(t for t in reversed(self._trusted) if t.height <= height)

    def _advance(self, trusted: TrustedSet, target: int) -> None:
        """Verify the first validator-set change after `trusted` on the way to `target`."""
        low, high = trusted.height, target  # the set at `low` is trusted's; at `high` another
        while high - low > 1:
            mid = (low + high) // 2
            if _hex(self._header(mid).get("validators_hash", "")) == trusted.hash:
                low = mid
            else:
                high = mid
        # Header `low` is signed by the trusted set and names the set of `high` = low + 1.
        header = self._verify(self._signed_header(low, 0.0), trusted)
        vouched = _hex(header["next_validators_hash"])
        if vouched == trusted.hash:
            raise LightError(f"the validator set seemed to change at height {high}, but header {low} says it does not")
        new = validators_from_rpc(self._validator_pages(high))
        if validator_set_hash(new) != vouched:
            raise LightError(f"the validator set served for height {high} is not the one the validators of height {low} signed for")
        if any(t.height == high for t in self._trusted):
            raise LightError(f"conflicting validator sets for height {high}")
        self._trusted.append(TrustedSet(high, tuple(new), vouched))
        self._trusted.sort(key=lambda t: t.height)
        self._rests_on[high] = (low, header_time(header))

    # -- fetching --------------------------------------------------------------------------

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        errors = []
        for source in self.sources:
            try:
                return source.call(method, **params)
            except RpcError as exc:
                errors.append(str(exc))
        raise LightError(f"no source answered {method} {params}: {'; '.join(errors)}", _unavailable(errors))

    def _signed_header(self, height: int, wait: float) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while True:
            try:
                doc = self._call("commit", height=str(height))
                return doc["signed_header"]
            except LightError as exc:
                if exc.code != Code.HEIGHT_UNAVAILABLE or time.monotonic() >= deadline:
                    if exc.code == Code.HEIGHT_UNAVAILABLE and wait:
                        raise LightError(f"block {height} was not committed within {wait} s", Code.TIMEOUT) from None
                    raise
            except (KeyError, TypeError):
                raise LightError(f"malformed commit answer for height {height}") from None
            time.sleep(self.poll)

    def _header(self, height: int) -> dict[str, Any]:
        try:
            return self._call("header", height=str(height))["header"]
        except (KeyError, TypeError):
            raise LightError(f"malformed header answer for height {height}") from None

    def _validator_pages(self, height: int) -> list[dict[str, Any]]:
        pages = []
        page = 1
        while True:
            doc = self._call("validators", height=str(height), page=str(page), per_page=str(self.PER_PAGE))
            pages.append(doc)
            try:
                if sum(len(p["validators"]) for p in pages) >= int(doc["total"]) or not doc["validators"]:
                    return pages
            except (KeyError, TypeError, ValueError):
                raise LightError(f"malformed validators answer for height {height}") from None
            page += 1


def _source(source: CometRpc | ApiRelay | str) -> CometRpc | ApiRelay:
    """A URL string is a CometBFT RPC endpoint; a baychain API is given as `ApiRelay(url)`."""
    return CometRpc(source) if isinstance(source, str) else source


def _unavailable(errors: list[str]) -> Code:
    text = " ".join(errors)
    if "must be less than or equal to the current blockchain height" in text or "height must be less than or equal" in text:
        return Code.HEIGHT_UNAVAILABLE
    return Code.UNAVAILABLE
