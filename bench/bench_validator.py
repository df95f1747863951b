"""One validator's Python CPU per transaction, without CometBFT and without the network.

What is measured: the ABCI requests one node of `bench_network.py` answers at
saturation, driven through the real `AbciServer.handle_many` (protobuf parsing, the
application, the answers) in this one process, with CPU time per request kind:

- CheckTx (NEW) for every transaction once, in bursts as CometBFT's socket client
  sends them;
- per block: ProcessProposal, FinalizeBlock and Commit of the oldest `--block` pending
  transactions, then CheckTx RECHECK of every transaction still pending (CometBFT
  rechecks its whole mempool after each block, one request per transaction);
- at most `--pending` transactions pending (the network bench's default).

The transactions are the network bench's own (`bench_network.baychain_txs`:
`notary.notarize` from fresh accounts), the genesis has a committee like a network
made with `baychain net init`. No sockets, no threads, no gossip: the figure is the
application side of one node's CPU per committed transaction, steadier on a shared
machine than the four-node run, for comparing changes back to back.

    python bench/bench_validator.py --txs 20000
    python bench/bench_validator.py --txs 20000 --profile /tmp/validator.prof   # cProfile of the measured part

This is a script, not a test; see docs/PERFORMANCE.md ("Four validators") for figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import collections
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from baychain.abci.pb import abci_pb
from baychain.abci.server import AbciServer
from baychain.app.application import Application
from baychain.crypto.suites import ED25519, address_of
from baychain.engine.cometbft import LockedApplication
from baychain.network.home import NodeSettings

sys.path.insert(0, str(Path(__file__).parent))
from bench_network import CHAIN_ID, baychain_txs  # noqa: E402 - bench/ scripts share the workload
from machine import machine_line  # noqa: E402

BLOCK_INTERVAL_NS = 1_000_000_000


def _payload(**request) -> bytes:
    return abci_pb.Request(**request).SerializeToString()


def _genesis() -> bytes:
    member = address_of(ED25519.suite_id, ED25519.public_key(ED25519.generate()))
    return json.dumps({"governance": {"members": [{"account": member, "organisation": "bench"}]}}).encode()


async def drive(server: AbciServer, raws: list[bytes], block: int, pending_max: int, burst: int) -> dict[str, float]:
    """Feed the transactions as one saturated node sees them; CPU seconds per request kind."""
    cpu: dict[str, float] = collections.Counter()
    counts: dict[str, int] = collections.Counter()

    async def timed(kind: str, payloads: list[bytes]) -> list[bytes]:
        start = time.process_time()
        out = await server.handle_many(payloads)
        cpu[kind] += time.process_time() - start
        counts[kind] += len(payloads)
        return out

    mempool: collections.deque[bytes] = collections.deque()
    todo = collections.deque(raws)
    height = 1
    time_ns = 10**18
    while todo or mempool:
        while todo and len(mempool) < pending_max:
            arrived = [todo.popleft() for _ in range(min(burst, len(todo), pending_max - len(mempool)))]
            answers = await timed("check_tx", [_payload(check_tx=abci_pb.RequestCheckTx(tx=tx)) for tx in arrived])
            for tx, answer in zip(arrived, answers):
                if abci_pb.Response.FromString(answer).check_tx.code:
                    raise SystemExit(f"CheckTx refused a bench transaction: {abci_pb.Response.FromString(answer)}")
                mempool.append(tx)
        txs = [mempool.popleft() for _ in range(min(block, len(mempool)))]
        stamp = {"seconds": time_ns // 10**9, "nanos": time_ns % 10**9}
        fields = {"txs": txs, "height": height, "time": stamp, "hash": height.to_bytes(32, "big"),
                  "proposer_address": b"\x01" * 20}
        await timed("process_proposal", [_payload(process_proposal=abci_pb.RequestProcessProposal(**fields))])
        answer = (await timed("finalize_block", [_payload(finalize_block=abci_pb.RequestFinalizeBlock(**fields))]))[0]
        failed = [r for r in abci_pb.Response.FromString(answer).finalize_block.tx_results if r.code]
        if failed:
            raise SystemExit(f"{len(failed)} transactions failed in block {height}: {failed[0].log}")
        await timed("commit", [_payload(commit=abci_pb.RequestCommit())])
        if mempool:
            await timed("recheck", [_payload(check_tx=abci_pb.RequestCheckTx(tx=tx, type=abci_pb.RECHECK))
                                    for tx in mempool])
        height += 1
        time_ns += BLOCK_INTERVAL_NS
    cpu["blocks"] = height - 1
    cpu["recheck_count"] = counts["recheck"]
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--block", type=int, default=1_200, help="transactions per block (saturation: ~1,200)")
    parser.add_argument("--pending", type=int, default=3_000, help="at most this many transactions pending")
    parser.add_argument("--burst", type=int, default=100, help="new CheckTx requests per socket read")
    parser.add_argument("--app-thread", action="store_true",
                        help="as a node: the engine's locked application, calls on a worker thread")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured part here")
    args = parser.parse_args(argv)

    print(machine_line())
    raws = baychain_txs(args.txs)
    directory = Path(tempfile.mkdtemp(prefix="bench-validator-"))
    settings = NodeSettings(name="bench", admission_workers=0)  # as `net init` writes them
    app = Application(directory, verify_workers=settings.admission_workers)
    try:
        # --app-thread: as a node serves it (network.runtime): the engine's locked application on a worker thread
        served = LockedApplication(app, threading.RLock()) if args.app_thread else app
        server = AbciServer(served, app_thread=args.app_thread, events=settings.cometbft_events)
        init = abci_pb.RequestInitChain(chain_id=CHAIN_ID, time={"seconds": 10**9}, initial_height=1,
                                        app_state_bytes=_genesis())
        asyncio.run(server.handle_many([_payload(init_chain=init)]))
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        cpu = asyncio.run(drive(server, raws, args.block, args.pending, args.burst))
        wall = time.perf_counter() - start
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
    finally:
        app.close()
        shutil.rmtree(directory, ignore_errors=True)
    blocks, rechecks = int(cpu.pop("blocks")), int(cpu.pop("recheck_count"))
    total = sum(cpu.values())
    print(f"{args.txs:,} txs in {blocks} blocks of <= {args.block:,} ({rechecks:,} rechecks), wall {wall:.2f} s")
    print(f"CPU per committed tx: {total / args.txs * 1e6:.1f} us  ("
          + ", ".join(f"{kind} {seconds / args.txs * 1e6:.1f}" for kind, seconds in sorted(cpu.items())) + ")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
