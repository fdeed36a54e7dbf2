"""The redactor: secrets in any JSON-like value replaced by placeholders naming their kind.

Each secret becomes `[REDACTED:<kind>]`; catalog.py says what each kind looks like. Never
raises: if a string cannot be scanned, that whole string becomes `[REDACTED:unscannable]`; if
the value cannot be walked (nested too deeply, a broken object), the whole value does. Data
never passes unredacted because of an error.

The work, cheapest first (the whole callback has 1 ms of CPU per 100 KB prompt): a value (or,
with `redact_json`, each message) is encoded as JSON and screened for triggers in one search
(screen.py); what holds none is returned as it is. The rest is walked (walk.py) and its
strings are scanned together (scanner.py), a rule's precise pattern running only where its
trigger is. Long strings are remembered with their result (recent.py).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ..jsontext import decode, dumps, encode_plain
from .catalog import BUILTIN_RULES
from .environment import (
    ALLOW_VARIABLE,
    EXTRA_PATTERNS_VARIABLE,
    ExtraPattern,
    known_secrets,
    parse_allow_list,
    parse_extra_patterns,
)
from .recent import RecentResults
from .rules import literal_rule
from .scanner import UNSCANNABLE, PatternScanner, placeholder
from .screen import DECODED_ESCAPES, TriggerScreen, with_json_escaped_forms
from .walk import StringSlots

__all__ = ["UNSCANNABLE", "Redacted", "Redactor", "placeholder"]


class Redacted(NamedTuple):
    value: Any
    counts: dict[str, int]


class Redactor:
    """Replaces secrets with placeholders naming their kind. Built once, used from any thread."""

    def __init__(
        self,
        *,
        extra_patterns: Sequence[ExtraPattern] = (),
        allow: Iterable[str] = (),
        known_secrets: Mapping[str, str] | None = None,
        remember_chars: int = 4_000_000,
    ) -> None:
        literal_rules = [literal_rule(kind, value) for kind, value in (known_secrets or {}).items()]
        self._scanner = PatternScanner([*literal_rules, *BUILTIN_RULES], extra_patterns, allow)
        self._screen = TriggerScreen(
            with_json_escaped_forms(self._scanner.folded_triggers) | set(DECODED_ESCAPES)
        )
        self._gated_screen = TriggerScreen(
            with_json_escaped_forms(self._scanner.exact_triggers), fold_case=False
        )
        self._recent = RecentResults(remember_chars)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor configured by LLMOPS_REDACT_* and knowing the secrets in `environ`."""
        environ = os.environ if environ is None else environ
        return cls(
            extra_patterns=parse_extra_patterns(environ.get(EXTRA_PATTERNS_VARIABLE, "")),
            allow=parse_allow_list(environ.get(ALLOW_VARIABLE, "")),
            known_secrets=known_secrets(environ),
        )

    @property
    def pivots(self) -> str:
        """The characters of the scan passes (one pass each), for the benchmark."""
        return self._scanner.pivots

    def redact_text(self, text: str) -> str:
        return self.redact(text).value

    def redact(self, value: Any) -> Redacted:
        """A redacted copy of `value` and how many secrets of each kind it held."""
        text = encode_plain(value)
        if text is not None and not self._may_hold_secret(text.decode("utf-8")):
            return Redacted(decode(text), {})
        return self._walked(value)

    def redact_json(self, items: Sequence[Any]) -> Redacted:
        """The JSON text of a redacted copy of each item, and how many secrets they held.

        An item of plain JSON data whose text holds no trigger has nothing to replace: its
        text is used as it is, without a copy or a walk. The others are walked, together.
        """
        encoded = [encode_plain(item) for item in items]
        texts = [text.decode("utf-8") if text is not None else None for text in encoded]
        flagged = [index for index, text in enumerate(texts) if self._may_hold_secret(text)]
        if not flagged:
            return Redacted(texts, {})
        cleaned, counts = self._walked([items[index] for index in flagged])  # one scan for all
        if not isinstance(cleaned, list):  # the walk failed: `cleaned` is one placeholder
            cleaned = [cleaned] * len(flagged)
        for index, item in zip(flagged, cleaned, strict=True):
            texts[index] = dumps(item)
        return Redacted(texts, counts)

    def _may_hold_secret(self, text: str | None) -> bool:
        """False only for the JSON text of plain data without a trigger (as JSON writes it)
        or an escape the walk would decode (in tool-call arguments); always True when extra
        patterns are set, since those have no triggers."""
        return (
            text is None
            or self._scanner.has_patterns_without_triggers
            or self._screen.holds_trigger(text)
            or self._gated_screen.holds_trigger(text)
        )

    def _walked(self, value: Any) -> Redacted:
        """Every string of `value` scanned and its secrets replaced, in a copy."""
        try:
            copy = StringSlots(value)
            strings, counts = self._redact_strings(copy.strings)
            return Redacted(copy.filled(strings), counts)
        except Exception:
            return Redacted(placeholder(UNSCANNABLE), {UNSCANNABLE: 1})

    def _redact_strings(self, texts: list[str]) -> tuple[list[str], dict[str, int]]:
        try:
            return self._redact_batch(texts)
        except Exception:
            # Find out which strings fail, so only those are lost.
            results: list[str] = []
            counts: Counter[str] = Counter()
            for text in texts:
                try:
                    [result], found = self._redact_batch([text])
                except Exception:
                    result, found = placeholder(UNSCANNABLE), {UNSCANNABLE: 1}
                results.append(result)
                counts.update(found)
            return results, dict(counts)

    def _redact_batch(self, texts: list[str]) -> tuple[list[str], dict[str, int]]:
        results: list[str] = list(texts)
        counts: Counter[str] = Counter()
        todo: dict[str, list[int]] = {}  # a text repeated (a file read twice) is scanned once
        for index, text in enumerate(texts):
            remembered = self._recent.get(text)
            if remembered is None:
                todo.setdefault(text, []).append(index)
            elif remembered[1]:
                results[index] = remembered[0]
                counts.update(remembered[1])
        if not todo:
            return results, dict(counts)
        pending = list(todo)
        for text, (result, kinds) in zip(pending, self._scanner.redact(pending), strict=True):
            if kinds:
                for index in todo[text]:
                    results[index] = result
                    counts.update(kinds)
            self._recent.put(text, result, kinds)
        return results, dict(counts)
