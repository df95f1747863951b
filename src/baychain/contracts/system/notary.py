"""Document notarization: anchor a document's hash once, with who and when.

The chain stores only the digest and small metadata, never the document. The first
account to notarize a digest owns the record; anyone can look it up and obtain a
Merkle proof of it against a block's app hash.
"""

from __future__ import annotations

from typing import Any

from baychain.contracts.base import Contract, view
from baychain.contracts.context import Context
from baychain.errors import Code

MAX_METADATA_BYTES = 4096


def record_key(digest: bytes) -> str:
    return f"doc/{digest.hex()}"


class Notary(Contract):
    """Anchor document digests with metadata; look them up and prove them."""

    name = "notary"

    def notarize(self, ctx: Context, digest: bytes, metadata: dict = {}) -> None:  # noqa: B006 - never mutated
        """Anchor a 32-byte document digest (e.g. SHA-256) with metadata; a digest is anchored once."""
        ctx.require(len(digest) == 32, Code.BAD_ARGUMENTS, "digest must be 32 bytes")
        ctx.require(not ctx.has(record_key(digest)), Code.ALREADY_EXISTS, f"digest {digest.hex()} is already notarized")
        ctx.put(
            record_key(digest),
            {"digest": digest, "owner": ctx.sender, "metadata": metadata, "height": ctx.height, "time_ns": ctx.time_ns, "tx": ctx.tx_hash},
        )
        ctx.emit("notarized", digest=digest, owner=ctx.sender)

    @view
    def lookup(self, ctx: Context, digest: bytes) -> Any:
        """The notarization record of a digest."""
        record = ctx.get(record_key(digest))
        ctx.require(record is not None, Code.NOT_FOUND, f"digest {digest.hex()} is not notarized")
        return record
