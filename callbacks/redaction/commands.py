"""Credentials on a command line: `redis-cli -a pw`, `mysql -ppw`, `curl -u user:pw`,
`docker login -p pw`, `--password pw`, `--token tok`.

`ProgramRule` knows where one program takes a password (its trigger is the program's name);
`FlagRule` takes the value after any flag whose name says it is secret (`--api-key`,
`--client-secret`, `-password`) or such a name after `set`, separated by a space
(`--password=pw` is an assignment).
A command ends at the end of its line (a line ending in `\\` goes on), at `|`, `;` or `&`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .assignments import is_placeholder, name_kind
from .rules import Finding

__all__ = ["FlagRule", "ProgramRule", "program_rules"]

# A value: quoted (spaces, `;` and `&` included; the quote perhaps escaped, in JSON text) or
# bare; the quotes stay, what is inside them is the secret.
_VALUE = r"""(?P<quote>\\?['"])?(?P<secret>(?(quote)[^'"\n\\]+|[^\s'"`|;&\\]+))"""
# Where a command ends: a line break not continued by `\`, as a character or as a JSON escape;
# where the next command starts, a value no longer belongs to this one.
_LINE_END = re.compile(r"(?<!\\)\n|(?<!\\\\)\\n")
_NEXT_COMMAND = re.compile(r"[|;&]")
_MAX_COMMAND = 2000
# A program's name starts a word, or follows a path or an escape (`\n` in a JSON text).
_PROGRAM_START = frozenset(" \t\n/\"'`($=")
_METAVAR = re.compile(r"[A-Z][A-Z0-9_-]*")
_DIGIT_OR_SYMBOL = re.compile(r"[^A-Za-z]")
MIN_VALUE_LENGTH = 4
# A letters-only value this long is a token, not a word of prose.
MIN_LETTERS_ONLY_TOKEN = 16


def _command(text: str, at: int) -> tuple[int, int]:
    """Where the command starting at `at` ends: its line, and the start of the next command."""
    limit = min(len(text), at + _MAX_COMMAND)
    line = _LINE_END.search(text, at, limit)
    line_end = line.start() if line else limit
    after = _NEXT_COMMAND.search(text, at, line_end)
    return line_end, after.start() if after else line_end


def _starts_a_word(text: str, at: int) -> bool:
    return at == 0 or text[at - 1] in _PROGRAM_START or text.endswith(("\\n", "\\t"), 0, at)


def _credible(value: str) -> bool:
    """A value that may be a secret: not a placeholder, a metavar (`--token TOKEN`) or a word."""
    if len(value) < MIN_VALUE_LENGTH or is_placeholder(value) or _METAVAR.fullmatch(value):
        return False
    return bool(_DIGIT_OR_SYMBOL.search(value)) or len(value) >= MIN_LETTERS_ONLY_TOKEN


@dataclass(frozen=True)
class ProgramRule:
    """The password a program takes in its own way; `program` is matched at the trigger and
    `secret` (group `secret`) searched in the rest of the command."""

    triggers: tuple[str, ...]
    program: re.Pattern[str]
    secret: re.Pattern[str]
    kind: str = "password"

    def find(self, text: str, at: int) -> Iterator[Finding]:
        program = self.program.match(text, at)
        if not program or not _starts_a_word(text, at):
            return
        line_end, next_command = _command(text, at)
        for match in self.secret.finditer(text, program.end() - 1, line_end):
            if match.start() >= next_command:
                break
            value = match.group("secret")
            if len(value) >= 3 and not is_placeholder(value):
                yield Finding(match.start("secret"), match.end("secret"), self.kind)


def _program(triggers: tuple[str, ...], program: str, secret: str) -> ProgramRule:
    return ProgramRule(triggers, re.compile(program + r"[ \t]"), re.compile(secret))


def program_rules() -> list[ProgramRule]:
    login = r"[ \t](?:-p|--password)[ \t=]+" + _VALUE
    return [
        _program(("redis-cli",), "redis-cli", r"[ \t](?:-a|--pass)[ \t]+" + _VALUE),
        _program(
            ("mysql", "mariadb"),
            r"(?:mysql|mariadb)(?:dump|admin|import|show|check|-dump|-admin)?",
            r"[ \t]-p" + _VALUE,
        ),
        _program(("sshpass",), "sshpass", r"[ \t]-p[ \t]*" + _VALUE),
        _program(
            ("mongo",),
            r"mongo(?:sh|dump|restore|export|import|stat|top)?",
            r"[ \t](?:-p|--password)[ \t=]+" + _VALUE,
        ),
        _program(
            ("keytool",), "keytool", r"[ \t]-(?:src|dest|new)?(?:store|key)?pass[ \t]+" + _VALUE
        ),
        _program(
            ("curl",),
            "curl",
            r"[ \t](?:-u|--user|--proxy-user|-U)[ \t=]*['\"]?[^\s:'\"]*:"
            r"(?P<secret>[^\s'\"`|;&\\@]+)",
        ),
        _program(("curl",), "curl", r"[ \t]--oauth2-bearer[ \t]+" + _VALUE),
        # docker login, podman login, helm registry login, az login, ...: -p is a password only
        # after `login` (for `docker run`, it is a port).
        _program(("login",), "login", login),
    ]


@dataclass(frozen=True)
class FlagRule:
    """The value after a flag whose name says it is secret (`--password pw`, `--token tok`),
    or after such a name that a `set` command sets (`aws configure set aws_secret_access_key
    VALUE`)."""

    triggers: tuple[str, ...]

    def find(self, text: str, at: int) -> Iterator[Finding]:
        name_start, limit = at, max(0, at - _MAX_FLAG_NAME)
        while name_start > limit and text[name_start - 1] in _FLAG_CHARACTERS:
            name_start -= 1
        is_flag = text[name_start] == "-" and _starts_a_word(text, name_start)
        if not is_flag and not _SET_BEFORE.search(text, max(0, name_start - 8), name_start):
            return
        match = _FLAG_VALUE.match(text, at)
        if not match:
            return
        kind = name_kind(text[name_start : match.end("name_rest")])
        value = match.group("secret")
        if kind is not None and _credible(value):
            yield Finding(match.start("secret"), match.end("secret"), kind)


_MAX_FLAG_NAME = 64
# `aws configure set aws_secret_access_key VALUE`, `npm config set ... VALUE`: a name after `set`.
_SET_BEFORE = re.compile(r"(?<![\w-])set[ \t]+\Z")
_FLAG_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_FLAG_VALUE = re.compile(r"(?P<name_rest>[A-Za-z0-9_-]*)[ \t]+" + _VALUE)
