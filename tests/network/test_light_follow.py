"""The light client follows validator-set changes within its trusting period, on a
synthetic chain signed in-test (real Ed25519 keys, CometBFT's header and vote encodings)
whose block times the tests set, read with a clock the tests set, without any process; the
last tests serve that chain over HTTP, as CometBFT's RPC, to state sync and to the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from baychain.errors import BaychainError, Code
from baychain.network import statesync
from baychain.network.light import (LightClient, LightError, TrustedValidator, header_hash, parse_period, validator_set_hash,
                                    vote_sign_bytes)
from baychain.network.rpc import RpcError
from baychain.sdk.testing import local_node
from support import Cli, http_server

CHAIN_ID = "light-test"
SECOND = 1_000_000_000
HOUR = 3600 * SECOND


class Val:
    def __init__(self, seed: int, power: int = 10) -> None:
        self.key = SigningKey(hashlib.sha256(b"val %d" % seed).digest())
        self.pub = bytes(self.key.verify_key)
        self.address = hashlib.sha256(self.pub).digest()[:20]
        self.power = power

    def trusted(self) -> TrustedValidator:
        return TrustedValidator(self.address, self.pub, self.power)

    def rpc(self) -> dict:
        return {"address": self.address.hex().upper(), "pub_key": {"type": "tendermint/PubKeyEd25519",
                "value": base64.b64encode(self.pub).decode()}, "voting_power": str(self.power), "proposer_priority": "0"}


def set_hash(vals: list[Val]) -> str:
    return validator_set_hash([v.trusted() for v in vals]).hex().upper()


T0 = 1_767_225_600 * SECOND  # 2026-01-01T00:00:00Z, the block time of height 1 unless a test says otherwise


def rfc3339(ns: int) -> str:
    """A block time as CometBFT's RPC writes it."""
    return datetime.fromtimestamp(ns // SECOND, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % SECOND:09d}Z"


class Chain:
    """Headers 1..top, the first at `start`, one every `block` ns; `sets[h]` signs height h.
    Serves CometBFT's RPC shapes."""

    def __init__(self, sets: dict[int, list[Val]], top: int, start: int = T0, block: int = SECOND) -> None:
        self.sets, self.top, self.start, self.block = sets, top, start, block
        self.calls: list[str] = []
        self.evidence: list[dict] = []
        self.signed = {h: self._signed(h) for h in range(1, top + 1)}

    def time(self, h: int) -> int:
        return self.start + (h - 1) * self.block

    def rewrite(self, h: int, **fields: str) -> None:
        """Change fields of header h, signed again by its validators (what they alone can do)."""
        header = dict(self.signed[h]["header"], **fields)
        self.signed[h] = {"header": header, "commit": Chain.sign(header, self.set_at(h))}

    def set_at(self, h: int) -> list[Val]:
        return self.sets[max(k for k in self.sets if k <= h)]

    def _signed(self, h: int) -> dict:
        vals, nxt = self.set_at(h), self.set_at(h + 1)
        header = {
            "version": {"block": "11", "app": "1"}, "chain_id": CHAIN_ID, "height": str(h),
            "time": rfc3339(self.time(h)),
            "last_block_id": {"hash": "", "parts": {"total": 0, "hash": ""}},
            "last_commit_hash": "", "data_hash": "", "validators_hash": set_hash(vals),
            "next_validators_hash": set_hash(nxt), "consensus_hash": "AA" * 32,
            "app_hash": hashlib.sha256(b"app %d" % h).hexdigest().upper(), "last_results_hash": "",
            "evidence_hash": "", "proposer_address": vals[0].address.hex().upper(),
        }
        return {"header": header, "commit": self.sign(header, vals)}

    @staticmethod
    def sign(header: dict, vals: list[Val]) -> dict:
        block_id = {"hash": header_hash(header).hex().upper(), "parts": {"total": 1, "hash": "BB" * 32}}
        ts = "2026-01-01T00:01:00Z"
        sigs = [{"block_id_flag": 2, "validator_address": v.address.hex().upper(), "timestamp": ts,
                 "signature": base64.b64encode(v.key.sign(vote_sign_bytes(CHAIN_ID, int(header["height"]), 0, block_id, ts)).signature).decode()}
                for v in vals]
        return {"height": header["height"], "round": 0, "block_id": block_id, "signatures": sigs}

    def call(self, method: str, **params) -> dict:
        self.calls.append(method)
        if method == "broadcast_evidence":  # kept for the test to read, as a node's pool would
            self.evidence.append(params["evidence"])
            return {"hash": "AA=="}
        if method == "status":
            return {"node_info": {"network": CHAIN_ID}, "sync_info": {"latest_block_height": str(self.top)}}
        h = int(params["height"])
        if h > self.top:
            raise RpcError(f"height {h} must be less than or equal to the current blockchain height {self.top}")
        if method == "commit":
            return {"signed_header": self.signed[h], "canonical": True}
        if method == "header":
            return {"header": self.signed[h]["header"]}
        if method == "validators":
            vals = self.set_at(h)
            page, per = int(params["page"]), int(params["per_page"])
            chunk = vals[(page - 1) * per: page * per]
            return {"block_height": str(h), "validators": [v.rpc() for v in chunk], "count": str(len(chunk)), "total": str(len(vals))}
        raise RpcError(f"no method {method}")


A = [Val(i) for i in range(4)]
B = A[:3]                      # one validator removed (power 0)
C = B + [Val(9, power=5)]      # one added


def genesis() -> dict:
    return {"chain_id": CHAIN_ID, "initial_height": "1",
            "validators": [{"address": v.address.hex().upper(), "power": str(v.power),
                            "pub_key": {"type": "tendermint/PubKeyEd25519", "value": base64.b64encode(v.pub).decode()}} for v in A]}


def test_the_light_client_follows_each_validator_set_change_from_the_genesis() -> None:
    chain = Chain({1: A, 13: B, 27: C}, top=40)
    light = LightClient(chain, genesis())
    assert light.verified_app_hash(35) == bytes.fromhex(chain.signed[36]["header"]["app_hash"])
    assert [(t.height, len(t.validators)) for t in light.trusted_sets] == [(1, 4), (13, 3), (27, 4)]
    assert sorted(v.power for v in light.validators) == [5, 10, 10, 10]
    # Older heights are checked against the set of their own time.
    assert light.verified_header(5)["height"] == "5"
    assert light.verified_header(20)["height"] == "20"
    # Binary search: a handful of header fetches, not one per height.
    assert chain.calls.count("header") < 20


def test_a_validator_set_the_previous_validators_did_not_sign_for_is_refused() -> None:
    chain = Chain({1: A, 13: B}, top=20)
    evil = [Val(50 + i) for i in range(4)]
    # Headers from 13 on claim an evil set and are signed by it; the header of 12 (signed
    # by A) still names B as the next set, so the evil set cannot be linked to A.
    for h in range(13, 21):
        header = dict(chain.signed[h]["header"], validators_hash=set_hash(evil), next_validators_hash=set_hash(evil))
        chain.signed[h] = {"header": header, "commit": Chain.sign(header, evil)}
    chain.sets[13] = evil
    with pytest.raises(LightError, match="not the one the validators of height 12 signed for") as refused:
        LightClient(chain, genesis()).verified_header(18)
    assert refused.value.code == Code.PROOF_INVALID

    # Rewriting header 12 to name the evil set breaks A's signatures on it.
    header = dict(chain.signed[12]["header"], next_validators_hash=set_hash(evil))
    chain.signed[12] = {"header": header, "commit": chain.signed[12]["commit"]}
    with pytest.raises(LightError, match="hashes to"):
        LightClient(chain, genesis()).verified_header(18)


def test_waiting_for_a_height_and_failing_over_between_sources() -> None:
    chain = Chain({1: A}, top=10)

    class Down:
        def call(self, method, **params):
            raise RpcError("connection refused")

    light = LightClient([Down(), chain], genesis(), poll=0.01)
    assert light.verified_app_hash(9) == bytes.fromhex(chain.signed[10]["header"]["app_hash"])
    with pytest.raises(LightError) as late:
        light.verified_app_hash(10, wait=0.05)
    assert late.value.code == Code.TIMEOUT
    with pytest.raises(LightError) as down:
        LightClient([Down()], genesis()).verified_header(3)
    assert down.value.code == Code.UNAVAILABLE


def test_a_witness_whose_history_verifies_along_other_validator_sets_is_a_fork_and_one_that_does_not_is_faulty() -> None:
    honest = Chain({1: A, 13: B}, top=20)
    other = [Val(60 + i) for i in range(3)]
    forked = Chain({1: A, 13: other}, top=20)  # A signed two headers 12, naming different next sets
    honest.url, forked.url = "honest", "forked"
    with LightClient(honest, genesis(), witnesses=[honest]) as light:
        assert light.verified_header(18)["height"] == "18" and light.faulty_witnesses == []
    # The witness's header 18 is signed by a set the sources' history never had: it is
    # verified along the witness's own set changes from the genesis, and both histories hold.
    with LightClient(honest, genesis(), witnesses=[forked]) as light:
        with pytest.raises(LightError) as fork:
            light.verified_header(18)
        assert fork.value.code == Code.FORK_DETECTED and "witness forked" in fork.value.message
    # Each side got the other's header of height 12, the first after the common height 11:
    # signed by A (header 18 of the fork is signed by a set the chain never had), all of A named.
    for chain, conflicting in ((honest, forked), (forked, honest)):
        (proof,) = chain.evidence
        value = proof["value"]
        assert proof["type"] == "tendermint/LightClientAttackEvidence"
        assert value["ConflictingBlock"]["signed_header"] == conflicting.signed[12]
        assert (value["CommonHeight"], value["Timestamp"]) == ("11", honest.signed[11]["header"]["time"])
        assert sorted(v["address"] for v in value["ByzantineValidators"]) == sorted(v.address.hex().upper() for v in A)
    assert [(r.node, r.height, r.accepted) for r in light.evidence_reports] == [("honest", 12, True), ("forked", 12, True)]
    honest.evidence.clear()
    forked.evidence.clear()
    # The same from the other side: the witness tells the truth, the sources the fork.
    with LightClient(forked, genesis(), witnesses=[honest]) as light:
        with pytest.raises(LightError) as fork:
            light.verified_header(18)
        assert fork.value.code == Code.FORK_DETECTED

    # A witness whose set change the genesis validators never signed for is only faulty.
    unlinked = Chain({1: A, 13: B}, top=20)
    unlinked.url = "unlinked"
    for h in range(13, 21):
        header = dict(unlinked.signed[h]["header"], validators_hash=set_hash(other), next_validators_hash=set_hash(other))
        unlinked.signed[h] = {"header": header, "commit": Chain.sign(header, other)}
    unlinked.sets[13] = other
    with LightClient(honest, genesis(), witnesses=[unlinked]) as light:
        assert light.verified_header(18)["height"] == "18"
        (faulty,) = light.faulty_witnesses
        assert faulty.startswith("unlinked at height 18:") and "signed for" in faulty


# -- the trusting period and the time rules --------------------------------------------------------


class Clock:
    """The light client's local clock, set by the test (ns since the epoch)."""

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __call__(self) -> int:
        return self.ns


def in_regular_use(chain: Chain, clock: Clock, upto: int, period: timedelta) -> LightClient:
    """A genesis-anchored client that verified a header every 10 heights up to `upto`, each
    just after it was committed, as one kept in use does; the clock stays there."""
    light = LightClient(chain, genesis(), trusting_period=period, now=clock)
    for h in range(10, upto + 1, 10):
        clock.ns = chain.time(h) + SECOND
        assert light.verified_header(h)["height"] == str(h)
    return light


def test_a_header_is_accepted_within_the_trusting_period_and_refused_once_its_trust_is_older() -> None:
    chain = Chain({1: A}, top=30, block=HOUR)
    clock = Clock(chain.time(30) + SECOND)
    light = LightClient(chain, genesis(), trusting_period=timedelta(hours=48), now=clock)
    assert light.verified_header(30)["height"] == "30"  # the genesis block is 29 h old
    # Left idle, its trust rests on header 30, for 48 h after that header's time and not a nanosecond more.
    clock.ns = chain.time(30) + 48 * HOUR - 1
    assert light.verified_header(20)["height"] == "20"
    clock.ns = chain.time(30) + 48 * HOUR
    with pytest.raises(LightError) as idle:
        light.verified_header(25)
    assert idle.value.code == Code.TRUST_EXPIRED
    assert "last verified in header 30 of 2026-01-02T05:00:00" in idle.value.message
    assert "re-anchor with LightClient.from_trusted on a recent header checked out of band" in idle.value.message
    with pytest.raises(ValueError, match="positive"):
        LightClient(chain, genesis(), trusting_period=timedelta(0))
    with pytest.raises(ValueError, match="negative"):
        LightClient(chain, genesis(), max_clock_drift=timedelta(seconds=-1))


def test_a_client_in_regular_use_keeps_its_trust_and_one_anchored_on_an_older_genesis_has_none() -> None:
    chain = Chain({1: A}, top=200, block=HOUR)
    clock = Clock(chain.time(1))
    in_regular_use(chain, clock, 200, timedelta(hours=48))  # 200 h: four trusting periods
    with pytest.raises(LightError) as old:
        LightClient(chain, genesis(), trusting_period=timedelta(hours=48), now=clock).verified_header(200)
    assert old.value.code == Code.TRUST_EXPIRED and "last verified in header 1 of 2026-01-01T00:00:00" in old.value.message
    # A genesis anchor has no trusting period unless given one.
    assert LightClient(chain, genesis(), now=clock).verified_header(200)["height"] == "200"


def test_trust_moves_to_a_new_validator_set_with_the_header_that_named_it() -> None:
    chain = Chain({1: A, 13: B}, top=60, block=HOUR)  # header 12, A's last, names B
    period = timedelta(hours=48)
    clock = Clock(chain.time(10) + SECOND)
    light = LightClient(chain, genesis(), trusting_period=period, now=clock)
    assert light.verified_header(10)["height"] == "10"  # A's trust rests on header 10
    # Idle for nearly the period: A still vouches for B (header 12), and B's trust rests on
    # header 12, 46 h old, not on the genesis block (57 h old).
    clock.ns = chain.time(10) + 48 * HOUR - SECOND
    assert light.verified_header(56)["height"] == "56"
    assert [t.height for t in light.trusted_sets] == [1, 13]
    # Later A's trust (on header 12, its last) runs out; B's (on header 56) does not.
    clock.ns = chain.time(12) + 48 * HOUR
    assert light.verified_header(60)["height"] == "60"
    with pytest.raises(LightError) as replaced:
        light.verified_header(5)
    assert replaced.value.code == Code.TRUST_EXPIRED
    assert "the validator set of height 1, replaced at height 13, was last verified in header 12" in replaced.value.message
    # Idle for the whole period before the change, a client cannot follow it.
    late = LightClient(chain, genesis(), trusting_period=period, now=(late_clock := Clock(chain.time(10) + SECOND)))
    assert late.verified_header(10)["height"] == "10"
    late_clock.ns = chain.time(10) + 48 * HOUR
    with pytest.raises(LightError) as expired:
        late.verified_header(56)
    assert expired.value.code == Code.TRUST_EXPIRED and "header 10 " in expired.value.message
    assert [t.height for t in late.trusted_sets] == [1]


def test_from_trusted_has_cometbfts_week_and_refuses_an_anchor_older_than_its_period() -> None:
    chain = Chain({1: A, 13: B}, top=40, block=HOUR)
    b = [v.trusted() for v in B]
    clock = Clock(chain.time(40) + SECOND)
    light = LightClient.from_trusted(chain, CHAIN_ID, 25, b, now=clock)
    assert light.verified_header(40)["height"] == "40"
    # A week after header 25, an anchor there is refused at its first use (the default
    # period), while the client above rests on header 40 by now.
    clock.ns = chain.time(25) + 168 * HOUR
    with pytest.raises(LightError) as stale:
        LightClient.from_trusted(chain, CHAIN_ID, 25, b, now=clock).verified_header(40)
    assert stale.value.code == Code.TRUST_EXPIRED and "last verified in header 25 " in stale.value.message
    longer = LightClient.from_trusted(chain, CHAIN_ID, 25, b, trusting_period=timedelta(hours=169), now=clock)
    assert longer.verified_header(40)["height"] == "40"
    assert light.verified_header(30)["height"] == "30"


def test_a_header_whose_time_does_not_increase_with_its_height_is_refused() -> None:
    chain = Chain({1: A}, top=30)
    light = LightClient(chain, genesis(), now=Clock(chain.time(30) + SECOND))  # the time rules hold without a period too
    assert light.verified_header(10)["height"] == "10"
    chain.rewrite(20, time=chain.signed[10]["header"]["time"])  # signed, but no later than header 10
    with pytest.raises(LightError, match=r"header 20's time \S+ is not after the time of header 10") as same:
        light.verified_header(20)
    assert same.value.code == Code.PROOF_INVALID
    chain.rewrite(20, time=rfc3339(chain.time(10) + 1))  # a nanosecond later is later
    assert light.verified_header(20)["height"] == "20"
    # A lower height must be earlier than the header the trust rests on (20 now).
    chain.rewrite(15, time=chain.signed[20]["header"]["time"])
    with pytest.raises(LightError, match=r"header 15's time \S+ is not before the time of header 20") as lower:
        light.verified_header(15)
    assert lower.value.code == Code.PROOF_INVALID


def test_a_header_from_further_ahead_than_the_clock_drift_is_refused() -> None:
    chain = Chain({1: A}, top=12)
    clock = Clock(chain.time(11))
    light = LightClient(chain, genesis(), now=clock)
    assert light.verified_header(11)["height"] == "11"
    chain.rewrite(12, time=rfc3339(clock.ns + 10 * SECOND))  # exactly the default drift ahead: refused, as CometBFT does
    with pytest.raises(LightError, match="header 12 is from the future") as future:
        light.verified_header(12)
    assert future.value.code == Code.PROOF_INVALID
    chain.rewrite(12, time=rfc3339(clock.ns + 10 * SECOND - 1))
    assert light.verified_header(12)["height"] == "12"
    chain.rewrite(12, time=rfc3339(clock.ns + 50 * SECOND))
    with pytest.raises(LightError, match="from the future"):
        LightClient(chain, genesis(), now=clock).verified_header(12)
    assert LightClient(chain, genesis(), max_clock_drift=timedelta(minutes=1), now=clock).verified_header(12)["height"] == "12"


def test_a_witness_is_checked_from_the_trust_both_histories_share_under_the_same_rules() -> None:
    period = timedelta(hours=48)
    honest = Chain({1: A, 13: B}, top=70, block=HOUR)
    clock = Clock(honest.time(1))
    light = in_regular_use(honest, clock, 60, period)
    clock.ns = honest.time(65) + SECOND  # A's trust (on header 12) has run out; the genesis block is 64 h old
    # B signed a second header 65: verified from B, whose trust both histories share, it is a fork.
    forked = Chain({1: A, 13: B}, top=70, block=HOUR)
    forked.rewrite(65, app_hash="EE" * 32)
    honest.url, forked.url = "honest", "forked"
    light.witnesses.append(forked)
    with pytest.raises(LightError) as fork:
        light.verified_header(65)
    assert fork.value.code == Code.FORK_DETECTED
    assert [(r.node, r.height, r.accepted) for r in light.evidence_reports] == [("honest", 65, True), ("forked", 65, True)]

    # A's second header 12, naming another set, was signed more than the period ago: beyond
    # the trust A still has, that history proves nothing, and its witness is set aside.
    other = [Val(60 + i) for i in range(3)]
    old_fork = Chain({1: A, 13: other}, top=70, block=HOUR)
    old_fork.url = "old-fork"
    # A witness's header from further ahead than the clock drift is refused as the sources' would be.
    ahead = Chain({1: A, 13: B}, top=70, block=HOUR)
    ahead.rewrite(65, time=rfc3339(clock.ns + HOUR))
    ahead.url = "ahead"
    light = in_regular_use(honest, clock, 60, period)
    clock.ns = honest.time(65) + SECOND
    light.witnesses.extend([old_fork, ahead])
    assert light.verified_header(65)["height"] == "65"
    expired, future = light.faulty_witnesses
    assert expired.startswith("old-fork at height 65: trust expired: the validator set of height 1 was last verified in header 12")
    assert future.startswith("ahead at height 65: header 65 is from the future")


@contextmanager
def served(chain: Chain) -> Iterator[str]:
    """`chain` behind a real HTTP server speaking CometBFT's JSON-RPC; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                answer = {"result": chain.call(body["method"], **body.get("params", {}))}
            except RpcError as exc:
                answer = {"error": {"code": -32603, "message": "Internal error", "data": str(exc)}}
            data = json.dumps({"jsonrpc": "2.0", "id": body["id"], **answer}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Handler) as url:
        yield url


def test_state_sync_refuses_a_latest_header_older_than_its_trust_period(tmp_path: Path) -> None:
    chain = Chain({1: A, 13: B}, top=40, block=HOUR)
    clock = Clock(chain.time(40) + HOUR)  # the chain's latest header is an hour old
    (tmp_path / "genesis.json").write_text(json.dumps(genesis()))
    with served(chain) as first, served(chain) as second:
        anchor = statesync.trust_anchor(tmp_path / "genesis.json", [first, second], now=clock)
        assert anchor == statesync.Anchor(40, header_hash(chain.signed[40]["header"]).hex().upper())
        with pytest.raises(BaychainError) as stale:
            statesync.trust_anchor(tmp_path / "genesis.json", [first, second], parse_period("59m59s"), now=clock)
    assert stale.value.code == Code.TRUST_EXPIRED and "older than the trust period (0:59:59)" in stale.value.message


def test_the_cli_light_client_takes_a_trust_period(tmp_path: Path) -> None:
    with local_node(tmp_path / "node") as node:
        cli = Cli(node.url, tmp_path / "keys", "passphrase")
        cli.new_key("alice")
        assert cli("tx", "send", "-k", "alice", "points", "create", "-a", "symbol=LC", "-a", "title=t").exit_code == 0
        height = cli.json("status")["height"]
        app_hash = cli.json("block", str(height))["app_hash"]
        # Headers of a chain that began 10 minutes ago, the one after `height` carrying the
        # node's app hash of `height`: signed by the genesis validators of `genesis()`.
        chain = Chain({1: A}, top=height + 1, start=time.time_ns() - 600 * SECOND, block=SECOND // 100)
        chain.rewrite(height + 1, app_hash=app_hash.upper())
        (tmp_path / "genesis.json").write_text(json.dumps(genesis()))
        with served(chain) as rpc:
            get = ("state", "get", "00ff00", "--height", str(height), "--prove", "--light",
                   "--genesis", str(tmp_path / "genesis.json"), "--rpc", rpc)
            within = cli(*get, "--trust-period", "1h")
            assert within.exit_code == 0, within.output
            assert f"VERIFIED: in header {height + 1}" in within.stdout
            expired = cli(*get, "--trust-period", "5m")
            assert expired.exit_code == 1 and "error TRUST_EXPIRED (code 307)" in expired.stderr
            assert "LightClient.from_trusted" in expired.stderr
            malformed = cli(*get, "--trust-period", "a week")
            assert malformed.exit_code == 1 and "BAD_REQUEST" in malformed.stderr and "168h0m0s" in malformed.stderr
        alone = cli("state", "get", "00ff00", "--prove", "--trust-period", "1h")
        assert alone.exit_code == 1 and "use it with --light" in alone.stderr
