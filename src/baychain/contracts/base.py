"""Contracts: named bundles of methods that change state, and views that read it.

A contract is a class whose public methods take a `Context` first and typed keyword
arguments after it. The type hints are the interface: arguments are checked against
them before the method runs (exact types: a bool is not an int), unknown or missing
arguments are rejected, and the interface can be listed for clients. Methods marked
`@view` only read committed state and are served through queries.

Methods marked `@governed` are committee powers: only a passed proposal's execution
calls them (see `baychain.contracts.system.governance`).

Built-in (native) contracts are written against exactly the storage and event API
that the sandboxed contract runtime exposes, so moving one onto the runtime later
changes where it runs, not what it says.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable

from baychain.errors import BaychainError, Code

_ALLOWED_TYPES: dict[Any, str] = {
    int: "int",
    str: "str",
    bytes: "bytes",
    bool: "bool",
    list: "list",
    dict: "dict",
    object: "any",  # any canonical value (a governance parameter's value, a proposal action's arguments)
}


_MISSING = object()


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: type
    required: bool
    default: Any = None


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    params: tuple[Param, ...]
    doc: str
    is_view: bool
    func: Callable[..., Any]
    governed: bool = False  # callable only as an action of a passed committee proposal

    def check_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """Return the call's keyword arguments, or raise BAD_ARGUMENTS saying what is wrong."""
        # Fast path (every transaction runs this): every required argument given, each of
        # the exact type, none unknown; optional ones left out take their defaults.
        # Anything else takes the full path, which names the problem.
        out: dict[str, Any] = {}
        given = 0
        for p in self.params:
            value = args.get(p.name, _MISSING)
            if value is _MISSING:
                if p.required:
                    break
                default = p.default
                out[p.name] = default.copy() if type(default) in (dict, list) else default
                continue
            if p.type is not object and type(value) is not p.type:
                break
            out[p.name] = value
            given += 1
        else:
            if given == len(args):
                return out
        return self._check_args_in_full(args)

    def _check_args_in_full(self, args: dict[str, Any]) -> dict[str, Any]:
        known = {p.name for p in self.params}
        for name in args:
            if name not in known:
                raise BaychainError(Code.BAD_ARGUMENTS, f"{self.name}: unknown argument {name!r}")
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in args:
                if p.required:
                    raise BaychainError(Code.BAD_ARGUMENTS, f"{self.name}: missing argument {p.name!r}")
                default = p.default
                out[p.name] = default.copy() if type(default) in (dict, list) else default
                continue
            value = args[p.name]
            if p.type is not object and type(value) is not p.type:
                raise BaychainError(
                    Code.BAD_ARGUMENTS,
                    f"{self.name}: argument {p.name!r} must be {_ALLOWED_TYPES[p.type]}, got {type(value).__name__}",
                )
            out[p.name] = value
        return out

    def args_from_json(self, args: dict[str, Any]) -> dict[str, Any]:
        """Turn JSON arguments into typed ones: hex strings become bytes where a param is bytes."""
        if type(args) is not dict:
            raise BaychainError(Code.BAD_ARGUMENTS, f"{self.name}: arguments must be a JSON object")
        types = {p.name: p.type for p in self.params}
        out = dict(args)
        for name, value in args.items():
            if types.get(name) is bytes and type(value) is str:
                try:
                    out[name] = bytes.fromhex(value.removeprefix("0x"))
                except ValueError:
                    raise BaychainError(Code.BAD_ARGUMENTS, f"{self.name}: argument {name!r} must be hex") from None
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "view": self.is_view,
            "governed": self.governed,
            "doc": self.doc,
            "params": [
                {"name": p.name, "type": _ALLOWED_TYPES[p.type], "required": p.required} for p in self.params
            ],
        }


def view(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a contract method as read-only (served by queries, never by transactions)."""
    func.__baychain_view__ = True  # type: ignore[attr-defined]
    return func


def governed(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a method as a committee power: it runs only as an action of a passed proposal
    (the governance contract calls it; `ctx.sender` is then `GOVERNANCE`). A transaction
    calling it directly is refused with GOVERNED_METHOD."""
    func.__baychain_governed__ = True  # type: ignore[attr-defined]
    return func


class Contract:
    """Base of native contracts; subclasses set `name` and define methods."""

    name: str = ""
    methods: dict[str, Method]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.methods = {}
        for attr, func in sorted(vars(cls).items()):
            if attr.startswith("_") or not inspect.isfunction(func):
                continue
            cls.methods[attr] = _method_of(attr, func)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "doc": inspect.getdoc(self) or "",
            "methods": [m.describe() for _, m in sorted(self.methods.items())],
        }


def _method_of(name: str, func: Callable[..., Any]) -> Method:
    hints = typing.get_type_hints(func)
    sig = inspect.signature(func)
    params: list[Param] = []
    for i, (pname, p) in enumerate(sig.parameters.items()):
        if i < 2:  # self, ctx
            continue
        ptype = hints.get(pname)
        origin = typing.get_origin(ptype) or ptype
        if origin not in _ALLOWED_TYPES:
            raise TypeError(f"{name}.{pname}: unsupported argument type {ptype!r}")
        required = p.default is inspect.Parameter.empty
        params.append(Param(pname, origin, required, None if required else p.default))
    return Method(
        name=name,
        params=tuple(params),
        doc=inspect.getdoc(func) or "",
        is_view=getattr(func, "__baychain_view__", False),
        func=func,
        governed=getattr(func, "__baychain_governed__", False),
    )
