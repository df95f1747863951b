"""Evidence of validators signing against the chain, in the JSON of CometBFT's
`broadcast_evidence` RPC.

`duplicate_vote` builds `DuplicateVoteEvidence`: two votes one validator signed for one
height and round but different blocks. CometBFT builds it by itself when its consensus
sees both votes; baychain builds it for a drill (`baychain net drill double-sign`, and
the demo's last step), signing with the key of a validator of a local network, to show
that the network catches and records a double signer.

A light client that finds two headers of one height, each signed by more than 2/3 of
a validator set it trusts, holds proof that validators signed against the chain: a
light-client attack (docs/NETWORK.md, "Misbehaviour"). CometBFT takes that proof as
`LightClientAttackEvidence`: the conflicting block (its signed header and validator
set), the last height both histories share (the common height) with that block's time
and the total power of its validators, and the validators at fault, which CometBFT
recomputes and must find listed exactly (`GetByzantineValidators`, types/evidence.go
in v0.38):

- **lunatic**: the conflicting header's state fields (validator sets, consensus
  parameters, app hash, results) differ from the chain's header of that height: the
  validators of the common height that signed the conflicting commit;
- **equivocation**: the state fields agree and both commits are of one round: the
  validators that signed both;
- **amnesia**: rounds differ: nobody can be named (an empty list).

The validators are listed by voting power, highest first, then by address.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from baychain.crypto.suites import ED25519

if TYPE_CHECKING:  # light.py reports forks with this module
    from baychain.network.light import TrustedValidator

BLOCK_ID_FLAG_COMMIT = 2
PREVOTE = 1  # tendermint.types.SignedMsgType


def duplicate_vote(chain_id: str, seed: bytes, height: int, header_time: str, validators: list[dict[str, Any]],
                   *, forge: bool = False) -> dict[str, Any]:
    """`DuplicateVoteEvidence` of the validator whose Ed25519 `seed` signs two prevotes at
    `height` (round 0) for two made-up blocks. `header_time` is the time of block `height`
    and `validators` that height's set as CometBFT's `validators` RPC lists it (both are
    checked by CometBFT). `forge`: the second vote is signed by another key (CometBFT must
    refuse that)."""
    from baychain.network.light import vote_sign_bytes  # light.py imports this module

    public = ED25519.public_key(seed)
    address = hashlib.sha256(public).digest()[:20].hex().upper()
    index = [v["address"].upper() for v in validators].index(address)
    votes = []
    for n in (1, 2):
        block_id = {"hash": hashlib.sha256(b"block %d at %d" % (n, height)).hexdigest().upper(),
                    "parts": {"total": 1, "hash": hashlib.sha256(b"parts %d at %d" % (n, height)).hexdigest().upper()}}
        signer = hashlib.sha256(seed + b"forged").digest() if forge and n == 2 else seed
        message = vote_sign_bytes(chain_id, height, 0, block_id, header_time, type_=PREVOTE)
        votes.append({"type": PREVOTE, "height": str(height), "round": 0, "block_id": block_id,
                      "timestamp": header_time, "validator_address": address, "validator_index": index,
                      "signature": base64.b64encode(ED25519.sign(signer, message)).decode()})
    votes.sort(key=lambda v: bytes.fromhex(v["block_id"]["hash"]))  # CometBFT wants them in block-id order
    return {"type": "tendermint/DuplicateVoteEvidence", "value": {
        "vote_a": votes[0], "vote_b": votes[1],
        "TotalVotingPower": str(sum(int(v["voting_power"]) for v in validators)),
        "ValidatorPower": str(validators[index]["voting_power"]), "Timestamp": header_time}}

STATE_FIELDS = ("validators_hash", "next_validators_hash", "consensus_hash", "app_hash", "last_results_hash")
"""The header fields whose difference makes a conflicting header "lunatic"."""


def light_client_attack(conflicting: dict[str, Any], conflicting_validators: list[TrustedValidator],
                        trusted: dict[str, Any], common_height: int, common_time: str,
                        common_validators: list[TrustedValidator]) -> dict[str, Any]:
    """`LightClientAttackEvidence` against `conflicting` (a signed header, as the `commit`
    RPC serves it, with the set that signed it), given the chain's signed header of the
    same height (`trusted`) and the validators and block time of the common height."""
    if int(common_height) < 1 or int(common_height) > int(conflicting["header"]["height"]):
        raise ValueError(f"common height {common_height} must be 1 to the conflicting height")
    byzantine = byzantine_validators(conflicting, trusted, common_validators, conflicting_validators)
    listed = [validator_json(v) for v in sorted(conflicting_validators, key=_by_power)]  # the order the set hashes in
    return {"type": "tendermint/LightClientAttackEvidence", "value": {
        "ConflictingBlock": {"signed_header": conflicting,
                             "validator_set": {"validators": listed, "proposer": listed[0]}},
        "CommonHeight": str(common_height),
        "ByzantineValidators": [validator_json(v) for v in byzantine],
        "TotalVotingPower": str(sum(v.power for v in common_validators)),
        "Timestamp": common_time,
    }}


def byzantine_validators(conflicting: dict[str, Any], trusted: dict[str, Any],
                         common_validators: list[TrustedValidator],
                         conflicting_validators: list[TrustedValidator]) -> list[TrustedValidator]:
    """The validators CometBFT holds responsible for `conflicting` (module docstring)."""
    theirs, ours = conflicting["commit"], trusted["commit"]
    if is_lunatic(conflicting["header"], trusted["header"]):
        by_address = {v.address: v for v in common_validators}
        named = [by_address.get(_address(sig)) for sig in theirs["signatures"] if _committed(sig)]
    elif int(theirs["round"]) == int(ours["round"]):
        by_address = {v.address: v for v in conflicting_validators}
        named = [by_address.get(_address(a)) for a, b in zip(theirs["signatures"], ours["signatures"])
                 if _committed(a) and _committed(b)]
    else:
        return []
    return sorted((v for v in named if v is not None), key=_by_power)


def is_lunatic(conflicting_header: dict[str, Any], trusted_header: dict[str, Any]) -> bool:
    return any(bytes.fromhex(conflicting_header[f]) != bytes.fromhex(trusted_header[f]) for f in STATE_FIELDS)


def validator_json(v: TrustedValidator) -> dict[str, Any]:
    return {"address": v.address.hex().upper(),
            "pub_key": {"type": "tendermint/PubKeyEd25519", "value": base64.b64encode(v.pub_key).decode()},
            "voting_power": str(v.power), "proposer_priority": "0"}


def _by_power(v: TrustedValidator) -> tuple[int, bytes]:
    """CometBFT's order of validators: voting power, highest first, then address."""
    return -v.power, v.address


def _committed(sig: dict[str, Any]) -> bool:
    return int(sig["block_id_flag"]) == BLOCK_ID_FLAG_COMMIT


def _address(sig: dict[str, Any]) -> bytes:
    return bytes.fromhex(sig["validator_address"])
