"""A copy of a JSON-like value whose strings are listed, so all are scanned at once.

Walks dicts, lists, tuples, pydantic models (`model_dump()`) and other objects (`str()`);
tool-call `arguments` that hold JSON text are decoded, so their contents are scanned as text,
and encoded again only if something in them was replaced. Dict keys are kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["StringSlots"]

_MAX_DEPTH = 100
_JSON_TEXT_KEYS = frozenset({"arguments"})
_SCALARS = frozenset({int, float, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})


class StringSlots:
    """A copy of a JSON-like value whose strings are listed, to be replaced after one scan."""

    def __init__(self, value: Any) -> None:
        self.strings: list[str] = []
        self._places: list[tuple[Any, Any]] = []
        self._json_texts: list[tuple[Any, Any, list[Any], int, int]] = []
        self._root = self._container([value], 0)

    def filled(self, redacted: list[str]) -> Any:
        """The copy with `redacted[i]` in place of `strings[i]`."""
        for (container, key), new, old in zip(self._places, redacted, self.strings, strict=True):
            if new is not old:
                container[key] = new
        # Inner JSON texts were registered first, so outer ones see their new text.
        for container, key, holder, first, last in self._json_texts:
            if any(redacted[i] is not self.strings[i] for i in range(first, last)):
                container[key] = json.dumps(holder[0], ensure_ascii=False)
        return self._root[0]

    def _container(self, value: Mapping[Any, Any] | Sequence[Any], depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise RecursionError("value nested too deeply to redact")
        if type(value) is dict or isinstance(value, Mapping):
            copy: Any = {}
            items: Iterable[tuple[Any, Any]] = value.items()
        else:
            copy = [None] * len(value)
            items = enumerate(value)
        for key, item in items:
            copy[key] = self._item(copy, key, item, depth)
        return copy

    def _item(self, container: Any, key: Any, item: Any, depth: int) -> Any:
        kind = type(item)
        if kind is str and key not in _JSON_TEXT_KEYS:  # the common case first: it is hot
            self._places.append((container, key))
            self.strings.append(item)
            return item
        if kind in _SCALARS:
            return item
        if kind in _CONTAINERS or isinstance(item, Mapping | list | tuple):
            return self._container(item, depth + 1)
        if callable(getattr(item, "model_dump", None)):  # LiteLLM's pydantic types
            return self._container([item.model_dump()], depth + 1)[0]
        text = item if isinstance(item, str) else _as_text(item)
        if key in _JSON_TEXT_KEYS and text[:1] in ("{", "["):
            decoded = _json_or_none(text)
            if decoded is not None:
                first = len(self.strings)
                holder = self._container([decoded], depth + 1)
                self._json_texts.append((container, key, holder, first, len(self.strings)))
                return text
        self._places.append((container, key))
        self.strings.append(text)
        return text


def _as_text(item: Any) -> str:
    if isinstance(item, bytes | bytearray):
        return bytes(item).decode("utf-8", "replace")
    return str(item)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
