"""Light-client checks: trust an app hash only when the validators signed for it.

A state proof (baychain.state.proofs) shows that a value is in the state whose root is
some app hash. The SDK checks it against the app hash the queried node reports, so a
dishonest node could serve a made-up state with a matching made-up app hash. A light
client removes that trust: the app hash after block H is in the header of block H+1,
and that header is signed — through its hash, which the precommit votes sign — by the
validators. If validators holding more than two thirds of the voting power signed it,
the app hash is the chain's, whoever relayed it.

This checker trusts the genesis validator set (baychain makes no validator changes
yet; a header whose validators_hash differs from the trusted set's is refused rather
than followed). It recomputes, exactly as CometBFT v0.38 does:

- the header hash: RFC 6962 Merkle root of the header's fields, each protobuf-encoded
  (`Header.Hash` in types/block.go);
- the validator set hash: Merkle root of `SimpleValidator{pub_key, voting_power}` in
  the set's order (power descending, then address);
- each precommit's sign bytes: length-delimited `CanonicalVote{type, height, round,
  block_id, timestamp, chain_id}` (`VoteSignBytes` in types/vote.go), checked with Ed25519.

    light = LightClient(rpc_url, genesis)                 # genesis: the genesis.json document
    app_hash = light.verified_app_hash(height)            # app hash after block `height`
    proven = client.prove_state(key, height=height, app_hash=app_hash)   # SDK proof check
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from google.protobuf import wrappers_pb2
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

import baychain.abci.pb  # noqa: F401 - generates the protobuf modules if needed
from baychain.abci.proto_gen.tendermint.crypto import keys_pb2
from baychain.abci.proto_gen.tendermint.types import canonical_pb2, types_pb2, validator_pb2
from baychain.abci.proto_gen.tendermint.version import types_pb2 as version_pb2
from baychain.network.rpc import CometRpc

BLOCK_ID_FLAG_COMMIT = 2


class LightError(Exception):
    """A header or commit that does not prove what it claims."""


@dataclass(frozen=True)
class TrustedValidator:
    address: bytes  # 20 bytes: SHA-256(pub_key)[:20]
    pub_key: bytes  # Ed25519, 32 bytes
    power: int


def validators_from_genesis(genesis: dict[str, Any]) -> list[TrustedValidator]:
    out = []
    for v in genesis["validators"]:
        if v["pub_key"]["type"] != "tendermint/PubKeyEd25519":
            raise LightError(f"unsupported validator key type {v['pub_key']['type']}")
        pub = base64.b64decode(v["pub_key"]["value"])
        address = hashlib.sha256(pub).digest()[:20]
        if v.get("address") and bytes.fromhex(v["address"]) != address:
            raise LightError(f"genesis validator {v.get('name', '')}: address does not match its key")
        out.append(TrustedValidator(address, pub, int(v["power"])))
    return out


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


def vote_sign_bytes(chain_id: str, height: int, round_: int, block_id: dict[str, Any], timestamp: str) -> bytes:
    """What a validator signs for a precommit for `block_id` (length-delimited CanonicalVote)."""
    vote = canonical_pb2.CanonicalVote(
        type=types_pb2.SIGNED_MSG_TYPE_PRECOMMIT, height=height, round=round_, chain_id=chain_id
    )
    vote.block_id.hash = _hex(block_id["hash"])
    vote.block_id.part_set_header.SetInParent()
    vote.block_id.part_set_header.total = int(block_id["parts"]["total"])
    vote.block_id.part_set_header.hash = _hex(block_id["parts"]["hash"])
    vote.timestamp.CopyFrom(_timestamp(timestamp))
    body = vote.SerializeToString()
    return _uvarint(len(body)) + body


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


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
            VerifyKey(validator.pub_key).verify(message, base64.b64decode(sig["signature"] or ""))
        except (BadSignatureError, ValueError):
            raise LightError(f"bad precommit signature from validator {sig['validator_address']} at height {height}") from None
        seen.add(address)
        signed += validator.power
    if signed * 3 <= total * 2:
        raise LightError(f"only {signed} of {total} voting power signed header {height}; more than 2/3 is needed")
    return header


class LightClient:
    """Verifies CometBFT headers fetched from any node against the genesis validators."""

    def __init__(self, rpc: CometRpc | str, genesis: dict[str, Any] | str | Path) -> None:
        if isinstance(genesis, (str, Path)):
            genesis = json.loads(Path(genesis).read_text())
        self.chain_id: str = genesis["chain_id"]
        self.validators = validators_from_genesis(genesis)
        self.rpc = CometRpc(rpc) if isinstance(rpc, str) else rpc

    def verified_header(self, height: int) -> dict[str, Any]:
        doc = self.rpc.call("commit", height=str(height))
        return verify_signed_header(self.chain_id, doc["signed_header"], self.validators)

    def verified_app_hash(self, height: int) -> bytes:
        """The app hash after block `height`, from the signed header of `height + 1`."""
        return _hex(self.verified_header(height + 1)["app_hash"])
