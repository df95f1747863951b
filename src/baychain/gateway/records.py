"""Records and their keyed hashes: what a gateway stores, and what it anchors on chain.

A record is one document about one data subject:

    {"subject": "A123456(7)",                 the subject's identifier (an ID number)
     "categories": ["identity", "contact"],   the data categories it holds (sorted, unique)
     "fields": {"name": "…", "phone": "…"}}   its content: text, integers, bytes

Only keyed hashes of it leave the gateway:

    record digest   HMAC-SHA256(key, "baychain/dataex/record/v1" ‖ 0x00 ‖ canonical CBOR of the record)
    subject ref     HMAC-SHA256(key, "baychain/dataex/subject/v1" ‖ 0x00 ‖ UTF-8 of the subject)

`key` is the organisation's own 32-byte HMAC key, kept in its vault. An ID number or
phone number has few possible values, so a plain hash of it is reversed by hashing
every candidate (a dictionary attack); an HMAC under a secret key is not, because
the attacker cannot compute it for any candidate. The canonical encoding
(`baychain.encoding`) gives a record exactly one byte string, so the digest does not
depend on field order, and one changed byte anywhere changes it. The domain labels
keep the two kinds of hash from ever colliding. Test vectors: tests/gateway/vectors.json.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from baychain import encoding
from baychain.errors import BaychainError, Code

RECORD_LABEL = b"baychain/dataex/record/v1\x00"
SUBJECT_LABEL = b"baychain/dataex/subject/v1\x00"
KEY_BYTES = 32
MAX_RECORD_BYTES = 64 * 1024

Record = dict[str, Any]


def normalise(record: Any) -> Record:
    """The record in its one canonical form, or RECORD_INVALID saying what is wrong."""
    if type(record) is not dict or sorted(record) != ["categories", "fields", "subject"]:
        raise BaychainError(Code.RECORD_INVALID, 'a record is {"subject": str, "categories": [str], "fields": {...}}')
    subject, categories, fields = record["subject"], record["categories"], record["fields"]
    if type(subject) is not str or not 0 < len(subject) <= 200:
        raise BaychainError(Code.RECORD_INVALID, "a record's subject is a non-empty string of at most 200 characters")
    if type(categories) is not list or not categories or not all(type(c) is str and 0 < len(c) <= 64 for c in categories):
        raise BaychainError(Code.RECORD_INVALID, "a record names one or more data categories (strings of 1-64 characters)")
    if type(fields) is not dict:
        raise BaychainError(Code.RECORD_INVALID, "a record's fields are an object")
    clean = {"subject": subject, "categories": sorted(dict.fromkeys(categories)), "fields": fields}
    try:
        raw = encoding.encode(clean)
    except BaychainError as exc:
        raise BaychainError(Code.RECORD_INVALID, f"a record's fields must be canonical values: {exc.message}") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise BaychainError(Code.RECORD_INVALID, f"a record may be at most {MAX_RECORD_BYTES} bytes encoded")
    return clean


def record_digest(key: bytes, record: Any) -> bytes:
    """The keyed hash of a record: what is anchored on chain and compared on verification."""
    return _hmac(key, RECORD_LABEL + encoding.encode(normalise(record)))


def subject_ref(key: bytes, subject: str) -> bytes:
    """The keyed reference of a data subject: how consents and anchors name a person."""
    return _hmac(key, SUBJECT_LABEL + subject.encode())


def _hmac(key: bytes, message: bytes) -> bytes:
    if len(key) != KEY_BYTES:
        raise BaychainError(Code.BAD_REQUEST, f"an HMAC key is {KEY_BYTES} bytes")
    return hmac.new(key, message, hashlib.sha256).digest()
