"""JSON views of chain objects: what the API returns and the SDK reads.

Bytes become lowercase hex strings; everything else in the canonical value model is
already JSON. Error codes appear both as numbers and as their stable names.
"""

from __future__ import annotations

from typing import Any

from baychain import encoding
from baychain import transactions as txs
from baychain.chain.blockstore import TxRecord
from baychain.errors import BaychainError, Code


def jsonable(value: Any) -> Any:
    """A canonical value as JSON: bytes to hex, recursively."""
    kind = type(value)
    if kind is bytes:
        return value.hex()
    if kind is list:
        return [jsonable(v) for v in value]
    if kind is dict:
        return {k: jsonable(v) for k, v in value.items()}
    return value


def code_name(code: int) -> str:
    try:
        return Code(code).name
    except ValueError:
        return "UNKNOWN"


def receipt_json(rec: TxRecord) -> dict[str, Any]:
    return {
        "hash": rec.hash.hex(),
        "height": rec.height,
        "index": rec.index,
        "code": rec.code,
        "error": None if rec.code == 0 else code_name(rec.code),
        "log": rec.log,
        "data": jsonable(encoding.decode(rec.data)) if rec.data else None,
        "events": [e.to_dict() for e in rec.events],
        "compute_used": rec.compute_used,
    }


def tx_json(rec: TxRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"hash": rec.hash.hex(), "height": rec.height, "index": rec.index, "raw": rec.raw.hex()}
    try:
        tx = txs.decode(rec.raw)
    except BaychainError:
        out["decoded"] = None
    else:
        out["decoded"] = {
            "chain_id": tx.chain_id,
            "sender": tx.sender,
            "signer": tx.signer.hex(),
            "suite": tx.suite,
            "nonce": tx.nonce,
            "expiry_height": tx.expiry_height,
            "contract": tx.contract,
            "method": tx.method,
            "args": jsonable(tx.args),
        }
    out["receipt"] = receipt_json(rec)
    return out


def block_json(block: dict[str, Any]) -> dict[str, Any]:
    out = jsonable(block)
    out["num_txs"] = len(block["txs"])
    return out
