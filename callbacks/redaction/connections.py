"""Secrets inside connection strings: `Password=...;` (ADO.NET, ODBC, libpq `key=value`),
Azure `AccountKey=`, `SharedAccessKey=` and the `sig=` of a shared access signature.

Database URLs (`postgresql://user:pw@host`) are the `url_password` shape in catalog.py.
A `Password=` or `Pwd=` counts as a connection string's only beside another of its keys
(`Server=`, `Host=`, `User Id=`, `Database=`...) or a `;`, so `f(password=pw)` in code is
left to the assignment rule, which asks more of a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .assignments import is_placeholder
from .rules import Finding, ShapeRule

__all__ = ["ConnectionPasswordRule", "azure_rules"]

# A value runs to `;` or a space, or is quoted (`Password='a;b'`), its quote perhaps escaped.
_PASSWORD = re.compile(
    r"(?i:password|pwd)[ \t]*=[ \t]*(?P<quote>\\?['\"])?"
    r"(?P<secret>(?(quote)[^'\"\n\\]+|[^\s;\"'\\,(){}\[\]<>]+))"
)
_OTHER_KEYS = re.compile(
    r"(?i:server|host|hostname|data source|user id|uid|user|username|database|dbname|"
    r"initial catalog|port|driver|dsn|sslmode)[ \t]*="
)
_LOOK_AROUND = 200
MIN_PASSWORD_LENGTH = 3


@dataclass(frozen=True)
class ConnectionPasswordRule:
    """The password of a `key=value` connection string."""

    triggers: tuple[str, ...] = ("password=", "pwd=", "password =", "pwd =")
    kind: str = "password"

    def find(self, text: str, at: int) -> Iterator[Finding]:
        match = _PASSWORD.match(text, at)
        if not match or (at > 0 and (text[at - 1].isalnum() or text[at - 1] == "_")):
            return
        value = match.group("secret")
        if len(value) < MIN_PASSWORD_LENGTH or is_placeholder(value):
            return
        line_start = max(text.rfind("\n", 0, at) + 1, at - _LOOK_AROUND)
        line_end = text.find("\n", match.end())
        line_end = min(line_end if line_end >= 0 else len(text), match.end() + _LOOK_AROUND)
        around = text[line_start:at] + text[match.end() : line_end]
        if ";" in around or _OTHER_KEYS.search(around):
            yield Finding(match.start("secret"), match.end("secret"), self.kind)


def azure_rules() -> list[ShapeRule]:
    base64 = r"(?P<secret>[A-Za-z0-9+/]{20,}={0,2})"
    return [
        ShapeRule(
            "azure_storage_account_key",
            ("accountkey=",),
            re.compile(r"(?i:AccountKey)=" + base64),
        ),
        ShapeRule(
            "azure_shared_access_key",
            ("sharedaccesskey=",),
            re.compile(r"(?i:SharedAccessKey)=" + base64),
        ),
        # A shared access signature's `sig` parameter, in a SAS URL or connection string.
        ShapeRule(
            "azure_sas_signature",
            ("sig=",),
            re.compile(r"(?<=[?&;])sig=(?P<secret>[A-Za-z0-9%+/]{20,}(?:=|%3[Dd]){0,2})"),
        ),
    ]
