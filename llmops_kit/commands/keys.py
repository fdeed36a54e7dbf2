"""`keys`: list, add, revoke, rotate and change the developer keys of the keys file.

The file is parsed exactly as the proxy parses it (callbacks/keys_file.py), every change is
checked the same way before it is written, and it is written atomically with mode 0600, so a
running proxy sees either the old file or the new one, within a second. A new key is printed
once, on stdout; nothing else ever shows more than its last four characters. Comments in the
file are not kept when the kit rewrites it.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from .. import console, settings
from ..errors import ConfigError
from ..litellm_config import callbacks_module
from ..proxy import NATIVE_DATA_DIR
from . import reports_errors, shown_path

_BUDGET = re.compile(r"^(\d+(?:\.\d+)?)(?:/(day|week|month))?$")
KEY_BYTES = 24


@dataclass
class KeysFileDocument:
    """The keys file as data: its entries (raw, with their keys) and its teams."""

    path: Path
    keys: list[dict[str, Any]]
    teams: dict[str, Any] | None  # None: the file is a plain list

    def dump(self) -> str:
        if self.teams is None:
            return yaml.safe_dump(self.keys, sort_keys=False)
        return yaml.safe_dump({"teams": self.teams, "keys": self.keys}, sort_keys=False)


def _callbacks() -> ModuleType:
    """callbacks/auth.py, which exposes the proxy's keys_file, limits and budget_runtime."""
    return callbacks_module("auth")


def _path(values: settings.Settings) -> Path:
    name = values.get("LLMOPS_KEYS_FILE", "")
    if not name:
        raise ConfigError(
            "LLMOPS_KEYS_FILE is not set, so the proxy accepts only the master key",
            fix="Set LLMOPS_KEYS_FILE=keys.yml in .env (the file is created by `keys add`).",
        )
    return values.root / name


def _read(path: Path) -> KeysFileDocument:
    if not path.exists():
        return KeysFileDocument(path, [], None)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(
            f"{shown_path(path)} cannot be read as YAML ({type(error).__name__})",
            fix="Correct it by hand first; `doctor` names the line.",
        ) from None
    if document is None:
        return KeysFileDocument(path, [], None)
    if isinstance(document, list):
        return KeysFileDocument(path, document, None)
    if isinstance(document, dict):
        return KeysFileDocument(path, list(document.get("keys") or []), document.get("teams") or {})
    raise ConfigError(f"{shown_path(path)} is neither a list nor a mapping of keys and teams")


def _check(doc: KeysFileDocument, values: settings.Settings) -> Any:
    """Parse the document as the proxy will; ConfigError naming the line if it would refuse."""
    keys_file = _callbacks().keys_file
    try:
        return keys_file.load_keys(
            doc.dump(),
            source=shown_path(doc.path),
            master_key=values.get("LITELLM_MASTER_KEY", ""),
        )
    except keys_file.KeysFileError as error:
        raise ConfigError(str(error)) from None


def _write(doc: KeysFileDocument, values: settings.Settings) -> None:
    parsed = _check(doc, values)
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


def _select(doc: KeysFileDocument, selector: str) -> dict[str, Any]:
    """The one entry whose alias, user or last four key characters is `selector`."""
    matches = [
        entry
        for entry in doc.keys
        if isinstance(entry, dict)
        and selector
        in (entry.get("alias"), entry.get("user"), "…" + str(entry.get("key", ""))[-4:])
    ]
    if len(matches) != 1:
        found = "no key" if not matches else f"{len(matches)} keys"
        raise ConfigError(
            f"{found} of {shown_path(doc.path)} match {selector!r}",
            fix="Name one key by its alias, its user, or …<last 4 characters> (`keys list`).",
        )
    return matches[0]


def new_key() -> str:
    return "sk-" + secrets.token_hex(KEY_BYTES)


@dataclass(frozen=True)
class LimitChanges:
    """Options of `keys add` and `keys set`; None leaves a field as it is, "none" clears it."""

    budget: str | None = None
    rpm: str | None = None
    tpm: str | None = None
    models: str | None = None
    expires: str | None = None
    team: str | None = None

    def apply(self, entry: dict[str, Any]) -> None:
        if self.budget is not None:
            entry.pop("budget_usd", None)
            entry.pop("budget_period", None)
            if self.budget != "none":
                match = _BUDGET.match(self.budget)
                if match is None:
                    raise ConfigError(
                        f"--budget {self.budget}: expected AMOUNT or AMOUNT/PERIOD",
                        fix="For example --budget 50/month, --budget 5/day; none removes it.",
                    )
                entry["budget_usd"] = float(match.group(1))
                if match.group(2):
                    entry["budget_period"] = match.group(2)
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None:
                entry.pop(name, None)
                if value != "none":
                    if not value.isdigit():
                        raise ConfigError(f"--{name} {value}: expected a whole number or none")
                    entry[name] = int(value)
        if self.models is not None:
            entry.pop("models", None)
            if self.models != "none":
                entry["models"] = [m.strip() for m in self.models.split(",") if m.strip()]
        for name in ("expires", "team"):
            value = getattr(self, name)
            if value is not None:
                entry.pop(name, None)
                if value != "none":
                    entry[name] = value


@reports_errors
def add(env_file: Path, user: str, alias: str | None, changes: LimitChanges) -> int:
    values = settings.load(env_file, validate=False)
    doc = _read(_path(values))
    key = new_key()
    entry: dict[str, Any] = {"key": key, "user": user}
    if alias:
        entry["alias"] = alias
    changes.apply(entry)
    doc.keys.append(entry)
    _write(doc, values)
    console.success(
        f"added a key for {user} to {shown_path(doc.path)}; give it to them now, it is not "
        "shown again"
    )
    console.out.print(key, markup=False)
    return console.EXIT_OK


@reports_errors
def revoke(env_file: Path, selector: str) -> int:
    values = settings.load(env_file, validate=False)
    doc = _read(_path(values))
    entry = _select(doc, selector)
    doc.keys.remove(entry)
    _write(doc, values)
    console.success(f"revoked the key …{entry['key'][-4:]} of {entry['user']}")
    return console.EXIT_OK


@reports_errors
def rotate(env_file: Path, selector: str) -> int:
    values = settings.load(env_file, validate=False)
    doc = _read(_path(values))
    entry = _select(doc, selector)
    old = entry["key"]
    entry["key"] = new_key()
    _write(doc, values)
    console.success(
        f"replaced the key …{old[-4:]} of {entry['user']}; the old key is refused from now on. "
        "The new key is not shown again"
    )
    console.out.print(entry["key"], markup=False)
    return console.EXIT_OK


@reports_errors
def set_limits(env_file: Path, selector: str, changes: LimitChanges) -> int:
    values = settings.load(env_file, validate=False)
    doc = _read(_path(values))
    entry = _select(doc, selector)
    changes.apply(entry)
    _write(doc, values)
    console.success(f"changed the key …{entry['key'][-4:]} of {entry['user']}: {_limits(entry)}")
    return console.EXIT_OK


def _limits(entry: Mapping[str, Any]) -> str:
    parts = []
    if entry.get("budget_usd") is not None:
        parts.append(f"${entry['budget_usd']:g}/{entry.get('budget_period', 'month')}")
    parts += [f"{entry[n]} {n}" for n in ("rpm", "tpm") if entry.get(n) is not None]
    if entry.get("models"):
        parts.append("models " + ",".join(entry["models"]))
    if entry.get("expires"):
        parts.append(f"expires {entry['expires']}")
    return ", ".join(parts) or "no limits"


def ledger_environ(values: settings.Settings) -> dict[str, str]:
    """Where the proxy keeps its ledger, as budget_runtime reads it."""
    return {
        "LLMOPS_LEDGER_URL": values.get("LLMOPS_LEDGER_URL", ""),
        "LLMOPS_LEDGER_DIR": os.environ.get("LLMOPS_LEDGER_DIR", str(NATIVE_DATA_DIR / "ledger")),
    }


def spending(entries: Mapping[str, Any], values: settings.Settings, now: float) -> dict:
    """{key digest: (spent micro-dollars or None, requests this minute)}; None when unknown."""
    modules = _callbacks()
    environ = ledger_environ(values)
    ledger_file = Path(environ["LLMOPS_LEDGER_DIR"]) / "ledger.sqlite3"
    if not environ["LLMOPS_LEDGER_URL"] and not ledger_file.exists():
        return {digest: (0, 0) for digest in entries}
    zone = modules.limits.zone_from(values.get("LLMOPS_BUDGET_TIMEZONE", ""))
    try:
        ledger = modules.budget_runtime.open_ledger(environ)
        figures = {}
        for digest, entry in entries.items():
            scopes = modules.limits.scopes_for(digest, entry, now, zone)
            own = [s.scope for s in scopes if s.scope.name.startswith("key:")]
            usage = ledger.usage(own[0], now) if own else None
            figures[digest] = (usage.spent, usage.requests) if usage else (0, 0)
        return figures
    except modules.budget_runtime.LedgerUnavailable as error:
        console.warn(f"spend unknown: {error}")
        return {digest: (None, 0) for digest in entries}


@reports_errors
def list_keys(env_file: Path) -> int:
    values = settings.load(env_file, validate=False)
    doc = _read(_path(values))
    parsed = _check(doc, values)
    for problem in parsed.problems:
        console.warn(problem)
    keys_file = _callbacks().keys_file
    by_digest = {keys_file.digest(str(e.get("key"))): e for e in doc.keys if isinstance(e, dict)}
    figures = spending(parsed.entries, values, time.time())
    rows = []
    for digest, entry in by_digest.items():
        spent, requests = figures.get(digest, (None, 0))
        raw_limits = _limits(entry)
        parsed_entry = parsed.entries.get(digest)
        state = "refused" if parsed_entry is None else _shown_spend(spent)
        rows.append(
            (
                str(entry.get("user", "?")),
                str(entry.get("team") or "-"),
                keys_file.mask_key(str(entry.get("key", ""))),
                raw_limits,
                state,
                str(requests),
            )
        )
    console.table(
        f"Keys in {shown_path(doc.path)} (spent: this budget period; req/min: this minute)",
        ("user", "team", "key", "limits", "spent", "req/min"),
        rows,
    )
    return console.EXIT_OK


def _shown_spend(micros: int | None) -> str:
    return "?" if micros is None else f"${micros / 1_000_000:,.2f}"
