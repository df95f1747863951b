"""CheckTx requests that arrive together go to the application as one `check_txs` call."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baychain.abci.pb import abci_pb
from baychain.abci.server import AbciServer, _check_tx_fields

Req = abci_pb.Request


def check(tx: bytes, recheck: bool = False):
    return Req(check_tx=abci_pb.RequestCheckTx(tx=tx, type=abci_pb.RECHECK if recheck else abci_pb.NEW))


@pytest.fixture
def batching_app(kv_app_class):
    class BatchingApp(kv_app_class):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[int] = []

        def check_txs(self, raws):
            self.batches.append(len(raws))
            if b"boom" in raws:
                raise RuntimeError("batch exploded")
            return [self.check_tx(raw) for raw in raws]

    return BatchingApp()


@pytest.mark.parametrize("app_thread", [False, True])
def test_a_burst_of_check_tx_is_one_application_call_answered_in_order(batching_app, abci_client_class, app_thread) -> None:
    async def main():
        server = AbciServer(batching_app, app_thread=app_thread)
        await server.start("tcp://127.0.0.1:0")
        try:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            txs = [b"k%d=v" % i if i % 3 else b"bad%d" % i for i in range(50)]
            responses = await client.call(*[check(t, recheck=i % 2 == 1) for i, t in enumerate(txs)],
                                          Req(flush=abci_pb.RequestFlush()), check(b"last=1"))
            await client.close()
        finally:
            await server.stop()
        return txs, responses, server

    txs, responses, server = asyncio.run(main())
    assert [r.WhichOneof("value") for r in responses] == ["check_tx"] * 50 + ["flush", "check_tx"]
    assert [r.check_tx.code for r in responses[:50]] == [0 if b"=" in t else 7 for t in txs]
    assert [r.check_tx.gas_used for r in responses[:50]] == [len(t) if b"=" in t else 0 for t in txs]
    assert batching_app.batches == [50, 1]  # the flush ends the first run
    assert server.request_counts["check_tx"] == 51


def test_a_failing_batch_is_checked_one_by_one(batching_app, abci_client_class) -> None:
    async def main():
        server = AbciServer(batching_app)
        await server.start("tcp://127.0.0.1:0")
        try:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            responses = await client.call(check(b"a=1"), check(b"boom"), check(b"b=2"))
            await client.close()
        finally:
            await server.stop()
        return responses

    responses = asyncio.run(main())
    # Each transaction gets its own verdict; the one whose check raised gets INTERNAL (500).
    assert [r.check_tx.code for r in responses] == [0, 500, 0]


def test_an_application_without_check_txs_is_called_per_transaction(kv_app, abci_client_class) -> None:
    async def main():
        server = AbciServer(kv_app)
        await server.start("tcp://127.0.0.1:0")
        try:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            responses = await client.call(*[check(b"k%d=v" % i) for i in range(5)])
            await client.close()
        finally:
            await server.stop()
        return responses

    assert [r.check_tx.code for r in asyncio.run(main())] == [0] * 5
    assert not hasattr(kv_app, "check_txs")
    assert kv_app.calls.count("check_tx") == 5


def test_admitted_and_refused_transactions_of_a_burst_get_their_own_answers(abci_client_class) -> None:
    from baychain.app.types import TxResult

    class Verdicts:
        """Admits b"ok*" plainly, admits b"gas*" with gas and a log, refuses the rest."""

        def check_txs(self, raws):
            return [TxResult() if r.startswith(b"ok") else TxResult(compute_used=9, log="note") if r.startswith(b"gas")
                    else TxResult(code=7, log="refused", codespace="baychain") for r in raws]

    async def main():
        server = AbciServer(Verdicts())
        await server.start("tcp://127.0.0.1:0")
        try:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            responses = await client.call(check(b"ok1"), check(b"gas"), check(b"no"), check(b"ok2", recheck=True))
            await client.close()
        finally:
            await server.stop()
        return responses

    answers = [r.check_tx for r in asyncio.run(main())]
    assert answers[0] == answers[3] == abci_pb.ResponseCheckTx()
    assert (answers[1].code, answers[1].gas_used, answers[1].log) == (0, 9, "note")
    assert (answers[2].code, answers[2].log, answers[2].codespace) == (7, "refused", "baychain")


def test_small_bursts_are_checked_on_the_event_loop_when_the_application_can_take_them_at_once(abci_client_class) -> None:
    """With a worker thread, a burst of at most INLINE_CHECKS goes to `check_txs_nowait` on
    the loop's thread; a bigger one, or one the application cannot take at once (None),
    goes to `check_txs` on the worker thread. Same answers either way, in order."""
    from baychain.abci.server import INLINE_CHECKS
    from baychain.app.types import TxResult

    class Nowait:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, int]] = []
            self.busy = False

        def verdicts(self, raws):
            return [TxResult() if r.startswith(b"ok") else TxResult(code=7, log="refused") for r in raws]

        def check_txs(self, raws):
            self.calls.append(("check_txs", threading.current_thread().name, len(raws)))
            return self.verdicts(raws)

        def check_txs_nowait(self, raws):
            if self.busy:
                return None
            self.calls.append(("nowait", threading.current_thread().name, len(raws)))
            return self.verdicts(raws)

    app = Nowait()

    async def main():
        server = AbciServer(app, app_thread=True)
        await server.start("tcp://127.0.0.1:0")
        try:
            client = await abci_client_class.connect("127.0.0.1", server.port)
            flush = Req(flush=abci_pb.RequestFlush())
            small = await client.call(check(b"ok1"), check(b"no"), check(b"ok2", recheck=True), flush)
            big = await client.call(*[check(b"ok%d" % i) for i in range(INLINE_CHECKS + 1)], flush)
            app.busy = True
            busy = await client.call(check(b"no"), check(b"ok3"), flush)
            await client.close()
        finally:
            await server.stop()
        return server, small, big, busy

    server, small, big, busy = asyncio.run(main())
    loop_thread = threading.main_thread().name
    assert app.calls == [("nowait", loop_thread, 3), ("check_txs", app.calls[1][1], INLINE_CHECKS + 1),
                         ("check_txs", app.calls[1][1], 2)]
    assert app.calls[1][1].startswith("abci-app")
    assert [r.check_tx.code for r in small[:3]] == [0, 7, 0] and small[3].WhichOneof("value") == "flush"
    assert [r.check_tx.code for r in big[:-1]] == [0] * (INLINE_CHECKS + 1)
    assert [r.check_tx.code for r in busy[:2]] == [7, 0]
    assert server.inline_checks == 1


@settings(max_examples=300, deadline=None)
@given(tx=st.binary(max_size=40) | st.binary(min_size=100, max_size=20_000) | st.binary(min_size=16_370, max_size=16_390), recheck=st.booleans())
def test_check_tx_requests_are_read_as_protobuf_reads_them(tx: bytes, recheck: bool) -> None:
    """The server reads CometBFT's CheckTx requests without a full parse; when it does,
    it finds the tx and type protobuf finds (an empty tx, which protobuf leaves out, or
    one whose length prefixes take more than two bytes, takes the full parse)."""
    request = check(tx, recheck)
    fields = _check_tx_fields(request.SerializeToString())
    if tx and len(request.check_tx.SerializeToString()) < 0x4000:
        assert fields == (tx, abci_pb.RECHECK if recheck else abci_pb.NEW)
    else:
        assert fields is None


@settings(max_examples=500, deadline=None)
@given(payload=st.binary(max_size=300) | st.builds(lambda head, tail: b"\x42" + head + tail,
                                                    st.binary(max_size=3), st.binary(max_size=200)))
def test_only_what_protobuf_reads_as_a_check_tx_is_taken_for_one(payload: bytes) -> None:
    fields = _check_tx_fields(payload)
    if fields is None:
        return
    request = Req()
    request.ParseFromString(payload)
    assert request.WhichOneof("value") == "check_tx"
    assert fields == (request.check_tx.tx, request.check_tx.type)


def test_other_requests_and_other_layouts_take_the_full_parse() -> None:
    for request in (Req(echo=abci_pb.RequestEcho(message="hi")), Req(flush=abci_pb.RequestFlush()),
                    Req(finalize_block=abci_pb.RequestFinalizeBlock(txs=[b"a=1"], height=3)),
                    Req(check_tx=abci_pb.RequestCheckTx(type=abci_pb.RECHECK))):  # no tx field at all
        assert _check_tx_fields(request.SerializeToString()) is None
    tx = b"k=v"
    swapped = b"\x42\x07" + b"\x10\x01" + b"\x0a\x03" + tx  # valid protobuf, type before tx
    assert _check_tx_fields(swapped) is None
    request = Req()
    request.ParseFromString(swapped)
    assert (request.check_tx.tx, request.check_tx.type) == (tx, abci_pb.RECHECK)
