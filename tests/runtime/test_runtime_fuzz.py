"""Random programs: every outcome is a value or a coded error, and two runtimes agree on it
and on the compute it used (what two nodes would do)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from baychain.errors import BaychainError
from runtime_support import Sandbox

ATOMS = ["0", "1", "-7", "2**40", "'ab'", "b'xy'", "[1, 2, 3]", "{'k': 1}", "(1, 'a')", "True", "None",
         "Decimal('1.5')", "n", "s", "l", "d"]
BINARY = ["+", "-", "*", "//", "%", "**", "<<", "/", "==", "<", "in", "and", "or"]
UNARY = ["-{}", "not {}", "len({})", "str({})", "sorted({})", "list({})", "{}[1:]", "{}[0]", "[{}] * 3",
         "{}.upper()", "{}.get('k')", "sum({})", "max({})", "f'{{{}}}'", "({},)", "int({})", "bytes({})"]

expressions = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0].format(t[1])),
    ),
    max_leaves=8,
)


def outcome(source: str) -> tuple:
    try:
        box = Sandbox(source)
    except BaychainError as exc:  # refused at deploy
        return ("refused", exc.code, exc.message)
    try:
        value = box.call("f", n=3)
    except BaychainError as exc:
        return ("error", exc.code, exc.message, box.last.compute)
    return ("value", repr(value), box.last.compute)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expressions, min_size=1, max_size=4), st.integers(min_value=1, max_value=50))
def test_random_programs_end_in_a_value_or_a_code_and_agree(exprs, rounds):
    body = "\n".join(f"        x = {e}" for e in exprs)
    source = (
        "from contract import export, Decimal\n"
        "@export\n"
        "def f(n: int):\n"
        "    s = 'text'\n    l = [3, 1, 2]\n    d = {'k': 2}\n    x = 0\n"
        f"    for i in range({rounds}):\n{body}\n"
        "    return [x] if type(x) is int else 0\n".replace("type(x) is int", "isinstance(x, int)")
    )
    first, second = outcome(source), outcome(source)  # two runtimes, as two nodes
    assert first == second
