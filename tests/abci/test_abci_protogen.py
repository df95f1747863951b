"""The generated protobuf modules match the pinned CometBFT v0.38 ABCI 2.0 schema."""

from __future__ import annotations

from baychain.abci import protogen
from baychain.abci.pb import abci_pb
from baychain.abci.version import COMETBFT_VERSION


def test_pinned_version_is_on_the_v038_line() -> None:
    assert COMETBFT_VERSION.startswith("v0.38.")


def test_request_and_response_field_numbers_are_abci_2_0() -> None:
    request = {f.name: f.number for f in abci_pb.Request.DESCRIPTOR.oneofs_by_name["value"].fields}
    assert request == {
        "echo": 1, "flush": 2, "info": 3, "init_chain": 5, "query": 6, "check_tx": 8,
        "commit": 11, "list_snapshots": 12, "offer_snapshot": 13, "load_snapshot_chunk": 14,
        "apply_snapshot_chunk": 15, "prepare_proposal": 16, "process_proposal": 17,
        "extend_vote": 18, "verify_vote_extension": 19, "finalize_block": 20,
    }
    response = {f.name for f in abci_pb.Response.DESCRIPTOR.oneofs_by_name["value"].fields}
    assert response == set(request) | {"exception"}
    assert abci_pb.DESCRIPTOR.package == "tendermint.abci"


def test_generation_is_idempotent_and_stamped() -> None:
    assert protogen.is_current()
    marker = protogen.OUTPUT_DIR / "tendermint" / "abci" / "types_pb2.py"
    before = marker.stat().st_mtime_ns
    assert protogen.main([]) == 0
    assert marker.stat().st_mtime_ns == before


def test_generated_imports_are_rewritten_into_the_package() -> None:
    source = (
        "from tendermint.crypto import keys_pb2 as k\n"
        "from gogoproto import gogo_pb2 as g\n"
        "from google.protobuf import timestamp_pb2 as t\n"
        "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'tendermint.abci.types_pb2', _globals)\n"
    )
    assert protogen._rewrite_imports(source) == (
        "from baychain.abci.proto_gen.tendermint.crypto import keys_pb2 as k\n"
        "from baychain.abci.proto_gen.gogoproto import gogo_pb2 as g\n"
        "from google.protobuf import timestamp_pb2 as t\n"
        "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, "
        "'baychain.abci.proto_gen.tendermint.abci.types_pb2', _globals)\n"
    )
    generated = (protogen.OUTPUT_DIR / "tendermint" / "abci" / "types_pb2.py").read_text()
    assert "\nfrom tendermint" not in generated and "\nfrom gogoproto" not in generated
