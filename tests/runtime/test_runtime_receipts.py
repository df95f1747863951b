"""Receipts of contract calls are pinned: a faster runtime or delivery changes none of them.

One chain runs a fixed set of transactions (fixed keys, fixed block times) through the
shipped contracts on the runtime (notary, accounts, token), the hostile contract and a
probe that uses every part of the standard library a receipt can show (events, alerts
kept by a failed call, calls between contracts, Decimal and iterable storage, the
limits). Every receipt (code, log, data, events, compute used) and every app hash must
equal the recorded ones in receipts.json, which were taken before the delivery path
was made faster. `BAYCHAIN_WRITE_RECEIPTS=1` rewrites the file (only for a deliberate
change of results, which the determinism rules forbid for a running chain).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from baychain.app.types import TxResult
from runtime_chain_support import CHAIN_ID, Chain
from governance_support import action, decide
from baychain.runtime.contracts import source
from support import Signer

RECORDED = Path(__file__).parent / "receipts.json"
HOSTILE = (Path(__file__).parent / "hostile_contract.py").read_text()
PROBE = '''
from contract import Decimal, Map, Var, alert, call, ctx, emit, export, fail, param, require, sha256, view

seen = Map(int, iterable=True)
price = Var(Decimal, default=Decimal("0"))
notes = Map(list, prefix="note")


@export
def touch(key: str, amount: int):
    seen[key] = seen.get(key, 0) + amount
    price.set(price.get() + Decimal(amount) / 3)
    notes[key, amount] = [key, amount, sha256(key.encode()), {"k": [1, (2, 3)][0:1]}]
    emit("touched", key=key, amount=amount, price=price.get(), flag=amount > 2, blob=b"ab")
    return {"n": len(seen), "keys": [k for k in seen], "price": price.get()}


@export
def drop(key: str):
    del seen[key]
    emit("dropped", key=key)
    return len(seen)


@export
def flag(amount: int):
    alert("odd", amount=amount, who=ctx.sender)
    require(amount % 2 == 0, f"amount {amount} is odd", "BAD_ARGUMENTS")
    return amount


@export
def relay(digest: bytes):
    record = call("notary", "lookup", digest=digest)
    emit("relayed", owner=record["owner"])
    return [record["height"], param("governance.voting_period", 0), f"{record}"]


@export
def big(n: int):
    text = "x" * n
    return len(text)


@export
def broken():
    return {"a": 1}["b"]


@view
def count() -> int:
    return len(seen)
'''


def receipt(result: TxResult) -> list[Any]:
    return [result.code, result.log, result.data.hex(), [[e.type, [list(a) for a in e.attributes]] for e in result.events],
            result.compute_used]


def run_scenario(tmp_path: Path) -> dict[str, Any]:
    members = [Signer(CHAIN_ID, seed=bytes([i + 1]) * 32) for i in range(3)]
    alice, bob, carol = members
    chain = Chain([tmp_path / "node0"], members)
    blocks: list[list[Any]] = []

    def block(*txs: Any) -> None:
        blocks.append([receipt(r) for r in chain.block(*txs)])

    try:
        chain.deploy("token", source("token"))
        chain.deploy("probe", PROBE)
        chain.deploy("hostile", HOSTILE)
        d1, d2 = bytes(range(32)), bytes(range(1, 33))
        block(alice.tx("notary", "notarize", digest=d1),
              bob.tx("notary", "notarize", digest=d1),
              bob.tx("notary", "notarize", digest=b"short"),
              carol.tx("notary", "notarize", digest=d2, metadata={"title": "合同", "pages": 3, "tags": ["a", b"b"]}),
              alice.tx("accounts", "register", name="alice.hk", metadata={"org": "HKMA"}),
              bob.tx("accounts", "register", name="alice.hk"),
              bob.tx("accounts", "register", name="X"),
              alice.tx("token", "mint", to=alice.address, amount=1_000),
              alice.tx("token", "transfer", to=bob.address, amount=250),
              bob.tx("token", "transfer", to=carol.address, amount=251),
              bob.tx("token", "mint", to=bob.address, amount=1))
        block(alice.tx("probe", "touch", key="a", amount=1),
              alice.tx("probe", "touch", key="b", amount=5),
              bob.tx("probe", "touch", key="a", amount=2),
              carol.tx("probe", "drop", key="a"),
              carol.tx("probe", "drop", key="zz"),
              alice.tx("probe", "flag", amount=3),
              alice.tx("probe", "flag", amount=4),
              bob.tx("probe", "relay", digest=d2),
              bob.tx("probe", "relay", digest=bytes(32)),
              bob.tx("probe", "big", n=1_000),
              bob.tx("probe", "big", n=70_000),
              carol.tx("probe", "broken"),
              carol.tx("notary", "lookup", digest=d1))
        block(alice.tx("hostile", "bomb"), alice.tx("hostile", "spam"), alice.tx("hostile", "leak"),
              alice.tx("hostile", "steal"), alice.tx("hostile", "deep"), alice.tx("hostile", "usurp"))
        summary = decide(chain.run, members, [action("governance", "set_param", name="runtime.max_compute", value=30_000)])
        assert summary["status"] == "executed"
        block(alice.tx("hostile", "loop"), bob.tx("probe", "touch", key="c", amount=7),
              carol.tx("notary", "notarize", digest=bytes(range(2, 34))))
        return {"blocks": blocks, "app_hash": chain.app.blocks.last_app_hash.hex(), "height": chain.app.height}
    finally:
        chain.close()


def test_receipts_and_app_hashes_are_the_recorded_ones(tmp_path: Path) -> None:
    got = run_scenario(tmp_path)
    if os.environ.get("BAYCHAIN_WRITE_RECEIPTS") == "1":
        RECORDED.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    for height, (want, have) in enumerate(zip(recorded["blocks"], got["blocks"])):
        for index, (w, h) in enumerate(zip(want, have)):
            assert h == w, f"block {height} tx {index}"
    assert got == recorded
