"""The language check: what a contract may say, and the sentence it gets when it may not."""

from __future__ import annotations

import pytest

from baychain.errors import BaychainError, Code
from baychain.runtime.language import check

GOOD = '''
"""A counter."""
from contract import Map, Var, export, view, require, ctx

counts = Map(int, default=0)
total = Var(int, default=0)
LIMIT = 1000


def bump(n):
    return n + 1


@export
def add(key: str, amount: int = 1):
    """Add to a key's count."""
    require(0 < amount <= LIMIT, "amount out of range", "BAD_ARGUMENTS")
    counts[key] = counts[key] + amount
    total.set(bump(total.get()))


@view
def get(key: str) -> int:
    """A key's count."""
    return counts[key]
'''


def test_a_plain_contract_passes_with_its_interface():
    program = check(GOOD)
    assert program.doc == "A counter."
    assert sorted(program.exports) == ["add", "get"]
    add = program.exports["add"]
    assert [(p.name, p.type, p.required, p.default) for p in add.params] == [("key", str, True, None), ("amount", int, False, 1)]
    assert add.doc == "Add to a key's count." and not add.is_view and program.exports["get"].is_view
    assert program.storage == ("counts", "total")


def refused(body: str) -> str:
    source = "from contract import export, view, require, ctx, Map\n" + body
    with pytest.raises(BaychainError) as err:
        check(source)
    assert err.value.code == Code.CONTRACT_INVALID
    return err.value.message


ESCAPES = {
    "class walk": "@export\ndef f():\n    return ().__class__.__bases__[0].__subclasses__()\n",
    "fullwidth underscores (NFKC)": "@export\ndef f():\n    return ().\uff3f\uff3fclass\uff3f\uff3f\n",
    "dunder name": "@export\ndef f():\n    return __builtins__\n",
    "getattr": "@export\ndef f():\n    return getattr(ctx, 'sender')\n",
    "format attribute walk": "@export\ndef f():\n    return '{0.__class__}'.format(ctx)\n",
    "f-string conversion": "@export\ndef f():\n    return f'{ctx!r}'\n",
    "f-string format spec": "@export\ndef f():\n    return f'{1:>999999999}'\n",
    "generator frame": "@export\ndef f():\n    return (x for x in []).gi_frame.f_back.f_globals\n",
    "traceback": "@export\ndef f():\n    try:\n        1 // 0\n    except Exception as e:\n        return e\n",
    "raise an object": "@export\ndef f():\n    raise ValueError(ctx)\n",
    "import": "import os\n",
    "from import": "from os import path\n",
    "import a stdlib name that is not there": "from contract import os\n",
    "star import": "from contract import *\n",
    "relative import": "from . import contract\n",
    "import renamed": "from contract import emit as print\n",
    "f-string attribute walk": "@export\ndef f():\n    return f'{ctx.__class__}'\n",
    "closure cells": "def g():\n    return 1\n@export\ndef f():\n    return g.__closure__\n",
    "dunder import": "@export\ndef f():\n    return __import__('os')\n",
    "private name": "@export\ndef f():\n    return ctx._machine\n",
    "trailing underscore": "@export\ndef f():\n    x_ = 1\n    return x_\n",
    "unknown attribute": "@export\ndef f(x: list):\n    return x.copy()\n",
    "ctx field that does not exist": "@export\ndef f():\n    return ctx.get('k')\n",
    "eval": "@export\ndef f():\n    return eval('1')\n",
    "open": "@export\ndef f():\n    return open('/etc/passwd')\n",
    "print": "@export\ndef f():\n    print(1)\n",
    "lambda": "@export\ndef f():\n    g = lambda: 1\n",
    "class": "class A:\n    pass\n",
    "global": "x = 1\n@export\ndef f():\n    global x\n    x = 2\n",
    "nested function": "@export\ndef f():\n    def g():\n        return 1\n    return g()\n",
    "function as a value": "def g():\n    return 1\n@export\ndef f():\n    h = g\n",
    "builtin as a value": "@export\ndef f(x: list):\n    return sorted(x, key=len)\n",
    "calling a computed value": "@export\ndef f(x: list):\n    return x[0]()\n",
    "with": "@export\ndef f():\n    with ctx:\n        pass\n",
    "attribute assignment": "@export\ndef f():\n    ctx.sender = 'x'\n",
    "assign a reserved name": "@export\ndef f():\n    len = 1\n",
    "yield": "@export\ndef f():\n    yield 1\n",
    "async": "async def f():\n    pass\n",
    "walrus": "@export\ndef f(x: int):\n    return (y := x)\n",
    "storage declared in a function": "@export\ndef f():\n    m = Map(int)\n",
    "mutable module state": "cache = []\n",
    "module-level code": "x = len('abc')\n",
    "module-level loop": "while True:\n    pass\n",
    "decorator": "@staticmethod\ndef f():\n    pass\n",
    "untyped export": "@export\ndef f(x):\n    pass\n",
    "starargs": "@export\ndef f(*args):\n    pass\n",
    "mutable default": "def f(x=[]):\n    pass\n",
    "unknown name": "@export\ndef f():\n    return undefined_thing\n",
}

NONDETERMINISM = {
    "float literal": "@export\ndef f():\n    return 1.5\n",
    "exponent float": "@export\ndef f():\n    return 1e9\n",
    "complex": "@export\ndef f():\n    return 1j\n",
    "float()": "@export\ndef f():\n    return float('1')\n",
    "set literal": "@export\ndef f():\n    return {1, 2}\n",
    "set comprehension": "@export\ndef f(x: list):\n    return {i for i in x}\n",
    "set()": "@export\ndef f(x: list):\n    return set(x)\n",
    "id": "@export\ndef f():\n    return id(ctx)\n",
    "hash": "@export\ndef f():\n    return hash('x')\n",
    "type": "@export\ndef f():\n    return type(ctx)\n",
    "clock": "import time\n",
    "randomness": "import random\n",
    "os entropy": "from os import urandom\n",
    "I/O": "@export\ndef f():\n    return input()\n",
}


@pytest.mark.parametrize("body", list(ESCAPES.values()), ids=list(ESCAPES))
def test_escape_attempts_are_refused_at_deploy(body):
    assert refused(body)


@pytest.mark.parametrize("body", list(NONDETERMINISM.values()), ids=list(NONDETERMINISM))
def test_nondeterministic_constructs_are_refused_at_deploy(body):
    assert refused(body)


def test_refusals_name_the_line_and_the_reason():
    assert refused("x = 1\n\n@export\ndef f():\n    return 1.5\n").startswith("line 6: float literals")  # 1 import line first
    assert "getattr" in refused("@export\ndef f():\n    return getattr(ctx, 'x')\n")
    assert "underscore" in refused("@export\ndef f():\n    return ().__class__\n")


def test_recursion_direct_and_mutual_is_refused():
    assert "recursion" in refused("def f(n):\n    return f(n - 1)\n")
    message = refused("def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\n")
    assert "recursion" in message and "a -> b -> a" in message


def test_long_call_chains_are_refused():
    chain = "".join(f"def f{i}():\n    return f{i + 1}()\n" for i in range(40)) + "def f40():\n    return 0\n"
    assert "chain deeper" in refused(chain)


def test_deep_nesting_and_huge_sources_are_refused():
    assert "nest deeper" in refused("@export\ndef f():\n    return " + "[" * 60 + "1" + "]" * 60 + "\n")
    deep_if = "".join("    " * (i + 1) + "if True:\n" for i in range(45)) + "    " * 46 + "pass\n"
    assert "nest deeper" in refused("@export\ndef f():\n" + deep_if)
    assert refused("@export\ndef f():\n    return " + "+".join(["1"] * 5000) + "\n")
    assert refused("X = '" + "a" * 70_000 + "'\n")


def test_augmented_assignment_to_a_computed_subscript_must_be_explicit():
    assert "computed subscript" in refused("@export\ndef f(x: list):\n    x[len(x) - 1] += 1\n")
    check("from contract import export, Map\nm = Map(int)\n@export\ndef f(k: str):\n    m[k] += 1\n")


def test_not_text_is_refused():
    with pytest.raises(BaychainError) as err:
        check(b"x = 1")  # type: ignore[arg-type]
    assert err.value.code == Code.CONTRACT_INVALID
