"""The hand-built ABCI responses are the same messages the plain protobuf constructors make."""

from __future__ import annotations

from baychain.abci import convert
from baychain.abci.pb import abci_pb
from baychain.app.types import Event, FinalizeResult, TxResult, ValidatorUpdate

RESULTS = [
    TxResult(),
    TxResult(data=b"\x01\x02", compute_used=1699,
             events=[Event("notary.notarized", [("digest", "ab" * 32), ("owner", "bc1q")]), Event("empty", [])]),
    TxResult(code=118, log="nonce 3 is not the next one (2)", codespace="baychain", compute_used=5),
]


def plain(result: TxResult, message_class):
    """The reference: every field through the message constructor."""
    return message_class(
        code=result.code, data=result.data, log=result.log, gas_wanted=result.compute_used,
        gas_used=result.compute_used, codespace=result.codespace if result.code else "",
        events=[abci_pb.Event(type=e.type, attributes=[abci_pb.EventAttribute(key=k, value=v, index=True)
                                                        for k, v in e.attributes]) for e in result.events],
    )


def test_finalize_block_response_is_the_plainly_built_message_byte_for_byte() -> None:
    update = ValidatorUpdate("ed25519", b"k" * 32, 10)
    result = FinalizeResult(tx_results=RESULTS, events=[Event("block", [("height", "7")])],
                            validator_updates=[update], app_hash=b"h" * 32)
    expected = abci_pb.ResponseFinalizeBlock(
        tx_results=[plain(r, abci_pb.ExecTxResult) for r in RESULTS],
        events=[abci_pb.Event(type="block", attributes=[abci_pb.EventAttribute(key="height", value="7", index=True)])],
        validator_updates=[convert.validator_update_to_pb(update)],
        app_hash=b"h" * 32,
    )
    assert convert.finalize_block_response(result, 3).SerializeToString() == expected.SerializeToString()


def test_check_tx_response_is_the_plainly_built_message() -> None:
    for result in RESULTS:
        assert convert.check_tx_response(result) == plain(result, abci_pb.ResponseCheckTx)


def test_responses_without_events_differ_only_in_their_events() -> None:
    result = FinalizeResult(tx_results=RESULTS, events=[Event("block", [("height", "7")])], validator_updates=[],
                            app_hash=b"h" * 32)
    expected = abci_pb.ResponseFinalizeBlock(
        tx_results=[plain(TxResult(code=r.code, data=r.data, log=r.log, codespace=r.codespace,
                                   compute_used=r.compute_used), abci_pb.ExecTxResult) for r in RESULTS],
        app_hash=b"h" * 32,
    )
    assert convert.finalize_block_response(result, 3, events=False).SerializeToString() == expected.SerializeToString()
    for r in RESULTS:
        without = convert.check_tx_response(r, events=False)
        assert not without.events
        del (with_events := convert.check_tx_response(r)).events[:]
        assert without == with_events
