"""Framing of the ABCI socket protocol: each message is an unsigned varint length
followed by that many bytes of protobuf (a `Request` from CometBFT, a `Response` back).

The varint is protobuf's base-128 encoding (7 bits per byte, least significant group
first, high bit set on every byte but the last), as Go's `binary.PutUvarint` writes it
in CometBFT's `libs/protoio`. A TCP read may deliver half a message or several at once,
so decoding is incremental: `FrameDecoder.feed` takes whatever arrived and returns every
complete payload, keeping the rest for the next read.
"""

from __future__ import annotations

MAX_MESSAGE_BYTES = 100 * 1024 * 1024
"""Largest frame accepted; CometBFT's own ABCI server uses the same 100 MiB limit."""

_MAX_VARINT_BYTES = 10  # a uint64 needs at most ten 7-bit groups
_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


class FramingError(ValueError):
    """The byte stream is not a valid sequence of length-prefixed messages."""


def encode_uvarint(value: int) -> bytes:
    """Encode a non-negative integer as a protobuf unsigned varint."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if value < 0:
        raise ValueError(f"uvarint cannot encode a negative number: {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_uvarint(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int] | None:
    """Decode a uvarint at `buf[pos:]`: return (value, position after it), or None if the
    buffer ends before the varint does. Raise FramingError for a varint over 10 bytes."""
    value = 0
    shift = 0
    end = len(buf)
    i = pos
    while i < end:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7
        if i - pos >= _MAX_VARINT_BYTES:
            raise FramingError("length prefix is longer than 10 bytes")
    return None


def encode_frame(payload: bytes) -> bytes:
    """Prefix `payload` with its length as a uvarint."""
    return encode_uvarint(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder for a stream of uvarint-length-prefixed messages."""

    __slots__ = ("_buf", "max_message_bytes")

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buf = bytearray()
        self.max_message_bytes = max_message_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """Append `data` to the stream and return all payloads now complete, in order."""
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        while pos < end:
            # Most frames here (CheckTx, its answers) are shorter than 16 KiB: their
            # prefix is one or two bytes, read inline; longer ones take decode_uvarint.
            first = buf[pos]
            if first < 0x80:
                length, start = first, pos + 1
            elif pos + 1 < end and buf[pos + 1] < 0x80:
                length, start = (first & 0x7F) | (buf[pos + 1] << 7), pos + 2
            else:
                header = decode_uvarint(buf, pos)
                if header is None:
                    break
                length, start = header
            if length > self.max_message_bytes:
                raise FramingError(
                    f"message of {length} bytes exceeds the {self.max_message_bytes}-byte limit"
                )
            stop = start + length
            if stop > end:
                break
            frames.append(bytes(buf[start:stop]))
            pos = stop
        if pos:
            del buf[:pos]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buf)
