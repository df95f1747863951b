"""State-sync snapshots on real applications (LMDB, the native trie): a node makes them
every N blocks, identically on every node; a new node restores one chunk by chunk,
trusting only the app hash, and then executes the next blocks exactly as the others do."""

from __future__ import annotations

import hashlib

import pytest

from baychain import encoding
from baychain.app.application import KEY_LAST_BLOCK, Application
from baychain.app.types import ApplyResult, BlockRequest, InitChainRequest, OfferResult, Snapshot
from baychain.chain.snapshots import FORMAT, Metadata, SnapshotStore
from baychain.contracts.context import contract_key
from baychain.errors import BaychainError, Code
from baychain.runtime.contracts import notary_record_key
from baychain.state.proofs import EMPTY_ROOT
from support import Signer

CHAIN = "snap-chain"


def make_app(path, **kwargs) -> Application:
    app = Application(path, **kwargs)
    app.init_chain(InitChainRequest(CHAIN, 0, 1, [], b"{}"))
    return app


def run(app: Application, blocks: dict[int, list[bytes]]) -> list[bytes]:
    hashes = []
    for height, raws in sorted(blocks.items()):
        hashes.append(app.finalize_block(BlockRequest(height, height * 1_000_000_000, bytes(32), b"p", raws)).app_hash)
        app.commit()
        app.finish_snapshot()
    return hashes


def workload(first: int, last: int, signer: Signer) -> dict[int, list[bytes]]:
    return {h: [signer.tx("notary", "notarize", digest=bytes([h, i]) * 16).raw for i in range(4)]
            for h in range(first, last + 1)}


def restore(node: Application, source: Application, snapshot: Snapshot) -> list[ApplyResult]:
    assert node.offer_snapshot(snapshot, source.state.root(snapshot.height)) is OfferResult.ACCEPT
    return [node.apply_snapshot_chunk(i, source.load_snapshot_chunk(snapshot.height, FORMAT, i), "peer").result
            for i in range(snapshot.chunks)]


@pytest.fixture
def chain(tmp_path):
    """A node with snapshots every 3 blocks and small chunks, after 6 blocks of notarizations."""
    blocks = workload(1, 6, Signer(CHAIN, bytes(32)))
    source = make_app(tmp_path / "source", snapshot_interval=3)
    source.snapshots.chunk_bytes = 600  # several chunks from a small state
    run(source, blocks)
    yield source, blocks
    source.close()


def test_a_restored_node_has_the_snapshots_state_and_executes_the_next_blocks_like_the_others(chain, tmp_path) -> None:
    source, blocks = chain
    assert [s.height for s in source.list_snapshots()] == [3, 6]
    snapshot = source.list_snapshots()[0]
    assert snapshot.chunks > 2

    replay = make_app(tmp_path / "replay")  # a node that replayed from height 1, for comparison
    run(replay, {h: blocks[h] for h in (1, 2, 3)})
    fresh = Application(tmp_path / "fresh")
    assert restore(fresh, source, snapshot) == [ApplyResult.ACCEPT] * snapshot.chunks
    assert (fresh.info().last_height, fresh.info().last_app_hash) == (3, replay.info().last_app_hash)
    assert fresh.chain_id == CHAIN
    items = fresh.state.latest_items()
    assert list(items) == list(replay.state.latest_items())
    items.close()

    # History starts after the snapshot; the state from before it is there, with proofs.
    assert fresh.blocks.block(3) is None and fresh.blocks.base == (3, 3_000_000_000)
    key = contract_key("notary", notary_record_key(bytes([2, 0]) * 16))
    assert fresh.state.get(key) == replay.state.get(key) is not None
    assert fresh.query("/store", key, 0, True).proof == replay.query("/store", key, 0, True).proof

    # The next blocks (the signer's nonces carry on from the snapshot's state) agree.
    later = {h: blocks[h] for h in (4, 5, 6)}
    assert run(fresh, later) == run(replay, later) == [source.state.root(h) for h in (4, 5, 6)]
    assert [fresh.blocks.tx(h).code for h in fresh.blocks.block(5)["txs"]] == [0, 0, 0, 0]

    fresh.close()  # restarted, it knows where its history starts
    again = Application(tmp_path / "fresh")
    assert (again.info().last_height, again.blocks.base) == (6, (3, 3_000_000_000))
    again.close()
    replay.close()


def test_every_node_cuts_the_same_snapshot_and_keeps_the_newest(chain, tmp_path) -> None:
    source, blocks = chain
    other = make_app(tmp_path / "other", snapshot_interval=2, snapshot_keep=2)
    other.snapshots.chunk_bytes = 600
    run(other, blocks)
    assert [s.height for s in other.list_snapshots()] == [4, 6]  # 2 pruned
    assert other.list_snapshots()[-1] == source.list_snapshots()[-1]  # same chunks, hash and metadata
    snapshot = other.list_snapshots()[-1]
    assert Metadata.decode(snapshot.metadata).time_ns == 6_000_000_000
    assert snapshot.hash == hashlib.sha256(snapshot.metadata).digest()
    assert other.load_snapshot_chunk(2, FORMAT, 0) == b""  # pruned
    assert other.load_snapshot_chunk(6, FORMAT, snapshot.chunks) == b""
    assert other.load_snapshot_chunk(6, FORMAT + 1, 0) == b""
    other.close()


def test_a_chunk_that_does_not_match_its_hash_is_fetched_again_from_another_peer(chain, tmp_path) -> None:
    source, _ = chain
    snapshot = source.list_snapshots()[-1]
    fresh = Application(tmp_path / "fresh")
    assert fresh.offer_snapshot(snapshot, source.state.root(6)) is OfferResult.ACCEPT
    good = source.load_snapshot_chunk(6, FORMAT, 0)
    bad = fresh.apply_snapshot_chunk(0, good[:-1] + bytes([good[-1] ^ 1]), "liar")
    assert (bad.result, bad.refetch, bad.reject_senders) == (ApplyResult.RETRY, [0], ["liar"])
    for i in range(snapshot.chunks):
        assert fresh.apply_snapshot_chunk(i, source.load_snapshot_chunk(6, FORMAT, i), "honest").result is ApplyResult.ACCEPT
    assert fresh.info().last_app_hash == source.state.root(6)
    fresh.close()


@pytest.mark.parametrize("part_bytes", [64 << 20, 1], ids=["one part", "a part per chunk"])
def test_a_snapshot_whose_state_is_not_the_trusted_app_hash_is_rejected_and_nothing_is_kept(chain, tmp_path,
                                                                                            part_bytes) -> None:
    source, _ = chain
    snapshot = source.list_snapshots()[-1]
    fresh = Application(tmp_path / "fresh")
    fresh.restore_batch_bytes = part_bytes  # with parts, all but the last are on disk when the root is checked
    assert fresh.offer_snapshot(snapshot, bytes([0x11]) * 32) is OfferResult.ACCEPT
    results = [fresh.apply_snapshot_chunk(i, source.load_snapshot_chunk(6, FORMAT, i), "p").result
               for i in range(snapshot.chunks)]
    assert results == [ApplyResult.ACCEPT] * (snapshot.chunks - 1) + [ApplyResult.REJECT_SNAPSHOT]
    assert (fresh.info().last_height, fresh.state.version, fresh.blocks.base) == (0, 0, None)
    assert fresh.apply_snapshot_chunk(0, b"", "p").result is ApplyResult.ABORT  # nothing under way now
    assert restore(fresh, source, snapshot) == [ApplyResult.ACCEPT] * snapshot.chunks  # the honest one still works
    fresh.close()


@pytest.mark.parametrize("part_bytes", [64 << 20, 1], ids=["one part", "a part per chunk"])
def test_a_snapshot_whose_metadata_lies_about_its_block_time_is_rejected(chain, tmp_path, part_bytes) -> None:
    """The chunks are the chain's, but a peer made new metadata (and a matching snapshot
    hash) with another block time: the restored state itself records block 6's time."""
    source, _ = chain
    honest = source.list_snapshots()[-1]
    metadata = Metadata(Metadata.decode(honest.metadata).chunk_hashes, 7_000_000_000).encode()
    forged = Snapshot(6, FORMAT, honest.chunks, hashlib.sha256(metadata).digest(), metadata)
    fresh = Application(tmp_path / "fresh")
    fresh.restore_batch_bytes = part_bytes
    results = restore(fresh, source, forged)
    assert results == [ApplyResult.ACCEPT] * (forged.chunks - 1) + [ApplyResult.REJECT_SNAPSHOT]
    assert (fresh.info().last_height, fresh.state.version, fresh.blocks.base) == (0, 0, None)
    assert restore(fresh, source, honest) == [ApplyResult.ACCEPT] * honest.chunks
    assert fresh.blocks.base == (6, 6_000_000_000) == fresh.last_block
    assert encoding.decode(fresh.state.get(KEY_LAST_BLOCK)) == [6, 6_000_000_000]
    fresh.close()


def crafted(chunks: list[bytes], height: int = 5) -> Snapshot:
    metadata = Metadata([hashlib.sha256(c).digest() for c in chunks], 1).encode()
    return Snapshot(height, FORMAT, len(chunks), hashlib.sha256(metadata).digest(), metadata)


@pytest.mark.parametrize("chunks", [
    [encoding.encode([[b"b", b"1"]]), encoding.encode([[b"a", b"2"]])],  # keys out of order across chunks
    [encoding.encode([[b"a", b"1"], [b"a", b"2"]])],  # a key twice
    [encoding.encode({"a": b"1"})],  # not an array of pairs
    [encoding.encode([[b"a", "text"]])],  # a value that is not bytes
    [encoding.encode([[b"", b"1"]])],  # an empty key
    [b"\xff\x00"],  # not CBOR
])
def test_a_snapshot_that_is_malformed_behind_matching_hashes_is_rejected(tmp_path, chunks) -> None:
    fresh = Application(tmp_path / "fresh")
    assert fresh.offer_snapshot(crafted(chunks), bytes(32)) is OfferResult.ACCEPT
    results = [fresh.apply_snapshot_chunk(i, c, "p").result for i, c in enumerate(chunks)]
    assert results[-1] is ApplyResult.REJECT_SNAPSHOT and set(results[:-1]) <= {ApplyResult.ACCEPT}
    assert fresh.info().last_height == 0
    fresh.close()


def test_offers_a_node_cannot_take_are_refused(chain, tmp_path) -> None:
    source, _ = chain
    snapshot = source.list_snapshots()[-1]
    fresh = Application(tmp_path / "fresh")
    root = source.state.root(6)
    assert fresh.offer_snapshot(Snapshot(6, FORMAT + 1, snapshot.chunks, snapshot.hash, snapshot.metadata), root) is OfferResult.REJECT_FORMAT
    assert fresh.offer_snapshot(Snapshot(6, FORMAT, snapshot.chunks + 1, snapshot.hash, snapshot.metadata), root) is OfferResult.REJECT
    assert fresh.offer_snapshot(Snapshot(6, FORMAT, 1, b"", b"\xa0"), root) is OfferResult.REJECT  # metadata without chunks
    assert fresh.offer_snapshot(Snapshot(0, FORMAT, snapshot.chunks, snapshot.hash, snapshot.metadata), root) is OfferResult.REJECT
    assert fresh.offer_snapshot(snapshot, root[:31]) is OfferResult.REJECT
    assert fresh.offer_snapshot(Snapshot(6, FORMAT, snapshot.chunks, bytes(32), snapshot.metadata), root) is OfferResult.REJECT
    # A node with blocks of its own takes no snapshot: it would lose them.
    assert source.offer_snapshot(source.list_snapshots()[0], source.state.root(3)) is OfferResult.REJECT
    assert source.info().last_height == 6
    fresh.close()


def test_a_restore_no_block_built_on_takes_the_same_snapshot_again_or_gives_way_to_another(chain, tmp_path) -> None:
    """What a node finds after a crash between the restore and its first block: CometBFT
    runs state sync again and offers the same snapshot or a newer one."""
    source, blocks = chain
    older, newer = source.list_snapshots()
    fresh = Application(tmp_path / "fresh")
    restore(fresh, source, newer)
    fresh.close()

    again = Application(tmp_path / "fresh")
    assert again.restored_only
    assert restore(again, source, newer) == [ApplyResult.ACCEPT] * newer.chunks  # the same: kept as it is
    assert (again.info().last_height, again.info().last_app_hash) == (6, source.state.root(6))
    assert restore(again, source, older) == [ApplyResult.ACCEPT] * older.chunks  # another: it replaces the first
    assert (again.info().last_height, again.info().last_app_hash, again.blocks.base) == (3, source.state.root(3), (3, 3_000_000_000))
    assert again.state.get(contract_key("notary", notary_record_key(bytes([5, 0]) * 16))) is None  # nothing of height 6 left

    # A bad snapshot offered to it erases the restore too, and leaves an empty node (the
    # good ones can be fetched again); once a block is built on a restore, it stays.
    assert again.offer_snapshot(newer, bytes([0x11]) * 32) is OfferResult.ACCEPT
    assert again.apply_snapshot_chunk(0, source.load_snapshot_chunk(6, FORMAT, 0), "p").result is ApplyResult.ACCEPT
    assert (again.info().last_height, again.blocks.base, again.state.version) == (0, None, 0)
    restore(again, source, older)
    assert run(again, {4: blocks[4]}) == [source.state.root(4)]
    assert not again.restored_only
    assert again.offer_snapshot(newer, source.state.root(6)) is OfferResult.REJECT
    assert again.info().last_height == 4
    again.close()


def test_the_state_store_restores_only_into_an_empty_store(chain) -> None:
    source, _ = chain
    with pytest.raises(BaychainError) as refused:
        source.state.stage({b"k": b"v"}, 100, restoring=True)
    assert refused.value.code == Code.INTERNAL


def test_a_snapshot_cut_short_leaves_nothing_behind(tmp_path) -> None:
    """Stopped while writing (the node shutting down), or killed (a leftover temporary
    directory, removed at the next start): no incomplete snapshot is ever listed."""
    store = SnapshotStore(tmp_path / "snapshots", chunk_bytes=100)
    items = [(bytes([i]) * 8, bytes(60)) for i in range(1, 20)]
    assert store.create(7, 1, iter(items), stop=lambda: True) is None
    assert store.list() == [] and list(store.directory.iterdir()) == []
    (store.directory / ".9.tmp").mkdir()
    (store.directory / ".9.tmp" / "0").write_bytes(b"partial")
    again = SnapshotStore(tmp_path / "snapshots", chunk_bytes=100)
    assert list(again.directory.iterdir()) == []
    made = again.create(7, 1, iter(items))
    assert made.chunks > 2 and again.list() == [made]


def test_a_restore_written_in_parts_is_the_same_trie_and_outlives_pruning(chain, tmp_path) -> None:
    """Each chunk staged and committed on its own (as a large state is, in parts of
    `restore_batch_bytes`): the nodes later parts rewrite under the same version are
    replaced in place, never recorded as stale, so pruning old versions keeps them."""
    source, _ = chain
    snapshot = source.list_snapshots()[-1]
    fresh = Application(tmp_path / "fresh", keep_versions=1)
    fresh.restore_batch_bytes = 1
    assert restore(fresh, source, snapshot) == [ApplyResult.ACCEPT] * snapshot.chunks
    assert fresh.info().last_app_hash == source.state.root(6)
    later = workload(7, 12, Signer(CHAIN, bytes([7]) * 32))
    assert run(fresh, later) == run(source, later)  # versions up to 11 pruned on the restored node
    items = source.state.latest_items()
    pairs = list(items)
    items.close()
    assert len(pairs) > 20
    for key, value in pairs:  # every key, through the trie of the latest version, with the same proof
        answer = fresh.query("/store", key, 0, True)
        assert (answer.value, answer.proof) == (value, source.query("/store", key, 0, True).proof)
    fresh.close()


def test_a_restore_cut_short_is_erased_by_the_next_offer_or_the_next_start(chain, tmp_path) -> None:
    source, _ = chain
    snapshot = source.list_snapshots()[-1]
    half = snapshot.chunks // 2
    assert half >= 1

    def begin(app: Application) -> None:
        app.restore_batch_bytes = 1
        assert app.offer_snapshot(snapshot, source.state.root(6)) is OfferResult.ACCEPT
        for i in range(half):
            assert app.apply_snapshot_chunk(i, source.load_snapshot_chunk(6, FORMAT, i), "p").result is ApplyResult.ACCEPT
        assert (app.state.version, app.blocks.last_height, app.blocks.base) == (6, 0, None)  # parts on disk, no base

    offered_again = Application(tmp_path / "offered")
    begin(offered_again)
    assert restore(offered_again, source, snapshot) == [ApplyResult.ACCEPT] * snapshot.chunks
    assert offered_again.info().last_app_hash == source.state.root(6)
    offered_again.close()

    restarted = Application(tmp_path / "restarted")
    begin(restarted)
    restarted.close()  # as a crash would leave it
    restarted = Application(tmp_path / "restarted")
    assert (restarted.state.version, restarted.info().last_height, restarted.state.root()) == (0, 0, EMPTY_ROOT)
    assert restore(restarted, source, snapshot) == [ApplyResult.ACCEPT] * snapshot.chunks
    assert restarted.info().last_app_hash == source.state.root(6)
    restarted.close()


def test_a_snapshot_offered_to_a_peer_outlives_its_turn_until_the_lease_runs_out(tmp_path) -> None:
    """A joiner lists snapshots, then takes CometBFT's discovery time before it fetches one:
    a snapshot listed or served recently is not pruned, whatever newer ones are made."""
    items = [(bytes([i]) * 8, bytes(60)) for i in range(1, 20)]
    store = SnapshotStore(tmp_path / "snapshots", keep=1, chunk_bytes=100, lease=3600)
    store.create(10, 1, iter(items))
    assert [s.height for s in store.list()] == [10]  # offered to a peer
    store.create(20, 1, iter(items))
    store.create(30, 1, iter(items))
    assert store.heights() == [10, 30]  # 20 was never offered: pruned in its turn; 10 is leased
    assert store.chunk(30, FORMAT, 0)  # serving a chunk leases too
    store.lease = 0  # the lease runs out
    store.create(40, 1, iter(items))
    assert store.heights() == [40]


def test_a_restored_store_takes_the_blocks_before_it_newest_first_as_the_members_stored_them(chain, tmp_path) -> None:
    """The block store's side of a backfill (the checks against headers need CometBFT's:
    tests/network/test_network_statesync.py): history grows down one block at a time,
    with the records' own bytes and every index, and never with a gap."""
    source, blocks = chain
    fresh = Application(tmp_path / "fresh")
    restore(fresh, source, source.list_snapshots()[0])  # height 3
    run(fresh, {4: blocks[4]})
    assert fresh.blocks.history_from() == 4 and fresh.blocks.history(3) is None
    with pytest.raises(ValueError, match="does not extend"):
        with fresh.env.begin(write=True) as txn:
            fresh.blocks.write_history(txn, *source.blocks.history(2))
    assert fresh.blocks.history_from() == 4  # nothing of it kept
    for height in (3, 2, 1):
        with fresh.env.begin(write=True) as txn:
            fresh.blocks.write_history(txn, *source.blocks.history(height))
        assert fresh.blocks.history_from() == height
    for height in (1, 2, 3, 4):
        assert fresh.blocks.history(height) == source.blocks.history(height)
        assert fresh.blocks.block(height) == source.blocks.block(height)
    tx_hash = source.blocks.block(2)["txs"][1]
    assert fresh.blocks.tx(tx_hash) == source.blocks.tx(tx_hash)
    signer = source.blocks.tx(tx_hash).sender
    assert fresh.blocks.txs_by_signer(signer) == source.blocks.txs_by_signer(signer)[:16]  # blocks 1-4, in order
    assert fresh.blocks.txs_by_event("notarized") == source.blocks.txs_by_event("notarized")[:16]
    assert source.blocks.history(7) is None
    fresh.close()
