"""The machine: the running state of contract calls, their meter and their limits.

One `Machine` per application. It holds the stack of contexts of the contract calls
in progress (a deployed contract may call others, which may call back), and, for the
outermost call, the counters every limit is checked against:

    compute   units charged by the instrumented code (one per syntax node run) and by
              storage operations                          runtime.max_compute
    memory    size of every value built by a sized operation (concatenation,
              repetition, slices, method results, f-strings, conversions), summed:
              an upper bound of what the call allocates     runtime.max_memory
              and no single value larger than              runtime.max_object_size
    writes    storage writes                               runtime.max_writes
    events    events, and the size of each                 runtime.max_events,
                                                           runtime.max_event_bytes
    depth     nested contract calls                        runtime.max_call_depth

Limits are governance parameters (`ctx.param("runtime.<name>", default)`), read once
per outermost call (one state read when none was ever set). Integers are bounded to
INT_BITS bits whatever the parameters say. Everything here counts syntax and sizes,
never time or the host's memory, so every node stops a call at the same point.

The guards below are what the instrumented code calls in place of the operators and
builtins that could build huge values or leave the value model.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import baychain_native
import cbor2

from baychain.contracts.context import contract_key
from baychain.errors import BaychainError, Code
from baychain.runtime.fixed import Decimal

if TYPE_CHECKING:
    from baychain.contracts.context import Context

INT_BITS = 512
_INT_BOUND = 1 << INT_BITS
DEFAULTS: dict[str, int] = {
    "max_compute": 1_000_000,
    "max_memory": 8_000_000,
    "max_object_size": 65_536,
    "max_writes": 128,
    "max_events": 32,
    "max_event_bytes": 2_048,
    "max_call_depth": 8,
}
_SEQUENCES = (str, bytes, list, tuple, dict)
_ITEMS = type({}.items())
_VIEWS = (type({}.keys()), type({}.values()), _ITEMS)
NEST_LIMIT = 32  # containers a contract builds nest at most this deep
_NUMBERS = (int, bool, Decimal)
_PARAM_NAMES_KEY = contract_key("governance", "params")  # governance's sorted index of the parameters set

if not hasattr(baychain_native, "text_size"):  # installed from older sources than native/src
    raise ImportError("baychain's native module predates native/src/sizing.rs: run `make install` to rebuild it")
text_walk = baychain_native.text_size  # a container's sizing walk: (size, compute units, type without a text)


class Machine:
    """The call stack and the meter of the contract calls in progress."""

    def __init__(self) -> None:
        self.stack: list[Context] = []
        self.top: Context | None = None  # the call in progress (stack[-1])
        self.used = 0
        self.limit = 0
        self.storage_units = 0
        self.memory = 0
        self.writes = 0
        self.events = 0
        self.max_writes = 0
        self.max_object_size = 0
        self.max_memory = 0
        self.max_events = 0
        self.max_event_bytes = 0
        self._limits: dict[str, int] = {}
        self._plain_index: bytes | None = None  # a parameter index naming no runtime.* parameter

    # -- the stack ------------------------------------------------------------------------

    def enter(self, ctx: Context) -> bool:
        """Push a call; True if it is the outermost one (its counters start now)."""
        outermost = not self.stack
        if outermost:
            self.used = self.storage_units = self.memory = self.writes = self.events = 0
            key = _PARAM_NAMES_KEY  # governance's index of the parameters set (see _read_limits)
            raw = ctx.writes[key] if key in ctx.writes else ctx._read(key)  # noqa: SLF001 - the call's own view of state
            if raw is None or raw == self._plain_index:
                limits = DEFAULTS  # the common case: read only, never changed
            else:
                limits, self._plain_index = _read_limits(ctx, raw)
            if limits is not self._limits:
                self.set_limits(limits)
        elif ctx.depth >= self._limits["max_call_depth"]:
            raise BaychainError(Code.CALL_DEPTH_EXCEEDED,
                                f"contract calls nest at most {self._limits['max_call_depth']} deep")
        self.stack.append(ctx)
        self.top = ctx
        return outermost

    def leave(self) -> None:
        self.stack.pop()
        self.top = self.stack[-1] if self.stack else None

    def set_limits(self, limits: dict[str, int]) -> None:
        """The limits of the outermost call; the ones every guard checks are kept as attributes."""
        self._limits = limits
        self.limit = limits["max_compute"]
        self.max_writes = limits["max_writes"]
        self.max_object_size = limits["max_object_size"]
        self.max_memory = limits["max_memory"]
        self.max_events = limits["max_events"]
        self.max_event_bytes = limits["max_event_bytes"]

    def param_limit(self, name: str) -> int:
        """A limit of the outermost call in progress."""
        return self._limits[name]

    # -- counting -------------------------------------------------------------------------

    def charge(self, units: int) -> bool:
        """Pay compute units; stop the call when the budget is spent."""
        used = self.used + units
        self.used = used
        if used > self.limit:
            raise BaychainError(Code.OUT_OF_COMPUTE, f"the call used more than its {self.limit} compute units "
                                                     "(governance parameter runtime.max_compute)")
        return True

    def charge_storage(self, units: int) -> None:
        self.storage_units += units
        self.charge(units)

    def allocate(self, size: int) -> None:
        """Pay for building a value of `size` elements or bytes."""
        if size > self.max_object_size:
            raise BaychainError(Code.MEMORY_LIMIT, f"a value of size {size} exceeds the limit of "
                                                    f"{self.param_limit('max_object_size')} (runtime.max_object_size)")
        memory = self.memory + size
        self.memory = memory
        if memory > self.max_memory:
            raise BaychainError(Code.MEMORY_LIMIT, f"the call built more than {self.param_limit('max_memory')} "
                                                    "elements and bytes of values (runtime.max_memory)")

    def count_write(self) -> None:
        """Check the write count (callers count the write itself first)."""
        if self.writes > self.param_limit("max_writes"):
            raise BaychainError(Code.STORAGE_LIMIT, f"at most {self.param_limit('max_writes')} storage writes "
                                                     "per call (runtime.max_writes)")

    def count_event(self, size: int) -> None:
        limits = self._limits
        self.events += 1
        if self.events > limits["max_events"]:
            raise BaychainError(Code.EVENT_LIMIT, f"at most {self.param_limit('max_events')} events per call "
                                                   "(runtime.max_events)")
        if size > limits["max_event_bytes"]:
            raise BaychainError(Code.EVENT_LIMIT, f"an event of {size} bytes exceeds "
                                                   f"{self.param_limit('max_event_bytes')} (runtime.max_event_bytes)")

    # -- guards the instrumented code calls ---------------------------------------------------

    def sized(self, value: Any) -> Any:
        """Charge a built value's size; dict views become lists (no sets from them)."""
        kind = type(value)
        if kind is str or kind is bytes:  # the common case: allocate(len(value)), inlined
            size = len(value)
            memory = self.memory + size
            if size > self.max_object_size or memory > self.max_memory:
                self.allocate(size)  # raises MEMORY_LIMIT
            self.memory = memory
            return value
        if kind is int or kind is bool or value is None:
            return value
        if kind in _VIEWS:
            value = list(value)
            if kind is _ITEMS:  # new (key, value) tuples: their nesting is checked like any new tuple
                self.walk(value)
            kind = list
        if kind in _SEQUENCES:
            self.allocate(len(value))
        return value

    def scan(self, value: Any) -> Any:
        """Pay for walking a value: one unit per 16 elements or bytes (comparisons, `in`,
        methods that search or shift, `del`, new tuples); containers are walked whole, so
        none nests deeper than NEST_LIMIT when Python compares or hashes it."""
        kind = type(value)
        if kind is str or kind is bytes:
            used = self.used + (len(value) >> 4)
            self.used = used
            if used > self.limit:
                self.charge(0)
        elif kind is list or kind is tuple or kind is dict:
            self.walk(value)
        return value

    def shift(self, value: Any) -> Any:
        """Pay for work proportional to a list's or a string's length (moving elements,
        searching text): one unit per 16. Dicts do these in constant time."""
        kind = type(value)
        if kind is list or kind is str or kind is bytes:
            used = self.used + (len(value) >> 4)
            self.used = used
            if used > self.limit:
                self.charge(0)
        return value

    def walk(self, value: Any) -> None:
        """Refuse a container nested deeper than NEST_LIMIT (or holding itself), paying one
        unit per container plus one per 16 elements. Iterative: the host stack plays no part.

        Why: CPython compares nested containers recursively (RecursionError at a depth that
        depends on the host's stack) and hashes nested tuples recursively without any guard
        (a 300,000-deep tuple crashes the interpreter)."""
        stack = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            if depth > NEST_LIMIT:
                raise BaychainError(Code.MEMORY_LIMIT, f"values nest at most {NEST_LIMIT} deep")
            used = self.used + 1 + (len(item) >> 4)
            self.used = used
            if used > self.limit:
                self.charge(0)
            elements = item.values() if type(item) is dict else item
            for element in elements:
                kind = type(element)
                if kind is list or kind is tuple or kind is dict:
                    stack.append((element, depth + 1))
            if type(item) is dict:
                for key in item:
                    if type(key) is tuple:
                        stack.append((key, depth + 1))

    def op_add(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            r = a + b
            if -_INT_BOUND < r < _INT_BOUND:
                return r
            raise _int_overflow()
        return self.sized(_checked(a + b))

    def op_sub(self, a: Any, b: Any) -> Any:
        r = a - b
        if type(r) is int and not -_INT_BOUND < r < _INT_BOUND:
            raise _int_overflow()
        if type(r) not in (int, Decimal):
            raise TypeError("- works on numbers only")
        return r

    def op_mul(self, a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta in (int, bool) and tb in (int, bool):
            if a.bit_length() + b.bit_length() > INT_BITS:
                raise _int_overflow()
            return a * b
        if ta in _SEQUENCES and tb in (int, bool):
            self.allocate(max(len(a) * b, 0))
        elif tb in _SEQUENCES and ta in (int, bool):
            self.allocate(max(len(b) * a, 0))
        return _checked(a * b)

    def op_pow(self, a: Any, b: Any) -> Any:
        if type(a) not in (int, bool) or type(b) not in (int, bool):
            raise TypeError("** works on integers only")
        if b < 0:
            raise ValueError("negative exponents are not allowed (no floats)")
        if abs(a) > 1 and (a.bit_length() - 1) * b >= INT_BITS:
            raise _int_overflow()
        return a**b

    def op_lshift(self, a: Any, b: Any) -> Any:
        if type(a) in (int, bool) and type(b) in (int, bool) and b > 0 and a and a.bit_length() + b > INT_BITS:
            raise _int_overflow()
        return a << b

    def op_div(self, a: Any, b: Any) -> Any:
        if type(a) is not Decimal and type(b) is not Decimal:
            raise TypeError("/ divides Decimals only: use // for integers")
        return a / b

    def op_mod(self, a: Any, b: Any) -> Any:
        if type(a) in (str, bytes):
            raise TypeError("% formatting is not available: use f-strings")
        return a % b

    def fmt(self, value: Any) -> Any:
        """A value inside an f-string: plain data only (no object addresses)."""
        if type(value) is str:  # text_size's first case, and allocate, without the calls
            size = len(value) + 3
            memory = self.memory + size
            if size > self.max_object_size or memory > self.max_memory:
                self.allocate(size)  # raises MEMORY_LIMIT
            self.memory = memory
        else:
            self.text_size(value)
        return value

    def text_size(self, value: Any) -> int:
        """Check that `value` can be turned into text, before it is: plain data only (any
        other object would show its address), at most 16 deep, and its text at most
        runtime.max_object_size long (estimated from the walk, which is paid for: a list
        repeating a big list would otherwise make gigabytes of text in one `str()`).
        Containers are walked natively (`baychain_native.text_size`: native/src/sizing.rs)."""
        kind = type(value)
        if kind is str or kind is bytes:
            size = len(value) + 3
        elif kind is int or kind is bool or value is None or kind is Decimal:
            size = 64 if kind is not int else value.bit_length() // 3 + 2
        else:  # a container, or a value without a text: the walk (native/src/sizing.rs) stops where the rules say
            size, units, refused = text_walk(value, self.max_object_size, self.limit - self.used, Decimal)
            used = self.used + units
            self.used = used
            if refused is not None:
                raise TypeError(f"a {refused} cannot be turned into text")
            if used > self.limit:  # the walk stopped at the charge past the limit
                self.charge(0)  # raises OUT_OF_COMPUTE
        self.allocate(size)
        return size

    def join(self, sep: Any, items: Any) -> Any:
        items = list(items) if type(items) not in (list, tuple) else items
        if type(sep) in (str, bytes):
            self.charge(len(items))
            size = len(sep) * max(len(items) - 1, 0)
            for item in items:
                if type(item) in (str, bytes):
                    size += len(item)
            self.allocate(size)
        return sep.join(items)

    def replace(self, text: Any, old: Any, new: Any, count: int = -1) -> Any:
        if type(text) in (str, bytes) and type(old) is type(text) and type(new) is type(text):
            n = text.count(old) if old else len(text) + 1
            if type(count) is int and count >= 0:
                n = min(n, count)
            self.allocate(len(text) + n * max(len(new) - len(old), 0))
            return text.replace(old, new, count)
        raise TypeError("replace works on str and bytes")

    def update(self, target: Any, other: Any = (), **more: Any) -> None:
        """dict.update: pays for the entries it copies."""
        if hasattr(other, "__len__"):
            self.charge(len(other) + len(more))
        target.update(other, **more)

    def encode(self, text: Any, encoding: str = "utf-8", errors: str = "strict") -> Any:
        return self.sized(text.encode(_codec(encoding), _codec_errors(errors)))

    def decode(self, data: Any, encoding: str = "utf-8", errors: str = "strict") -> Any:
        return self.sized(data.decode(_codec(encoding), _codec_errors(errors)))

    # -- builtins ---------------------------------------------------------------------------

    def builtins(self) -> dict[str, Any]:
        """The builtins a contract sees, by name. Type names are callables that check
        their input; `isinstance` and storage declarations map them back to the types."""
        sized_input = self._consuming

        def to_str(value: Any = "") -> str:
            self.text_size(value)
            return str(value)

        def to_bytes(value: Any = b"") -> bytes:
            if type(value) in (int, bool):
                self.allocate(value)
            elif type(value) not in (bytes, list, tuple):
                raise TypeError("bytes() takes bytes, a list of integers or a length")
            return self.sized(bytes(value))

        def to_int(value: Any = 0) -> int:
            r = int(value)
            if not -_INT_BOUND < r < _INT_BOUND:
                raise _int_overflow()
            return r

        def to_range(*args: int) -> range:
            r = range(*args)
            self.charge(len(r))
            return r

        def is_instance(value: Any, kinds: Any) -> bool:
            if type(kinds) is tuple:
                kinds = tuple(TYPES_OF.get(k, k) for k in kinds)
            else:
                kinds = TYPES_OF.get(kinds, kinds)
            return isinstance(value, kinds)

        def sort(items: Any, reverse: bool = False) -> list[Any]:
            self.scan(items)
            n = len(items) if hasattr(items, "__len__") else 0
            self.charge(n * max(n.bit_length(), 1))
            return self.sized(builtins.sorted(items, reverse=reverse))

        def total(items: Any, start: Any = 0) -> Any:
            """sum() of numbers only: summing lists or strings would build quadratic copies
            inside one builtin call, out of the meter's sight."""
            self.scan(items)
            if hasattr(items, "__len__"):
                self.charge(len(items))
            result = start
            for item in items:
                if type(item) not in _NUMBERS or type(result) not in _NUMBERS:
                    raise TypeError("sum() adds numbers (int, Decimal) only")
                result = self.op_add(result, item)
            return result

        def tuples(fn: Any) -> Any:
            """zip and enumerate: their new tuples are checked as they are made."""

            def make(*args: Any) -> Any:
                for arg in args:
                    self.scan(arg)
                for item in fn(*args):
                    self.walk(item)
                    yield item

            return make

        wrapped = {
            "str": (to_str, str), "bytes": (to_bytes, bytes), "int": (to_int, int),
            "list": (sized_input(builtins.list), list), "dict": (sized_input(builtins.dict), dict),
            "tuple": (sized_input(builtins.tuple), tuple),
        }
        TYPES_OF = {fn: kind for fn, kind in wrapped.values()}
        out: dict[str, Any] = {name: fn for name, (fn, _) in wrapped.items()}
        out.update({
            "bool": bool, "Decimal": Decimal, "range": to_range, "isinstance": is_instance, "sorted": sort,
            "sum": total, "min": sized_input(builtins.min), "max": sized_input(builtins.max),
            "any": sized_input(builtins.any), "all": sized_input(builtins.all),
            "enumerate": tuples(builtins.enumerate), "zip": tuples(builtins.zip),
            "reversed": sized_input(builtins.reversed), "len": len, "abs": abs, "chr": chr, "ord": ord,
            "hex": hex, "divmod": divmod, "True": True, "False": False, "None": None,
        })
        self.types_of = TYPES_OF
        return out

    def _consuming(self, fn: Any) -> Any:
        """A builtin that walks its arguments: pay one unit per element up front."""
        machine = self

        def consume(*args: Any, **kwargs: Any) -> Any:
            for arg in args:
                if type(arg) in _SEQUENCES or type(arg) is range:
                    machine.charge(len(arg))
                    machine.scan(arg)  # min, max, sum compare or add its elements
            result = fn(*args, **kwargs)
            return machine.sized(result) if type(result) in _SEQUENCES else result

        return consume


def _read_limits(ctx: Context, raw: bytes) -> tuple[dict[str, int], bytes | None]:
    """The limits for an outermost call, given governance's sorted index of parameter
    names (c/governance/params, `raw`; `enter` reads it, and takes the defaults without
    calling this when it is absent): the defaults, overridden by the `runtime.*`
    governance parameters that were ever set.

    Also returns the index's bytes when it names no `runtime.*` parameter (the limits are
    then the defaults whatever the other parameters' values): kept by the machine, an
    unchanged index is not decoded again. Exact: setting a `runtime.*` parameter for
    the first time changes the index, and its value counts only once it is named there.
    Otherwise None, and the named parameters are read again on the next call."""
    limits = dict(DEFAULTS)
    named = False
    for name in cbor2.loads(raw):
        if name.startswith("runtime.") and name[8:] in limits:
            named = True
            value = ctx.param(name)
            if type(value) is int and value > 0:
                limits[name[8:]] = value
    return (limits, None) if named else (DEFAULTS, raw)


def _codec(name: Any) -> str:
    """UTF-8 or ASCII: the same bytes on every machine (no byte-order marks, no codec lookups)."""
    if type(name) is not str or name.lower().replace("-", "").replace("_", "") not in ("utf8", "ascii"):
        raise ValueError("encode/decode use utf-8 or ascii")
    return name


def _codec_errors(errors: Any) -> str:
    if errors not in ("strict", "replace", "ignore"):
        raise ValueError("errors must be strict, replace or ignore")
    return errors


def _checked(value: Any) -> Any:
    if type(value) is int and not -_INT_BOUND < value < _INT_BOUND:
        raise _int_overflow()
    return value


def _int_overflow() -> BaychainError:
    return BaychainError(Code.MEMORY_LIMIT, f"integers are limited to {INT_BITS} bits")


