"""The network package's pure parts: no cometbft binary, no processes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from baychain.app.types import TxResult
from baychain.engine.cometbft import CometEngine, LockedApplication, cometbft_environment
from baychain.errors import Code
from baychain.network import cometbft, statesync
from baychain.network.card import NodeCard, genesis_from_cards
from baychain.network.home import NodeHome, NodeSettings
from baychain.network.members import FOUNDING_MEMBERS, Member, default_members
from baychain.network.ports import ephemeral_range, free_ports, port_is_free
from baychain.network.rpc import tx_result


def test_founding_members_span_the_three_jurisdictions_and_a_regulator() -> None:
    assert {m.jurisdiction for m in FOUNDING_MEMBERS} == {"GD", "HK", "MO"}
    assert [m.role for m in FOUNDING_MEMBERS].count("regulator") == 1
    seven = default_members(7)
    assert seven[:4] == list(FOUNDING_MEMBERS) and len({m.name for m in seven}) == 7
    assert default_members(1) == [FOUNDING_MEMBERS[0]]
    with pytest.raises(ValueError):
        default_members(0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "Bad Name", "organisation": "x", "jurisdiction": "GD"},
        {"name": "ok", "organisation": "x", "jurisdiction": "SZ"},
        {"name": "ok", "organisation": "x", "jurisdiction": "HK", "role": "king"},
    ],
)
def test_member_refuses_bad_name_jurisdiction_or_role(kwargs) -> None:
    with pytest.raises(ValueError):
        Member(**kwargs)


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    ports = free_ports(25)
    low, high = ephemeral_range()
    assert len(set(ports)) == 25
    assert all(port_is_free(p) for p in ports)
    assert all(not low <= p <= high for p in ports)


@pytest.mark.parametrize(
    "answer, code",
    [
        ({"result": {"code": 0, "log": "", "codespace": ""}}, Code.OK),
        ({"result": {"code": 104, "log": "signature does not verify", "codespace": "baychain"}}, Code.BAD_SIGNATURE),
        ({"result": {"code": 7, "log": "?", "codespace": "other"}}, Code.INTERNAL),
        ({"result": {"code": 99999, "log": "?", "codespace": "baychain"}}, Code.INTERNAL),
        ({"error": {"code": -32603, "message": "Internal error", "data": "tx already exists in cache"}}, Code.DUPLICATE_TX),
        ({"error": {"code": -32603, "message": "Internal error", "data": "mempool is full: number of txs 5000"}}, Code.MEMPOOL_FULL),
        ({"error": {"code": -32603, "message": "Internal error", "data": "tx too large. Max size is 1048576"}}, Code.TX_TOO_LARGE),
        ({"error": {"code": -32603, "message": "Internal error", "data": "something else"}}, Code.INTERNAL),
    ],
)
def test_broadcast_answers_map_to_stable_codes(answer, code) -> None:
    result = tx_result(answer)
    assert result.code == int(code)
    assert Code(result.code) is code  # always a code the API can name


def test_engine_reports_unreachable_cometbft_per_transaction_and_halts_cleanly() -> None:
    class App:
        def preverify(self, raws):
            self.seen = raws

    engine = CometEngine(App(), "http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        results = engine.submit_many([b"a", b"b"])
        assert len(results) == 2 and all(r.code != 0 and "unreachable" in r.log for r in results)
        assert len(engine.mempool) == 0
        engine.halt(RuntimeError("cometbft exited with status 1"))
        assert engine.submit_many([b"c"])[0].log == "engine halted: cometbft exited with status 1"
    finally:
        engine.close()


def test_cometbft_child_gets_a_larger_gc_target_unless_the_operator_chose_one() -> None:
    assert cometbft_environment({"PATH": "/bin"}) == {"PATH": "/bin", "GOGC": "400"}
    assert cometbft_environment({"GOGC": "100", "HOME": "/h"}) == {"GOGC": "100", "HOME": "/h"}


def test_locked_application_holds_the_engine_lock_during_every_call() -> None:
    lock = threading.RLock()
    held = []

    class App:
        def __getattr__(self, name):
            def call(*args):
                held.append((name, lock._is_owned()))  # type: ignore[attr-defined]
                return TxResult()
            return call

    wrapped = LockedApplication(App(), lock)
    wrapped.info()
    wrapped.check_tx(b"x", False)
    wrapped.commit()
    wrapped.query("/store", b"", 0, False)
    assert held == [("info", True), ("check_tx", True), ("commit", True), ("query", True)]


def test_set_config_rewrites_existing_keys_and_refuses_unknown_ones(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text('# comment\nmoniker = "a"\n\n[p2p]\n# doc\npex = true\nladdr = "x"\n')
    cometbft.set_config(tmp_path, {("", "moniker"): "gd-bank", ("p2p", "pex"): False, ("p2p", "laddr"): "tcp://127.0.0.1:1"})
    text = (config / "config.toml").read_text()
    assert '# comment\nmoniker = "gd-bank"' in text and "# doc\npex = false" in text
    assert cometbft.read_config(tmp_path)["p2p"]["laddr"] == "tcp://127.0.0.1:1"
    with pytest.raises(KeyError):
        cometbft.set_config(tmp_path, {("p2p", "no_such_key"): 1})


def test_gossip_ring_relays_to_the_next_founder_and_only_from_four_nodes() -> None:
    ids = [f"{i:040x}" for i in range(5)]
    assert [cometbft.gossip_successor(ids, i) for i in ids] == ids[1:] + ids[:1]  # every node is someone's successor
    assert cometbft.gossip_successor(ids[:3], ids[0]) is None  # successor + one more = every peer already
    assert cometbft.gossip_successor(ids, "f" * 40) is None  # a member added later relays to everyone
    ring = cometbft.gossip_settings(ids[1])
    assert ring == {("p2p", "unconditional_peer_ids"): ids[1],
                    ("mempool", "experimental_max_gossip_connections_to_persistent_peers"): 1}
    assert set(cometbft.gossip_settings(None).values()) == {"", 0}  # CometBFT's defaults: every peer


def test_genesis_from_cards_lists_validators_and_members_in_card_order() -> None:
    cards = [
        NodeCard(m, f"{i:040x}", f"host{i}:26656", f"{i:040X}", "A" * 43 + "=")
        for i, m in enumerate(FOUNDING_MEMBERS, start=1)
    ]
    doc = genesis_from_cards(cards, chain_id="gba", genesis_time="2025-01-01T00:00:00Z")
    assert [v["name"] for v in doc["validators"]] == [m.name for m in FOUNDING_MEMBERS]
    assert doc["consensus_params"]["version"]["app"] == "1"
    members = doc["app_state"]["network"]["members"]
    assert [(m["jurisdiction"], m["role"]) for m in members] == [(m.jurisdiction, m.role) for m in FOUNDING_MEMBERS]
    assert json.loads(json.dumps(doc)) == doc
    with pytest.raises(ValueError):
        genesis_from_cards(cards + cards[:1], chain_id="gba", genesis_time="2025-01-01T00:00:00Z")


LIGHT_VECTORS = Path(__file__).parent / "vectors" / "light_commit.json"


def test_light_client_recomputes_cometbft_header_hashes_and_checks_real_signatures() -> None:
    from baychain.network.light import LightError, header_hash, merkle_root, validators_from_genesis, verify_signed_header

    doc = json.loads(LIGHT_VECTORS.read_text())
    validators = validators_from_genesis({"validators": doc["validators"]})
    for signed in doc["signed_headers"]:  # height 1 (empty last block id) and a later one
        assert header_hash(signed["header"]).hex().upper() == signed["commit"]["block_id"]["hash"]
        assert verify_signed_header(doc["chain_id"], signed, validators) is signed["header"]

    signed = doc["signed_headers"][1]
    forged = json.loads(json.dumps(signed))
    forged["header"]["height"] = str(int(forged["header"]["height"]) + 1)
    forged["commit"]["height"] = forged["header"]["height"]
    with pytest.raises(LightError, match="hashes to"):  # the signatures cover the real header only
        verify_signed_header(doc["chain_id"], forged, validators)
    assert merkle_root([]) == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_broadcast_spreads_over_concurrent_batches_keeping_each_senders_order() -> None:
    from baychain.network.rpc import CometRpc

    rpc = CometRpc("http://127.0.0.1:9")
    batches: list[list[bytes]] = []
    lock = threading.Lock()

    def sequential(raws):
        with lock:
            batches.append(list(raws))
        return [TxResult(code=0, log=raw.decode()) for raw in raws]

    rpc._broadcast_sequential = sequential  # type: ignore[method-assign]
    try:
        raws = [f"{sender}:{n}".encode() for n in range(5) for sender in "abcdefgh"]
        results = rpc.broadcast(raws, lane_of=lambda raw: raw.decode().split(":")[0])
        assert [r.log for r in results] == [r.decode() for r in raws]  # answers in submission order
        for batch in batches:  # every sender's transactions in one batch, nonces ascending
            senders = {b.decode().split(":")[0] for b in batch}
            for sender in senders:
                mine = [b.decode() for b in batch if b.decode().startswith(sender + ":")]
                assert mine == [f"{sender}:{n}" for n in range(5)]
        assert len(batches) > 1
        batches.clear()
        assert [r.log for r in rpc.broadcast(raws)] == [r.decode() for r in raws]
        assert len(batches) == min(32, len(raws))
    finally:
        rpc.close()


def test_locked_application_checks_without_waiting_only_when_the_lock_is_free() -> None:
    lock = threading.RLock()

    class App:
        def check_txs(self, raws):
            assert lock._is_owned()  # type: ignore[attr-defined]
            return [TxResult(code=len(raw)) for raw in raws]

    wrapped = LockedApplication(App(), lock)
    assert [r.code for r in wrapped.check_txs_nowait([b"ab", b"c"])] == [2, 1]
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:  # an API read holding the engine lock
        with lock:
            taken.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(5)
        assert wrapped.check_txs_nowait([b"ab"]) is None  # busy: the caller must not wait
    finally:
        release.set()
        holder.join()
    assert [r.code for r in wrapped.check_txs_nowait([b"abc"])] == [3]


def test_node_settings_default_to_admission_workers_and_refuse_bad_counts(tmp_path: Path) -> None:
    home = NodeHome(tmp_path / "node")
    home.save(NodeSettings(name="hk-bank"))
    assert home.load().admission_workers == 2  # one node per machine: workers beside it
    doc = json.loads(home.settings_file.read_text())
    for bad in (-1, "2", 1.5, None):
        home.settings_file.write_text(json.dumps({**doc, "admission_workers": bad}))
        with pytest.raises(ValueError, match="admission_workers"):
            home.load()
    home.settings_file.write_text(json.dumps({**doc, "admission_workers": 0}))
    assert home.load().admission_workers == 0
    assert (home.load().mempool, home.load().relay_peers) == ("cometbft", [])  # one node per machine: CometBFT's mempool
    for field, bad in (("snapshot_interval", -1), ("snapshot_interval", 1.5), ("snapshot_keep", 0), ("snapshot_keep", "2"),
                       ("mempool", "flood"), ("relay_peers", "http://a"), ("relay_peers", ["tcp://a:1"])):
        home.settings_file.write_text(json.dumps({**doc, field: bad}))
        with pytest.raises(ValueError, match=field):
            home.load()


def test_a_restore_without_a_block_on_it_makes_cometbft_sync_again_keeping_its_double_sign_guard(tmp_path: Path) -> None:
    home = NodeHome(tmp_path / "node")
    data = home.cometbft / "data"
    (home.cometbft / "config").mkdir(parents=True)
    (home.cometbft / "config" / "config.toml").write_text('[statesync]\nenable = false\n')
    data.mkdir()
    for name in ("state.db", "blockstore.db", "evidence.db", "cs.wal"):
        (data / name).mkdir()
        (data / name / "000001.log").write_bytes(b"x")
    (data / "priv_validator_state.json").write_text('{"height": "0"}')

    assert not statesync.sync_again_if_unfinished(home, restored_only=True)  # state sync off: CometBFT's own business
    cometbft.set_config(home.cometbft, {("statesync", "enable"): True})
    assert not statesync.sync_again_if_unfinished(home, restored_only=False)  # blocks on the restore: a plain restart
    assert (data / "state.db").exists()
    assert statesync.sync_again_if_unfinished(home, restored_only=True)
    assert sorted(p.name for p in data.iterdir()) == ["priv_validator_state.json"]
    assert not statesync.sync_again_if_unfinished(home, restored_only=True)  # nothing left to clear
