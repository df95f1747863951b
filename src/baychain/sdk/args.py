"""Typing text arguments by a contract's published interface.

Command lines and JSON carry no bytes and little type information; a method's
interface (GET /v1/contracts) says what each parameter is. `typed_args` turns
`name=value` strings and/or a JSON object into the values the method expects:
ints parsed as ints, bytes from hex, bools from true/false, lists and maps from JSON.
A value that cannot be read as its parameter's type is rejected with BAD_ARGUMENTS,
the code the node itself would answer. Names the interface does not list are passed
through unchanged, so the node — the authority — rejects them with its own code.
"""

from __future__ import annotations

import json
from typing import Any

from baychain.errors import BaychainError, Code

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """`["a=1", "b=x=y"]` → `{"a": "1", "b": "x=y"}`."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BaychainError(Code.BAD_ARGUMENTS, f"argument {pair!r} must look like name=value")
        if name in out:
            raise BaychainError(Code.BAD_ARGUMENTS, f"argument {name!r} is given twice")
        out[name] = value
    return out


def parse_json_object(text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise BaychainError(Code.BAD_ARGUMENTS, f"arguments are not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BaychainError(Code.BAD_ARGUMENTS, "arguments must be a JSON object")
    return obj


def typed_args(
    interface: dict[str, Any] | None,
    pairs: dict[str, str] | None = None,
    json_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge JSON arguments and name=value pairs (pairs win), typed by `interface`."""
    types = {p["name"]: p["type"] for p in (interface or {}).get("params", [])}
    method = (interface or {}).get("name", "method")
    out: dict[str, Any] = {}
    for name, value in (json_args or {}).items():
        out[name] = _from_json(method, name, types.get(name), value)
    for name, text in (pairs or {}).items():
        out[name] = _from_text(method, name, types.get(name), text)
    return out


def _from_text(method: str, name: str, kind: str | None, text: str) -> Any:
    if kind is None or kind == "str":
        return text
    if kind == "int":
        try:
            return int(text.strip(), 0) if text.strip().lower().startswith(("0x", "-0x")) else int(text)
        except ValueError:
            raise _bad(method, name, f"must be an integer, got {text!r}") from None
    if kind == "bytes":
        return _hex(method, name, text)
    if kind == "bool":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise _bad(method, name, f"must be true or false, got {text!r}")
    if kind == "any":  # JSON if it reads as JSON (180, true, "x"), else the text itself
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind in ("list", "dict"):
        try:
            value = json.loads(text)
        except ValueError:
            raise _bad(method, name, f"must be a JSON {'array' if kind == 'list' else 'object'}, got {text!r}") from None
        return _from_json(method, name, kind, value)
    return text


def _from_json(method: str, name: str, kind: str | None, value: Any) -> Any:
    if kind == "bytes" and isinstance(value, str):
        return _hex(method, name, value)
    if kind == "list" and not isinstance(value, list):
        raise _bad(method, name, f"must be a JSON array, got {type(value).__name__}")
    if kind == "dict" and not isinstance(value, dict):
        raise _bad(method, name, f"must be a JSON object, got {type(value).__name__}")
    return value  # other mismatches are for the node to reject


def _hex(method: str, name: str, text: str) -> bytes:
    try:
        return bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError:
        raise _bad(method, name, f"must be hex bytes, got {text!r}") from None


def _bad(method: str, name: str, what: str) -> BaychainError:
    return BaychainError(Code.BAD_ARGUMENTS, f"{method}: argument {name!r} {what}")
