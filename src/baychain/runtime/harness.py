"""The local harness: a contract's tests against the embedded engine.

`baychain contract test DIR` imports every `test_*.py` in DIR and runs each `test_*`
function on a fresh `LocalChain`: a real single-node chain (the solo engine, the
application, LMDB) in a temporary directory, whose genesis committee is one local
key, so `deploy` goes through exactly the proposal, vote and upload a consortium
makes. Test files are ordinary Python on the host side; only the contract is in the
contract language.

    def test_transfer(chain):
        alice, bob = chain.accounts[:2]
        chain.deploy("token", chain.source("token.py"))
        chain.call(alice, "token", "mint", to=alice.address, amount=100)
        assert chain.send(bob, "token", "transfer", to=alice.address, amount=1).error == "INSUFFICIENT_BALANCE"
"""

from __future__ import annotations

import importlib.util
import inspect
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baychain import encoding
from baychain import transactions as txs
from baychain.chain.genesis import Genesis
from baychain.errors import BaychainError, Code
from baychain.runtime.deployed import code_hash
from baychain.sdk.keys import Key

CHAIN_ID = "contract-test"
GENESIS_TIME_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: tests do not depend on the clock


@dataclass
class Result:
    """A committed transaction's outcome."""

    code: int
    log: str
    value: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)  # {"type": "token.transferred", "attributes": {...}}
    compute: int = 0

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def error(self) -> str:
        """The error's name ("" when it succeeded), e.g. "INSUFFICIENT_BALANCE"."""
        return "" if self.code == 0 else Code(self.code).name


class LocalChain:
    """A single-node chain with a one-key committee and funded-free test accounts."""

    def __init__(self, home: str | Path, *, accounts: int = 3, contract_dir: str | Path = ".") -> None:
        from baychain.node import NodeConfig, SoloNode

        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        self.contract_dir = Path(contract_dir)
        self.committee = Key.generate()
        self.accounts = [Key.generate() for _ in range(accounts)]
        app_state = {"governance": {"members": [{"account": self.committee.address, "organisation": "Test committee",
                                                 "weight": 1}]}}
        Genesis(chain_id=CHAIN_ID, time_ns=GENESIS_TIME_NS, app_state=app_state).save(home / "genesis.json")
        self.node = SoloNode(NodeConfig(home=home, chain_id=CHAIN_ID))
        self._nonces: dict[str, int] = {}

    def close(self) -> None:
        self.node.stop()

    def source(self, filename: str) -> str:
        """A file of the contract's directory, as text."""
        return (self.contract_dir / filename).read_text(encoding="utf-8")

    def send(self, key: Key, contract: str, method: str, /, **args: Any) -> Result:
        """Sign a call, put it in a block, and return its outcome (admission refusals included)."""
        nonce = self._nonces.get(key.address, 0)
        tx = txs.sign(txs.build(chain_id=CHAIN_ID, suite=key.suite.suite_id, signer=key.public_key, nonce=nonce,
                                expiry_height=self.node.app.height + 100, contract=contract, method=method, args=args),
                      key.private_key)
        admitted = self.node.engine.submit_many([tx.raw])[0]
        if admitted.code:
            return Result(admitted.code, admitted.log)
        self._nonces[key.address] = nonce + 1
        self.node.engine.produce_block()
        record = self.node.app.blocks.tx(tx.hash)
        value = encoding.decode(record.data, Code.INTERNAL) if record.data else None
        events = [{"type": e.type, "attributes": dict(e.attributes)} for e in record.events]
        return Result(record.code, record.log, value, events, record.compute_used)

    def call(self, key: Key, contract: str, method: str, /, **args: Any) -> Any:
        """Like `send`, but return the method's value and raise BaychainError if it failed."""
        result = self.send(key, contract, method, **args)
        if not result.ok:
            raise BaychainError(Code(result.code), result.log)
        return result.value

    def view(self, contract: str, method: str, /, **args: Any) -> Any:
        return self.node.app.view(contract, method, args)

    def decide(self, actions: list[dict[str, Any]], title: str = "test proposal") -> dict[str, Any]:
        """Pass a proposal with the committee key: its summary (status "executed" when it ran)."""
        pid = self.call(self.committee, "governance", "propose", title=title, actions=actions)["id"]
        return self.call(self.committee, "governance", "vote", id=pid, approve=True)

    def deploy(self, name: str, source: str) -> dict[str, Any]:
        """Approve the source's hash by proposal, then upload it: a new contract or an upgrade."""
        summary = self.decide([{"contract": "contracts", "method": "approve",
                                "args": {"name": name, "code_hash": code_hash(source)}}], f"deploy {name}")
        if summary["status"] != "executed":
            raise BaychainError(Code.CODE_NOT_APPROVED, f"the approval proposal {summary['status']}: {summary.get('error')}")
        return self.call(self.accounts[0], "contracts", "deploy", name=name, source=source)


@dataclass
class Outcome:
    """One test function's result."""

    file: str
    name: str
    passed: bool
    message: str = ""


def run_tests(path: str | Path, *, on_result: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run every `test_*` function of the `test_*.py` files under `path` (a file or a
    directory), each on a fresh LocalChain (its `chain` parameter, if it has one)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.glob("test_*.py"))
    if not files:
        raise BaychainError(Code.NOT_FOUND, f"no test_*.py files in {path}")
    outcomes = []
    for file in files:
        spec = importlib.util.spec_from_file_location(f"contract_tests_{file.stem}", file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # a test file that does not even import is one failure
            outcome = Outcome(file.name, "<import>", False, f"{type(exc).__name__}: {exc}")
            outcomes.append(outcome)
            if on_result:
                on_result(outcome)
            continue
        for name, func in sorted(vars(module).items()):
            if not name.startswith("test_") or not inspect.isfunction(func):
                continue
            outcome = _run_one(file, name, func)
            outcomes.append(outcome)
            if on_result:
                on_result(outcome)
    return outcomes


def _run_one(file: Path, name: str, func: Callable[..., Any]) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="baychain-contract-test-") as tmp:
        chain = LocalChain(Path(tmp) / "node", contract_dir=file.parent) if "chain" in inspect.signature(func).parameters else None
        try:
            func(chain) if chain is not None else func()
        except AssertionError as exc:
            return Outcome(file.name, name, False, _failure(exc))
        except Exception as exc:
            return Outcome(file.name, name, False, _failure(exc))
        finally:
            if chain is not None:
                chain.close()
    return Outcome(file.name, name, True)


def _failure(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "baychain/runtime/harness.py" not in f.filename]
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
