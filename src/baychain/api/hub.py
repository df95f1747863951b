"""The commit hub: carries commits from the engine's thread into the API's event loop.

Clients that submitted with wait=true park a future on their transaction's hash;
event-stream subscribers get a bounded queue. A subscriber too slow to keep up is
dropped (its stream ends with an `overflow` message) rather than slowing the node.
"""

from __future__ import annotations

import asyncio
from typing import Any

from baychain.chain.blockstore import TxRecord

SUBSCRIBER_QUEUE = 10_000


class CommitHub:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[bytes, list[asyncio.Future[TxRecord]]] = {}
        self._subscribers: list[asyncio.Queue[Any]] = []

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    # called from the engine thread
    def on_commit(self, block: dict[str, Any], records: list[TxRecord]) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._dispatch, block, records)

    # everything below runs in the event loop
    def _dispatch(self, block: dict[str, Any], records: list[TxRecord]) -> None:
        for rec in records:
            for fut in self._waiters.pop(rec.hash, ()):
                if not fut.done():
                    fut.set_result(rec)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait((block, records))
            except asyncio.QueueFull:
                self._subscribers.remove(queue)
                _force_put(queue, None)

    def wait_for(self, tx_hash: bytes) -> asyncio.Future[TxRecord]:
        fut: asyncio.Future[TxRecord] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(tx_hash, []).append(fut)
        return fut

    def forget(self, tx_hash: bytes, fut: asyncio.Future[TxRecord]) -> None:
        waiters = self._waiters.get(tx_hash)
        if waiters and fut in waiters:
            waiters.remove(fut)
            if not waiters:
                del self._waiters[tx_hash]

    def subscribe(self) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)


def _force_put(queue: asyncio.Queue[Any], item: Any) -> None:
    """Make room for a final marker in a full queue."""
    while True:
        try:
            queue.put_nowait(item)
            return
        except asyncio.QueueFull:
            queue.get_nowait()
