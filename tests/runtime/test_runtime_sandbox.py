"""Hostile contracts at run time: each is stopped with a stable code and keeps no write."""

from __future__ import annotations

from pathlib import Path

import pytest

from baychain.errors import BaychainError, Code
from runtime_support import Sandbox

HEADER = '''from contract import Map, Var, export, view, require, fail, emit, call, ctx, Decimal, sha256
log = Map(int, default=0)
'''


def stopped(body: str, method: str = "f", *, params: dict | None = None, **args) -> BaychainError:
    """Run `f` after a first write, and check the call failed with nothing kept."""
    box = Sandbox(HEADER + body, params=params)
    before = dict(box.state)
    with pytest.raises(BaychainError) as err:
        box.call(method, **args)
    assert box.state == before, "a stopped call kept writes"
    return err.value


def test_an_infinite_loop_runs_out_of_compute():
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    while True:\n        pass\n")
    assert err.code == Code.OUT_OF_COMPUTE and "runtime.max_compute" in err.message


def test_a_huge_range_is_paid_before_it_runs():
    assert stopped("@export\ndef f():\n    log['x'] = 1\n    return sum(range(10**12))\n").code == Code.OUT_OF_COMPUTE
    assert stopped("@export\ndef f():\n    log['x'] = 1\n    return len(list(range(10**9)))\n").code == Code.OUT_OF_COMPUTE


def test_nested_comprehensions_pay_per_element_at_every_level():
    body = "@export\ndef f():\n    log['x'] = 1\n    l = [0] * 1000\n    return len([0 for a in l for b in l for c in l if False])\n"
    assert stopped(body).code == Code.OUT_OF_COMPUTE
    body = "@export\ndef f():\n    log['x'] = 1\n    l = [0] * 1000\n    return [0 for a in l for b in l for c in []]\n"
    assert stopped(body).code == Code.OUT_OF_COMPUTE


def test_the_compute_budget_is_a_governance_parameter():
    body = "@export\ndef f(n: int):\n    log['x'] = 1\n    i = 0\n    while i < n:\n        i += 1\n"
    Sandbox(HEADER + body).call("f", n=10_000)
    assert stopped(body, params={"runtime.max_compute": 20_000}, n=10_000).code == Code.OUT_OF_COMPUTE


MEMORY_BOMBS = {
    "string repetition": "return 'x' * 10**9",
    "list repetition": "return [0] * 10**9",
    "power": "return 10 ** 10**9",
    "shift": "return 1 << 10**9",
    "doubling": "s = 'ab'\n    while True:\n        s = s + s",
    "doubling in place": "s = [1]\n    while True:\n        s += s",
    "bytes of a length": "return bytes(10**9)",
    "join": "s = 'x' * 60000\n    return s.join([s, s, s])",
    "replace": "s = 'x' * 60000\n    return s.replace('x', 'yy')",
    "integer growth": "n = 3\n    while True:\n        n = n * n",
    "many mid-sized values": "keep = []\n    s = 'x' * 60000\n    while True:\n        keep.append(s[1:])",
    "int parsing": "return int('9' * 4000)",
    "text of a repeated list": "s = 'x' * 60000\n    return len(str([s] * 1000))",
    "text of a shared list": "a = [0] * 1000\n    b = [a] * 1000\n    c = [b] * 1000\n    return len(f'{c}')",
    "returning a shared list": "a = [0] * 60000\n    return [a] * 1000",
}


@pytest.mark.parametrize("code", list(MEMORY_BOMBS.values()), ids=list(MEMORY_BOMBS))
def test_memory_bombs_hit_the_memory_limit(code):
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    " + code + "\n")
    assert err.code == Code.MEMORY_LIMIT, err.message


def test_huge_outputs_are_refused():
    assert stopped("@export\ndef f():\n    log['x'] = 1\n    emit('big', data='x' * 10000)\n").code == Code.EVENT_LIMIT
    assert stopped("@export\ndef f():\n    log['x'] = 1\n    for i in range(100):\n        emit('e', i=i)\n").code == Code.EVENT_LIMIT
    assert stopped("@export\ndef f():\n    for i in range(1000):\n        log[i] = i\n").code == Code.STORAGE_LIMIT
    assert stopped("big = Var(str)\n@export\ndef f():\n    log['x'] = 1\n    big.set('x' * 60000)\n").code == Code.STORAGE_LIMIT
    assert stopped("@export\ndef f():\n    log['x'] = 1\n    return 'x' * 100000\n").code == Code.MEMORY_LIMIT


def test_nondeterminism_attempts_fail_at_run_time():
    for code in ["return str(ctx)", "return f'{ctx}'", "return 1 / 3", "return 2 ** -1", "return '%s' % 1",
                 "d = {'a': 1}\n    return d.keys() & d.keys()", "return sorted([1, 'a'])"]:
        err = stopped("@export\ndef f():\n    log['x'] = 1\n    " + code + "\n")
        assert err.code == Code.CONTRACT_ERROR, (code, err.message)
        assert "0x" not in err.message and "object at" not in err.message


def test_exceptions_carry_no_object_out():
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    d = {}\n    return d[ctx]\n")
    assert err.code == Code.CONTRACT_ERROR
    assert err.message == "c.f line 7: KeyError" and err.__cause__ is None and err.__context__ is None
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    return 1 // 0\n")
    assert err.message == "c.f line 6: ZeroDivisionError: integer division or modulo by zero"


def test_a_contract_returning_a_non_value_fails():
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    return ctx\n")
    assert err.code == Code.CONTRACT_ERROR


def test_require_and_fail_carry_a_code_and_a_sentence():
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    require(False, 'no funds', 'INSUFFICIENT_BALANCE')\n")
    assert (err.code, err.message) == (Code.INSUFFICIENT_BALANCE, "no funds")
    assert stopped("@export\ndef f():\n    fail('nope')\n").code == Code.CONTRACT_FAILED
    assert stopped("@export\ndef f():\n    fail('nope', 'INTERNAL')\n").code == Code.CONTRACT_ERROR


def test_calls_back_into_itself_stop_at_the_depth_limit():
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    call(ctx.contract, 'f')\n")
    assert err.code == Code.CALL_DEPTH_EXCEEDED


def test_decimal_arithmetic_is_fixed_point_and_exact():
    box = Sandbox(HEADER + '''
price = Var(Decimal, default=Decimal("0"))

@export
def f(a: str, b: str):
    x = Decimal(a) * Decimal(b) + 1
    price.set(x / 3)
    return [str(x), price.get(), int(x), x > 2, Decimal("0.1") + Decimal("0.2") == Decimal("0.3")]
''')
    assert box.call("f", a="1.5", b="2.25") == ["4.375", "1.458333333333333333", 4, True, True]
    assert box.state[b"c/c/price"] == b"\x741.458333333333333333"  # stored as canonical text


def test_storage_maps_are_typed_and_iterate_in_insertion_order():
    box = Sandbox(HEADER + '''
owners = Map(str, iterable=True)

@export
def put(key: str, value: str):
    owners[key] = value

@export
def drop(key: str):
    del owners[key]

@export
def bad():
    owners["k"] = 5

@view
def all() -> list:
    return [len(owners), owners.keys(), owners.items(), "a" in owners]
''')
    for k in ["c", "a", "b"]:
        box.call("put", key=k, value=k.upper())
    box.call("put", key="a", value="A2")
    assert box.call("all") == [3, ["c", "a", "b"], [["c", "C"], ["a", "A2"], ["b", "B"]], True]
    box.call("drop", key="c")
    assert box.call("all") == [2, ["b", "a"], [["b", "B"], ["a", "A2"]], True]
    with pytest.raises(BaychainError) as err:
        box.call("bad")
    assert err.value.code == Code.CONTRACT_ERROR and "holds str values" in err.value.message


def test_context_fields_reach_the_contract():
    box = Sandbox(HEADER + '''
@view
def who() -> list:
    return [ctx.sender, ctx.height, ctx.time, ctx.tx_hash, ctx.contract, ctx.organisation, sha256(b"")[:2]]
''')
    assert box.call("who", sender="bob") == ["bob", 7, 1_700_000_000_000_000_000, b"\x01" * 32, "c", "", b"\xe3\xb0"]


def test_the_meter_counts_the_same_on_every_run():
    body = "@export\ndef f(n: int):\n    t = 0\n    for i in range(n):\n        if i % 3:\n            t += i\n    log['t'] = t\n"
    used = set()
    for _ in range(3):
        box = Sandbox(HEADER + body)
        box.call("f", n=500)
        used.add(box.last.compute)
    assert len(used) == 1 and used.pop() > 500 * 5


def test_values_reached_through_allowed_names_lead_nowhere():
    for code in ["x = str\n    return x.join(['a'])", "x = Decimal\n    return x.get('a')",
                 "return (x for x in [1]).count(1)", "x = ctx\n    return x.get('k')",
                 "return log.items()", "return sha256(ctx)", "return ''.join([ctx])"]:
        err = stopped("@export\ndef f():\n    log['x'] = 1\n    " + code + "\n")
        assert err.code == Code.CONTRACT_ERROR, (code, err.message)
        assert "0x" not in err.message and "object at" not in err.message


def test_a_view_cannot_write():
    box = Sandbox(HEADER + "@view\ndef peek() -> int:\n    log['x'] = 1\n    return 1\n")
    ctx_view = box.contract.methods["peek"]
    from baychain.contracts.context import Context

    ctx = Context(box.state.get, contract="c", sender="", height=1, time_ns=0, readonly=True)
    with pytest.raises(BaychainError) as err:
        ctx_view.func(box.contract, ctx)
    assert err.value.code == Code.NOT_AUTHORIZED and ctx.writes == {}


def test_storage_declarations_cannot_reach_another_namespace():
    from baychain.runtime.language import check

    for decl in ["m = Map(int, prefix='../token')", "m = Map(int, prefix='a/b')", "m = Map(int, prefix=5)",
                 "m = Map(int)\nn = Var(int, prefix='m')"]:
        with pytest.raises(BaychainError) as err:
            check("from contract import Map, Var\n" + decl + "\n")
        assert err.value.code == Code.CONTRACT_INVALID
    box = Sandbox(HEADER + "@export\ndef f(k: str):\n    log[k, '..'] = 1\n")
    box.call("f", k="..")
    assert list(box.state) == [b"c/c/log/../.."]  # a flat key inside this contract's space, nothing more


CPU_BOMBS = {
    "insert at the front": "l = []\n    while True:\n        l.insert(0, 1)",
    "membership in a long list": "l = list(range(60000))\n    while True:\n        if -1 in l:\n            pass",
    "equality of long lists": "a = list(range(60000))\n    b = list(range(60000))\n    while True:\n        if a == b:\n            pass",
    "delete from the front": "l = list(range(60000))\n    while True:\n        l.append(1)\n        del l[0]",
    "search a long string": "s = 'ab' * 30000\n    while True:\n        s.find('c')",
    "copy a big dict again and again": "big = dict(zip(range(60000), range(60000)))\n    d = {}\n    while True:\n        d.update(big)",
}


@pytest.mark.parametrize("code", list(CPU_BOMBS.values()), ids=list(CPU_BOMBS))
def test_work_that_grows_with_size_is_paid_for(code):
    import time

    start = time.process_time()
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    " + code + "\n")
    assert err.code == Code.OUT_OF_COMPUTE, err.message
    assert time.process_time() - start < 10, "the meter let size-dependent work run far past its budget"


def test_slices_cannot_be_assigned_or_deleted():
    from baychain.runtime.language import check

    for body in ["l[:0] = l", "l[1:2] += [1]", "del l[0:1]"]:
        with pytest.raises(BaychainError) as err:
            check("from contract import export\n@export\ndef f(l: list):\n    " + body + "\n")
        assert err.value.code == Code.CONTRACT_INVALID


def test_an_oversized_alert_is_refused_before_it_is_recorded():
    box = Sandbox(HEADER.replace("sha256", "sha256, alert") + "@export\ndef f(n: int):\n    alert('attempt', data='x' * n)\n")
    box.call("f", n=10)
    assert [e.type for e in box.last.alerts] == ["c.alert"]
    with pytest.raises(BaychainError) as err:
        box.call("f", n=5000)
    assert err.value.code == Code.EVENT_LIMIT and box.last.alerts == []


def test_text_encodings_are_utf8_or_ascii_only():
    box = Sandbox(HEADER + "@view\ndef f(s: str, codec: str) -> bytes:\n    return s.encode(codec)\n")
    assert box.call("f", s="粤", codec="utf-8") == "粤".encode()
    assert box.call("f", s="a", codec="ascii") == b"a"
    for codec in ("utf-16", "idna", "rot13", "unicode_escape"):
        with pytest.raises(BaychainError) as err:
            box.call("f", s="a", codec=codec)
        assert err.value.code == Code.CONTRACT_ERROR


NESTING_BOMBS = {
    "tuple in tuple": "t = ()\n    for i in range(300000):\n        t = (t,)\n    return {t: 1}",
    "tuples from zip": "t = ()\n    for i in range(20000):\n        t = list(zip([t]))[0]\n    return {t: 1}",
    "tuples from enumerate": "t = ()\n    for i in range(20000):\n        t = list(enumerate([t]))[0]\n    return {t: 1}",
    "tuples from items": "t = ()\n    for i in range(20000):\n        t = {1: t}.items()[0]\n    return {t: 1}",
    "compare deep lists": "a = []\n    b = []\n    for i in range(3000):\n        a = [a]\n        b = [b]\n    return a == b",
    "a list holding itself": "a = []\n    a.append(a)\n    return a == a",
    "sort deep lists": "a = []\n    for i in range(3000):\n        a = [a]\n    return sorted([a, a])",
    "max of deep lists": "a = []\n    for i in range(3000):\n        a = [a]\n    return max([a, a])",
}


@pytest.mark.parametrize("code", list(NESTING_BOMBS.values()), ids=list(NESTING_BOMBS))
def test_deep_nesting_is_refused_before_python_recurses_on_it(code, tmp_path):
    """Run in a child process: without the check, hashing a deep tuple crashes CPython."""
    import subprocess
    import sys

    script = tmp_path / "bomb.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from runtime_support import Sandbox\n"
        "from baychain.errors import BaychainError\n"
        f"source = {HEADER!r} + '@export\\ndef f():\\n    log[\"x\"] = 1\\n    ' + {code!r} + '\\n'\n"
        "box = Sandbox(source, params={'runtime.max_compute': 10_000_000})  # room to build deep enough to crash\n"
        "before = dict(box.state)\n"
        "try:\n    box.call('f')\nexcept BaychainError as exc:\n    print(exc.code.name, box.state == before)\n"
        "else:\n    print('RETURNED')\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         env={"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["MEMORY_LIMIT", "True"], out.stdout


def test_sum_adds_numbers_only_so_it_cannot_build_quadratic_copies():
    err = stopped("@export\ndef f():\n    log['x'] = 1\n    return len(sum([[0] * 10] * 1000, []))\n")
    assert err.code == Code.CONTRACT_ERROR and "adds numbers" in err.message
    box = Sandbox(HEADER + "@view\ndef f() -> str:\n    return str(sum([1, 2, Decimal('0.5')]) + sum(range(4)))\n")
    assert box.call("f") == "9.5"


def test_storing_a_value_made_of_shared_references_is_refused_before_encoding():
    err = stopped("big = Map(list)\n@export\ndef f():\n    log['x'] = 1\n    a = [0] * 60000\n    big['k'] = [a] * 1000\n")
    assert err.code == Code.MEMORY_LIMIT
    box = Sandbox(HEADER + "big = Map(list)\n@export\ndef f():\n    big['k'] = [[1, 2], [3]]\n")
    box.call("f")
    assert box.state[b"c/c/big/k"] == b"\x82\x82\x01\x02\x81\x03"


def test_the_callers_certificate_attributes_reach_the_contract():
    from baychain.contracts.context import Caller, Context

    box = Sandbox(HEADER + '''
@view
def who() -> list:
    return [ctx.sender, ctx.signer, ctx.organisation, ctx.jurisdiction, ctx.role]
''')
    ctx = Context(box.state.get, contract="c", sender="acct", signer="key", height=1, time_ns=0, readonly=True,
                  caller=Caller("acct", "Bank of Example", "HK", "regulator"))
    m = box.contract.methods["who"]
    assert m.func(box.contract, ctx) == ["acct", "key", "Bank of Example", "HK", "regulator"]
