"""The application's own mempool: admitted transactions in arrival order, bounded.

The solo engine's, and a CometBFT node's when it keeps transactions itself (node.json
`mempool = "app"`, CometBFT's `nop` mempool: baychain.engine.cometbft). Admission itself
(signature, nonce, arguments) is the application's check_tx; the mempool only keeps
what was admitted, refuses duplicates and enforces its size.
Transactions are keyed by their bytes: equal bytes are the same transaction (same
hash), and a bytes object caches its own dict hash, so nothing is hashed twice.
"""

from __future__ import annotations

from typing import Any

from baychain.app.types import TxResult
from baychain.errors import BaychainError, Code


class Mempool:
    def __init__(self, max_txs: int = 100_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._txs: dict[bytes, None] = {}  # raw bytes, in arrival order
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, raw: bytes) -> bool:
        return raw in self._txs

    def check_room(self, raw: bytes) -> None:
        """Raise DUPLICATE_TX or MEMPOOL_FULL if the transaction cannot be added."""
        if raw in self._txs:
            raise BaychainError(Code.DUPLICATE_TX, "transaction is already in the mempool")
        if len(self._txs) >= self.max_txs or self._bytes + len(raw) > self.max_bytes:
            raise BaychainError(Code.MEMPOOL_FULL, "mempool is full; retry later")

    def add(self, raw: bytes) -> None:
        self._txs[raw] = None
        self._bytes += len(raw)

    def add_many(self, raws: list[bytes]) -> None:
        """Add transactions already checked with check_room (a recheck's survivors)."""
        self._txs.update(dict.fromkeys(raws))
        self._bytes += sum(map(len, raws))

    def take(self, max_txs: int, max_bytes: int) -> list[bytes]:
        """The oldest transactions that fit in a block (not removed until committed)."""
        out: list[bytes] = []
        total = 0
        for raw in self._txs:
            if len(out) >= max_txs or total + len(raw) > max_bytes:
                break
            out.append(raw)
            total += len(raw)
        return out

    def remove(self, raws: list[bytes]) -> None:
        pop = self._txs.pop
        for raw in raws:
            if pop(raw, 0) is None:
                self._bytes -= len(raw)

    def drain(self) -> list[bytes]:
        """Remove and return everything (for recheck after a commit)."""
        out = list(self._txs)
        self._txs.clear()
        self._bytes = 0
        return out

    def admit(self, app: Any, raws: list[bytes]) -> list[TxResult]:
        """Check `raws` with the application and keep the admitted ones; a result for each
        (code 0: admitted). The caller holds the engine's lock."""
        results: list[TxResult | None] = [None] * len(raws)
        fresh: list[int] = []
        seen: set[bytes] = set()
        for i, raw in enumerate(raws):
            try:
                if raw in seen:
                    raise BaychainError(Code.DUPLICATE_TX, "transaction is already in the mempool")
                self.check_room(raw)
            except BaychainError as exc:
                results[i] = TxResult(code=int(exc.code), log=exc.message)
                continue
            seen.add(raw)
            fresh.append(i)
        for i, res in zip(fresh, app.check_txs([raws[i] for i in fresh])):
            results[i] = res
            if res.code == 0:
                self.add(raws[i])
        return results  # type: ignore[return-value]

    def settle(self, app: Any, committed: list[bytes]) -> None:
        """After a commit: drop the block's transactions and keep of the rest what the new
        state still admits (the application's recheck). The caller holds the engine's lock."""
        self.remove(committed)
        rest = self.drain()
        if rest:
            self.add_many(app.recheck(rest))
