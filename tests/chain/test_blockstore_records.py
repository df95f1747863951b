"""The block store writes receipts with the native canonical CBOR writer: same bytes as cbor2's."""

from __future__ import annotations

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from baychain import encoding
from baychain.app.types import Event
from baychain.chain.blockstore import TxRecord, record_bytes

u64 = st.integers(min_value=0, max_value=2**64 - 1)
sizes = st.sampled_from([0, 1, 23, 24, 255, 256, 65535, 65536])
text = st.one_of(st.text(max_size=40), sizes.map(lambda n: "é" * (n // 2) + "a" * (n % 2)))
blob = st.one_of(st.binary(max_size=40), sizes.map(lambda n: b"\x01" * n))
events = st.lists(st.builds(Event, text, st.lists(st.tuples(text, text), max_size=30)), max_size=30)
records = st.builds(TxRecord, blob, u64, u64, blob, text, text, text, u64, text, blob, events, u64)


@given(records)
@settings(max_examples=300, deadline=None)
def test_record_bytes_must_equal_canonical_cbor(rec: TxRecord) -> None:
    raw = record_bytes(rec)
    assert raw == cbor2.dumps(rec.to_value(), canonical=True)
    assert TxRecord.from_value(encoding.decode(raw)) == rec


def test_record_bytes_must_fall_back_for_integers_outside_cbor_heads() -> None:
    rec = TxRecord(b"h", 1, 0, b"", "", "", "", -1, "", b"", [], 2**64)
    assert record_bytes(rec) == cbor2.dumps(rec.to_value(), canonical=True)


def test_a_receipt_value_lists_its_fields_and_each_event_attribute_as_a_pair() -> None:
    rec = TxRecord(b"h", 7, 3, b"raw", "bc1s", "notary", "notarize", 0, "", b"d",
                   [Event("notary.notarized", [("digest", "ab"), ("owner", "bc1o")]), Event("x", [])], 42)
    assert rec.to_value() == [b"h", 7, 3, b"raw", "bc1s", "notary", "notarize", 0, "", b"d",
                              [["notary.notarized", [["digest", "ab"], ["owner", "bc1o"]]], ["x", []]], 42]
