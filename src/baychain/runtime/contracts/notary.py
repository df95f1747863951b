"""Document notarization: anchor a document's hash once, with who and when.

The chain stores only the digest and small metadata, never the document. The first
account to notarize a digest owns the record; anyone can look it up and obtain a
Merkle proof of it against a block's app hash (state key c/notary/doc/<digest hex>).
"""

from contract import Map, ctx, emit, export, require, view

doc = Map(dict)


@export
def notarize(digest: bytes, metadata: dict = None):
    """Anchor a 32-byte document digest (e.g. SHA-256) with metadata; a digest is anchored once."""
    require(len(digest) == 32, "digest must be 32 bytes", "BAD_ARGUMENTS")
    require(digest not in doc, f"digest {digest.hex()} is already notarized", "ALREADY_EXISTS")
    doc[digest] = {"digest": digest, "owner": ctx.sender, "metadata": {} if metadata is None else metadata,
                   "height": ctx.height, "time_ns": ctx.time, "tx": ctx.tx_hash}
    emit("notarized", digest=digest, owner=ctx.sender)


@view
def lookup(digest: bytes) -> dict:
    """The notarization record of a digest."""
    record = doc[digest]
    require(record is not None, f"digest {digest.hex()} is not notarized", "NOT_FOUND")
    return record
