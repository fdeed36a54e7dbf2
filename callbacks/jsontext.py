"""JSON text for spans, digests and redaction, made by orjson (which the LiteLLM image ships).

orjson encodes the large values a request carries (a 100 KB prompt, its span) about ten
times faster than the standard library; `bench/callback_cpu.py` measures the callback
with it. Where orjson refuses a value (an integer beyond 64 bits, a lone surrogate, a key
that is not a plain scalar, nesting past its limit), the standard library encodes it
instead, escaping to ASCII so the text is always valid UTF-8.

    encode(value)         compact JSON bytes; never fails: unknown objects become str()
    encode_sorted(value)  the same with sorted keys, for digests that must not depend on
                          key order
    encode_plain(value)   compact JSON bytes of plain JSON data only (dict with str keys,
                          list, tuple, str, int, float, bool, None), else None
    dumps(value)          `encode` as text
    decode(data)          the value of JSON bytes

NaN and infinities become null (JSON has no such numbers).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS
_PLAIN_ONLY = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# Built once: json.dumps with options would build an encoder on every call.
_FALLBACK = json.JSONEncoder(separators=(",", ":"), default=str)
_FALLBACK_SORTED = json.JSONEncoder(separators=(",", ":"), default=str, sort_keys=True)


def encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=str, option=_NON_STR_KEYS)
    except TypeError:
        return _FALLBACK.encode(value).encode("ascii")


def encode_sorted(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=str, option=_NON_STR_KEYS | orjson.OPT_SORT_KEYS)
    except TypeError:
        return _FALLBACK_SORTED.encode(value).encode("ascii")


def encode_plain(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value, option=_PLAIN_ONLY)
    except TypeError:
        return None


def dumps(value: Any) -> str:
    return encode(value).decode("utf-8")


def decode(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN from the standard library's encoder
        return json.loads(data)
