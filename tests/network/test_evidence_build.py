"""Fork evidence as CometBFT checks it (baychain.network.evidence), without processes:
which validators a light-client attack names, in which order, and the JSON shape."""

from __future__ import annotations

import copy

import pytest

from baychain.crypto.hashing import sha256
from baychain.network.evidence import byzantine_validators, is_lunatic, light_client_attack
from baychain.network.light import TrustedValidator

VALIDATORS = [TrustedValidator(sha256(b"k%d" % i)[:20], sha256(b"k%d" % i), p) for i, p in enumerate((10, 30, 10, 20))]
BY_POWER = sorted(VALIDATORS, key=lambda v: (-v.power, v.address))


def signed(app_hash: str = "AA" * 32, round_: int = 0, committed: tuple[int, ...] = (0, 1, 2, 3)) -> dict:
    header = {name: "11" * 32 for name in ("validators_hash", "next_validators_hash", "consensus_hash",
                                           "last_results_hash")}
    header.update(height="9", app_hash=app_hash, chain_id="c")
    sigs = [{"block_id_flag": 2 if i in committed else 1, "validator_address": v.address.hex().upper()}
            for i, v in enumerate(BY_POWER)]
    return {"header": header, "commit": {"height": "9", "round": str(round_), "signatures": sigs}}


def test_a_lunatic_header_names_the_common_sets_signers_by_power_then_address() -> None:
    chain, forged = signed(), signed(app_hash="AB" * 32, committed=(0, 2, 3))
    assert is_lunatic(forged["header"], chain["header"])
    named = byzantine_validators(forged, chain, VALIDATORS, VALIDATORS)
    assert named == [BY_POWER[0], BY_POWER[2], BY_POWER[3]]
    assert [v.power for v in named] == [30, 10, 10] and named[1].address < named[2].address
    # A signer outside the common set is not named.
    assert byzantine_validators(forged, chain, [v for v in VALIDATORS if v != BY_POWER[0]], VALIDATORS) == named[1:]


def test_equivocation_names_who_signed_both_and_amnesia_names_nobody() -> None:
    chain = signed(committed=(0, 1, 3))
    other = copy.deepcopy(signed(committed=(1, 2, 3)))
    other["header"]["height"] = "9"  # same state fields: not lunatic
    assert not is_lunatic(other["header"], chain["header"])
    assert byzantine_validators(other, chain, VALIDATORS, VALIDATORS) == [BY_POWER[1], BY_POWER[3]]
    later_round = signed(round_=1, committed=(1, 2, 3))
    assert byzantine_validators(later_round, chain, VALIDATORS, VALIDATORS) == []


def test_the_evidence_json_lists_the_set_in_hash_order_with_a_proposer_from_it() -> None:
    chain, forged = signed(), signed(app_hash="AB" * 32)
    evidence = light_client_attack(forged, VALIDATORS, chain, 8, "2026-11-22T00:00:00Z", VALIDATORS)
    assert evidence["type"] == "tendermint/LightClientAttackEvidence"
    value = evidence["value"]
    listed = value["ConflictingBlock"]["validator_set"]["validators"]
    assert [v["address"] for v in listed] == [v.address.hex().upper() for v in BY_POWER]
    assert value["ConflictingBlock"]["validator_set"]["proposer"] in listed
    assert [v["voting_power"] for v in listed] == ["30", "20", "10", "10"]
    assert (value["CommonHeight"], value["TotalVotingPower"], value["Timestamp"]) == ("8", "70", "2026-11-22T00:00:00Z")
    assert [v["address"] for v in value["ByzantineValidators"]] == [v.address.hex().upper() for v in BY_POWER]
    with pytest.raises(ValueError, match="common height"):
        light_client_attack(forged, VALIDATORS, chain, 10, "2026-11-22T00:00:00Z", VALIDATORS)


def test_a_duplicate_vote_is_two_prevotes_the_validator_signed_in_block_id_order() -> None:
    import base64

    from baychain.crypto.suites import ED25519
    from baychain.network.evidence import duplicate_vote
    from baychain.network.light import vote_sign_bytes

    seeds = [sha256(b"seed %d" % i) for i in range(3)]
    listed = [{"address": sha256(ED25519.public_key(s))[:20].hex().upper(), "voting_power": str(10 * (i + 1))}
              for i, s in enumerate(seeds)]
    when = "2026-11-22T01:02:03.456Z"
    proof = duplicate_vote("c", seeds[1], 7, when, listed)
    value = proof["value"]
    a, b = value["vote_a"], value["vote_b"]
    assert proof["type"] == "tendermint/DuplicateVoteEvidence"
    assert bytes.fromhex(a["block_id"]["hash"]) < bytes.fromhex(b["block_id"]["hash"])
    assert (a["height"], a["round"], a["type"], a["validator_index"]) == ("7", 0, 1, 1) == (b["height"], b["round"], b["type"], 1)
    assert (value["ValidatorPower"], value["TotalVotingPower"], value["Timestamp"]) == ("20", "60", when)
    public = ED25519.public_key(seeds[1])
    for vote in (a, b):
        message = vote_sign_bytes("c", 7, 0, vote["block_id"], when, type_=1)
        assert ED25519.verify(public, message, base64.b64decode(vote["signature"]))
    forged = duplicate_vote("c", seeds[1], 7, when, listed, forge=True)["value"]
    valid = [ED25519.verify(public, vote_sign_bytes("c", 7, 0, v["block_id"], when, type_=1), base64.b64decode(v["signature"]))
             for v in (forged["vote_a"], forged["vote_b"])]
    assert sorted(valid) == [False, True]
    with pytest.raises(ValueError):
        duplicate_vote("c", sha256(b"not a validator"), 7, when, listed)
