"""`keys`: list, add, revoke, rotate and change the developer keys of the keys file, and
set, list and remove the limits of its teams (`keys team ...`).

The file is parsed exactly as the proxy parses it (callbacks/keys_file.py), every change is
checked the same way before it is written, and it is written atomically with mode 0600, so a
running proxy sees either the old file or the new one, within a second. A new key is printed
once, on stdout; nothing else ever shows more than its last four characters. Each change
touches only the lines of the entry or team it changes: comments elsewhere are kept.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import console, developer_keys, settings
from ..developer_keys import KeysFileDocument
from ..errors import ConfigError
from . import shown_path

_BUDGET = re.compile(r"^(\d+(?:\.\d+)?)(?:/(day|week|month))?$")
KEY_BYTES = 24


def _select(doc: KeysFileDocument, selector: str) -> tuple[int, dict[str, Any]]:
    """The one entry whose alias, user or last four key characters is `selector`: its index,
    and a copy to change."""
    matches = [
        (index, dict(entry))
        for index, entry in enumerate(doc.keys)
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
    """Options of `keys add`, `keys set` and `keys team set`; None leaves a field as it is,
    "none" clears it."""

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


def _open(env_file: Path) -> tuple[settings.Settings, KeysFileDocument]:
    values = settings.load(env_file, validate=False)
    return values, developer_keys.read(developer_keys.keys_path(values))


def _write(doc: KeysFileDocument, values: settings.Settings) -> None:
    developer_keys.write(doc, values)
    if doc.comments_lost:
        console.warn(
            f"{shown_path(doc.path)} was rewritten whole (its layout is not one the kit edits "
            "line by line): its comments were not kept"
        )


def add(env_file: Path, user: str, alias: str | None, changes: LimitChanges) -> int:
    values, doc = _open(env_file)
    key = new_key()
    entry: dict[str, Any] = {"key": key, "user": user}
    if alias:
        entry["alias"] = alias
    changes.apply(entry)
    doc.add_key(entry)
    _write(doc, values)
    console.success(
        f"added a key for {user} to {shown_path(doc.path)}; give it to them now, it is not "
        "shown again"
    )
    console.out.print(key, markup=False)
    return console.EXIT_OK


def revoke(env_file: Path, selector: str) -> int:
    values, doc = _open(env_file)
    index, entry = _select(doc, selector)
    doc.remove_key(index)
    _write(doc, values)
    console.success(f"revoked the key …{entry['key'][-4:]} of {entry['user']}")
    return console.EXIT_OK


def rotate(env_file: Path, selector: str) -> int:
    values, doc = _open(env_file)
    index, entry = _select(doc, selector)
    old = entry["key"]
    entry["key"] = new_key()
    doc.replace_key(index, entry)
    _write(doc, values)
    console.success(
        f"replaced the key …{old[-4:]} of {entry['user']}; the old key is refused from now on. "
        "The new key is not shown again"
    )
    console.out.print(entry["key"], markup=False)
    return console.EXIT_OK


def set_limits(env_file: Path, selector: str, changes: LimitChanges) -> int:
    values, doc = _open(env_file)
    index, entry = _select(doc, selector)
    changes.apply(entry)
    doc.replace_key(index, entry)
    _write(doc, values)
    console.success(f"changed the key …{entry['key'][-4:]} of {entry['user']}: {_limits(entry)}")
    return console.EXIT_OK


def _members(doc: KeysFileDocument, team: str) -> list[dict[str, Any]]:
    return [e for e in doc.keys if isinstance(e, dict) and e.get("team") == team]


def set_team(env_file: Path, name: str, changes: LimitChanges) -> int:
    values, doc = _open(env_file)
    teams = doc.teams or {}
    limits = dict(teams.get(name) or {})
    changes.apply(limits)
    doc.set_team(name, limits)
    _write(doc, values)
    verb = "changed" if name in teams else "added"
    console.success(f"{verb} the team {name} in {shown_path(doc.path)}: {_limits(limits)}")
    return console.EXIT_OK


def remove_team(env_file: Path, name: str) -> int:
    values, doc = _open(env_file)
    if name not in (doc.teams or {}):
        raise ConfigError(
            f"{shown_path(doc.path)} has no team {name!r}", fix="`keys team list` names them."
        )
    members = [str(e.get("user")) for e in _members(doc, name)]
    if members:
        raise ConfigError(
            f"team {name} still has {len(members)} key(s): {', '.join(members)}",
            fix="Move them first (`keys set USER --team OTHER`, or `--team none`) or revoke "
            "them; nothing was written.",
        )
    doc.remove_team(name)
    _write(doc, values)
    console.success(f"removed the team {name} from {shown_path(doc.path)}")
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


def _spend(env_file: Path) -> tuple[KeysFileDocument, Any, dict[str, Any], str]:
    """The file, as the proxy parses it, and this period's figures by ledger scope; the last
    value is what to show when a scope has no figures ("?" when the ledger is unreachable)."""
    values, doc = _open(env_file)
    parsed = developer_keys.check(doc, values)
    for problem in parsed.problems:
        console.warn(problem)
    try:
        return doc, parsed, developer_keys.spending(parsed.entries, values, time.time()), "-"
    except developer_keys.LedgerUnreachable as error:
        console.warn(f"spend unknown: {error.message}")
        return doc, parsed, {}, "?"


def _figures(spend: developer_keys.ScopeSpend | None, unknown: str) -> tuple[str, str]:
    if spend is None:
        return unknown, unknown
    return f"${spend.spent / 1_000_000:,.2f}", str(spend.requests)


def list_teams(env_file: Path) -> int:
    doc, _, figures, unknown = _spend(env_file)
    rows = [
        (
            str(name),
            _limits(limits if isinstance(limits, dict) else {}),
            str(len(_members(doc, name))),
            *_figures(figures.get(f"team:{name}"), unknown),
        )
        for name, limits in (doc.teams or {}).items()
    ]
    console.table(
        f"Teams in {shown_path(doc.path)} (spent: this budget period; req/min: this minute)",
        ("team", "limits", "keys", "spent", "req/min"),
        rows,
    )
    return console.EXIT_OK


def list_keys(env_file: Path) -> int:
    doc, parsed, figures, unknown = _spend(env_file)
    keys_file = developer_keys.callbacks().keys_file
    by_digest = {keys_file.digest(str(e.get("key"))): e for e in doc.keys if isinstance(e, dict)}
    rows = []
    for digest, entry in by_digest.items():
        if digest not in parsed.entries:
            spent, requests = "refused", "-"
        else:
            spent, requests = _figures(figures.get(f"key:{digest[:16]}"), unknown)
        rows.append(
            (
                str(entry.get("user", "?")),
                str(entry.get("team") or "-"),
                keys_file.mask_key(str(entry.get("key", ""))),
                _limits(entry),
                spent,
                requests,
            )
        )
    console.table(
        f"Keys in {shown_path(doc.path)} (spent: this budget period; req/min: this minute)",
        ("user", "team", "key", "limits", "spent", "req/min"),
        rows,
    )
    return console.EXIT_OK
