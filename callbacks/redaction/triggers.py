"""Where trigger literals occur in a text: the pass that tells each rule where to look.

A trigger in lower case matches in any case; one with an upper-case letter matches exactly.
The text is lower-cased once; each regex pass looks for one "pivot" character, chosen so that
a few passes cover the trigger literals of every rule (`choose_pivots`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["TriggerScanner", "choose_pivots"]


def _pairs(text: str) -> Iterator[tuple[str, str]]:
    words = text.split()
    return zip(words[::2], words[1::2], strict=True)


# Share in percent of each character in lower-cased code and prose (CPython's standard library
# and its docstrings); any other character: 0.1.
_PERCENT = {
    character: float(percent)
    for character, percent in _pairs(
        "a 4.7 b 1.0 c 2.4 d 2.5 e 8.6 f 2.1 g 1.1 h 1.8 i 4.6 j 0.1 k 0.4 l 3.0 m 1.8 n 4.6 "
        "o 4.2 p 1.8 q 0.1 r 4.5 s 4.6 t 6.1 u 1.9 v 0.6 w 0.6 x 0.5 y 0.8 z 0.1 0 0.3 1 0.2 "
        "2 0.2 - 0.5 _ 1.1 . 1.4 : 0.6 = 0.5"
    )
}
# A regex pass costs one scan of the text (~0.3 ns a character) plus a check wherever its pivot
# occurs (~15 ns): in passes, 1% of the text being checked costs about 0.6 of a scan.
_COST_PER_PERCENT = 0.6


def _pass_cost(character: str) -> float:
    return 1 + _COST_PER_PERCENT * _PERCENT.get(character, 0.1)


def choose_pivots(triggers: Iterable[str]) -> dict[str, int]:
    """For each (lower-case) trigger the index of its pivot, so few, cheap passes cover all.

    Greedy weighted set cover: take the character that covers the most uncovered triggers per
    unit of cost, until every trigger holds a chosen character.
    """
    uncovered = set(triggers)
    chosen: set[str] = set()
    while uncovered:
        candidates = sorted({character for trigger in uncovered for character in trigger})
        best = max(candidates, key=lambda c: sum(c in t for t in uncovered) / _pass_cost(c))
        chosen.add(best)
        uncovered = {trigger for trigger in uncovered if best not in trigger}
    return {
        trigger: trigger.index(min((c for c in set(trigger) & chosen), key=_pass_cost))
        for trigger in set(triggers)
    }


class TriggerScanner:
    """Finds every occurrence of a set of trigger literals.

    A trigger in lower case matches in any case; one with an upper-case letter matches exactly.
    The text is lower-cased once; one regex pass per pivot character (`choose_pivots`) looks
    for the pivot, so the regex engine skips to it quickly, then checks what surrounds it as a
    trie, so a mismatch costs one comparison.
    """

    def __init__(self, triggers: Iterable[str]) -> None:
        folded: dict[str, list[str]] = {}  # lower-case form -> the triggers written so
        for trigger in set(triggers):
            folded.setdefault(trigger.lower(), []).append(trigger)
        by_pivot: dict[str, list[tuple[str, int]]] = {}
        for lowered, index in choose_pivots(folded).items():
            by_pivot.setdefault(lowered[index], []).append((lowered, index))
        self._passes = [
            (re.compile(_pass_pattern(pivot, entries)), entries)
            for pivot, entries in sorted(by_pivot.items())
        ]
        self._folded = folded
        self.pivots = "".join(sorted(by_pivot))

    def find(self, text: str) -> list[tuple[int, str]]:
        """(start, trigger) of every trigger occurrence in `text`."""
        lowered = _lower_aligned(text)
        hits: list[tuple[int, str]] = []
        for pattern, entries in self._passes:
            for match in pattern.finditer(lowered):
                pivot = match.start()
                for folded, index in entries:
                    start = pivot - index
                    if start >= 0 and lowered.startswith(folded, start):
                        hits += (
                            (start, trigger)
                            for trigger in self._folded[folded]
                            if trigger.islower() or text.startswith(trigger, start)
                        )
        return hits


def _pass_pattern(pivot: str, entries: list[tuple[str, int]]) -> str:
    """The pivot, then what follows it as a trie; each leaf looks back over its whole trigger.

    The regex engine resumes after a match; where a trigger holds the pivot again past its
    pivot, only the pivot may be consumed (a lookahead checks the rest), or an overlapping
    occurrence would be skipped.
    """
    trie: dict[str, Any] = {}
    for trigger, index in entries:
        node = trie
        for character in trigger[index + 1 :]:
            node = node.setdefault(character, {})
        node.setdefault("", set()).add(trigger if index else "")
    rest = _trie_pattern(trie)
    if any(pivot in trigger[index + 1 :] for trigger, index in entries):
        rest = f"(?={rest})"
    return re.escape(pivot) + rest


def _trie_pattern(node: dict[str, Any]) -> str:
    alternatives = [re.escape(c) + _trie_pattern(node[c]) for c in sorted(node) if c]
    alternatives += sorted(f"(?<={re.escape(t)})" if t else "" for t in node.get("", ()))
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower_aligned(text: str) -> str:
    """`text` lower-cased with every character in its place (a few letters lower to two)."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)
