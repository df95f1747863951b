"""The solo engine's mempool: admitted transactions in arrival order, bounded.

Admission itself (signature, nonce, arguments) is the application's check_tx; the
mempool only keeps what was admitted, refuses duplicates and enforces its size.
"""

from __future__ import annotations

from collections import OrderedDict

from baychain.crypto.hashing import sha256
from baychain.errors import BaychainError, Code


class Mempool:
    def __init__(self, max_txs: int = 100_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._txs: OrderedDict[bytes, bytes] = OrderedDict()  # tx hash -> raw
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._txs

    def check_room(self, tx_hash: bytes, size: int) -> None:
        """Raise DUPLICATE_TX or MEMPOOL_FULL if the transaction cannot be added."""
        if tx_hash in self._txs:
            raise BaychainError(Code.DUPLICATE_TX, "transaction is already in the mempool")
        if len(self._txs) >= self.max_txs or self._bytes + size > self.max_bytes:
            raise BaychainError(Code.MEMPOOL_FULL, "mempool is full; retry later")

    def add(self, tx_hash: bytes, raw: bytes) -> None:
        self._txs[tx_hash] = raw
        self._bytes += len(raw)

    def take(self, max_txs: int, max_bytes: int) -> list[bytes]:
        """The oldest transactions that fit in a block (not removed until committed)."""
        out: list[bytes] = []
        total = 0
        for raw in self._txs.values():
            if len(out) >= max_txs or total + len(raw) > max_bytes:
                break
            out.append(raw)
            total += len(raw)
        return out

    def remove(self, raws: list[bytes]) -> None:
        for raw in raws:
            if self._txs.pop(sha256(raw), None) is not None:
                self._bytes -= len(raw)

    def drain(self) -> list[bytes]:
        """Remove and return everything (for recheck after a commit)."""
        out = list(self._txs.values())
        self._txs.clear()
        self._bytes = 0
        return out
