"""Encoder for AWS event-stream frames, the body of every converse-stream response.

A frame is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the
headers, the payload, and a CRC32 of everything before it. Headers here are all strings
(value type 7), which is all Bedrock sends. botocore's EventStreamBuffer is the decoder the
tests hold this against.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_STRING_VALUE_TYPE = 7


def _encode_headers(headers: Mapping[str, str]) -> bytes:
    encoded = bytearray()
    for name, value in headers.items():
        name_bytes = name.encode("utf-8")
        value_bytes = value.encode("utf-8")
        encoded += struct.pack(">B", len(name_bytes)) + name_bytes
        encoded += struct.pack(">BH", _STRING_VALUE_TYPE, len(value_bytes)) + value_bytes
    return bytes(encoded)


def encode_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One complete frame, CRCs included."""
    header_bytes = _encode_headers(headers)
    total_length = _PRELUDE.size + _CRC.size + len(header_bytes) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total_length, len(header_bytes))
    head = prelude + _CRC.pack(zlib.crc32(prelude)) + header_bytes + payload
    return head + _CRC.pack(zlib.crc32(head))


def event_frame(event_type: str, body: Mapping[str, object]) -> bytes:
    """A `:message-type: event` frame such as contentBlockDelta, JSON payload."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_frame(headers, json.dumps(body, separators=(",", ":")).encode("utf-8"))


def exception_frame(exception_type: str, message: str) -> bytes:
    """A `:message-type: exception` frame, e.g. throttlingException in mid-stream."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_frame(headers, json.dumps({"message": message}).encode("utf-8"))
