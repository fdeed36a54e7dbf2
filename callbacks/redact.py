"""Redact secrets from everything the callback spools or exports.

    redactor = Redactor.from_env()
    clean, counts = redactor.redact(messages)     # a copy; counts == {"aws_access_key_id": 1}
    redactor.redact_text("key AKIA...")           # 'key [REDACTED:aws_access_key_id]'
    texts, counts = redactor.redact_json(messages)  # each message as redacted JSON text

`redact` walks JSON-like values: dicts, lists, strings (message lists with content blocks,
responses, tool results), and decodes tool-call `arguments` that hold JSON text so their
contents are redacted as text and encoded again. The copy keeps the shape (tuples become
lists, pydantic models their `model_dump()`, other objects their `str()`); dict keys are kept
as they are. Each secret becomes
`[REDACTED:<kind>]`; what each kind looks like is in `redact_patterns.py`.

Never raises: if a string cannot be scanned, that whole string becomes
`[REDACTED:unscannable]`; if the value cannot be walked (nested too deeply, a broken object),
the whole value does. Data never passes unredacted because of an error.

Speed (the whole callback has 1 ms of CPU per 100 KB prompt): most of a prompt holds no
trigger at all. A value (or, with `redact_json`, each message) is first encoded as JSON and
screened for triggers in one Rust regex search (`TriggerScreen`); what holds none is returned
as it is. The rest is walked: its strings are joined and lower-cased once; each regex pass
looks for one "pivot" character, chosen so that a few passes cover the trigger literals of
every rule; a rule's precise pattern runs only where its trigger is. Long strings are
remembered with their result (bounded), because agents such as Cline send the whole
conversation again on every turn. `bench/redaction.py` prints the figures.

Configuration, read once by `Redactor.from_env`:
    LLMOPS_REDACT_EXTRA_PATTERNS  a JSON list; each item a regex string (kind "custom") or
                                  {"kind": "name", "pattern": "regex"}; a group named
                                  `secret` limits what is replaced. Each is searched
                                  through every string: keep it simple and start it with
                                  a literal, so it stays fast.
    LLMOPS_REDACT_ALLOW           a JSON list of strings never redacted (a finding equal to
                                  one of them is kept).
The values of this process's own environment variables whose names say they are secret
(LITELLM_MASTER_KEY, AWS_SECRET_ACCESS_KEY, LANGFUSE_SECRET_KEY, ...; 8 characters or
more) are redacted wherever they appear, the placeholder naming the variable.
"""

from __future__ import annotations

import json
import os
import re
import threading
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic_core import SchemaValidator, core_schema

from .jsontext import decode, dumps, encode, encode_plain
from .redact_patterns import BUILTIN_RULES, Rule, is_placeholder, literal_rule, name_kind

EXTRA_PATTERNS_VARIABLE = "LLMOPS_REDACT_EXTRA_PATTERNS"
ALLOW_VARIABLE = "LLMOPS_REDACT_ALLOW"
UNSCANNABLE = "unscannable"
CUSTOM = "custom"
MIN_KNOWN_SECRET_LENGTH = 8
# Code has about one trigger per 2,000 characters; one per 16 is an attack or noise.
MAX_TRIGGERS_PER_CHARACTER = 1 / 16


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


class RedactionConfigError(ValueError):
    """An LLMOPS_REDACT_* variable cannot be used; the message names it and the fix."""


class Redacted(NamedTuple):
    value: Any
    counts: dict[str, int]


@dataclass(frozen=True)
class ExtraPattern:
    kind: str
    pattern: re.Pattern[str]


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
        rules: list[Rule] = [*literal_rules, *BUILTIN_RULES]
        self._rules_by_trigger: dict[str, list[tuple[int, Rule]]] = {}
        for priority, rule in enumerate(rules):
            for trigger in rule.triggers:
                self._rules_by_trigger.setdefault(trigger, []).append((priority, rule))
        self._scanner = TriggerScanner(self._rules_by_trigger)
        self._screen = TriggerScreen(
            _with_json_escaped_forms(self._rules_by_trigger) | set(DECODED_ESCAPES)
        )
        self._extra = tuple(extra_patterns)
        self._extra_priority = len(rules)
        self._allow = frozenset(allow)
        self._recent = _RecentResults(remember_chars)

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
        return text is None or bool(self._extra) or self._screen.holds_trigger(text)

    def _walked(self, value: Any) -> Redacted:
        """Every string of `value` scanned and its secrets replaced, in a copy."""
        try:
            copy = _StringSlots(value)
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
        for text, findings in zip(pending, self._find(pending), strict=True):
            result, kinds = self._replace(text, findings) if findings else (text, [])
            if kinds:
                for index in todo[text]:
                    results[index] = result
                    counts.update(kinds)
            self._recent.put(text, result, kinds)
        return results, dict(counts)

    def _find(self, texts: list[str]) -> list[list[tuple[int, int, int, str]]]:
        """(start, end, priority, kind) of every finding, per text, over one joined scan."""
        joined = "\x00".join(texts)
        starts: list[int] = []
        offset = 0
        for text in texts:
            starts.append(offset)
            offset += len(text) + 1
        findings: list[list[tuple[int, int, int, str]]] = [[] for _ in texts]
        hits = sorted(self._scanner.find(joined))
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
            for priority, rule in self._rules_by_trigger[trigger]:
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


# --- finding trigger literals fast -------------------------------------------------------------


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


class TriggerScreen:
    """Says whether a text may hold a trigger, without saying where.

    Most of a prompt holds none; this check runs in the Rust regex engine that pydantic-core
    (a LiteLLM dependency) ships, where an alternation of literals is searched about ten
    times faster than the passes of `TriggerScanner`. Every trigger is searched in any case,
    in the lower-cased text (which keeps the engine on its fast literal search): a superset
    of the scanner's hits, as a screen must be. Every character that is not a letter or
    digit is written as a hex escape, so no trigger can break the pattern.
    """

    def __init__(self, triggers: Iterable[str]) -> None:
        pattern = "|".join(sorted({_rust_literal(trigger.lower()) for trigger in triggers}))
        schema = core_schema.str_schema(pattern=pattern, regex_engine="rust-regex")
        self._search = SchemaValidator(schema).isinstance_python

    def holds_trigger(self, text: str) -> bool:
        return self._search(text.lower())


def _rust_literal(text: str) -> str:
    return "".join(c if c.isalnum() else f"\\x{{{ord(c):x}}}" for c in text)


# In the JSON text of tool-call arguments, which itself sits in JSON, the walk decodes
# `\\uXXXX` and `\\/`: a trigger written with them is only seen by the walk, so they flag too.
DECODED_ESCAPES = ("\\\\u", "\\\\/")


def _with_json_escaped_forms(triggers: Iterable[str]) -> set[str]:
    """Each trigger as a string holds it, and as JSON writes it once and twice (a secret
    with a quote or a backslash in it, in a message and in a tool call's arguments)."""
    forms = set(triggers)
    for trigger in list(forms):
        once = encode(trigger).decode("utf-8")[1:-1]
        forms.update((once, encode(once).decode("utf-8")[1:-1]))
    return forms


# --- walking JSON-like values ------------------------------------------------------------------

_MAX_DEPTH = 100
_JSON_TEXT_KEYS = frozenset({"arguments"})
_SCALARS = frozenset({int, float, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})


class _StringSlots:
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


# --- remembering results for long strings ------------------------------------------------------


class _RecentResults:
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


# --- configuration -----------------------------------------------------------------------------

_KIND = re.compile(r"[a-z][a-z0-9_]*")


def parse_extra_patterns(raw: str) -> list[ExtraPattern]:
    """LLMOPS_REDACT_EXTRA_PATTERNS: a JSON list of regexes or {"kind", "pattern"} objects."""
    patterns: list[ExtraPattern] = []
    for item in _json_list(EXTRA_PATTERNS_VARIABLE, raw):
        if isinstance(item, str):
            kind, source = CUSTOM, item
        elif isinstance(item, dict) and set(item) == {"kind", "pattern"}:
            kind, source = item["kind"], item["pattern"]
        else:
            raise RedactionConfigError(
                f"{EXTRA_PATTERNS_VARIABLE}: each item must be a regex string or "
                f'{{"kind": "...", "pattern": "..."}}, not {type(item).__name__}'
            )
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise RedactionConfigError(
                f"{EXTRA_PATTERNS_VARIABLE}: kind {kind!r} must be lower-case letters, "
                "digits and underscores"
            )
        try:
            patterns.append(ExtraPattern(kind, re.compile(source)))
        except (re.error, TypeError) as error:
            raise RedactionConfigError(
                f"{EXTRA_PATTERNS_VARIABLE}: pattern {source!r} is not a valid regex: {error}"
            ) from None
    return patterns


def parse_allow_list(raw: str) -> list[str]:
    """LLMOPS_REDACT_ALLOW: a JSON list of strings."""
    items = _json_list(ALLOW_VARIABLE, raw)
    if not all(isinstance(item, str) for item in items):
        raise RedactionConfigError(f"{ALLOW_VARIABLE}: every item must be a string")
    return items


def _json_list(variable: str, raw: str) -> list[Any]:
    if not raw.strip():
        return []
    try:
        items = json.loads(raw)
    except ValueError as error:
        raise RedactionConfigError(
            f'{variable} must be a JSON list, e.g. ["first", "second"]: {error}'
        ) from None
    if not isinstance(items, list):
        raise RedactionConfigError(f'{variable} must be a JSON list, e.g. ["first", "second"]')
    return items


def known_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """Secret values of `environ`, by kind (the variable's name in lower case)."""
    return {
        name.lower(): value
        for name, value in environ.items()
        if len(value) >= MIN_KNOWN_SECRET_LENGTH
        and name_kind(name) is not None
        and not is_placeholder(value)
    }
