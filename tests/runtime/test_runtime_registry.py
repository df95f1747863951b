"""The registry's rules: approved hash, language check, versions, disabling (Context level)."""

from __future__ import annotations

import pytest

from baychain import encoding
from baychain.contracts.context import GOVERNANCE, Context
from baychain.errors import BaychainError, Code
from baychain.runtime import registry
from baychain.runtime.deployed import Runtime, code_hash

V1 = '"""v1"""\nfrom contract import export, view\n@view\ndef version() -> int:\n    return 1\n'
V2 = V1.replace("return 1", "return 2").replace('"""v1"""', '"""v2"""')


class Chain:
    """Committed state in a dict; each call is a transaction that keeps its writes only on success."""

    def __init__(self) -> None:
        self.state: dict[bytes, bytes] = {}
        self.runtime = Runtime()
        self.registry = registry.Contracts(self.runtime, frozenset({"points"}))

    def run(self, method: str, sender: str = "alice", **args):
        ctx = Context(self.state.get, contract="contracts", sender=sender, height=3, time_ns=5, proposal=9)
        m = self.registry.methods[method]
        value = m.func(self.registry, ctx, **m.check_args(args))
        self.state.update({k: v for k, v in ctx.writes.items() if v is not None})
        for k in [k for k, v in ctx.writes.items() if v is None]:
            self.state.pop(k, None)
        return value

    def refused(self, method: str, **args) -> Code:
        before = dict(self.state)
        with pytest.raises(BaychainError) as err:
            self.run(method, **args)
        assert self.state == before
        return err.value.code


def test_deploy_needs_the_approved_hash_and_uses_the_approval_up():
    chain = Chain()
    assert chain.refused("deploy", name="demo", source=V1) == Code.CODE_NOT_APPROVED
    chain.run("approve", sender=GOVERNANCE, name="demo", code_hash=code_hash(V1))
    assert chain.refused("deploy", name="demo", source=V2) == Code.CODE_NOT_APPROVED
    assert chain.run("deploy", name="demo", source=V1) == {"name": "demo", "version": 1, "code_hash": code_hash(V1)}
    assert chain.refused("deploy", name="demo", source=V1) == Code.CODE_NOT_APPROVED  # used up
    found = registry.find(chain.runtime, "demo", chain.state.get)
    assert found is not None and found.version == 1 and found.describe()["doc"] == "v1"


def test_an_approved_source_outside_the_language_is_refused():
    chain = Chain()
    bad = "import os\n"
    chain.run("approve", sender=GOVERNANCE, name="demo", code_hash=code_hash(bad))
    assert chain.refused("deploy", name="demo", source=bad) == Code.CONTRACT_INVALID


def test_names_of_built_in_contracts_and_bad_names_are_refused():
    chain = Chain()
    assert chain.refused("approve", name="points", code_hash=code_hash(V1)) == Code.ALREADY_EXISTS
    assert chain.refused("approve", name="contracts", code_hash=code_hash(V1)) == Code.ALREADY_EXISTS
    assert chain.refused("approve", name="Bad-Name", code_hash=code_hash(V1)) == Code.BAD_ARGUMENTS
    assert chain.refused("approve", name="demo", code_hash=b"short") == Code.BAD_ARGUMENTS


def test_upgrades_keep_every_version_and_its_source():
    chain = Chain()
    for source in (V1, V2):
        chain.run("approve", sender=GOVERNANCE, name="demo", code_hash=code_hash(source))
        chain.run("deploy", name="demo", source=source)
    assert [v["version"] for v in chain.run("versions", name="demo")] == [1, 2]
    assert chain.run("source", name="demo", version=1) == V1
    assert chain.run("source", name="demo") == V2
    assert chain.run("names") == ["demo"]
    assert registry.find(chain.runtime, "demo", chain.state.get).describe()["doc"] == "v2"


def test_large_sources_are_stored_in_chunks():
    chain = Chain()
    big = V1 + "".join(f"X{i} = '{'y' * 60}'\n" for i in range(300))
    chain.run("approve", sender=GOVERNANCE, name="demo", code_hash=code_hash(big))
    chain.run("deploy", name="demo", source=big)
    assert chain.run("source", name="demo") == big
    meta = encoding.decode(chain.state[b"c/contracts/code/" + code_hash(big).hex().encode()])
    assert meta["chunks"] > 1


def test_a_disabled_contract_cannot_be_found_until_enabled():
    chain = Chain()
    chain.run("approve", sender=GOVERNANCE, name="demo", code_hash=code_hash(V1))
    chain.run("deploy", name="demo", source=V1)
    chain.run("disable", sender=GOVERNANCE, name="demo", reason="audit finding")
    with pytest.raises(BaychainError) as err:
        registry.find(chain.runtime, "demo", chain.state.get)
    assert err.value.code == Code.CONTRACT_DISABLED and "audit finding" in err.value.message
    chain.run("enable", sender=GOVERNANCE, name="demo")
    assert registry.find(chain.runtime, "demo", chain.state.get) is not None
    assert registry.find(chain.runtime, "nothing", chain.state.get) is None
