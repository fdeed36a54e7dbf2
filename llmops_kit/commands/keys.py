"""`keys`: list, add, revoke, rotate and change the developer keys of the keys file.

The file is parsed exactly as the proxy parses it (callbacks/keys_file.py), every change is
checked the same way before it is written, and it is written atomically with mode 0600, so a
running proxy sees either the old file or the new one, within a second. A new key is printed
once, on stdout; nothing else ever shows more than its last four characters. Comments in the
file are not kept when the kit rewrites it.
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


def add(env_file: Path, user: str, alias: str | None, changes: LimitChanges) -> int:
    values = settings.load(env_file, validate=False)
    doc = developer_keys.read(developer_keys.keys_path(values))
    key = new_key()
    entry: dict[str, Any] = {"key": key, "user": user}
    if alias:
        entry["alias"] = alias
    changes.apply(entry)
    doc.keys.append(entry)
    developer_keys.write(doc, values)
    console.success(
        f"added a key for {user} to {shown_path(doc.path)}; give it to them now, it is not "
        "shown again"
    )
    console.out.print(key, markup=False)
    return console.EXIT_OK


def revoke(env_file: Path, selector: str) -> int:
    values = settings.load(env_file, validate=False)
    doc = developer_keys.read(developer_keys.keys_path(values))
    entry = _select(doc, selector)
    doc.keys.remove(entry)
    developer_keys.write(doc, values)
    console.success(f"revoked the key …{entry['key'][-4:]} of {entry['user']}")
    return console.EXIT_OK


def rotate(env_file: Path, selector: str) -> int:
    values = settings.load(env_file, validate=False)
    doc = developer_keys.read(developer_keys.keys_path(values))
    entry = _select(doc, selector)
    old = entry["key"]
    entry["key"] = new_key()
    developer_keys.write(doc, values)
    console.success(
        f"replaced the key …{old[-4:]} of {entry['user']}; the old key is refused from now on. "
        "The new key is not shown again"
    )
    console.out.print(entry["key"], markup=False)
    return console.EXIT_OK


def set_limits(env_file: Path, selector: str, changes: LimitChanges) -> int:
    values = settings.load(env_file, validate=False)
    doc = developer_keys.read(developer_keys.keys_path(values))
    entry = _select(doc, selector)
    changes.apply(entry)
    developer_keys.write(doc, values)
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


def list_keys(env_file: Path) -> int:
    values = settings.load(env_file, validate=False)
    doc = developer_keys.read(developer_keys.keys_path(values))
    parsed = developer_keys.check(doc, values)
    for problem in parsed.problems:
        console.warn(problem)
    keys_file = developer_keys.callbacks().keys_file
    by_digest = {keys_file.digest(str(e.get("key"))): e for e in doc.keys if isinstance(e, dict)}
    unknown = "-"
    try:
        figures = developer_keys.spending(parsed.entries, values, time.time())
    except developer_keys.LedgerUnreachable as error:
        console.warn(f"spend unknown: {error.message}")
        figures, unknown = {}, "?"
    rows = []
    for digest, entry in by_digest.items():
        own = figures.get(f"key:{digest[:16]}")
        if digest not in parsed.entries:
            spent, requests = "refused", "-"
        elif own is None:
            spent, requests = unknown, unknown
        else:
            spent, requests = f"${own.spent / 1_000_000:,.2f}", str(own.requests)
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
