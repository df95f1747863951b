"""Deployed contracts: checked, instrumented code turned into callable contract methods.

`Runtime.compile(source)` checks a source (`language.check`) and instruments it
(`instrument.instrument`); the result is cached by code hash, so a contract's code is
compiled once per node, not per call. `Runtime.load` executes the module once per
(contract name, code hash) in a fresh namespace of the standard library and binds its
storage declarations to that contract's storage. The namespace can hold only
constants, storage handles and functions, so keeping it between calls carries no
state from one call to the next.

A `DeployedContract` looks to the application like a native contract: a name, an
interface (`methods`, from the checker: parameter types, docstrings, view or not) and
`describe()`. Calling a method runs the function under the machine's meter: any error
inside the contract becomes a BaychainError with a stable code and a sentence naming
the line (no exception object, and nothing the exception refers to, leaves the
sandbox), and the application then drops the call's writes.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from types import CodeType, TracebackType
from typing import Any, Callable

from baychain import encoding
from baychain.contracts.base import Method
from baychain.contracts.context import Context
from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code
from baychain.runtime.fixed import Decimal
from baychain.runtime.instrument import instrument
from baychain.runtime.language import Export, Program, check
from baychain.runtime.machine import Machine
from baychain.runtime.stdlib import namespace
from baychain.runtime.storage import Map, Var

CACHE_SIZE = 256
FILENAME = "<contract>"
_PLAIN_ARGS = (str, int)  # exception arguments shown in messages (never objects)


def code_hash(source: str) -> bytes:
    """The hash a committee approves: SHA-256 of the source's UTF-8 bytes."""
    return sha256(source.encode())


class Compiled:
    """A checked and instrumented source."""

    __slots__ = ("program", "code", "code_hash")

    def __init__(self, program: Program, code: CodeType, code_hash_: bytes) -> None:
        self.program = program
        self.code = code
        self.code_hash = code_hash_


class DeployedContract:
    """A contract whose code lives in state, run by the sandbox (the same surface as a native
    `Contract` for the application: `name`, `methods`, `describe()`)."""

    def __init__(self, runtime: Runtime, name: str, compiled: Compiled, functions: dict[str, Callable[..., Any]],
                 version: int = 0, status: str = "active") -> None:
        self.name = name
        self.runtime = runtime
        self.compiled = compiled
        self.version = version
        self.status = status
        self.filename = FILENAME
        self.functions = functions
        machine = runtime.machine
        self.methods = {e.name: _method(e, functions[e.name], machine) for _, e in sorted(compiled.program.exports.items())}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "doc": self.compiled.program.doc.strip(),
            "methods": [m.describe() for _, m in sorted(self.methods.items())],
            "runtime": {"version": self.version, "code_hash": self.compiled.code_hash.hex(), "status": self.status},
        }

    def _describe_error(self, method: str, exc: Exception) -> str:
        line = _contract_line(exc.__traceback__, self.filename)
        where = f"{self.name}.{method}" + (f" line {line}" if line else "")
        text = ""
        if exc.args and all(type(a) in _PLAIN_ARGS for a in exc.args):
            text = ": " + str(exc)[:200]
        return f"{where}: {type(exc).__name__}{text}"


class Runtime:
    """Compiles, caches and loads deployed contracts; owns the machine they run on."""

    def __init__(self) -> None:
        self.machine = Machine()
        self._compiled: OrderedDict[bytes, Compiled] = OrderedDict()
        self._loaded: OrderedDict[tuple[str, bytes], DeployedContract] = OrderedDict()

    def compile(self, source: str) -> Compiled:
        """Check and instrument a source (cached by its hash); raises CONTRACT_INVALID."""
        digest = code_hash(source) if type(source) is str else b""
        found = self._compiled.get(digest)
        if found is not None:
            self._compiled.move_to_end(digest)
            return found
        program = check(source)
        try:
            code = instrument(program, FILENAME)
        except (RecursionError, MemoryError, SyntaxError, ValueError) as exc:
            raise BaychainError(Code.CONTRACT_INVALID, f"the source cannot be compiled: {type(exc).__name__}") from None
        compiled = Compiled(program, code, digest)
        self._compiled[digest] = compiled
        while len(self._compiled) > CACHE_SIZE:
            self._compiled.popitem(last=False)
        return compiled

    def find_loaded(self, name: str, digest: bytes, version: int, status: str = "active") -> DeployedContract | None:
        """The loaded contract `name` running the code `digest`, if it is cached."""
        found = self._loaded.get((name, digest))
        if found is not None:
            found.version, found.status = version, status
        return found

    def load(self, name: str, source: str, *, version: int = 0, status: str = "active") -> DeployedContract:
        """The contract `name` running `source`: loaded once per (name, code hash)."""
        compiled = self.compile(source)
        key = (name, compiled.code_hash)
        found = self._loaded.get(key)
        if found is not None:
            self._loaded.move_to_end(key)
            found.version, found.status = version, status
            return found
        ns = namespace(self.machine)
        exec(compiled.code, ns)  # noqa: S102 - checked, instrumented module code: constants, storage declarations, functions
        prefixes: set[str] = set()
        for slot in compiled.program.storage:
            handle = ns[slot]
            if not isinstance(handle, (Map, Var)):
                raise BaychainError(Code.CONTRACT_INVALID, f"{slot} is not a storage declaration")
            handle._bind(self.machine, name, slot)
            if handle._name in prefixes:
                raise BaychainError(Code.CONTRACT_INVALID, f"two storage declarations share the prefix {handle._name!r}")
            prefixes.add(handle._name)
        functions = {e: ns[e] for e in compiled.program.exports}
        contract = DeployedContract(self, name, compiled, functions, version, status)
        self._loaded[key] = contract
        while len(self._loaded) > CACHE_SIZE:
            self._loaded.popitem(last=False)
        return contract


def _method(export: Export, function: Callable[..., Any], machine: Machine) -> Method:
    """The exported `function` as a contract method: run under the meter, every failure a
    coded BaychainError (the call path of every transaction to a deployed contract, so
    the function and the machine are bound here, not looked up per call)."""
    name = export.name

    def run(target: DeployedContract, ctx: Context, **kwargs: Any) -> Any:
        outermost = machine.enter(ctx)
        try:
            for k, v in kwargs.items():
                if type(v) in (list, dict):  # the caller's objects stay the caller's
                    kwargs[k] = copy.deepcopy(v)
            result = function(**kwargs)
            if result is None:
                return None
            if type(result) in (list, dict, tuple):
                machine.text_size(result)  # bounded and paid for before it is copied and encoded
            result = _plain(result)
            encoding.check_value(result, Code.CONTRACT_ERROR)
            return result
        except BaychainError:
            raise
        except RecursionError:
            error = BaychainError(Code.CONTRACT_ERROR, f"{target.name}.{name}: calls nest too deeply")
        except MemoryError:
            error = BaychainError(Code.MEMORY_LIMIT, f"{target.name}.{name}: out of memory")
        except Exception as exc:  # the contract's own bug: deterministic, reported without the object
            error = BaychainError(Code.CONTRACT_ERROR, target._describe_error(name, exc))  # noqa: SLF001
        finally:
            stack = machine.stack  # machine.leave(), inlined
            stack.pop()
            machine.top = stack[-1] if stack else None
            if outermost:
                ctx.compute += machine.used - machine.storage_units
        raise error  # outside the handler: the contract's exception is not even its context

    return Method(name=name, params=export.params, doc=export.doc, is_view=export.is_view, func=run)


def _plain(value: Any, depth: int = 0) -> Any:
    """A contract's return value toward the value model: Decimal as text, tuples as lists."""
    kind = type(value)
    if depth > encoding.MAX_DEPTH:
        return value  # check_value refuses it
    if kind is Decimal:
        return str(value)
    if kind is tuple or kind is list:
        return [_plain(v, depth + 1) for v in value]
    if kind is dict:
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return value


def _contract_line(tb: TracebackType | None, filename: str) -> int:
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
