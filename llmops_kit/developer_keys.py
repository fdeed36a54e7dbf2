"""The developer keys file as the kit's commands and doctor see it, and the spend the proxy
recorded for each key. Parsing is the proxy's own (callbacks/keys_file.py, loaded as LiteLLM
loads it), so the kit never accepts a file the proxy would refuse, nor the reverse.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from . import keys_text, settings
from .console import shown_path
from .errors import ConfigError
from .litellm_config import callbacks_module
from .proxy import NATIVE_DATA_DIR


@dataclass
class KeysFileDocument:
    """The keys file: its text, and its entries (raw, with their keys) and teams as data.

    Each change is made on the text, line by line (keys_text.py), so the file's comments
    survive; when a layout defeats that, the file is dumped whole and `comments_lost` says so.
    """

    path: Path
    text: str
    keys: list[dict[str, Any]] = field(default_factory=list)
    teams: dict[str, Any] | None = None  # None: the file is a plain list
    comments_lost: bool = False

    def dump(self) -> str:
        return self.text

    def add_key(self, entry: dict[str, Any]) -> None:
        self._change(keys_text.append_key, [*self.keys, entry], self.teams, entry)

    def replace_key(self, index: int, entry: dict[str, Any]) -> None:
        keys = [*self.keys[:index], entry, *self.keys[index + 1 :]]
        self._change(keys_text.replace_key, keys, self.teams, index, entry)

    def remove_key(self, index: int) -> None:
        keys = [*self.keys[:index], *self.keys[index + 1 :]]
        self._change(keys_text.remove_key, keys, self.teams, index)

    def set_team(self, name: str, limits: dict[str, Any]) -> None:
        teams = {**(self.teams or {}), name: limits}
        self._change(keys_text.set_team, self.keys, teams, name, limits)

    def remove_team(self, name: str) -> None:
        teams = {k: v for k, v in (self.teams or {}).items() if k != name}
        self._change(keys_text.remove_team, self.keys, teams, name)

    def _change(
        self,
        edit: Callable[..., str],
        keys: list[dict[str, Any]],
        teams: dict[str, Any] | None,
        *args: Any,
    ) -> None:
        """Apply `edit` to the text; if the result does not read back as exactly the
        intended keys and teams, write the intended data as a plain dump instead."""
        try:
            text = edit(self.text, *args)
            exact = _sections(yaml.safe_load(text)) == (keys, teams)
        except (yaml.YAMLError, ConfigError, keys_text.UnsupportedLayout, IndexError):
            exact = False
        if not exact:
            intended = keys if teams is None else {"teams": teams, "keys": keys}
            text = yaml.safe_dump(intended, sort_keys=False)
            self.comments_lost = True
        self.text, self.keys, self.teams = text, keys, teams


def callbacks() -> ModuleType:
    """callbacks/auth.py, which exposes the proxy's keys_file, limits and budget_runtime."""
    return callbacks_module("auth")


def keys_path(values: settings.Settings) -> Path:
    name = values.get("LLMOPS_KEYS_FILE", "")
    if not name:
        raise ConfigError(
            "LLMOPS_KEYS_FILE is not set, so the proxy accepts only the master key",
            fix="Set LLMOPS_KEYS_FILE=keys.yml in .env (the file is created by `keys add`).",
        )
    return values.root / name


def _sections(document: Any) -> tuple[list[Any], dict[str, Any] | None]:
    """The keys and the teams of a parsed file (teams None for the plain list)."""
    if document is None:
        return [], None
    if isinstance(document, list):
        return document, None
    if isinstance(document, dict):
        return list(document.get("keys") or []), document.get("teams") or {}
    raise ConfigError("the keys file is neither a list nor a mapping of keys and teams")


def read(path: Path) -> KeysFileDocument:
    if not path.exists():
        return KeysFileDocument(path, "")
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(
            f"{shown_path(path)} cannot be read as YAML ({type(error).__name__})",
            fix="Correct it by hand first; `doctor` names the line.",
        ) from None
    try:
        keys, teams = _sections(document)
    except ConfigError:
        raise ConfigError(
            f"{shown_path(path)} is neither a list nor a mapping of keys and teams"
        ) from None
    return KeysFileDocument(path, text, keys, teams)


def check(doc: KeysFileDocument, values: settings.Settings) -> Any:
    """Parse the document as the proxy will; ConfigError naming the line if it would refuse."""
    keys_file = callbacks().keys_file
    try:
        return keys_file.load_keys(
            doc.dump(),
            source=shown_path(doc.path),
            master_key=values.get("LITELLM_MASTER_KEY", ""),
        )
    except keys_file.KeysFileError as error:
        raise ConfigError(str(error)) from None


def write(doc: KeysFileDocument, values: settings.Settings) -> None:
    parsed = check(doc, values)
    if parsed.problems:
        raise ConfigError(
            "; ".join(parsed.problems), fix="Nothing was written; correct the values given."
        )
    doc.path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".keys-", dir=doc.path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(doc.dump())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, doc.path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def ledger_environ(values: settings.Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Where the native proxy keeps its ledger, as budget_runtime reads it."""
    return {
        "LLMOPS_LEDGER_URL": values.get("LLMOPS_LEDGER_URL", ""),
        "LLMOPS_LEDGER_DIR": environ.get("LLMOPS_LEDGER_DIR", str(NATIVE_DATA_DIR / "ledger")),
    }


@dataclass(frozen=True)
class ScopeSpend:
    """One key's or team's figures this period, as the proxy's ledger holds them."""

    scope: str  # the ledger's name: key:<digest prefix> or team:<name>
    who: str
    budget: int | None  # micro-dollars
    period: str
    spent: int
    requests: int


class LedgerUnreachable(ConfigError):
    """The ledger the proxy uses cannot be read from here."""


def spending(
    entries: Mapping[str, Any],
    values: settings.Settings,
    now: float,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, ScopeSpend]:
    """Every limited key's and team's spend, by ledger scope name; LedgerUnreachable if unknown."""
    modules = callbacks()
    environ = ledger_environ(values, environ)
    zone = modules.limits.zone_from(values.get("LLMOPS_BUDGET_TIMEZONE", ""))
    named = {
        n.scope.name: n
        for digest, entry in entries.items()
        for n in modules.limits.scopes_for(digest, entry, now, zone)
    }
    ledger_file = Path(environ["LLMOPS_LEDGER_DIR"]) / "ledger.sqlite3"
    if not named or (not environ["LLMOPS_LEDGER_URL"] and not ledger_file.exists()):
        usage = dict.fromkeys(named, (0, 0))  # nothing recorded yet
    else:
        try:
            ledger = modules.budget_runtime.open_ledger(environ)
            usage = {}
            for name, n in named.items():
                figures = ledger.usage(n.scope, now)
                usage[name] = (figures.spent, figures.requests)
        except modules.budget_runtime.LedgerUnavailable as error:
            raise LedgerUnreachable(
                str(error), fix="Start the ledger (or correct LLMOPS_LEDGER_URL) and retry."
            ) from None
    return {
        name: ScopeSpend(name, n.who, n.scope.budget, n.scope.period, *usage[name])
        for name, n in named.items()
    }


NEAR_BUDGET = 0.9


def near_budget(figures: Mapping[str, ScopeSpend], share: float = NEAR_BUDGET) -> list[str]:
    """Keys and teams that spent `share` of their budget or more, as one phrase each."""
    return sorted(
        f"{s.who}: ${s.spent / 1e6:,.2f} of ${s.budget / 1e6:,.2f}"
        for s in figures.values()
        if s.budget and s.spent >= share * s.budget
    )


def current_spending(
    values: settings.Settings, environ: Mapping[str, str]
) -> dict[str, ScopeSpend] | None:
    """This period's spend of every limited key and team; None without a keys file or when the
    ledger is not readable from here (the stack's SQLite ledger is inside the proxy's volume).
    ConfigError when the keys file or the ledger cannot be read."""
    if not values.get("LLMOPS_KEYS_FILE", ""):
        return None
    ledger = ledger_environ(values, environ)
    if not ledger["LLMOPS_LEDGER_URL"] and not Path(ledger["LLMOPS_LEDGER_DIR"]).exists():
        return None
    parsed = check(read(keys_path(values)), values)
    return spending(parsed.entries, values, time.time(), environ)


def budget_summary(values: settings.Settings, environ: Mapping[str, str]) -> str | None:
    """`status`'s line about budgets; None when no key has limits or the ledger is not here."""
    try:
        figures = current_spending(values, environ)
    except ConfigError as error:
        return f"budgets: unknown ({error.message})"
    if figures is None:
        return None
    high = near_budget(figures)
    if not high:
        return "budgets: every key and team is under 90 % of its budget"
    return "budgets: at or near the budget: " + "; ".join(high)
