"""Results for recently seen long strings: agents such as Cline send the whole conversation
again on every turn, so its history is scanned once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

__all__ = ["RecentResults"]


class RecentResults:
    """Results for recently seen long strings, least recently used dropped past a size cap."""

    MIN_CHARS = 1024

    def __init__(self, max_chars: int) -> None:
        self._max_chars = max_chars
        self._chars = 0
        self._results: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> tuple[str, tuple[str, ...]] | None:
        if len(text) < self.MIN_CHARS:
            return None
        with self._lock:
            result = self._results.get(text)
            if result is not None:
                self._results.move_to_end(text)
            return result

    def put(self, text: str, result: str, kinds: Iterable[str]) -> None:
        if len(text) < self.MIN_CHARS or len(text) > self._max_chars:
            return
        with self._lock:
            if text not in self._results:
                self._chars += len(text)
            self._results[text] = (result, tuple(kinds))
            while self._chars > self._max_chars:
                dropped, _ = self._results.popitem(last=False)
                self._chars -= len(dropped)
