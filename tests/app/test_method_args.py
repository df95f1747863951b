"""A method's argument check: the fast path gives exactly what the full path gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from baychain.contracts.base import Method, Param
from baychain.errors import BaychainError

PARAMS = (
    Param("digest", bytes, True),
    Param("count", int, True),
    Param("metadata", dict, False, {}),
    Param("tags", list, False, []),
    Param("note", str, False, ""),
    Param("value", object, False, None),
)
METHOD = Method("probe", PARAMS, "", False, lambda *a, **k: None)
VALUES = st.one_of(st.binary(max_size=4), st.integers(-3, 3), st.booleans(), st.text(max_size=3), st.none(),
                   st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), st.lists(st.integers(), max_size=2))


def outcome(check, args):
    try:
        return check(dict(args))
    except BaychainError as exc:
        return (exc.code, exc.message)


REQUIRED = st.fixed_dictionaries({}, optional={"digest": st.binary(max_size=4), "count": st.integers(-3, 3)})


@settings(max_examples=400, deadline=None)
@given(base=REQUIRED, extra=st.dictionaries(st.sampled_from([p.name for p in PARAMS] + ["other"]), VALUES, max_size=4))
def test_fast_argument_check_matches_the_full_one(base, extra) -> None:
    args = {**base, **extra}
    fast = outcome(METHOD.check_args, args)
    assert fast == outcome(METHOD._check_args_in_full, args)
    if isinstance(fast, dict):
        assert list(fast) == [p.name for p in PARAMS]  # every parameter, in order


def test_left_out_defaults_are_fresh_copies() -> None:
    first = METHOD.check_args({"digest": b"d", "count": 1})
    first["metadata"]["x"] = 1
    first["tags"].append(2)
    second = METHOD.check_args({"digest": b"d", "count": 1})
    assert second["metadata"] == {} and second["tags"] == []
