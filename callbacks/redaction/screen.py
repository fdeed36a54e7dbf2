"""Whether a text may hold a trigger at all: the screen that lets most of a prompt through.

Most of a prompt holds no trigger; this check runs in the Rust regex engine that pydantic-core
(a LiteLLM dependency) ships, where an alternation of literals is searched about ten times
faster than the passes of `TriggerScanner`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic_core import SchemaValidator, core_schema

from ..jsontext import encode

__all__ = ["DECODED_ESCAPES", "TriggerScreen", "with_json_escaped_forms"]


class TriggerScreen:
    """Says whether a text may hold a trigger, without saying where.

    Most of a prompt holds none; this check runs in the Rust regex engine that pydantic-core
    (a LiteLLM dependency) ships, where an alternation of literals is searched about ten
    times faster than the passes of `TriggerScanner`. Every trigger is searched in any case,
    in the lower-cased text (which keeps the engine on its fast literal search): a superset
    of the scanner's hits, as a screen must be. With `fold_case=False` the triggers are
    searched as written, in the text as it is (for rules that match in exact case only).
    Every character that is not a letter or digit is written as a hex escape, so no trigger
    can break the pattern.
    """

    def __init__(self, triggers: Iterable[str], *, fold_case: bool = True) -> None:
        fold = str.lower if fold_case else str
        literals = sorted({_rust_literal(fold(trigger)) for trigger in triggers})
        self._searches = [
            _search("|".join(literals[i : i + LITERALS_PER_SEARCH]))
            for i in range(0, len(literals), LITERALS_PER_SEARCH)
        ]
        self._fold = fold

    def holds_trigger(self, text: str) -> bool:
        folded = self._fold(text)
        # A loop: any() over a generator costs more, and this runs for every message.
        for search in self._searches:  # noqa: SIM110
            if search(folded):
                return True
        return False


# Past a few dozen literals the engine leaves its fastest (SIMD) search; several small searches
# cost less than one large one (bench/redaction.py).
LITERALS_PER_SEARCH = 16


def _search(pattern: str) -> Callable[[str], bool]:
    schema = core_schema.str_schema(pattern=pattern, regex_engine="rust-regex")
    return SchemaValidator(schema).isinstance_python


def _rust_literal(text: str) -> str:
    return "".join(c if c.isalnum() else f"\\x{{{ord(c):x}}}" for c in text)


# In the JSON text of tool-call arguments, which itself sits in JSON, the walk decodes
# `\\uXXXX` and `\\/`: a trigger written with them is only seen by the walk, so they flag too.
DECODED_ESCAPES = ("\\\\u", "\\\\/")


def with_json_escaped_forms(triggers: Iterable[str]) -> set[str]:
    """Each trigger as a string holds it, and as JSON writes it once and twice (a secret
    with a quote or a backslash in it, in a message and in a tool call's arguments)."""
    forms = set(triggers)
    for trigger in list(forms):
        once = encode(trigger).decode("utf-8")[1:-1]
        forms.update((once, encode(once).decode("utf-8")[1:-1]))
    return forms
