"""Typed storage for contracts: maps and variables, namespaced per contract.

A contract declares its storage at module level; the declared name is the storage
prefix, so the state keys are readable and provable by any client:

    balances = Map(int, default=0)      ->  c/<contract>/balances/<key>
    owner = Var(str)                    ->  c/<contract>/owner
    names = Map(str, prefix="name")     ->  c/<contract>/name/<key>

Map keys are str (without "/"), int, bytes (stored as hex) or tuples of those, joined
by "/": `allowances[owner, spender]` is `c/<contract>/allowances/<owner>/<spender>`.
Values are checked against the declared type (int, str, bytes, bool, list, dict,
Decimal; no type = any canonical value) when written. A Decimal is stored as its
canonical text.

Iteration is in a deterministic order: a map declared `iterable=True` keeps an index
in insertion order (`<name>#len`, `<name>#at/<i>`, `<name>#pos/<key>`); deleting a key
moves the last key into its place. Iteration and `len()` exist only on such maps, so a
plain map costs one write per update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from baychain.contracts.context import COST_READ, COST_WRITE
from baychain.errors import BaychainError, Code
from baychain.runtime.fixed import Decimal
from baychain.runtime.machine import text_walk

if TYPE_CHECKING:
    from baychain.runtime.machine import Machine

VALUE_TYPES: dict[Any, str] = {int: "int", str: "str", bytes: "bytes", bool: "bool", list: "list", dict: "dict",
                               Decimal: "Decimal", None: "any"}


class _Slot:
    """What Map and Var share: a name in one contract's storage, a value type, a default."""

    __slots__ = ("_machine", "_contract", "_name", "_type", "_default")

    def __init__(self, value_type: Any = None, default: Any = None, prefix: str = "") -> None:
        self._machine: Machine | None = None
        self._contract = ""
        self._name = prefix
        self._type = value_type
        self._default = default

    def _bind(self, machine: Machine, contract: str, name: str) -> None:
        """Called once when the contract is loaded: from now on it reads that contract's storage
        under its declared name (or the `prefix=` it was given)."""
        kind = machine.types_of.get(self._type, self._type)
        if kind not in VALUE_TYPES:
            raise BaychainError(Code.CONTRACT_INVALID, f"{name}: storage type must be one of "
                                                       + ", ".join(VALUE_TYPES.values()))
        prefix = self._name or name
        if type(prefix) is not str or not prefix.isascii() or not prefix.isidentifier():
            raise BaychainError(Code.CONTRACT_INVALID, f"{name}: a storage prefix is an identifier")
        self._machine, self._contract, self._name, self._type = machine, contract, prefix, kind
        if self._default is not None:
            self._check(self._default)

    def _check(self, value: Any) -> Any:
        """The value as stored (a Decimal as text), after checking its type."""
        kind = self._type
        if kind is not None and type(value) is not kind:
            raise TypeError(f"{self._name} holds {VALUE_TYPES[kind]} values, not {type(value).__name__}")
        if type(value) is Decimal:
            return str(value)
        return value  # put() encodes it, refusing values outside the model

    def _load(self, key: str) -> Any:
        machine = self._machine
        assert machine is not None
        machine.storage_units += COST_READ
        machine.used += COST_READ
        if machine.used > machine.limit:
            machine.charge(0)  # raises OUT_OF_COMPUTE
        value = machine.stack[-1].get(key)
        if value is None:
            return self._default
        if self._type is Decimal:
            return Decimal(value)
        return machine.sized(value)

    def _store(self, key: str, value: Any) -> None:
        machine = self._machine
        assert machine is not None
        kind = type(value)
        if kind is not self._type:
            value = self._check(value)  # raises TypeError, or gives a Decimal as text
            kind = type(value)
        elif kind is Decimal:
            value = str(value)
            kind = str
        if kind is dict or kind is list or kind is tuple:  # shared references could make a huge encoding from a small value
            size, units, refused = text_walk(value, machine.max_object_size, machine.limit - machine.used, Decimal)
            used = machine.used + units
            memory = machine.memory + size
            if refused is None and used <= machine.limit and size <= machine.max_object_size \
                    and memory <= machine.max_memory:  # text_size and allocate, inlined for the common case
                machine.used = used
                machine.memory = memory
            else:
                machine.text_size(value)  # walks it again and raises where a limit says
        machine.storage_units += COST_WRITE
        used = machine.used + COST_WRITE
        machine.used = used
        if used > machine.limit:
            machine.charge(0)  # raises OUT_OF_COMPUTE
        writes = machine.writes + 1
        machine.writes = writes
        if writes > machine.max_writes:
            machine.count_write()  # raises STORAGE_LIMIT
        try:
            machine.stack[-1].put(key, value)
        except BaychainError as exc:
            if exc.code == Code.LIMIT_EXCEEDED:
                raise BaychainError(Code.STORAGE_LIMIT, exc.message) from None
            if exc.code == Code.BAD_ARGUMENTS:  # outside the value model (an int beyond 64 bits, a float...)
                raise BaychainError(Code.CONTRACT_ERROR, f"{self._name}: cannot store this value: {exc.message}") from None
            raise  # NOT_AUTHORIZED: a view writing

    def _erase(self, key: str) -> None:
        machine = self._machine
        assert machine is not None
        machine.charge_storage(COST_WRITE)
        machine.writes += 1
        machine.count_write()
        machine.stack[-1].delete(key)

    def _exists(self, key: str) -> bool:
        machine = self._machine
        assert machine is not None
        machine.storage_units += COST_READ  # charge_storage(COST_READ), inlined as in _load
        machine.used += COST_READ
        if machine.used > machine.limit:
            machine.charge(0)  # raises OUT_OF_COMPUTE
        return machine.stack[-1].has(key)


class Var(_Slot):
    """One stored value: `owner.get()`, `owner.set(value)`."""

    __slots__ = ()

    def get(self) -> Any:
        return self._load(self._name)

    def set(self, value: Any) -> None:
        self._store(self._name, value)


class Map(_Slot):
    """A stored mapping: `m[key]`, `m[key] = value`, `del m[key]`, `key in m`, `m.get(key, default)`;
    with `iterable=True` also `len(m)`, `for key in m`, `m.keys()`, `m.values()`, `m.items()`."""

    __slots__ = ("_iterable",)

    def __init__(self, value_type: Any = None, default: Any = None, iterable: bool = False, prefix: str = "") -> None:
        super().__init__(value_type, default, prefix)
        self._iterable = iterable is True

    def _key(self, key: Any) -> str:
        kind = type(key)
        if kind is str and "/" not in key:  # the common cases, without the general path
            return f"{self._name}/{key}"
        if kind is bytes:
            return f"{self._name}/{key.hex()}"
        return f"{self._name}/{key_text(key)}"

    def __getitem__(self, key: Any) -> Any:
        return self._load(self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._load(self._key(key))
        return default if value is None else value

    def __contains__(self, key: Any) -> bool:
        skey = self._key(key)
        machine = self._machine
        assert machine is not None
        machine.storage_units += COST_READ  # _exists, inlined
        used = machine.used + COST_READ
        machine.used = used
        if used > machine.limit:
            machine.charge(0)  # raises OUT_OF_COMPUTE
        return machine.stack[-1].has(skey)

    def __setitem__(self, key: Any, value: Any) -> None:
        skey = self._key(key)
        if self._iterable and not self._exists(skey):
            self._index_add(key)
        self._store(skey, value)

    def __delitem__(self, key: Any) -> None:
        skey = self._key(key)
        if self._iterable and self._exists(skey):
            self._index_remove(key)
        self._erase(skey)

    # -- iteration (iterable maps only) -------------------------------------------------------

    def _count(self) -> int:
        if not self._iterable:
            raise TypeError(f"{self._name} is not iterable: declare it Map(..., iterable=True)")
        machine = self._machine
        assert machine is not None
        machine.charge_storage(COST_READ)
        return machine.stack[-1].get(f"{self._name}#len", 0)

    def __len__(self) -> int:
        return self._count()

    def __iter__(self) -> Iterator[Any]:
        machine = self._machine
        assert machine is not None
        for i in range(self._count()):
            machine.charge_storage(COST_READ)
            stored = machine.stack[-1].get(f"{self._name}#at/{i}")
            yield tuple(stored) if type(stored) is list else stored

    def keys(self) -> list[Any]:
        return list(self.__iter__())

    def values(self) -> list[Any]:
        return [self[k] for k in self.__iter__()]

    def items(self) -> list[tuple[Any, Any]]:
        return [(k, self[k]) for k in self.__iter__()]

    def _index_add(self, key: Any) -> None:
        n = self._count()
        self._raw_put(f"{self._name}#at/{n}", list(key) if type(key) is tuple else key)
        self._raw_put(f"{self._name}#pos/{key_text(key)}", n)
        self._raw_put(f"{self._name}#len", n + 1)

    def _index_remove(self, key: Any) -> None:
        machine = self._machine
        assert machine is not None
        n = self._count()
        pos_key = f"{self._name}#pos/{key_text(key)}"
        machine.charge_storage(COST_READ)
        pos = machine.stack[-1].get(pos_key)
        last = n - 1
        if pos != last:
            moved = machine.stack[-1].get(f"{self._name}#at/{last}")
            self._raw_put(f"{self._name}#at/{pos}", moved)
            self._raw_put(f"{self._name}#pos/{key_text(tuple(moved) if type(moved) is list else moved)}", pos)
        self._raw_put(f"{self._name}#at/{last}", None)
        self._raw_put(pos_key, None)
        self._raw_put(f"{self._name}#len", last)

    def _raw_put(self, key: str, value: Any) -> None:
        machine = self._machine
        assert machine is not None
        machine.charge_storage(COST_WRITE)
        machine.writes += 1
        machine.count_write()
        if value is None:
            machine.stack[-1].delete(key)
        else:
            machine.stack[-1].put(key, value)


def key_text(key: Any) -> str:
    """A map key as it appears in the state key: parts joined by "/"."""
    if type(key) is tuple:
        if not key:
            raise TypeError("a map key tuple cannot be empty")
        return "/".join(_part(p) for p in key)
    return _part(key)


def _part(part: Any) -> str:
    kind = type(part)
    if kind is str:
        if "/" in part:
            raise ValueError(f"map keys cannot contain '/': {part[:40]!r}")
        return part
    if kind is int:
        return str(part)
    if kind is bytes:
        return part.hex()
    raise TypeError(f"map keys are str, int, bytes or tuples of them, not {kind.__name__}")
