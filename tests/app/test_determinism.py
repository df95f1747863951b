"""Two nodes fed the same blocks reach the same app hash; history stays queryable."""

from __future__ import annotations

import pytest

from baychain.app.application import Application
from baychain.app.types import BlockRequest, InitChainRequest
from baychain.contracts.context import contract_key
from baychain.errors import Code
from baychain.state.proofs import Proof, verify_proof
from support import Signer


def make_app(path, keep_versions=1000):
    app = Application(path, keep_versions=keep_versions)
    app.init_chain(InitChainRequest("det-chain", 0, 1, [], b"{}"))
    return app


def run_blocks(app, blocks):
    hashes = []
    for height, raws in enumerate(blocks, start=1):
        res = app.finalize_block(BlockRequest(height, height * 1000, bytes(32), b"p", raws))
        app.commit()
        hashes.append(res.app_hash)
    return hashes


def workload():
    issuer, users = Signer("det-chain", bytes(32)), [Signer("det-chain", bytes([i]) * 32) for i in range(1, 6)]
    blocks = [[issuer.tx("points", "create", symbol="PTS", title="P").raw]]
    blocks.append([issuer.tx("points", "issue", symbol="PTS", to=u.address, amount=1000).raw for u in users])
    for round_ in range(3):
        blocks.append([u.tx("points", "transfer", symbol="PTS", to=users[(i + 1) % 5].address, amount=10 + round_ + i).raw
                       for i, u in enumerate(users)])
    blocks.append([users[0].tx("notary", "notarize", digest=bytes([7]) * 32, metadata={"k": "v"}).raw])
    return issuer, users, blocks


def test_two_nodes_agree_on_every_app_hash(tmp_path):
    _, _, blocks = workload()
    a = run_blocks(make_app(tmp_path / "a"), blocks)
    b = run_blocks(make_app(tmp_path / "b"), blocks)
    assert a == b
    assert len(set(a)) == len(a)


def test_a_different_block_gives_a_different_app_hash(tmp_path):
    _, _, blocks = workload()
    changed = [list(b) for b in blocks]
    changed[-1] = changed[-1][:0]
    assert run_blocks(make_app(tmp_path / "a"), blocks)[-1] != run_blocks(make_app(tmp_path / "b"), changed)[-1]


def test_points_supply_equals_the_sum_of_balances(tmp_path):
    issuer, users, blocks = workload()
    app = make_app(tmp_path / "a")
    run_blocks(app, blocks)
    supply = app.view("points", "info", {"symbol": "PTS"})["supply"]
    assert supply == 5000 == sum(app.view("points", "balance", {"symbol": "PTS", "account": u.address}) for u in users)


def test_past_heights_are_queryable_with_proofs(tmp_path):
    issuer, users, blocks = workload()
    app = make_app(tmp_path / "a")
    hashes = run_blocks(app, blocks)
    key = contract_key("points", f"bal/PTS/{users[0].address}")
    for height, expected in ((2, 1000), (3, 1004)):  # block 3: sends 10, receives 14
        res = app.query("/store", key, height, True)
        assert res.code == 0 and res.height == height
        proof = Proof.from_bytes(res.proof)
        assert verify_proof(hashes[height - 1], proof)
        assert not verify_proof(hashes[height], proof)
        assert app.view("points", "balance", {"symbol": "PTS", "account": users[0].address}, height=height) == expected
    absent = app.query("/store", contract_key("points", "bal/PTS/nobody"), 0, True)
    assert absent.code == Code.NOT_FOUND
    proof = Proof.from_bytes(absent.proof)
    assert proof.value is None and verify_proof(hashes[-1], proof)


def test_pruned_heights_answer_height_unavailable(tmp_path):
    _, users, blocks = workload()
    app = make_app(tmp_path / "a", keep_versions=2)
    run_blocks(app, blocks)
    key = contract_key("points", f"bal/PTS/{users[0].address}")
    assert app.query("/store", key, 1, True).code == Code.HEIGHT_UNAVAILABLE
    assert app.query("/store", key, app.height, True).code == 0
    assert app.query("/store", key, app.height + 5, False).code == Code.HEIGHT_UNAVAILABLE


def test_receipts_and_indexes_survive_a_restart(tmp_path):
    issuer, users, blocks = workload()
    app = make_app(tmp_path / "a")
    run_blocks(app, blocks)
    app.close()
    app = Application(tmp_path / "a")
    assert app.height == len(blocks)
    assert app.chain_id == "det-chain"
    assert len(app.blocks.txs_by_signer(users[0].address)) == 4  # 3 transfers, 1 notarization
    transfers = app.blocks.txs_by_event("points.transferred", "to", users[1].address)
    assert len(transfers) == 3 and all(r.code == 0 for r in transfers)
    assert [r.height for r in app.blocks.txs_by_event("points.transferred", from_height=4)] == [4] * 5 + [5] * 5
    block = app.blocks.block(3)
    assert app.blocks.block_by_hash(block["hash"])["height"] in (1, 2, 3, 4, 5, 6)
    assert app.blocks.block(2)["app_hash"] == app.blocks.block(3)["last_app_hash"]
