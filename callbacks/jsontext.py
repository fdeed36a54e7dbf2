"""JSON text for spans, digests and redaction, made by orjson (which the LiteLLM image ships).

orjson encodes the large values a request carries (a 100 KB prompt, its span) about ten
times faster than the standard library; `bench/callback_cpu.py` measures the callback
with it. Where orjson refuses a value (an integer beyond 64 bits, a lone surrogate, a key
that is not a plain scalar, nesting past its limit), the standard library encodes it
instead, escaping to ASCII so the text is always valid UTF-8. It first turns the value
into plain JSON data: dataclasses become objects of their fields (as orjson writes them, so
an event still decodes), and whatever is nested deeper than MAX_DEPTH is replaced by
TRUNCATED, so that a request nested hundreds of levels deep is still traced (truncated, and
saying so) rather than lost, and the text decodes and encodes again by orjson.

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

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

# orjson refuses values nested 255 levels deep; the margin leaves room for the envelopes the
# value is put in later (an event, a span) without being refused again.
MAX_DEPTH = 200
TRUNCATED = f"[truncated: nested deeper than {MAX_DEPTH} levels]"

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
    return _encoded(value, 0, _FALLBACK)


def encode_sorted(value: Any) -> bytes:
    return _encoded(value, orjson.OPT_SORT_KEYS, _FALLBACK_SORTED)


def _encoded(value: Any, option: int, fallback: json.JSONEncoder) -> bytes:
    """orjson's text of `value`, with OPT_NON_STR_KEYS only for a value that needs it: that
    option takes orjson off its fast path for every dict (README, benchmarks)."""
    try:
        return orjson.dumps(value, default=str, option=option)
    except TypeError:
        pass
    try:
        return orjson.dumps(value, default=str, option=option | _NON_STR_KEYS)
    except TypeError:
        return fallback.encode(plain(value)).encode("ascii")


def encode_plain(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value, option=_PLAIN_ONLY)
    except TypeError:
        return None


def plain(value: Any, depth: int = MAX_DEPTH) -> Any:
    """`value` as the standard library can encode it the way orjson would: dataclasses as
    objects of their fields, tuples as lists, NaN as null, keys as scalars; containers
    deeper than `depth` become TRUNCATED."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        if depth <= 0:
            return TRUNCATED
        return {_key(k): plain(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if depth <= 0:
            return TRUNCATED
        return [plain(item, depth - 1) for item in value]
    return str(value)


def _key(key: Any) -> str | int | float | bool | None:
    return key if isinstance(key, str | int | float | bool) or key is None else str(key)


def dumps(value: Any) -> str:
    return encode(value).decode("utf-8")


def decode(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # a lone surrogate, escaped by the standard library
        return json.loads(data)
