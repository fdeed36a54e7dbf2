"""What the compose files say about a service, resolved from the kit's settings without Docker.

`export helm` runs where no compose binary may exist, yet must give the charts the same image
tags, environment, entrypoint and command the compose stack runs. So this module reads
compose/*.yml with PyYAML (anchors and merge keys included) and applies compose's variable
interpolation to them: `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`,
`${NAME?error}`, `${NAME:+value}`, `${NAME+value}`, `$NAME` and `$$`, nested defaults too.
A unit test checks the result against what the real `docker compose config` resolves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


@dataclass(frozen=True)
class Resolved:
    """An interpolated string and every variable it referred to (to tell secrets apart)."""

    text: str
    names: frozenset[str]


def interpolate(template: str, values: Mapping[str, str]) -> Resolved:
    """Resolve `template` as compose would with `values` as its environment."""
    names: set[str] = set()
    return Resolved(_Interpolator(values, names).expand(template), frozenset(names))


class _Interpolator:
    def __init__(self, values: Mapping[str, str], names: set[str]) -> None:
        self._values = values
        self._names = names

    def expand(self, text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            char = text[i]
            if char != "$" or i + 1 == len(text):
                out.append(char)
                i += 1
            elif text[i + 1] == "$":
                out.append("$")
                i += 2
            elif text[i + 1] == "{":
                end = _closing_brace(text, i + 2)
                out.append(self._braced(text[i + 2 : end]))
                i = end + 1
            elif match := _NAME.match(text, i + 1):
                out.append(self._lookup(match.group()) or "")
                i = match.end()
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def _lookup(self, name: str) -> str | None:
        self._names.add(name)
        return self._values.get(name)

    def _braced(self, body: str) -> str:
        match = _NAME.match(body)
        if match is None:
            raise ConfigError(
                f"compose file: invalid variable reference ${{{body}}}",
                fix="Correct the compose file: references read ${NAME} or ${NAME:-default}.",
            )
        name, rest = match.group(), body[match.end() :]
        value = self._lookup(name)
        if not rest:
            return value or ""
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            raise ConfigError(
                f"compose file: unsupported reference ${{{body}}}",
                fix="Use one of compose's forms: ${NAME:-default}, ${NAME:?error}, ${NAME:+value}.",
            )
        word = rest[len(operator) :]
        present = value is not None
        filled = bool(value)
        if operator in (":-", "-"):
            use_value = filled if operator == ":-" else present
            return value if use_value and value is not None else self.expand(word)
        if operator in (":+", "+"):
            use_word = filled if operator == ":+" else present
            return self.expand(word) if use_word else ""
        required_ok = filled if operator == ":?" else present
        if required_ok:
            return value or ""
        raise ConfigError(
            f"{name} is not set ({self.expand(word) or 'required by the compose files'})",
            fix=f"Set {name} in .env, or run `python manage_langfuse.py init`.",
        )


def _closing_brace(text: str, start: int) -> int:
    """The index of the `}` closing the reference opened just before `start`."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ConfigError(
        f"compose file: unclosed variable reference in {text[: start + 20]!r}",
        fix="Close every ${ with a }.",
    )


@dataclass(frozen=True)
class EnvEntry:
    """One variable a service's container gets, and whether any secret setting feeds it."""

    name: str
    value: str
    secret: bool


@dataclass(frozen=True)
class ComposeService:
    """A service as the compose files declare it, interpolated."""

    image: str
    entrypoint: tuple[str, ...]
    command: tuple[str, ...]
    environment: tuple[EnvEntry, ...]

    def env(self) -> dict[str, str]:
        return {entry.name: entry.value for entry in self.environment}


def read_service(
    files: tuple[Path, ...], name: str, values: Mapping[str, str], secret_names: frozenset[str]
) -> ComposeService:
    """The service `name` from the first of `files` that declares it, resolved with `values`.

    `secret_names` are the settings whose values are secrets: an entry referring to any of
    them is marked secret, so its value goes into a Kubernetes Secret, never into values.
    """
    raw = _raw_service(files, name)
    return ComposeService(
        image=interpolate(str(raw.get("image", "")), values).text,
        entrypoint=_strings(raw.get("entrypoint"), values),
        command=_strings(raw.get("command"), values),
        environment=_environment(raw.get("environment") or {}, values, secret_names),
    )


def _raw_service(files: tuple[Path, ...], name: str) -> dict[str, Any]:
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        service = (document.get("services") or {}).get(name)
        if service is not None:
            return service
    raise ConfigError(
        f"no compose file declares the service {name!r}",
        fix=f"Restore {name!r} in compose/*.yml; `export helm` reads its settings from there.",
    )


def _strings(raw: object, values: Mapping[str, str]) -> tuple[str, ...]:
    """An entrypoint or command, list form or a string split on spaces, interpolated."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else str(raw).split()
    return tuple(interpolate(str(item), values).text for item in items)


def _environment(
    raw: Mapping[str, object] | list[object],
    values: Mapping[str, str],
    secret_names: frozenset[str],
) -> tuple[EnvEntry, ...]:
    """Compose's two forms: a mapping, or a list of NAME=value (a bare NAME passes through)."""
    entries: list[EnvEntry] = []
    pairs = (
        [(str(k), "" if v is None else str(v)) for k, v in raw.items()]
        if isinstance(raw, Mapping)
        else [(str(item), None) for item in raw]
    )
    for key, template in pairs:
        if template is None:
            resolved = interpolate(key, values)
            name, equals, value = resolved.text.partition("=")
            if not equals:
                # A bare name takes its value from the environment; unset, compose drops it.
                value = values.get(name, "")
                if not value:
                    continue
                resolved = Resolved(resolved.text, resolved.names | {name})
        else:
            resolved = interpolate(template, values)
            name, value = key, resolved.text
        entries.append(EnvEntry(name, value, bool(resolved.names & secret_names)))
    return tuple(entries)
