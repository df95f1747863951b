"""A deployed contract over an in-memory state, for tests of the language and the meter.

The same Runtime, Context and instrumented code the application uses, minus blocks:
a call's writes are kept only if it returns, as in a transaction.
"""

from __future__ import annotations

from typing import Any

from baychain.contracts.context import Context
from baychain.runtime.deployed import Runtime


class Sandbox:
    def __init__(self, source: str, name: str = "c", params: dict[str, Any] | None = None) -> None:
        from baychain import encoding
        from baychain.contracts.context import PARAM_PREFIX, contract_key

        self.name = name
        self.runtime = Runtime()
        self.contract = self.runtime.load(name, source)
        self.state: dict[bytes, bytes] = {}
        for key, value in (params or {}).items():  # as governance.set_param writes them
            self.state[contract_key("governance", PARAM_PREFIX + key)] = encoding.encode(value)
        if params:
            self.state[contract_key("governance", "params")] = encoding.encode(sorted(params))
        self.last: Context | None = None

    def call(self, method: str, sender: str = "alice", **args: Any) -> Any:
        ctx = Context(self.state.get, contract=self.name, sender=sender, height=7, time_ns=1_700_000_000_000_000_000,
                      tx_hash=b"\x01" * 32, resolve=self._resolve)
        self.last = ctx
        m = self.contract.methods[method]
        value = m.func(self.contract, ctx, **m.check_args(args))
        for key, raw in ctx.writes.items():
            if raw is None:
                self.state.pop(key, None)
            else:
                self.state[key] = raw
        return value

    def _resolve(self, contract: str, method: str) -> Any:
        from baychain.errors import BaychainError, Code

        if contract != self.name:
            raise BaychainError(Code.UNKNOWN_CONTRACT, f"no contract named {contract!r}")
        return self.contract, self.contract.methods[method]
