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


def test_a_blocks_evidence_reaches_the_application_with_its_kind_by_name() -> None:
    from baychain.app.types import Misbehavior

    req = abci_pb.RequestFinalizeBlock(height=9, txs=[b"t"])
    req.time.FromNanoseconds(9_000_000_001)
    for kind, address in ((abci_pb.DUPLICATE_VOTE, b"a" * 20), (abci_pb.LIGHT_CLIENT_ATTACK, b"b" * 20), (7, b"c" * 20)):
        m = req.misbehavior.add(type=kind, height=8, total_voting_power=40)
        m.time.FromNanoseconds(8_000_000_002)
        m.validator.address, m.validator.power = address, 10
    block = convert.block_request_from_pb(abci_pb.RequestFinalizeBlock.FromString(req.SerializeToString()))
    assert block.misbehavior == [Misbehavior(kind, addr, 10, 8, 8_000_000_002, 40) for kind, addr in (
        ("duplicate_vote", b"a" * 20), ("light_client_attack", b"b" * 20), ("unknown", b"c" * 20))]
    assert convert.block_request_from_pb(abci_pb.RequestFinalizeBlock(height=1)).misbehavior == []
