"""Secrets found and replaced in a batch of strings: each rule runs where its trigger is.

The strings are joined and scanned for triggers at once (triggers.py); each rule's precise
pattern runs only where one of its triggers starts. The triggers of `gated` rules (vendor
prefixes, matched in exact case, absent from ordinary text) cost scan passes only when a
search in the text as it is (screen.py) finds one of them at all. Findings that overlap are
merged into one placeholder, named by the rule that comes first (catalog.py orders them).
Patterns from the environment have no triggers: they are searched through every string.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .environment import ExtraPattern
from .rules import Rule
from .screen import TriggerScreen
from .triggers import TriggerScanner

__all__ = ["UNSCANNABLE", "PatternScanner", "placeholder"]

UNSCANNABLE = "unscannable"
# Code has about one trigger per 2,000 characters; one per 16 is an attack or noise.
MAX_TRIGGERS_PER_CHARACTER = 1 / 16


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


class PatternScanner:
    """Finds the secrets of `rules` (earlier ones win) and of `extra` patterns, keeps `allow`."""

    def __init__(
        self, rules: Sequence[Rule], extra: Sequence[ExtraPattern], allow: Iterable[str]
    ) -> None:
        self.rules_by_trigger: dict[str, list[tuple[int, Rule]]] = {}
        for priority, rule in enumerate(rules):
            for trigger in rule.triggers:
                self.rules_by_trigger.setdefault(trigger, []).append((priority, rule))
        gated = {
            trigger
            for trigger, entries in self.rules_by_trigger.items()
            if all(getattr(rule, "gated", False) for _, rule in entries)
        }
        self.folded_triggers = frozenset(self.rules_by_trigger) - gated
        self.exact_triggers = frozenset(gated)
        self._triggers = TriggerScanner(self.folded_triggers)
        self._gated_triggers = TriggerScanner(self.exact_triggers)
        self._gate = TriggerScreen(self.exact_triggers, fold_case=False)
        self._extra = tuple(extra)
        self._extra_priority = len(rules)
        self._allow = frozenset(allow)

    @property
    def pivots(self) -> str:
        """The characters of the scan passes that always run."""
        return self._triggers.pivots

    @property
    def has_patterns_without_triggers(self) -> bool:
        return bool(self._extra)

    def redact(self, texts: list[str]) -> list[tuple[str, list[str]]]:
        """Each text with its secrets replaced, and the kind of each placeholder."""
        return [
            self._replace(text, findings) if findings else (text, [])
            for text, findings in zip(texts, self._find(texts), strict=True)
        ]

    def _find(self, texts: list[str]) -> list[list[tuple[int, int, int, str]]]:
        """(start, end, priority, kind) of every finding, per text, over one joined scan."""
        joined = "\x00".join(texts)
        starts: list[int] = []
        offset = 0
        for text in texts:
            starts.append(offset)
            offset += len(text) + 1
        findings: list[list[tuple[int, int, int, str]]] = [[] for _ in texts]
        hits = self._triggers.find(joined)
        if self._gate.holds_trigger(joined):
            hits += self._gated_triggers.find(joined)
        hits.sort()
        located = [(bisect_right(starts, position) - 1, position, t) for position, t in hits]
        # Text that is mostly triggers is not prose or code: it is replaced whole, unscanned.
        crowded = {
            which
            for which, n in Counter(which for which, _, _ in located).items()
            if n > MAX_TRIGGERS_PER_CHARACTER * len(texts[which]) + 100
        }
        for which in crowded:
            findings[which].append((0, len(texts[which]), -1, UNSCANNABLE))
        scanned_to: dict[tuple[int, int], int] = {}
        for which, position, trigger in located:
            if which in crowded:
                continue
            at = position - starts[which]
            for priority, rule in self.rules_by_trigger[trigger]:
                # A rule does not look again inside its own last finding (a PEM block's body).
                if at < scanned_to.get((priority, which), 0):
                    continue
                for found in rule.find(texts[which], at):
                    findings[which].append((found.start, found.end, priority, found.kind))
                    scanned_to[priority, which] = max(
                        found.end, scanned_to.get((priority, which), 0)
                    )
        for extra in self._extra:
            group = "secret" if "secret" in extra.pattern.groupindex else 0
            for which, text in enumerate(texts):
                for match in extra.pattern.finditer(text):
                    start, end = match.span(group)
                    findings[which].append((start, end, self._extra_priority, extra.kind))
        return findings

    def _replace(
        self, text: str, findings: list[tuple[int, int, int, str]]
    ) -> tuple[str, list[str]]:
        """`text` with overlapping findings merged and each region replaced by one placeholder."""
        regions: list[list[Any]] = []  # [start, end, priority, kind]
        for start, end, priority, kind in sorted(findings):
            if text[start:end] in self._allow:
                continue
            if regions and start < regions[-1][1]:
                region = regions[-1]
                region[1] = max(region[1], end)
                if priority < region[2]:
                    region[2:] = [priority, kind]
            else:
                regions.append([start, end, priority, kind])
        if not regions:
            return text, []
        pieces: list[str] = []
        position = 0
        for start, end, _, kind in regions:
            pieces += (text[position:start], placeholder(kind))
            position = end
        pieces.append(text[position:])
        return "".join(pieces), [region[3] for region in regions]
