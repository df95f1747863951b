"""Canonical value encoding.

Everything baychain hashes or signs is encoded as deterministic CBOR (RFC 8949 §4.2,
as produced by cbor2's canonical mode: shortest integer forms, definite lengths, map
keys sorted by their encoded bytes, length first). The value model is deliberately
small so that every node, in every language, encodes a value to exactly one byte
string:

    None, bool, int in [-2**64, 2**64 - 1], str (UTF-8), bytes, list, dict with str keys

There are no floats, tags, or undefined. Decoding is strict: input that is not the
canonical encoding of an allowed value is rejected, so a value has one encoding and
a transaction has one hash. Both directions run natively (native/src/cbor.rs):
encoding checks the value while writing it, and decoding reads the bytes once, checking
as it builds the value, instead of decoding with cbor2, encoding again and comparing.
cbor2 remains the reference the tests compare against. Test vectors live in tests/vectors/.
"""

from __future__ import annotations

from typing import Any

import baychain_native

from baychain.errors import BaychainError, Code

Value = None | bool | int | str | bytes | list["Value"] | dict[str, "Value"]

MAX_DEPTH = 16
INT_MIN = -(2**64)
INT_MAX = 2**64 - 1


def encode(value: Value) -> bytes:
    """Encode a value canonically; raises BAD_ARGUMENTS for values outside the model.

    Natively, in one pass that checks the value as `check_value` does and writes what
    cbor2's canonical mode wrote (the test suite pins both against cbor2).
    """
    try:
        return baychain_native.cbor_encode(value, MAX_DEPTH)
    except baychain_native.CborError as exc:
        raise BaychainError(Code.BAD_ARGUMENTS, str(exc)) from None
    except UnicodeEncodeError:  # text with lone surrogates: a value outside the model wins, as before
        check_value(value)
        raise


def decode(data: bytes, code: Code = Code.MALFORMED_TX) -> Any:
    """Decode canonical bytes, rejecting anything not produced by `encode`."""
    if type(data) is not bytes:
        if not isinstance(data, (bytearray, memoryview)):
            raise BaychainError(code, f"not valid CBOR: expected bytes, not {type(data).__name__}")
        data = bytes(data)
    try:
        return baychain_native.cbor_decode(data, MAX_DEPTH)
    except baychain_native.CborError as exc:
        raise BaychainError(code, str(exc)) from None


def check_value(value: Any, code: Code = Code.BAD_ARGUMENTS, depth: int = 0) -> None:
    """Raise unless `value` lies inside the canonical value model."""
    if depth > MAX_DEPTH:
        raise BaychainError(code, f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is bytes:
        return
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise BaychainError(code, "integer outside the 64-bit range")
        return
    if kind is list:
        for item in value:
            check_value(item, code, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise BaychainError(code, "map keys must be strings")
            check_value(item, code, depth + 1)
        return
    raise BaychainError(code, f"type {kind.__name__} is not allowed (no floats, tags or sets)")
