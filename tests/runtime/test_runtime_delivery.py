"""The shortcuts of a contract call's common path refuse, count and record exactly as the
general path does.

Events are checked, turned into text, sized and counted in one pass (`emit`), storage
keys are built inline for str and bytes keys, and the results of builtins that return
numbers are not handed to the scan guard. Each refusal below names the same problem
with the same code and message, and stops at the same compute count, as before.
"""

from __future__ import annotations

import ast
import copy
from typing import Any

import baychain_native
import pytest
from hypothesis import given, settings, strategies as st

from baychain.errors import BaychainError, Code
from baychain.runtime import instrument as inst
from baychain.runtime.fixed import Decimal
from baychain.runtime.language import check
from runtime_support import Sandbox

EVENTS = '''
from contract import Decimal, Map, emit, export

m = Map(int)


@export
def named(name: str):
    emit(name, a=1)


@export
def listed():
    emit(["x"], a=1)


@export
def attribute(kind: str):
    values = {"list": [1], "dict": {}, "none": None, "tuple": (1, 2)}
    emit("e", ok=1, bad=values[kind])


@export
def texts():
    emit("e", i=-12, s="粤", b=b"\\x01\\xff", t=True, d=Decimal("1.50"))


@export
def wide(n: int):
    emit("wide", text="x" * n)


@export
def many(n: int):
    for i in range(n):
        emit("tick", i=i)


@export
def keys(text: str, raw: bytes, n: int):
    m[text] = 1
    m[raw] = 2
    m[n] = 3
    m[text, n] = 4
    return [text in m, raw in m, n in m, (text, n) in m, m[text] + m[raw] + m[n] + m[text, n]]


@export
def slashed():
    m["a/b"] = 1
'''


def outcome(box: Sandbox, method: str, **args: Any) -> tuple[Any, ...]:
    try:
        value = box.call(method, **args)
    except BaychainError as exc:
        return ("error", exc.code, exc.message, box.last.compute if box.last else None)
    return ("ok", value, box.last.compute if box.last else None)


def test_event_refusals_name_the_problem_as_before() -> None:
    box = Sandbox(EVENTS)
    assert outcome(box, "named", name="Bad-Name") == (
        "error", Code.CONTRACT_ERROR, "c.named line 9: ValueError: event names are lower-case letters, digits and _",
        1010)
    assert outcome(box, "named", name="") == (
        "error", Code.CONTRACT_ERROR, "c.named line 9: ValueError: event names are lower-case letters, digits and _",
        1010)
    assert outcome(box, "listed") == ("error", Code.CONTRACT_ERROR, "c.listed line 14: TypeError: unhashable type: 'list'", 1010)
    for kind, name in (("list", "list"), ("dict", "dict"), ("none", "NoneType"), ("tuple", "tuple")):
        assert outcome(box, "attribute", kind=kind) == (
            "error", Code.CONTRACT_ERROR,
            f"c.attribute line 20: TypeError: event attributes are int, str, bytes, bool or Decimal, not {name}", 1033)
    assert box.last is not None and box.last.events == []


def test_event_texts_sizes_and_counts_are_as_before() -> None:
    box = Sandbox(EVENTS)
    assert outcome(box, "texts") == ("ok", None, 1021)
    assert box.last is not None
    assert [(e.type, e.attributes) for e in box.last.events] == [
        ("c.e", [("i", "-12"), ("s", "粤"), ("b", "01ff"), ("t", "True"), ("d", "1.5")])]
    assert outcome(box, "wide", n=2_048 - len("c.wide") - len("text")) == ("ok", None, 1013)
    assert outcome(box, "wide", n=2_049 - len("c.wide") - len("text")) == (
        "error", Code.EVENT_LIMIT, "an event of 2049 bytes exceeds 2048 (runtime.max_event_bytes)", 1013)
    assert outcome(box, "many", n=32) == ("ok", None, 1_394)
    assert outcome(box, "many", n=33) == ("error", Code.EVENT_LIMIT, "at most 32 events per call (runtime.max_events)",
                                          1_406)
    raised = Sandbox(EVENTS, params={"runtime.max_events": 100})
    assert outcome(raised, "many", n=65) == ("error", Code.LIMIT_EXCEEDED, "at most 64 events per transaction", 1_890)


class Text(str):
    """Not a plain str: its text could be anything its class says."""


plain_attributes = st.one_of(st.integers(), st.integers(-(1 << 600), 1 << 600), st.text(max_size=20),
                             st.binary(max_size=20), st.booleans(),
                             st.builds(Decimal, st.sampled_from(["0", "1.50", "-7.000001", "123456789.5"])))
other_attributes = st.one_of(st.just(1.5), st.none(), st.lists(st.integers(), max_size=2), st.builds(Text, st.text()))


@settings(max_examples=300, deadline=None)
@given(attributes=st.dictionaries(st.text(max_size=8), st.one_of(plain_attributes, other_attributes), max_size=6))
def test_event_texts_are_the_general_paths_texts(attributes: dict[str, Any]) -> None:
    """The native texts of `emit` against `Context.emit`'s: bytes as hex, others by str()."""
    made = baychain_native.event_texts(attributes, Decimal)
    if any(type(v) not in (int, str, bytes, bool, Decimal) for v in attributes.values()):
        assert made is None  # emit then names the first such value
        return
    texts = [(k, v.hex() if type(v) is bytes else str(v)) for k, v in attributes.items()]
    assert made == (texts, sum(len(k) + len(t) for k, t in texts))
    assert all(type(k) is str and type(t) is str for k, t in made[0])


def test_map_keys_of_every_kind_reach_the_same_state_keys() -> None:
    box = Sandbox(EVENTS)
    assert outcome(box, "keys", text="k", raw=b"\x0a\xff", n=-7) == ("ok", [True, True, True, True, 10], 3_910)
    assert sorted(k for k in box.state if k.startswith(b"c/c/m/")) == [
        b"c/c/m/-7", b"c/c/m/0aff", b"c/c/m/k", b"c/c/m/k/-7"]
    assert outcome(box, "slashed") == (
        "error", Code.CONTRACT_ERROR, "c.slashed line 50: ValueError: map keys cannot contain '/': 'a/b'", 1008)


@pytest.mark.parametrize("name", sorted(inst.NUMBER_BUILTINS))
def test_only_results_of_number_builtins_skip_the_scan_guard(name: str) -> None:
    program = check(f"from contract import export\n\n@export\ndef f(x: list):\n    return {name}(x) == x and hex(1) == x\n")
    code = ast.unparse(inst._Metered().visit(copy.deepcopy(program.tree)))  # noqa: SLF001 - the rewritten tree
    assert f"{name}(x) == __scan__(x)" in code and "__scan__(hex(1)) == __scan__(x)" in code


def test_a_module_function_named_like_a_number_builtin_keeps_the_scan_guard() -> None:
    """A contract may define `len` itself; a call to it returns whatever it likes and must be scanned."""
    program = check("from contract import export\n\ndef len(x: list) -> list:\n    return x + x\n\n"
                    "@export\ndef f(x: list):\n    return len(x) == x and ord('a') == 97\n")
    code = ast.unparse(inst._Metered().visit(copy.deepcopy(program.tree)))  # noqa: SLF001 - the rewritten tree
    assert "__scan__(len(x)) == __scan__(x)" in code and "ord('a') == 97" in code
