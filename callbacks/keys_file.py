"""The keys file (LLMOPS_KEYS_FILE): who each developer key belongs to and what it may spend.

Two shapes, both YAML or JSON. The list of today (each entry one key):

    - key: sk-...              required, "sk-" and at least 16 more characters, unique
      user: alice@example.com  required: the user on every trace
      team: platform           optional
      alias: alice-laptop      optional: which of the user's keys (default: the user)

or a mapping with that list under `keys:` and the teams' limits under `teams:`. Limit fields,
on a key or a team: `budget_usd`, `budget_period` (day, week or month; default month), `rpm`,
`tpm`, `models` (the model groups allowed; absent = all), `expires` (ISO date or date-time).
A key may also carry `forwards_users: true` (a trusted front end that names its own users).

Each entry is checked on its own: an invalid entry is refused (its key is not admitted) and
named by line and field, the valid entries are used. So a revocation takes effect even when
another line of the same edit is wrong, and a duplicated key refuses only the entries that
share it. A key is never echoed in a message: entries are named by line and user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("llmops.keys")

KEY_PREFIX = "sk-"
MIN_KEY_SECRET_CHARS = 16
EXAMPLE_KEY_MARKER = "replace-me"
PERIODS = ("day", "week", "month")
LIMIT_FIELDS = frozenset({"budget_usd", "budget_period", "rpm", "tpm", "models", "expires"})
KEY_FIELDS = frozenset({"key", "user", "team", "alias", "forwards_users"}) | LIMIT_FIELDS
# What a key looks like in text: used to find which keys a file that no longer parses lists.
_KEY_TOKEN = re.compile(r"sk-[A-Za-z0-9_\-]{16,}")


class KeysFileError(ValueError):
    """The keys file cannot be used as it is; the message names lines, never a key."""


@dataclass(frozen=True)
class Limits:
    """What a key or a team may use; None means no limit of that kind."""

    budget_usd: float | None = None
    budget_period: str = "month"
    rpm: int | None = None
    tpm: int | None = None
    models: tuple[str, ...] | None = None
    expires: dt.datetime | None = None

    @property
    def limited(self) -> bool:
        """Whether admitting a request under these limits needs the ledger."""
        return self.budget_usd is not None or self.rpm is not None or self.tpm is not None


@dataclass(frozen=True)
class KeyEntry:
    """One developer key, as the callbacks and the limits see it."""

    user: str
    team: str | None
    alias: str
    limits: Limits = field(default_factory=Limits)
    team_limits: Limits | None = None
    forwards_users: bool = False
    line: int = 0


@dataclass
class KeysDocument:
    """A parsed keys file: the usable entries by key digest, and what was refused."""

    entries: dict[str, KeyEntry] = field(default_factory=dict)
    teams: dict[str, Limits] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def digest(key: str) -> str:
    """How a key is held in memory and shown to LiteLLM: its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def mask_key(key: str) -> str:
    """Enough of a key to recognise it in a message: its prefix and last four characters."""
    if key.startswith(KEY_PREFIX) and len(key) >= len(KEY_PREFIX) + MIN_KEY_SECRET_CHARS:
        return f"{KEY_PREFIX}…{key[-4:]}"
    return "***"


class _Invalid(Exception):
    """One entry's problem, already worded with its line and field."""


class _Lines:
    """Line numbers of a composed YAML node tree, by path of keys and indexes."""

    def __init__(self, node: yaml.Node | None) -> None:
        self._node = node

    def of(self, *path: str | int) -> int:
        node = self._node
        line = node.start_mark.line + 1 if node is not None else 1
        for step in path:
            child = _child(node, step)
            if child is None:
                break
            node, line = child[1], child[0]
        return line


def _child(node: yaml.Node | None, step: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item = node.value[step]
        return item.start_mark.line + 1, item
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == step:
                return key_node.start_mark.line + 1, value_node
    return None


def _where(source: str, line: int, field_name: str | None = None) -> str:
    return f"{source}, line {line}" + (f", '{field_name}'" if field_name else "")


def _text(item: Mapping[str, Any], name: str, at: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{at}: must be a non-empty string")
    return value.strip()


def _positive(value: object, at: str, *, integer: bool) -> float | int:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        raise _Invalid(f"{at}: must be a positive {'whole ' if integer else ''}number")
    return value


def _expiry(value: object, at: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid(f"{at}: must be an ISO date such as 2027-01-31") from None
    else:
        raise _Invalid(f"{at}: must be an ISO date such as 2027-01-31")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_limits(item: Mapping[str, Any], source: str, lines: _Lines, *path: str | int) -> Limits:
    """The limit fields of one key or team; _Invalid names the first bad field and its line."""

    def at(name: str) -> str:
        return _where(source, lines.of(*path, name), name)

    values: dict[str, Any] = {}
    if item.get("budget_usd") is not None:
        values["budget_usd"] = float(_positive(item["budget_usd"], at("budget_usd"), integer=False))
    period = item.get("budget_period")
    if period is not None:
        if period not in PERIODS:
            raise _Invalid(f"{at('budget_period')}: must be one of {', '.join(PERIODS)}")
        values["budget_period"] = period
    for name in ("rpm", "tpm"):
        if item.get(name) is not None:
            values[name] = int(_positive(item[name], at(name), integer=True))
    models = item.get("models")
    if models is not None:
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            raise _Invalid(f"{at('models')}: must be a list of model group names")
        values["models"] = tuple(models)
    if item.get("expires") is not None:
        values["expires"] = _expiry(item["expires"], at("expires"))
    return Limits(**values)


def _unknown(item: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(map(str, item)) - allowed)
    if unknown:
        raise _Invalid(
            f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _key(item: Mapping[str, Any], at: str) -> str:
    key = item.get("key")
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        raise _Invalid(f"{at}: must be a string starting with '{KEY_PREFIX}'")
    if len(key) < len(KEY_PREFIX) + MIN_KEY_SECRET_CHARS or key != key.strip():
        raise _Invalid(
            f"{at}: too short or has spaces; use {KEY_PREFIX} and at least "
            f"{MIN_KEY_SECRET_CHARS} random characters"
        )
    if EXAMPLE_KEY_MARKER in key:
        raise _Invalid(f"{at}: still the example key; generate a random one")
    return key


def _entry(
    item: object, index: int, doc: KeysDocument, source: str, lines: _Lines, base: tuple
) -> tuple[str, KeyEntry]:
    path = (*base, index)
    line = lines.of(*path)
    if not isinstance(item, Mapping):
        raise _Invalid(f"{_where(source, line)}: expected a mapping with 'key' and 'user'")
    _unknown(item, KEY_FIELDS, _where(source, line))
    key = _key(item, _where(source, lines.of(*path, "key"), "key"))
    user = _text(item, "user", _where(source, lines.of(*path, "user"), "user"))
    if user is None:
        raise _Invalid(f"{_where(source, line)}: 'user' is required")
    team = _text(item, "team", _where(source, lines.of(*path, "team"), "team"))
    alias = _text(item, "alias", _where(source, lines.of(*path, "alias"), "alias")) or user
    forwards = item.get("forwards_users", False)
    if not isinstance(forwards, bool):
        where = _where(source, lines.of(*path, "forwards_users"), "forwards_users")
        raise _Invalid(f"{where}: must be true or false")
    team_limits = None
    if team is not None and doc.teams is not None and team in doc.teams:
        team_limits = doc.teams[team]
    return digest(key), KeyEntry(
        user=user,
        team=team,
        alias=alias,
        limits=parse_limits(item, source, lines, *path),
        team_limits=team_limits,
        forwards_users=forwards,
        line=line,
    )


def _teams(document: Mapping[str, Any], doc: KeysDocument, source: str, lines: _Lines) -> set:
    """Fill doc.teams; return the names of teams that were refused (their keys are too)."""
    teams = document.get("teams") or {}
    if not isinstance(teams, Mapping):
        raise KeysFileError(f"{_where(source, lines.of('teams'), 'teams')}: expected a mapping")
    refused = set()
    for name, item in teams.items():
        where = _where(source, lines.of("teams", name))
        try:
            if not isinstance(item, Mapping):
                raise _Invalid(f"{where}: team {name} needs a mapping of limits")
            _unknown(item, LIMIT_FIELDS, where)
            doc.teams[str(name)] = parse_limits(item, source, lines, "teams", name)
        except _Invalid as problem:
            doc.problems.append(f"{problem}; the keys of team {name} are refused")
            refused.add(str(name))
    return refused


def load_keys(text: str, *, source: str = "keys file", master_key: str = "") -> KeysDocument:
    """Parse keys file text entry by entry; KeysFileError only when nothing can be read."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise KeysFileError(f"{source} is not valid YAML or JSON{line}") from None
    doc = KeysDocument()
    if document is None:
        return doc
    lines = _Lines(root)
    if isinstance(document, Mapping):
        _unknown_top = sorted(set(map(str, document)) - {"keys", "teams"})
        if _unknown_top:
            raise KeysFileError(
                f"{source}: unknown section(s) {', '.join(_unknown_top)}; allowed: keys, teams"
            )
        refused_teams = _teams(document, doc, source, lines)
        items, base = document.get("keys") or [], ("keys",)
    else:
        refused_teams, items, base = set(), document, ()
    if not isinstance(items, list):
        raise KeysFileError(f"{source}: expected a list of entries with 'key' and 'user'")
    _entries(items, base, doc, refused_teams, source, lines, master_key)
    return doc


def _entries(
    items: list, base: tuple, doc: KeysDocument, refused_teams: set, source: str, lines, master
) -> None:
    master_digest = digest(master) if master else None
    seen: dict[str, list[KeyEntry]] = {}
    for index, item in enumerate(items):
        try:
            key_digest, entry = _entry(item, index, doc, source, lines, base)
        except _Invalid as problem:
            doc.problems.append(f"{problem}; this entry's key is refused")
            continue
        where = _where(source, entry.line)
        if key_digest == master_digest:
            doc.problems.append(f"{where}: reuses the master key; give each developer a new key")
            continue
        if entry.team in refused_teams:
            continue
        seen.setdefault(key_digest, []).append(entry)
    for key_digest, entries in seen.items():
        if len(entries) > 1:
            at = ", ".join(str(e.line) for e in entries)
            users = ", ".join(sorted({e.user for e in entries}))
            doc.problems.append(
                f"{source}, lines {at}: the same key for {users}; every copy is refused"
            )
            continue
        doc.entries[key_digest] = entries[0]


def parse_keys(
    text: str, *, source: str = "keys file", master_key: str = ""
) -> dict[str, KeyEntry]:
    """Parse strictly (for `start` and `doctor`): any refused entry is a KeysFileError."""
    doc = load_keys(text, source=source, master_key=master_key)
    if doc.problems:
        raise KeysFileError("; ".join(doc.problems))
    return doc.entries


def listed_digests(text: str) -> set[str]:
    """Digests of every key-shaped string in the text, for a file that no longer parses."""
    return {digest(token) for token in _KEY_TOKEN.findall(text)}


class KeysFile:
    """The keys file, re-read when its modification time or size changes.

    A file that no longer parses as YAML keeps in force only the earlier keys that it still
    lists (found by their text), so a typo does not lock everyone out and a removal is never
    undone. A file that disappears revokes every developer key.
    """

    def __init__(self, path: Path | None, *, master_key: str = "") -> None:
        self.path = path
        self._master_key = master_key
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, KeyEntry] = {}

    def lookup(self, key_digest: str) -> KeyEntry | None:
        self._refresh()
        return self._entries.get(key_digest)

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            status = self.path.stat()
        except OSError as error:
            if self._stamp != (-1, -1):
                log.error("keys file %s cannot be read (%s); no developer keys", self.path, error)
            self._stamp, self._entries = (-1, -1), {}
            return
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            log.error("keys file %s cannot be read (%s); no developer keys", self.path, error)
            self._entries = {}
            return
        self._reload(text)

    def _reload(self, text: str) -> None:
        try:
            doc = load_keys(text, source=str(self.path), master_key=self._master_key)
        except KeysFileError as error:
            listed = listed_digests(text)
            kept = {d: e for d, e in self._entries.items() if d in listed}
            log.error(
                "%s; keeping %d of the %d keys loaded before (those it still lists)",
                error,
                len(kept),
                len(self._entries),
            )
            self._entries = kept
            return
        for problem in doc.problems:
            log.error("%s", problem)
        self._entries = doc.entries
        log.info("keys file %s: %d developer keys", self.path, len(self._entries))
