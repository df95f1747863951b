"""Transactions: what a client asks the chain to do, signed.

Wire format (specified in docs/TRANSACTIONS.md, pinned by tests/vectors/transactions.json):

    signed_tx = canonical CBOR [body: bytes, signature: bytes]
    body      = canonical CBOR [version=1, chain_id: str, suite: int, signer: bytes,
                                nonce: int, expiry_height: int, contract: str,
                                method: str, args: {str: value}]
    signature = suite.sign(private_key, b"baychain/tx/v1" + body)
    tx hash   = SHA-256(signed_tx)

The signature covers the exact body bytes, so verification needs no re-encoding. The
signer is the public key itself (its suite names the algorithm); the account address
is derived from it. `nonce` must equal the signer's next nonce (replay protection and
ordering); the transaction is void once the chain passes `expiry_height`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from baychain import encoding
from baychain.crypto.hashing import sha256
from baychain.crypto.suites import address_of, find_suite, get_suite
from baychain.errors import BaychainError, Code

TX_VERSION = 1
SIGN_DOMAIN = b"baychain/tx/v1"
MAX_TX_BYTES = 65536
MAX_NAME_LEN = 64
MAX_CHAIN_ID_LEN = 64
MAX_U64 = 2**64 - 1
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")


@dataclass(slots=True)
class Transaction:
    chain_id: str
    suite: int
    signer: bytes
    nonce: int
    expiry_height: int
    contract: str
    method: str
    args: dict[str, Any]
    signature: bytes = b""
    body: bytes = field(default=b"", repr=False)
    raw: bytes = field(default=b"", repr=False)
    hash: bytes = field(default=b"", repr=False)
    sender: str = ""  # the signer's account address, derived once


    def sign_bytes(self) -> bytes:
        return SIGN_DOMAIN + self.body

    def verify_signature(self) -> bool:
        return get_suite(self.suite).verify(self.signer, self.sign_bytes(), self.signature)


def build(
    *,
    chain_id: str,
    suite: int,
    signer: bytes,
    nonce: int,
    expiry_height: int,
    contract: str,
    method: str,
    args: dict[str, Any],
) -> Transaction:
    """Make an unsigned transaction, checking every field; call `sign` next."""
    tx = Transaction(chain_id, suite, signer, nonce, expiry_height, contract, method, dict(args) if type(args) is dict else args)
    _check_fields(tx, Code.BAD_ARGUMENTS)
    tx.sender = address_of(suite, signer)
    tx.body = encoding.encode(
        [TX_VERSION, chain_id, suite, signer, nonce, expiry_height, contract, method, tx.args]
    )
    return tx


def sign(tx: Transaction, private_key: bytes) -> Transaction:
    """Sign the body with the signer's key and fill in raw bytes and hash."""
    suite = get_suite(tx.suite)
    if suite.public_key(private_key) != tx.signer:
        raise BaychainError(Code.BAD_SIGNATURE, "private key does not belong to the transaction's signer")
    tx.signature = suite.sign(private_key, tx.sign_bytes())
    tx.raw = encoding.encode([tx.body, tx.signature])
    if len(tx.raw) > MAX_TX_BYTES:
        raise BaychainError(Code.TX_TOO_LARGE, f"transaction is {len(tx.raw)} bytes; the limit is {MAX_TX_BYTES}")
    tx.hash = sha256(tx.raw)
    return tx


def decode(raw: bytes) -> Transaction:
    """Parse signed transaction bytes strictly (no signature check; see verify_signature).

    Every node decodes every transaction it admits, so the common case (every field
    well-formed) is checked in one expression; only a transaction failing it goes
    through `_check_fields`, which names the first rule broken, in a fixed order.
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    if len(raw) > MAX_TX_BYTES:
        raise BaychainError(Code.TX_TOO_LARGE, f"transaction is {len(raw)} bytes; the limit is {MAX_TX_BYTES}")
    outer = encoding.decode(raw)
    if type(outer) is not list or len(outer) != 2 or type(outer[0]) is not bytes or type(outer[1]) is not bytes:
        raise BaychainError(Code.MALFORMED_TX, "a signed transaction is [body bytes, signature bytes]")
    body, signature = outer
    fields = encoding.decode(body)
    if type(fields) is not list or len(fields) != 9:
        raise BaychainError(Code.MALFORMED_TX, "a transaction body has exactly 9 fields")
    version, chain_id, suite_id, signer, nonce, expiry_height, contract, method, args = fields
    if version != TX_VERSION or type(version) is not int:
        raise BaychainError(Code.MALFORMED_TX, f"unknown transaction version {version!r}")
    suite = find_suite(suite_id) if type(suite_id) is int else None
    if (suite is not None and type(chain_id) is str and 0 < len(chain_id) <= MAX_CHAIN_ID_LEN
            and type(signer) is bytes and len(signer) == suite.public_key_len
            and type(nonce) is int and 0 <= nonce <= MAX_U64
            and type(expiry_height) is int and 0 <= expiry_height <= MAX_U64
            and type(contract) is str and (contract in _names or _is_name(contract))
            and type(method) is str and (method in _names or _is_name(method))
            and type(args) is dict and len(signature) == suite.signature_len):
        return Transaction(chain_id, suite_id, signer, nonce, expiry_height, contract, method, args, signature,
                           body, raw, sha256(raw), address_of(suite_id, signer))
    tx = Transaction(*fields[1:], signature=signature, body=body, raw=raw, hash=sha256(raw))
    _check_fields(tx, Code.MALFORMED_TX)
    tx.sender = address_of(tx.suite, tx.signer)
    suite = get_suite(tx.suite)
    if len(signature) != suite.signature_len:
        raise BaychainError(Code.BAD_SIGNATURE, f"{suite.name} signatures are {suite.signature_len} bytes")
    return tx


def decode_trusted(raw: bytes, tx_hash: bytes = b"", sender: str = "") -> Transaction:
    """Rebuild a transaction from bytes that `decode` has already accepted.

    Skips the field checks, so it is only for bytes a strict decode accepted before
    (the admission workers do that, and pass on the hash and sender they computed);
    the result equals what `decode` returns. (The canonical-form check costs less than
    decoding with cbor2 did, so it stays.)
    """
    body, signature = encoding.decode(raw)
    fields = encoding.decode(body)
    _, chain_id, suite_id, signer, nonce, expiry_height, contract, method, args = fields
    return Transaction(chain_id, suite_id, signer, nonce, expiry_height, contract, method, args, signature, body,
                       raw, tx_hash or sha256(raw), sender or address_of(suite_id, signer))


_names: dict[str, None] = {}  # contract and method names seen to match _NAME (a pure check, remembered)
NAMES_KEPT = 10_000


def _is_name(value: str) -> bool:
    """`value` matches _NAME (remembered if so: every transaction names a contract and a method)."""
    if _NAME.match(value) is None:
        return False
    if len(_names) >= NAMES_KEPT:
        _names.clear()
    _names[value] = None
    return True


def _check_fields(tx: Transaction, code: Code) -> None:
    if type(tx.chain_id) is not str or not 0 < len(tx.chain_id) <= MAX_CHAIN_ID_LEN:
        raise BaychainError(code, "chain_id must be a non-empty string of at most 64 characters")
    if type(tx.suite) is not int:
        raise BaychainError(code, "suite must be an integer")
    suite = get_suite(tx.suite)
    if type(tx.signer) is not bytes or len(tx.signer) != suite.public_key_len:
        raise BaychainError(code, f"signer must be a {suite.public_key_len}-byte {suite.name} public key")
    for name in ("nonce", "expiry_height"):
        value = getattr(tx, name)
        if type(value) is not int or not 0 <= value <= MAX_U64:
            raise BaychainError(code, f"{name} must be an unsigned 64-bit integer")
    for name in ("contract", "method"):
        value = getattr(tx, name)
        if type(value) is not str or not _NAME.match(value):
            raise BaychainError(code, f"{name} must match [a-z][a-z0-9_]* (at most 64 characters)")
    if type(tx.args) is not dict:
        raise BaychainError(code, "args must be a map of argument names to values")
