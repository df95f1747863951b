"""A pending transaction's standing, and why it can be kept between blocks.

Admission (check_tx), the recheck after every block and delivery in a block all ask
of a transaction the same state-dependent question besides its nonce: may its signer
act (identity: a bound, valid certificate where one is required), is the caller
allowed (policy: negative list, freezes, access rules), and does the method exist and
take these arguments? Call the answer its *standing*. It is a function of the state
keys those checks read and of the block time, and the identity and policy hooks report
the window of block times over which their verdict holds. So a passing standing is
kept with the keys it read and that window, and it still holds at a later state and
time if no key it read was written since and the time lies in the window. Rechecking
a mempool after a block then repeats only what can have changed: the envelope and the
nonce always, the standing only where the block wrote a key it rests on or time left
its window. The outcome is exactly that of CometBFT's full recheck.

Only passing verdicts are kept (a refused transaction leaves the mempool), only for
built-in contracts (whose methods never change; a deployed contract is resolved from
state, so its callers are judged afresh every time), and only for the version of
committed state they were confirmed against or the block after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from baychain.contracts.base import Contract, Method
from baychain.contracts.context import Caller

MAX_KEPT = 200_000  # more than any mempool holds; past it the memo starts afresh


@dataclass(slots=True)
class Standing:
    """A passing verdict: who the transaction acts for and the method it calls, with
    what the verdict rests on (state keys read, block times [since, until), and the
    committed version it was last confirmed against)."""

    caller: Caller
    contract: Contract
    method: Method
    kwargs: dict[str, Any]
    keys: tuple[bytes, ...]
    since: int
    until: int
    version: int


class Standings:
    """Kept standings by transaction bytes, and the keys the last committed block wrote."""

    def __init__(self, version: int) -> None:
        self._kept: dict[bytes, Standing] = {}
        self._version = version  # the committed version the application reads
        self._last_written: Mapping[bytes, Any] = {}  # keys the block of that version wrote

    def get(self, raw: bytes, time_ns: int, pending: Mapping[bytes, Any] | None = None) -> Standing | None:
        """The kept standing of `raw` if it holds at block time `time_ns` on committed state
        (plus `pending`, the writes of the block being executed); else None, and it is dropped."""
        standing = self._kept.get(raw)
        if standing is None:
            return None
        if standing.version != self._version:
            if standing.version != self._version - 1 or not self._last_written.keys().isdisjoint(standing.keys):
                del self._kept[raw]
                return None
            standing.version = self._version  # confirmed against the newer version
        if not standing.since <= time_ns < standing.until or (pending and not pending.keys().isdisjoint(standing.keys)):
            del self._kept[raw]
            return None
        return standing

    def keep(self, raw: bytes, caller: Caller, contract: Contract, method: Method, kwargs: dict[str, Any],
             keys: list[bytes], since: int, until: int) -> None:
        """Keep a passing verdict judged on the current committed version."""
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()
        self._kept[raw] = Standing(caller, contract, method, kwargs, tuple(keys), since, until, self._version)

    def committed(self, version: int, written: Mapping[bytes, Any], raws: list[bytes]) -> None:
        """A block was committed: it wrote `written` and held the transactions `raws`."""
        self._version = version
        self._last_written = written
        kept = self._kept
        for raw in raws:
            kept.pop(raw, None)


def recording(read: Callable[[bytes], bytes | None]) -> tuple[Callable[[bytes], bytes | None], list[bytes]]:
    """`read`, and the list of keys it is asked for (cleared by the caller between verdicts)."""
    keys: list[bytes] = []
    append = keys.append

    def recorded(key: bytes) -> bytes | None:
        append(key)
        return read(key)

    return recorded, keys
