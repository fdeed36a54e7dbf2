"""The kinds of rule a secret is found by, and the `Finding` each yields.

A rule names its *triggers*: literals that every secret of its kind contains, at the spot
where the rule's own pattern starts; a trigger in lower case matches in any case, one with an
upper-case letter exactly. The redactor finds all triggers in one fast pass (scanner.py) and
asks a rule to look only there, so a rule may use a precise pattern that would be far too slow
to search 100 KB with.

A rule yields `Finding`s: the span to replace and the kind its placeholder names. Spans keep
what is not secret readable (the user and host of a URL, the name of a variable).

- `ShapeRule`: the secret is recognisable on its own (`AKIA...`, `sk-ant-...`, PEM blocks, JWTs).
- `NeighbourRule`: a secret recognisable only beside another (AWS secret key next to its id).
- `AssignmentRule` (assignments.py): the value given to a name that says "secret".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Finding", "NeighbourRule", "Rule", "ShapeRule", "literal_rule"]


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str


class Rule(Protocol):
    """A kind of secret, looked for where its triggers are. A rule may say it is `gated`
    (see ShapeRule); one that does not say is not."""

    triggers: tuple[str, ...]

    def find(self, text: str, at: int) -> Iterator[Finding]:
        """Secrets of this rule whose trigger starts at `at` in `text`."""
        ...


@dataclass(frozen=True)
class ShapeRule:
    """A secret recognisable by its own shape; group `secret` (else the match) is replaced.

    `gated`: the pattern matches its triggers in exact case and they are rare in ordinary
    text, so the scanner looks for them only once a search finds one (scanner.py).
    """

    kind: str
    triggers: tuple[str, ...]
    pattern: re.Pattern[str]
    gated: bool = False

    def find(self, text: str, at: int) -> Iterator[Finding]:
        match = self.pattern.match(text, at)
        if match:
            group = "secret" if "secret" in self.pattern.groupindex else 0
            yield Finding(match.start(group), match.end(group), self.kind)


@dataclass(frozen=True)
class NeighbourRule:
    """A secret recognised because an `anchor` (matched at the trigger) stands close to it."""

    kind: str
    triggers: tuple[str, ...]
    anchor: re.Pattern[str]
    neighbour: re.Pattern[str]
    reach: int
    gated: bool = False

    def find(self, text: str, at: int) -> Iterator[Finding]:
        anchor = self.anchor.match(text, at)
        if not anchor:
            return
        # Widen the window to whole tokens so a neighbour is never cut into a shorter match.
        start = _widen_left(text, max(0, anchor.start() - self.reach))
        end = _widen_right(text, min(len(text), anchor.end() + self.reach))
        for match in self.neighbour.finditer(text, start, end):
            yield Finding(match.start(), match.end(), self.kind)


_TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _widen_left(text: str, position: int) -> int:
    while position > 0 and text[position - 1] in _TOKEN_CHARACTERS:
        position -= 1
    return position


def _widen_right(text: str, position: int) -> int:
    while position < len(text) and text[position] in _TOKEN_CHARACTERS:
        position += 1
    return position


def literal_rule(kind: str, value: str) -> ShapeRule:
    """A rule for one known secret value (from the environment), matched exactly."""
    return ShapeRule(kind, (value,), re.compile(re.escape(value)))
