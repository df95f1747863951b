"""The light client follows validator-set changes, on a synthetic chain signed in-test
(real Ed25519 keys, CometBFT's header and vote encodings), without any process."""

from __future__ import annotations

import base64
import hashlib

import pytest
from nacl.signing import SigningKey

from baychain.errors import Code
from baychain.network.light import LightClient, LightError, TrustedValidator, header_hash, validator_set_hash, vote_sign_bytes
from baychain.network.rpc import RpcError

CHAIN_ID = "light-test"


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


class Chain:
    """Headers 1..top; `sets[h]` signs height h. Serves CometBFT's RPC shapes."""

    def __init__(self, sets: dict[int, list[Val]], top: int) -> None:
        self.sets, self.top = sets, top
        self.calls: list[str] = []
        self.evidence: list[dict] = []
        self.signed = {h: self._signed(h) for h in range(1, top + 1)}

    def set_at(self, h: int) -> list[Val]:
        return self.sets[max(k for k in self.sets if k <= h)]

    def _signed(self, h: int) -> dict:
        vals, nxt = self.set_at(h), self.set_at(h + 1)
        header = {
            "version": {"block": "11", "app": "1"}, "chain_id": CHAIN_ID, "height": str(h),
            "time": f"2026-01-01T00:00:{h % 60:02d}.5Z",
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
