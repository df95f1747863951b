"""Relaying admitted transactions to the other nodes, when the application keeps the mempool.

With `mempool = "app"` (node.json) CometBFT runs its `nop` mempool: it neither checks,
stores nor gossips transactions, and each proposer's PrepareProposal supplies the block
from the application's own mempool (baychain.engine.cometbft). So every transaction a
node admits from its clients goes from here to each node in `relay_peers`, in batches:
`POST {peer}/v1/relay` with the canonical CBOR array of the transactions. A peer checks
each exactly as a submitted one and keeps what it admits, but does not relay it again:
the peers must be every node that may propose (`baychain net init --mempool app` lists
them all).

Each peer has its own queue and sender thread, so a slow or unreachable peer delays no
other. A batch that cannot be delivered is dropped with a warning (the peer is down; the
other nodes hold the transactions, and whichever proposes includes them); a queue past
`MAX_QUEUED` drops its oldest. Nothing here is consensus: a transaction that reaches no
proposer is simply not committed, as one CometBFT's gossip lost would not be.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import httpx

from baychain import encoding

log = logging.getLogger("baychain.relay")

RELAY_INTERVAL = 0.005
"""Seconds a sender waits after its first queued transaction, so the next ones share its batch."""
MAX_BATCH = 5_000
MAX_QUEUED = 100_000


class Relay:
    """Sends admitted transactions to every peer (API base URLs), one thread per peer."""

    def __init__(self, peers: list[str], *, timeout: float = 5.0) -> None:
        self.peers = [p.rstrip("/") for p in peers]
        self.timeout = timeout
        self.sent: dict[str, int] = dict.fromkeys(self.peers, 0)
        """Transactions each peer accepted delivery of (for metrics and tests)."""
        self.dropped: dict[str, int] = dict.fromkeys(self.peers, 0)
        """Transactions dropped for each peer: undeliverable batches and queue overflow."""
        self._queues: dict[str, deque[bytes]] = {p: deque() for p in self.peers}
        self._ready = {p: threading.Event() for p in self.peers}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(p,), name=f"relay-{i}", daemon=True)
                         for i, p in enumerate(self.peers)]
        for thread in self._threads:
            thread.start()

    def send(self, raws: list[bytes]) -> None:
        """Queue transactions for every peer (returns at once)."""
        if not raws:
            return
        for peer, queue in self._queues.items():
            queue.extend(raws)
            over = len(queue) - MAX_QUEUED
            if over > 0:
                for _ in range(over):
                    queue.popleft()
                self.dropped[peer] += over
            self._ready[peer].set()

    def close(self) -> None:
        self._stop.set()
        for event in self._ready.values():
            event.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 1)

    def _run(self, peer: str) -> None:
        queue, ready = self._queues[peer], self._ready[peer]
        warned = 0.0
        with httpx.Client(base_url=peer, timeout=self.timeout) as client:
            while not self._stop.is_set():
                ready.wait()
                ready.clear()
                time.sleep(RELAY_INTERVAL)
                while queue and not self._stop.is_set():
                    batch = [queue.popleft() for _ in range(min(MAX_BATCH, len(queue)))]
                    try:
                        response = client.post("/v1/relay", content=encoding.encode(batch),
                                               headers={"content-type": "application/cbor"})
                        response.raise_for_status()
                        self.sent[peer] += len(batch)
                    except httpx.HTTPError as exc:
                        self.dropped[peer] += len(batch)
                        if time.monotonic() - warned > 10:  # one line per peer per 10 s, not one per batch
                            log.warning("relaying %d transaction(s) to %s failed: %s", len(batch), peer, exc)
                            warned = time.monotonic()
