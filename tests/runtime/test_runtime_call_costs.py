"""The runtime's per-call shortcuts change no result.

`Machine.text_size` takes a quick path for plain containers inside every limit: it
must charge, size and refuse exactly as the one ordered walk did (the walk below is
that original, kept as the reference), including the compute count at which a call
stopped by a limit stops. The limits of a call are not re-derived while governance's
parameter index names no `runtime.*` parameter: a changed index or a changed value of
a named one must take effect on the very next call.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

from baychain import encoding
from baychain.contracts.context import PARAM_PREFIX, contract_key
from baychain.errors import BaychainError, Code
from baychain.runtime.fixed import Decimal
from baychain.runtime.machine import DEFAULTS, Machine
from runtime_support import Sandbox


PLAIN_SCALARS = (int, str, bytes, bool, type(None), Decimal)


def reference_text_size(machine: Machine, value: Any) -> int:
    """The ordered walk `text_size` did in Python for every container, before the quick
    path and before the native walk (native/src/sizing.rs) replaced it."""
    kind = type(value)
    if kind is str or kind is bytes:
        size = len(value) + 3
    elif kind is int or kind is bool or value is None or kind is Decimal:
        size = 64 if kind is not int else value.bit_length() // 3 + 2
    else:
        size = 0
        stack = [(value, 0)]
        while stack:
            item, depth = stack.pop()
            kind = type(item)
            if kind is str or kind is bytes:
                size += len(item) + 3
            elif kind in PLAIN_SCALARS:
                size += 64 if kind is not int else item.bit_length() // 3 + 2
            elif depth < 16 and kind in (list, tuple, dict):
                machine.charge(1 + (len(item) >> 4))
                size += 2 + 2 * len(item)
                stack.extend((e, depth + 1) for e in (item if kind is not dict else [*item.keys(), *item.values()]))
            else:
                raise TypeError(f"a {kind.__name__} cannot be turned into text")
            if size > machine.param_limit("max_object_size"):
                break
    machine.allocate(size)
    return size


def machine_with(limits: dict[str, int], used: int) -> Machine:
    machine = Machine()
    machine.set_limits({**DEFAULTS, **limits})  # what enter() reads from governance
    machine.used = used
    return machine


def outcome(fn: Any, machine: Machine, value: Any) -> tuple[Any, ...]:
    try:
        result: Any = fn(machine, value)
    except BaychainError as exc:
        result = ("error", exc.code, exc.message)
    except TypeError as exc:
        result = ("type", str(exc))
    return result, machine.used, machine.memory


scalars = st.one_of(st.integers(min_value=-(1 << 70), max_value=1 << 70), st.text(max_size=40),
                    st.binary(max_size=40), st.booleans(), st.none(), st.builds(Decimal, st.integers(-10**6, 10**6)),
                    st.just(1.5), st.just(frozenset()))  # the last two are not plain: refused
keys = st.one_of(st.text(max_size=8), st.integers(-100, 100), st.tuples(st.integers(0, 3), st.text(max_size=3)))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=40), st.tuples(inner, inner),
                                                       st.dictionaries(keys, inner, max_size=20)), max_leaves=120)


def nested(depth: int, kind: type) -> Any:
    value: Any = ["leaf"]
    for _ in range(depth):
        value = kind([value]) if kind is not dict else {"k": value}
    return value


@settings(max_examples=400, deadline=None)
@given(value=values, max_size=st.integers(1, 3_000), compute=st.integers(1, 200), used=st.integers(0, 200),
       memory=st.integers(50, 5_000))
def test_text_size_charges_sizes_and_refuses_as_the_ordered_walk(value: Any, max_size: int, compute: int, used: int,
                                                                   memory: int) -> None:
    limits = {"max_object_size": max_size, "max_compute": compute, "max_memory": memory}
    expected = outcome(reference_text_size, machine_with(limits, used), value)
    assert outcome(Machine.text_size, machine_with(limits, used), value) == expected


def test_deep_shared_and_self_referencing_containers_stop_as_before() -> None:
    shared = ["x" * 100] * 30
    big = [shared] * 30  # a small value with a huge text
    loop: list[Any] = [1]
    loop.append(loop)
    cases = [nested(14, list), nested(15, list), nested(16, tuple), nested(20, dict), big, loop,
             {"digest": b"\x01" * 32, "owner": "bc1" + "q" * 40, "metadata": {}, "height": 7, "time_ns": 10**18,
              "tx": b"\x02" * 32}]
    for value in cases:
        for compute in (3, 40, 1_000_000):
            limits = {"max_compute": compute}
            expected = outcome(reference_text_size, machine_with(limits, 0), value)
            assert outcome(Machine.text_size, machine_with(limits, 0), value) == expected
    # the notary's record: paid and sized as before, inside every limit
    assert outcome(Machine.text_size, machine_with({}, 0), cases[-1])[1:] == (2, 209)


def test_limits_follow_every_change_of_the_parameters() -> None:
    box = Sandbox("from contract import export\n\n@export\ndef f(n: int):\n    i = 0\n    while i < n:\n        i += 1\n")
    index, compute = contract_key("governance", "params"), contract_key("governance", PARAM_PREFIX + "runtime.max_compute")

    def params(names: list[str], max_compute: int | None = None) -> None:
        box.state[index] = encoding.encode(names)
        if max_compute is not None:
            box.state[compute] = encoding.encode(max_compute)

    def stops_at(n: int) -> int | None:
        try:
            box.call("f", n=n)
        except BaychainError as exc:
            assert exc.code == Code.OUT_OF_COMPUTE
            return box.last.compute if box.last else None
        return None

    params(["scf.max_term_days"], 20_000)  # a value, but not named in the index: no effect
    assert stops_at(5_000) is None and stops_at(5_000) is None  # (~86,000 units) the second call reuses the index
    params(["runtime.max_compute", "scf.max_term_days"])  # named now: the next call is limited
    assert 20_000 < stops_at(5_000) < 22_000
    params(["runtime.max_compute", "scf.max_term_days"], 40_000)  # same index, new value
    assert stops_at(2_000) is None and 40_000 < stops_at(5_000) < 42_000
    params(["scf.max_term_days"])  # no longer named: the defaults again
    assert stops_at(5_000) is None


# Every type the runtime stores or turns into text, nested, against the native walk:
# ints on both sides of the 64-bit boundary (the native walk reads those two ways),
# texts whose size counts characters, not UTF-8 bytes, and containers near the depth limit.
boundary_ints = st.sampled_from([0, 1, -1, (1 << 63) - 1, 1 << 63, -(1 << 63), -(1 << 63) - 1, (1 << 64) - 1, 1 << 64,
                                 -(1 << 64), (1 << 512) - 1, -(1 << 512) + 1, 1 << 700])
stored_scalars = st.one_of(st.integers(), st.integers(-(1 << 600), 1 << 600), boundary_ints, st.text(max_size=30),
                           st.binary(max_size=30), st.booleans(), st.none(),
                           st.builds(Decimal, st.sampled_from(["0", "1.50", "-0.000001", "123456789.123456"])))
stored_keys = st.one_of(st.text(max_size=6), st.binary(max_size=6), st.integers(-(1 << 70), 1 << 70),
                        st.tuples(st.integers(0, 3), st.binary(max_size=3)))
stored_values = st.recursive(stored_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=35), st.tuples(inner, inner), st.dictionaries(stored_keys, inner, max_size=20)),
    max_leaves=150)


@st.composite
def deep(draw: st.DrawFn) -> Any:
    """A chain of 12-18 containers of any kind, each possibly beside a stored value."""
    value = draw(stored_values)
    for _ in range(draw(st.integers(12, 18))):
        kind = draw(st.sampled_from([list, tuple, dict]))
        extra = draw(stored_scalars)
        value = [value, extra] if kind is list else (extra, value) if kind is tuple else {draw(stored_keys): value,
                                                                                              "x": extra}
    return value


@settings(max_examples=400, deadline=None)
@given(value=st.one_of(stored_values, deep()), max_size=st.sampled_from([1, 50, 500, 3_000, 65_536, 1 << 70]),
       compute=st.sampled_from([1, 2, 5, 20, 1_000_000, 1 << 70]), used=st.integers(0, 30),
       memory=st.sampled_from([50, 5_000, 8_000_000]))
def test_native_walk_of_stored_types_matches_the_ordered_walk(value: Any, max_size: int, compute: int, used: int,
                                                              memory: int) -> None:
    limits = {"max_object_size": max_size, "max_compute": compute, "max_memory": memory}
    expected = outcome(reference_text_size, machine_with(limits, used), value)
    assert outcome(Machine.text_size, machine_with(limits, used), value) == expected


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(stored_values, deep()), max_size=st.sampled_from([50, 500, 65_536]),
       compute=st.sampled_from([2, 20, 1_000_000]), memory=st.sampled_from([500, 8_000_000]))
def test_a_storage_write_sizes_and_refuses_as_the_ordered_walk(value: Any, max_size: int, compute: int,
                                                               memory: int) -> None:
    """`Var.set` sizes a container inline (the native walk), falling back to `text_size`."""
    from baychain.contracts.context import COST_WRITE, Context
    from baychain.runtime.storage import Var

    limits = {"max_object_size": max_size, "max_compute": compute + COST_WRITE, "max_memory": memory}

    def write(machine: Machine, value: Any) -> Any:
        machine.builtins()  # the type names storage declarations map back
        machine.stack.append(Context({}.get, contract="c", sender="alice", height=1, time_ns=0))
        slot = Var()
        slot._bind(machine, "c", "v")  # noqa: SLF001 - what loading a contract does
        slot.set(value)
        return machine.stack[-1].writes

    def reference(machine: Machine, value: Any) -> Any:
        reference_text_size(machine, value)
        machine.charge(COST_WRITE)
        ctx = Context({}.get, contract="c", sender="alice", height=1, time_ns=0)
        try:
            ctx.put("v", value)
        except BaychainError as exc:  # outside the value model: refused as storage refuses it
            raise BaychainError(Code.CONTRACT_ERROR, f"v: cannot store this value: {exc.message}") from None
        return ctx.writes

    if type(value) is not list and type(value) is not dict and type(value) is not tuple:
        value = [value]
    assert outcome(write, machine_with(limits, 0), value) == outcome(reference, machine_with(limits, 0), value)
