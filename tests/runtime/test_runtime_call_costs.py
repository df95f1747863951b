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
from baychain.runtime.machine import _PLAIN_SCALARS, DEFAULTS, Machine
from runtime_support import Sandbox


def reference_text_size(machine: Machine, value: Any) -> int:
    """The ordered walk `text_size` did for every container before the quick path."""
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
            elif kind in _PLAIN_SCALARS:
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
