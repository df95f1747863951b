"""The ABCI socket framing: uvarint length prefix + payload, decoded incrementally."""

from __future__ import annotations

import pytest

from baychain.abci.codec import (
    FrameDecoder,
    FramingError,
    decode_uvarint,
    encode_frame,
    encode_uvarint,
)

# Go's binary.PutUvarint output for these values (protobuf varint encoding).
VARINT_VECTORS = [
    (0, b"\x00"),
    (1, b"\x01"),
    (127, b"\x7f"),
    (128, b"\x80\x01"),
    (300, b"\xac\x02"),
    (16383, b"\xff\x7f"),
    (16384, b"\x80\x80\x01"),
    (2**64 - 1, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
]


@pytest.mark.parametrize("value, encoded", VARINT_VECTORS)
def test_uvarint_matches_go_encoding(value: int, encoded: bytes) -> None:
    assert encode_uvarint(value) == encoded
    assert decode_uvarint(encoded) == (value, len(encoded))


def test_uvarint_rejects_negative_numbers() -> None:
    with pytest.raises(ValueError):
        encode_uvarint(-1)


def test_uvarint_decode_reports_incomplete_input() -> None:
    assert decode_uvarint(b"") is None
    assert decode_uvarint(b"\x80") is None
    assert decode_uvarint(b"\xac\x02", 1) == (2, 2)


def test_uvarint_longer_than_ten_bytes_is_a_framing_error() -> None:
    with pytest.raises(FramingError):
        decode_uvarint(b"\x80" * 11)


def test_frame_roundtrip() -> None:
    for payload in (b"", b"x", b"hello world", bytes(range(256)) * 3):
        decoder = FrameDecoder()
        assert decoder.feed(encode_frame(payload)) == [payload]
        assert decoder.pending == 0


def test_frame_split_at_every_byte_boundary_is_reassembled() -> None:
    payloads = [b"a" * 200, b"", b"bc", b"d" * 130]  # 200 and 130 need 2-byte prefixes
    stream = b"".join(encode_frame(p) for p in payloads)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert got == payloads, cut
        assert decoder.pending == 0


def test_frame_fed_one_byte_at_a_time() -> None:
    payloads = [b"first", b"x" * 1000, b"third"]
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder()
    got: list[bytes] = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
        if i < len(stream) - 1:
            assert decoder.pending > 0 or got  # something is either buffered or done
    assert got == payloads
    assert decoder.pending == 0


def test_several_frames_in_one_read_come_out_in_order() -> None:
    payloads = [bytes([i]) * i for i in range(50)]
    decoder = FrameDecoder()
    assert decoder.feed(b"".join(encode_frame(p) for p in payloads)) == payloads


def test_partial_trailing_frame_is_kept_for_the_next_read() -> None:
    decoder = FrameDecoder()
    stream = encode_frame(b"one") + encode_frame(b"two")
    assert decoder.feed(stream[:-1]) == [b"one"]
    assert decoder.pending == len(encode_frame(b"two")) - 1
    assert decoder.feed(stream[-1:]) == [b"two"]


def test_oversized_frame_is_refused_before_it_is_buffered() -> None:
    decoder = FrameDecoder(max_message_bytes=10)
    assert decoder.feed(encode_frame(b"x" * 10)) == [b"x" * 10]
    with pytest.raises(FramingError):
        decoder.feed(encode_uvarint(11))
