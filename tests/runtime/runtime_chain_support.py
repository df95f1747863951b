"""Applications driven block by block, with a committee that passes contract approvals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baychain import encoding
from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest, TxResult
from baychain.crypto.hashing import sha256
from baychain.runtime.deployed import code_hash
from governance_support import action, committee, decide

CHAIN_ID = "runtime-test"
SECOND = 10**9
T0 = 1_700_000_000 * SECOND


class Chain:
    """One or more Applications (nodes) fed the same blocks; results come from the first."""

    def __init__(self, paths: list[Path], members: list[Any]) -> None:
        self.paths = paths
        self.members = members
        self.genesis = json.dumps({"governance": committee(*members)}).encode()
        self.apps = [Application(p) for p in paths]
        for app in self.apps:
            app.init_chain(InitChainRequest(CHAIN_ID, T0, 1, [], self.genesis))
        self.time = T0
        self.hashes: list[set[bytes]] = []

    @property
    def app(self) -> Application:
        return self.apps[0]

    def block(self, *txs: Any) -> list[TxResult]:
        self.time += SECOND
        height = self.app.height + 1
        request = BlockRequest(height, self.time, sha256(b"%d" % height), b"p", [t.raw for t in txs])
        results = []
        for app in self.apps:
            results.append(app.finalize_block(request))
            app.commit()
        self.hashes.append({r.app_hash for r in results})
        assert len(self.hashes[-1]) == 1, f"nodes disagree at height {height}"
        codes = {tuple((r.code, r.data, r.compute_used) for r in res.tx_results) for res in results}
        assert len(codes) == 1, f"nodes disagree on results at height {height}"
        return results[0].tx_results

    def run(self, tx: Any) -> TxResult:
        return self.block(tx)[0]

    def ok(self, tx: Any) -> Any:
        result = self.run(tx)
        assert result.code == 0, result
        return encoding.decode(result.data) if result.data else None

    def restart(self, index: int) -> None:
        """Close node `index` and open it again from disk (empty caches, same state)."""
        self.apps[index].close()
        self.apps[index] = Application(self.paths[index])

    def approve(self, name: str, source: str) -> dict[str, Any]:
        summary = decide(self.run, self.members, [action("contracts", "approve", name=name, code_hash=code_hash(source))])
        assert summary["status"] == "executed", summary
        return summary

    def deploy(self, name: str, source: str, deployer: Any = None) -> Any:
        self.approve(name, source)
        return self.ok((deployer or self.members[0]).tx("contracts", "deploy", name=name, source=source))

    def close(self) -> None:
        for app in self.apps:
            app.close()
