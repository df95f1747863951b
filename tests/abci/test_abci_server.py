"""The ABCI socket server, driven over loopback by a raw protobuf client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile

import pytest

from baychain.abci.codec import encode_frame
from baychain.abci.convert import PROOF_OP_TYPE
from baychain.abci.pb import abci_pb, crypto_pb
from baychain.abci.server import AbciServer, parse_address, serve

Req = abci_pb.Request


@contextlib.asynccontextmanager
async def running(app, **kwargs):
    server = AbciServer(app, **kwargs)
    await server.start("tcp://127.0.0.1:0")
    try:
        yield server
    finally:
        await server.stop()


def block_fields(height: int, txs: list[bytes]) -> dict:
    return dict(
        txs=txs,
        height=height,
        hash=bytes([height]) * 32,
        proposer_address=b"\x01" * 20,
        time={"seconds": 1_700_000_000 + height, "nanos": 123_456_789},
    )


def test_echo_flush_and_info_answer_in_order(kv_app, abci_client_class) -> None:
    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            echo, flush, info = await client.call(
                Req(echo=abci_pb.RequestEcho(message="hello")),
                Req(flush=abci_pb.RequestFlush()),
                Req(info=abci_pb.RequestInfo(version="0.38.26", abci_version="2.0.0")),
            )
            await client.close()
        assert echo.WhichOneof("value") == "echo" and echo.echo.message == "hello"
        assert flush.WhichOneof("value") == "flush"
        assert info.WhichOneof("value") == "info"
        assert info.info.last_block_height == 0
        assert info.info.last_block_app_hash == b""
        assert info.info.version == "kv-test"
        assert info.info.app_version == 1

    asyncio.run(main())


def test_init_chain_translates_time_validators_and_app_state(kv_app, abci_client_class) -> None:
    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            key = b"\x07" * 32
            (resp,) = await client.call(
                Req(
                    init_chain=abci_pb.RequestInitChain(
                        time={"seconds": 1_700_000_000, "nanos": 5},
                        chain_id="bay-test",
                        initial_height=1,
                        validators=[
                            abci_pb.ValidatorUpdate(pub_key=crypto_pb.PublicKey(ed25519=key), power=10)
                        ],
                        app_state_bytes=b'{"a":1}',
                    )
                )
            )
            await client.close()
        assert resp.WhichOneof("value") == "init_chain"
        req = kv_app.init_request
        assert req.chain_id == "bay-test"
        assert req.time_ns == 1_700_000_000_000_000_005
        assert req.initial_height == 1
        assert req.app_state == b'{"a":1}'
        assert [(v.pub_key_type, v.pub_key, v.power) for v in req.validators] == [("ed25519", key, 10)]

    asyncio.run(main())


def test_check_tx_maps_codes_gas_and_recheck(kv_app, abci_client_class) -> None:
    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            good, bad, recheck = await client.call(
                Req(check_tx=abci_pb.RequestCheckTx(tx=b"k=v")),
                Req(check_tx=abci_pb.RequestCheckTx(tx=b"novalue")),
                Req(check_tx=abci_pb.RequestCheckTx(tx=b"k=v", type=abci_pb.RECHECK)),
            )
            await client.close()
        assert good.check_tx.code == 0 and good.check_tx.gas_used == 3 and good.check_tx.codespace == ""
        assert bad.check_tx.code == 7
        assert bad.check_tx.log == "a tx is key=value"
        assert bad.check_tx.codespace == "baychain"
        assert recheck.check_tx.code == 0
        assert kv_app.rechecks == 1

    asyncio.run(main())


def test_a_server_without_events_answers_the_same_results_and_app_hash(kv_app, abci_client_class) -> None:
    """events=False: CometBFT gets no events (not hashed), everything it hashes is unchanged."""
    async def main():
        async with running(kv_app, events=False) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            check, fin, _ = await client.call(
                Req(check_tx=abci_pb.RequestCheckTx(tx=b"a=1", type=abci_pb.NEW)),
                Req(finalize_block=abci_pb.RequestFinalizeBlock(**block_fields(1, [b"a=1", b"bad", b"b=2"]))),
                Req(flush=abci_pb.RequestFlush()),
            )
            await client.close()
        return check.check_tx, fin.finalize_block

    check, result = asyncio.run(main())
    assert check.code == 0 and check.gas_used == 3 and not check.events
    assert [(r.code, r.data, r.gas_used, len(r.events)) for r in result.tx_results] == [
        (0, b"1", 3, 0), (7, b"", 0, 0), (0, b"2", 3, 0)]
    assert not result.events
    assert result.app_hash == kv_app.pending[1] and len(result.app_hash) == 32


def test_finalize_block_then_commit_reports_results_and_app_hash(kv_app, abci_client_class) -> None:
    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            fin, flush, commit, info = await client.call(
                Req(finalize_block=abci_pb.RequestFinalizeBlock(**block_fields(1, [b"a=1", b"bad", b"b=2"]))),
                Req(flush=abci_pb.RequestFlush()),
                Req(commit=abci_pb.RequestCommit()),
                Req(info=abci_pb.RequestInfo()),
            )
            await client.close()
        assert fin.WhichOneof("value") == "finalize_block"
        result = fin.finalize_block
        assert [r.code for r in result.tx_results] == [0, 7, 0]
        assert result.tx_results[0].data == b"1"
        assert result.tx_results[0].gas_used == result.tx_results[0].gas_wanted == 3
        event = result.tx_results[2].events[0]
        assert event.type == "kv"
        assert [(a.key, a.value, a.index) for a in event.attributes] == [("key", "b", True), ("value", "2", True)]
        assert [e.type for e in result.events] == ["block"]
        assert len(result.app_hash) == 32
        assert commit.WhichOneof("value") == "commit" and commit.commit.retain_height == 0
        assert info.info.last_block_height == 1
        assert info.info.last_block_app_hash == result.app_hash
        block = kv_app.last_block
        assert block.time_ns == (1_700_000_001 * 10**9) + 123_456_789
        assert block.proposer == b"\x01" * 20 and block.hash == b"\x01" * 32
        assert kv_app.store == {b"a": b"1", b"b": b"2"}

    asyncio.run(main())


def test_proposals_vote_extensions_and_query(kv_app, abci_client_class) -> None:
    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            prep, ok, rejected, ext, verify = await client.call(
                Req(
                    prepare_proposal=abci_pb.RequestPrepareProposal(
                        max_tx_bytes=7, txs=[b"a=1", b"b=2", b"c=3"], height=1
                    )
                ),
                Req(process_proposal=abci_pb.RequestProcessProposal(**block_fields(1, [b"a=1"]))),
                Req(process_proposal=abci_pb.RequestProcessProposal(**block_fields(1, [b"junk"]))),
                Req(extend_vote=abci_pb.RequestExtendVote(height=1)),
                Req(verify_vote_extension=abci_pb.RequestVerifyVoteExtension(height=1)),
            )
            await client.call(
                Req(finalize_block=abci_pb.RequestFinalizeBlock(**block_fields(1, [b"a=1"]))),
                Req(commit=abci_pb.RequestCommit()),
            )
            found, missing = await client.call(
                Req(query=abci_pb.RequestQuery(path="/store", data=b"a", prove=True)),
                Req(query=abci_pb.RequestQuery(path="/store", data=b"zz")),
            )
            await client.close()
        assert list(prep.prepare_proposal.txs) == [b"a=1", b"b=2"]
        assert ok.process_proposal.status == abci_pb.ResponseProcessProposal.ACCEPT
        assert rejected.process_proposal.status == abci_pb.ResponseProcessProposal.REJECT
        assert ext.WhichOneof("value") == "extend_vote" and ext.extend_vote.vote_extension == b""
        assert verify.verify_vote_extension.status == abci_pb.ResponseVerifyVoteExtension.ACCEPT
        assert found.query.code == 0 and found.query.value == b"1" and found.query.height == 1
        (op,) = found.query.proof_ops.ops
        assert (op.type, op.key, op.data) == (PROOF_OP_TYPE, b"a", b"proof:a")
        assert missing.query.code == 4 and missing.query.codespace == "baychain"
        assert not missing.query.HasField("proof_ops")

    asyncio.run(main())


def test_state_sync_calls_reach_the_application_both_ways(tmp_path, abci_client_class) -> None:
    """One real node serves its snapshot over ABCI; another, empty, is offered it and
    applies its chunks, with a tampered chunk sent back for refetching."""
    from baychain.app.application import Application
    from baychain.app.types import BlockRequest, InitChainRequest
    from support import Signer

    serving = Application(tmp_path / "serving", snapshot_interval=2)
    serving.init_chain(InitChainRequest("sync-chain", 0, 1, [], b"{}"))
    signer = Signer("sync-chain", bytes(32))
    for height in (1, 2):
        serving.finalize_block(BlockRequest(height, height, bytes(32), b"p", [signer.tx("notary", "notarize", digest=bytes([height]) * 32).raw]))
        serving.commit()
    serving.finish_snapshot()
    empty = Application(tmp_path / "empty")

    async def main():
        async with running(serving) as one, running(empty) as other:
            source = await abci_client_class.connect("127.0.0.1", one.port)
            target = await abci_client_class.connect("127.0.0.1", other.port)
            (listed,) = await source.call(Req(list_snapshots=abci_pb.RequestListSnapshots()))
            (snapshot,) = listed.list_snapshots.snapshots
            (chunk,) = await source.call(Req(load_snapshot_chunk=abci_pb.RequestLoadSnapshotChunk(
                height=snapshot.height, format=snapshot.format, chunk=0)))
            chunk = chunk.load_snapshot_chunk.chunk
            nothing, offered, tampered, applied = await target.call(
                Req(list_snapshots=abci_pb.RequestListSnapshots()),
                Req(offer_snapshot=abci_pb.RequestOfferSnapshot(snapshot=snapshot, app_hash=serving.state.root(2))),
                Req(apply_snapshot_chunk=abci_pb.RequestApplySnapshotChunk(index=0, chunk=chunk + b"x", sender="bad")),
                Req(apply_snapshot_chunk=abci_pb.RequestApplySnapshotChunk(index=0, chunk=chunk, sender="good")),
            )
            (info,) = await target.call(Req(info=abci_pb.RequestInfo()))
            for client in (source, target):
                await client.close()
        return snapshot, nothing, offered, tampered, applied, info

    snapshot, nothing, offered, tampered, applied, info = asyncio.run(main())
    assert (snapshot.height, snapshot.format, snapshot.chunks) == (2, 1, 1)
    assert nothing.WhichOneof("value") == "list_snapshots" and not nothing.list_snapshots.snapshots
    assert offered.offer_snapshot.result == abci_pb.ResponseOfferSnapshot.ACCEPT
    assert tampered.apply_snapshot_chunk.result == abci_pb.ResponseApplySnapshotChunk.RETRY
    assert list(tampered.apply_snapshot_chunk.refetch_chunks) == [0]
    assert list(tampered.apply_snapshot_chunk.reject_senders) == ["bad"]
    assert applied.apply_snapshot_chunk.result == abci_pb.ResponseApplySnapshotChunk.ACCEPT
    assert (info.info.last_block_height, info.info.last_block_app_hash) == (2, serving.state.root(2))
    serving.close()
    empty.close()


def test_state_machine_exception_becomes_exception_response_and_is_logged(
    kv_app, abci_client_class, caplog
) -> None:
    def broken_commit():
        raise RuntimeError("disk on fire")

    kv_app.commit = broken_commit

    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            with caplog.at_level(logging.ERROR, logger="baychain.abci"):
                fin, commit, echo = await client.call(
                    Req(finalize_block=abci_pb.RequestFinalizeBlock(**block_fields(1, [b"a=1"]))),
                    Req(commit=abci_pb.RequestCommit()),
                    Req(echo=abci_pb.RequestEcho(message="still here")),
                )
            await client.close()
            assert server.app_errors == 1
        assert fin.WhichOneof("value") == "finalize_block"
        assert commit.WhichOneof("value") == "exception"
        assert "RuntimeError: disk on fire" in commit.exception.error
        assert echo.echo.message == "still here"
        assert any("disk on fire" in (r.exc_text or "") for r in caplog.records)

    asyncio.run(main())


@pytest.mark.parametrize("halt_on_any_error", [False, True])
def test_check_tx_and_query_exceptions_answer_internal_unless_halting(
    kv_app, abci_client_class, caplog, halt_on_any_error
) -> None:
    def broken_query(*args):
        raise KeyError("no such thing")

    kv_app.query = broken_query

    async def main():
        async with running(kv_app, halt_on_any_error=halt_on_any_error) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            with caplog.at_level(logging.ERROR, logger="baychain.abci"):
                check, query = await client.call(
                    Req(check_tx=abci_pb.RequestCheckTx(tx=b"boom")),
                    Req(query=abci_pb.RequestQuery(path="/store", data=b"a")),
                )
            await client.close()
            assert server.app_errors == 2
        assert any("check_tx exploded" in (r.exc_text or "") for r in caplog.records)
        assert any("no such thing" in (r.exc_text or "") for r in caplog.records)
        if halt_on_any_error:
            assert [check.WhichOneof("value"), query.WhichOneof("value")] == ["exception"] * 2
        else:
            assert check.check_tx.code == 500 and "check_tx exploded" in check.check_tx.log
            assert query.query.code == 500 and "no such thing" in query.query.log

    asyncio.run(main())


def test_bad_app_results_become_exceptions_not_wrong_answers(kv_app, abci_client_class) -> None:
    def short_finalize(block):
        result = type(kv_app).finalize_block(kv_app, block)
        result.tx_results.pop()
        return result

    kv_app.finalize_block = short_finalize

    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            (resp,) = await client.call(
                Req(finalize_block=abci_pb.RequestFinalizeBlock(**block_fields(1, [b"a=1"])))
            )
            await client.close()
        assert resp.WhichOneof("value") == "exception"
        assert "tx results" in resp.exception.error

    asyncio.run(main())


def test_undecodable_and_empty_requests_get_exceptions(kv_app, abci_client_class) -> None:
    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            client.writer.write(encode_frame(b"\xff\xff\xff") + encode_frame(b""))
            await client.writer.drain()
            while len(client.ready) < 2:
                client.ready += client.decoder.feed(await client.reader.read(65536))
            responses = []
            for payload in client.ready:
                r = abci_pb.Response()
                r.ParseFromString(payload)
                responses.append(r)
            await client.close()
        assert [r.WhichOneof("value") for r in responses] == ["exception", "exception"]
        assert "unknown request" in responses[1].exception.error

    asyncio.run(main())


def test_many_requests_in_one_write_are_answered_in_order(kv_app, abci_client_class) -> None:
    async def main():
        async with running(kv_app) as server:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            requests = []
            for i in range(300):
                requests.append(Req(echo=abci_pb.RequestEcho(message=str(i))))
                requests.append(Req(check_tx=abci_pb.RequestCheckTx(tx=b"k=%d" % i if i % 3 else b"x")))
            responses = await client.call(*requests)
            await client.close()
        for i in range(300):
            assert responses[2 * i].echo.message == str(i)
            assert responses[2 * i + 1].check_tx.code == (0 if i % 3 else 7)

    asyncio.run(main())


@pytest.mark.parametrize("app_thread", [False, True])
def test_connections_run_concurrently_but_app_calls_never_overlap(
    kv_app_class, abci_client_class, app_thread
) -> None:
    app = kv_app_class(finalize_delay_s=0.05)

    async def main():
        async with running(app, app_thread=app_thread) as server:
            consensus = await abci_client_class.connect("127.0.0.1", server.port)
            mempool = await abci_client_class.connect("127.0.0.1", server.port)
            query = await abci_client_class.connect("127.0.0.1", server.port)

            async def blocks():
                for h in range(1, 6):
                    fin, commit = await consensus.call(
                        Req(finalize_block=abci_pb.RequestFinalizeBlock(**block_fields(h, [b"h=%d" % h]))),
                        Req(commit=abci_pb.RequestCommit()),
                    )
                    assert fin.WhichOneof("value") == "finalize_block", fin
                    assert commit.WhichOneof("value") == "commit", commit

            async def checks():
                for i in range(50):
                    (r,) = await mempool.call(Req(check_tx=abci_pb.RequestCheckTx(tx=b"m=%d" % i)))
                    assert r.WhichOneof("value") == "check_tx", r

            async def infos():
                for _ in range(20):
                    (r,) = await query.call(Req(info=abci_pb.RequestInfo()))
                    assert r.WhichOneof("value") == "info", r

            await asyncio.gather(blocks(), checks(), infos())
            for c in (consensus, mempool, query):
                await c.close()

    asyncio.run(main())
    assert app.height == 5
    assert app.calls.count("check_tx") == 50 and app.calls.count("info") == 20
    # consensus calls stay in their order: finalize, commit, finalize, commit ...
    consensus_calls = [c for c in app.calls if c in ("finalize_block", "commit")]
    assert consensus_calls == ["finalize_block", "commit"] * 5


def test_unix_socket_and_serve_until_stopped(kv_app, abci_client_class) -> None:
    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "abci.sock")
            server = AbciServer(kv_app)
            await server.start(f"unix://{path}")
            reader, writer = await asyncio.open_unix_connection(path)
            client = abci_client_class(reader, writer)
            (echo,) = await client.call(Req(echo=abci_pb.RequestEcho(message="unix")))
            assert echo.echo.message == "unix"
            await client.close()
            await server.stop()
            assert not os.path.exists(path)

        stop = asyncio.Event()
        servers: list[AbciServer] = []
        task = asyncio.create_task(serve(kv_app, "127.0.0.1", 0, stop=stop, started=servers.append))
        while not servers:
            await asyncio.sleep(0.01)
        client = await abci_client_class.connect("127.0.0.1", servers[0].port)
        (echo,) = await client.call(Req(echo=abci_pb.RequestEcho(message="tcp")))
        assert echo.echo.message == "tcp"
        stop.set()
        await asyncio.wait_for(task, 5)
        await client.close()

    asyncio.run(main())


def test_parse_address_accepts_cometbft_proxy_app_forms() -> None:
    assert parse_address("tcp://127.0.0.1:26658") == ("tcp", "127.0.0.1:26658")
    assert parse_address("127.0.0.1:1") == ("tcp", "127.0.0.1:1")
    assert parse_address("unix:///tmp/app.sock") == ("unix", "/tmp/app.sock")
    with pytest.raises(ValueError):
        parse_address("tcp://nohost")
