"""The contract runtime's cost: token transfers sandboxed and metered vs plain Python.

What is measured, in one run on one machine:

1. `runtime`   the shipped token contract (src/baychain/runtime/contracts/token.py)
               deployed in the runtime: checked, instrumented (meter on every block,
               guarded operators, sized method results), called through its
               `Method` exactly as the application calls it, with a `Context` over
               an in-memory state.
2. `ceiling`   the same transfer logic as a plain Python function over the same
               `Context` storage API (what a built-in contract costs): the ceiling
               the sandbox is compared with (target: runtime <= 2x its time).
3. `dict`      the same logic on a bare dict (no Context, no encoding): how much of
               the time is storage and encoding rather than contract logic.
4. `contracting` Lamden's `contracting` package (PyPI), the same token contract in
               its language, if an interpreter where it installs is given
               (`--lamden-python`); it does not build on Python >= 3.11.
5. `chain`     end to end through the application (finalize_block + commit of signed
               transfers, signatures pre-verified as in the node): the deployed
               token vs the built-in `points` contract.

    python bench/bench_runtime.py
    python bench/bench_runtime.py --lamden-python /tmp/lamden310/bin/python   # contracting in a Python 3.10 venv
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine_line  # noqa: E402

from baychain.contracts.base import Contract  # noqa: E402
from baychain.contracts.context import Context  # noqa: E402
from baychain.errors import Code  # noqa: E402
from baychain.runtime.contracts import source  # noqa: E402
from baychain.runtime.deployed import Runtime  # noqa: E402

ACCOUNTS = 1_000


def accounts() -> list[str]:
    from baychain.crypto.suites import ED25519, address_of

    return [address_of(1, ED25519.public_key(i.to_bytes(32, "big"))) for i in range(1, ACCOUNTS + 1)]


def rates(calls: int, runs: dict[str, Callable[[int], None]], rounds: int) -> dict[str, float]:
    """Calls per CPU second of each variant: the best of `rounds`, the variants interleaved
    round by round, so a busy moment of a shared machine hits them all alike."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):
        for label, run in runs.items():
            gc.collect()
            start = time.process_time()
            run(calls)
            best[label] = max(best[label], calls / max(time.process_time() - start, 1e-9))
    return best


def _transfers(token: Any, transfer: Any, state: dict[bytes, bytes | None], names: list[str]) -> Callable[[int], None]:
    """n transfers of 1 between the accounts, each through a fresh Context, as a block would run them."""

    def run(n: int) -> None:
        for i in range(n):
            sender, to = names[i % ACCOUNTS], names[(i * 7 + 1) % ACCOUNTS]
            ctx = Context(state.get, contract="token", sender=sender, height=2, time_ns=0)
            transfer.func(token, ctx, **transfer.check_args({"to": to, "amount": 1}))
            state.update(ctx.writes)

    return run


def bench_runtime(names: list[str]) -> Callable[[int], None]:
    runtime = Runtime()
    token = runtime.load("token", source("token"))
    state: dict[bytes, bytes | None] = {}
    mint, transfer = token.methods["mint"], token.methods["transfer"]
    for name in names:
        ctx = Context(state.get, contract="token", sender=names[0], height=1, time_ns=0)
        mint.func(token, ctx, **mint.check_args({"to": name, "amount": 10**9}))
        state.update(ctx.writes)

    return _transfers(token, transfer, state, names)


class PlainToken(Contract):
    """The token's transfer as a built-in contract would write it: the ceiling."""

    name = "token"

    def transfer(self, ctx: Context, to: str, amount: int) -> None:
        ctx.require(amount > 0, Code.BAD_ARGUMENTS, "amount must be positive")
        balance = ctx.get(f"balances/{ctx.sender}", 0)
        ctx.require(balance >= amount, Code.INSUFFICIENT_BALANCE, "balance too low")
        ctx.put(f"balances/{ctx.sender}", balance - amount)
        ctx.put(f"balances/{to}", ctx.get(f"balances/{to}", 0) + amount)
        ctx.emit("transferred", sender=ctx.sender, to=to, amount=amount)


def bench_ceiling(names: list[str]) -> Callable[[int], None]:
    token = PlainToken()
    transfer = token.methods["transfer"]
    state: dict[bytes, bytes | None] = {}
    for name in names:
        ctx = Context(state.get, contract="token", sender=name, height=1, time_ns=0)
        ctx.put(f"balances/{name}", 10**9)
        state.update(ctx.writes)

    return _transfers(token, transfer, state, names)


def bench_dict(names: list[str]) -> Callable[[int], None]:
    balances = {name: 10**9 for name in names}
    events: list[tuple[str, str, int]] = []

    def transfer(sender: str, to: str, amount: int) -> None:
        if amount <= 0:
            raise ValueError("amount must be positive")
        balance = balances.get(sender, 0)
        if balance < amount:
            raise ValueError("balance too low")
        balances[sender] = balance - amount
        balances[to] = balances.get(to, 0) + amount
        events.append((sender, to, amount))

    def run(n: int) -> None:
        events.clear()
        for i in range(n):
            transfer(names[i % ACCOUNTS], names[(i * 7 + 1) % ACCOUNTS], 1)

    return run


LAMDEN = textwrap.dedent('''
    import gc, json, sys, time
    from contracting import config
    from contracting.client import ContractingClient
    from contracting.db.driver import ContractDriver, InMemDriver

    def token():
        balances = Hash(default_value=0)

        @construct
        def seed(holders: list):
            for h in holders:
                balances[h] = 1000000000

        @export
        def transfer(to: str, amount: int):
            assert amount > 0, "amount must be positive"
            balance = balances[ctx.caller]
            assert balance >= amount, "balance too low"
            balances[ctx.caller] = balance - amount
            balances[to] += amount

    calls, accounts = int(sys.argv[1]), int(sys.argv[2])
    names = ["acct%04d" % i for i in range(accounts)]
    driver = ContractDriver(driver=InMemDriver())  # in memory: no MongoDB, like the in-memory state of the others
    client = ContractingClient(driver=driver)
    client.flush()
    client.submit(token, name="con_token", constructor_args={"holders": names})
    for name in names:  # stamps to pay for metered calls (its currency contract's balances)
        driver.set("currency" + config.INDEX_SEPARATOR + "balances" + config.DELIMITER + name, 10**12)
    driver.commit()
    best = {True: 0.0, False: 0.0}
    for metering in (True, False):
        for _ in range(3):
            gc.collect()
            start = time.process_time()
            for i in range(calls):
                out = client.executor.execute(sender=names[i % accounts], contract_name="con_token",
                                              function_name="transfer",
                                              kwargs={"to": names[(i * 7 + 1) % accounts], "amount": 1},
                                              stamps=10000, metering=metering)
                assert out["status_code"] == 0, out
            best[metering] = max(best[metering], calls / (time.process_time() - start))
    print(json.dumps({"calls_per_s": best[True], "unmetered_calls_per_s": best[False],
                      "version": __import__("importlib.metadata").metadata.version("contracting")}))
''')


def bench_lamden(python: str, calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "lamden_token.py"  # contracting reads the contract function's source from its file
        script.write_text(LAMDEN)
        try:
            out = subprocess.run([python, str(script), str(calls), str(ACCOUNTS)], capture_output=True, text=True,
                                 timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"error": str(exc)}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_chain(txs: int) -> dict[str, float]:
    """finalize_block + commit of signed transfers: deployed token vs built-in points."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from governance_support import action, decide
    from support import Signer

    from baychain.app.application import Application
    from baychain.app.types import BlockRequest, InitChainRequest
    from baychain.crypto.hashing import sha256
    from baychain.runtime.deployed import code_hash

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        chain_id = "bench-runtime"
        admin = Signer(chain_id)
        senders = [Signer(chain_id) for _ in range(200)]
        genesis = {"governance": {"members": [{"account": admin.address, "organisation": "Bench", "weight": 1}]}}
        app = Application(Path(tmp) / "node")
        app.init_chain(InitChainRequest(chain_id, 10**18, 1, [], json.dumps(genesis).encode()))
        clock = [10**18]

        def block(raws: list[bytes]) -> list[Any]:
            clock[0] += 10**9
            h = app.height + 1
            res = app.finalize_block(BlockRequest(h, clock[0], sha256(b"%d" % h), b"p", raws))
            app.commit()
            return res.tx_results

        def send(tx: Any) -> Any:
            return block([tx.raw])[0]

        token = source("token")
        decide(send, [admin], [action("contracts", "approve", name="token", code_hash=code_hash(token))])
        assert send(admin.tx("contracts", "deploy", name="token", source=token)).code == 0
        assert send(admin.tx("points", "create", symbol="BENCH", title="bench")).code == 0
        setup = []
        for s in senders:
            setup.append(admin.tx("token", "mint", to=s.address, amount=10**9).raw)
            setup.append(admin.tx("points", "issue", symbol="BENCH", to=s.address, amount=10**9).raw)
        assert all(r.code == 0 for r in block(setup))
        for label, contract, extra in (("token (runtime)", "token", {}), ("points (built-in)", "points", {"symbol": "BENCH"})):
            raws = [senders[i % len(senders)].tx(contract, "transfer", to=senders[(i + 1) % len(senders)].address,
                                                 amount=1, **extra).raw for i in range(txs)]
            app.preverify(raws)  # signatures as the node does them: before execution, off the clock here
            start = time.process_time()
            for i in range(0, len(raws), 1000):
                results = block(raws[i:i + 1000])
                assert all(r.code == 0 for r in results), results[0]
            out[label] = txs / (time.process_time() - start)
        app.close()
    return out


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000, help="transfers per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (best one counts)")
    parser.add_argument("--chain-txs", type=int, default=5_000, help="signed transfers per chain measurement (0: skip)")
    parser.add_argument("--lamden-python", default="", help="a Python with Lamden's contracting installed")
    parser.add_argument("--lamden-calls", type=int, default=2_000, help="transfers per contracting measurement (it is slow)")
    args = parser.parse_args()

    print(f"machine: {machine_line()}")
    names = accounts()
    best = rates(args.calls, {"runtime": bench_runtime(names), "ceiling": bench_ceiling(names),
                              "dict": bench_dict(names)}, args.rounds)
    runtime, ceiling, plain = best["runtime"], best["ceiling"], best["dict"]
    print(f"token transfer, {args.calls:,} calls, best of {args.rounds} interleaved rounds, per CPU second, one thread:")
    print(f"  runtime (sandboxed, metered)    {runtime:>10,.0f} calls/s   {ceiling / runtime:4.2f}x the ceiling's time")
    print(f"  ceiling (plain Python, Context) {ceiling:>10,.0f} calls/s")
    print(f"  plain Python on a dict          {plain:>10,.0f} calls/s")
    if args.lamden_python:
        lamden = bench_lamden(args.lamden_python, args.lamden_calls)
        if "error" in lamden:
            print(f"  contracting (Lamden)            did not run: {lamden['error']}")
        else:
            print(f"  contracting {lamden['version']} (Lamden)     {lamden['calls_per_s']:>10,.0f} calls/s   "
                  f"{ceiling / lamden['calls_per_s']:4.2f}x the ceiling's time (metering on; "
                  f"{lamden['unmetered_calls_per_s']:,.0f} calls/s off; {args.lamden_calls:,} calls, "
                  "its own process and Python)")
    else:
        print("  contracting (Lamden)            not run: give --lamden-python (it does not build on Python >= 3.11)")
    if args.chain_txs:
        chain = bench_chain(args.chain_txs)
        print(f"end to end, {args.chain_txs:,} signed transfers in blocks of 1,000 (finalize_block + commit, per CPU second):")
        for label, tps in chain.items():
            print(f"  {label:<20} {tps:>10,.0f} tx/s")


if __name__ == "__main__":
    main()
