"""The contract standard library: every name a contract sees besides its own.

    ctx            the call: ctx.sender (the account acting), ctx.signer (its key),
                   ctx.organisation, ctx.jurisdiction (GD/HK/MO), ctx.role,
                   ctx.height, ctx.time (block time, ns), ctx.tx_hash, ctx.contract
    Map, Var       typed storage (baychain.runtime.storage)
    Decimal        fixed-point numbers (baychain.runtime.fixed)
    emit(event, **attributes)       an event `<contract>.<event>`
    alert(kind, **attributes)       a regulator alert, kept even if the call then fails
    require(condition, message, code="CONTRACT_FAILED")   end the call unless it holds
    fail(message, code="CONTRACT_FAILED")                 end the call
    call(contract, method, **args)  call another contract; all of it or none of it
    param(name, default=None)       a governance parameter
    sha256(data) -> bytes, is_address(text) -> bool
    export, view   decorators marking the interface (removed before the code runs)

plus the builtins of `Machine.builtins`. `require` and `fail` raise errors with a code
from a short list, so a contract answers the same way a built-in contract does
(`require(balance >= amount, "...", "INSUFFICIENT_BALANCE")`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import baychain_native

from baychain.app.types import Event
from baychain.crypto.suites import is_address as _is_address
from baychain.errors import BaychainError, Code
from baychain.runtime.fixed import Decimal
from baychain.runtime.machine import Machine
from baychain.runtime.storage import Map, Var

EVENT_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_EVENT_VALUES = frozenset({int, str, bytes, bool, Decimal})
_EVENT_NAMES_SEEN: set[str] = set()  # names already checked (membership only, never iterated)
_event_texts = baychain_native.event_texts  # (key, text) attributes and their length, None if one is not plain
REQUIRE_CODES = frozenset({"CONTRACT_FAILED", "NOT_AUTHORIZED", "NOT_FOUND", "ALREADY_EXISTS", "INSUFFICIENT_BALANCE",
                           "BAD_ARGUMENTS", "LIMIT_EXCEEDED", "PERMISSION_DENIED"})


class ContextView:
    """`ctx` inside a contract: read-only fields of the call in progress, nothing else."""

    __slots__ = ("_machine",)

    def __init__(self, machine: Machine) -> None:
        self._machine = machine

    @property
    def sender(self) -> str:
        return self._machine.top.sender  # type: ignore[union-attr]

    @property
    def signer(self) -> str:
        return self._machine.top.signer  # type: ignore[union-attr]

    @property
    def organisation(self) -> str:
        return self._machine.top.organisation  # type: ignore[union-attr]

    @property
    def jurisdiction(self) -> str:
        return self._machine.top.jurisdiction  # type: ignore[union-attr]

    @property
    def role(self) -> str:
        return self._machine.top.role  # type: ignore[union-attr]

    @property
    def height(self) -> int:
        return self._machine.top.height  # type: ignore[union-attr]

    @property
    def time(self) -> int:
        return self._machine.top.time_ns  # type: ignore[union-attr]

    @property
    def tx_hash(self) -> bytes:
        return self._machine.top.tx_hash  # type: ignore[union-attr]

    @property
    def contract(self) -> str:
        return self._machine.top.contract  # type: ignore[union-attr]


def namespace(machine: Machine) -> dict[str, Any]:
    """A fresh module namespace for one loaded contract."""

    def require(condition: Any, message: str = "requirement failed", code: str = "CONTRACT_FAILED") -> None:
        if not condition:
            fail(message, code)

    def fail(message: str = "the contract refused the call", code: str = "CONTRACT_FAILED") -> None:
        if type(message) is not str or type(code) is not str:
            raise TypeError("fail(message, code) takes text")
        if code not in REQUIRE_CODES:
            raise ValueError(f"unknown error code {code[:40]!r}: use one of " + ", ".join(sorted(REQUIRE_CODES)))
        raise BaychainError(Code[code], message[:500])

    def emit(event: str, **attributes: Any) -> None:
        # _check_event, Context.emit's texts (native: baychain_native.event_texts), _size and
        # count_event's common case in one pass (every event runs this); any refusal is
        # raised by the same check as before
        if event not in _EVENT_NAMES_SEEN:
            _check_event(event, {})
        made = _event_texts(attributes, Decimal)
        if made is None:
            _check_event(event, attributes)  # raises the TypeError naming the value
        texts, size = made
        ctx = machine.stack[-1]
        ctx.add_event(event, texts)
        size += len(ctx.contract) + 1 + len(event)  # the event type is "<contract>.<event>"
        events = machine.events + 1
        if events > machine.max_events or size > machine.max_event_bytes:
            machine.count_event(size)  # raises EVENT_LIMIT (a failed call keeps none of its events)
        machine.events = events

    def alert(kind: str, **attributes: Any) -> None:
        _check_event(kind, attributes)
        ctx = machine.stack[-1]
        if not ctx.readonly:  # counted before it is recorded: an alert outlives a failed call
            machine.count_event(_size(Event(f"{ctx.contract}.alert", [("kind", kind)] + [
                (k, v.hex() if type(v) is bytes else str(v)) for k, v in attributes.items()])))
        ctx.alert(kind, **attributes)

    def call(contract: str, method: str, **args: Any) -> Any:
        if type(contract) is not str or type(method) is not str:
            raise TypeError("call(contract, method, **args) names the contract and method as text")
        for value in args.values():
            if type(value) in (list, dict, tuple):
                machine.text_size(value)  # the callee may copy or encode it
        return machine.sized(machine.stack[-1].call(contract, method, **args))

    def param(name: str, default: Any = None) -> Any:
        if type(name) is not str:
            raise TypeError("param(name) takes text")
        return machine.sized(machine.stack[-1].param(name, default))

    def sha256(data: bytes) -> bytes:
        if type(data) is not bytes:
            raise TypeError("sha256 takes bytes (use text.encode())")
        machine.charge(len(data) // 64 + 1)
        return hashlib.sha256(data).digest()

    def is_address(text: str) -> bool:
        return type(text) is str and _is_address(text)

    return {
        "__builtins__": machine.builtins(),
        "__name__": "contract",
        "__m__": machine.charge, "__sized__": machine.sized, "__fmt__": machine.fmt, "__scan__": machine.scan,
        "__shift__": machine.shift,
        "__add__": machine.op_add, "__sub__": machine.op_sub, "__mul__": machine.op_mul,
        "__pow__": machine.op_pow, "__lshift__": machine.op_lshift, "__div__": machine.op_div,
        "__mod__": machine.op_mod, "__join__": machine.join, "__replace__": machine.replace,
        "__encode__": machine.encode, "__decode__": machine.decode, "__update__": machine.update,
        "ctx": ContextView(machine), "Map": Map, "Var": Var, "Decimal": Decimal,
        "emit": emit, "alert": alert, "require": require, "fail": fail, "call": call, "param": param,
        "sha256": sha256, "is_address": is_address,
    }


def _check_event(name: Any, attributes: dict[str, Any]) -> None:
    """Event names are plain words; attribute values plain scalars (never an object's text)."""
    if name not in _EVENT_NAMES_SEEN:
        if type(name) is not str or not name or not set(name) <= EVENT_NAME_CHARS:
            raise ValueError("event names are lower-case letters, digits and _")
        if len(_EVENT_NAMES_SEEN) < 4096:
            _EVENT_NAMES_SEEN.add(name)
    for value in attributes.values():
        if type(value) not in _EVENT_VALUES:
            raise TypeError(f"event attributes are int, str, bytes, bool or Decimal, not {type(value).__name__}")


def _size(event: Event) -> int:
    size = len(event.type)
    for key, value in event.attributes:
        size += len(key) + len(value)
    return size
