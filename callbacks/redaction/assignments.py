"""Secrets that are the value given to a name that says "secret": `.env` lines, `export`,
YAML, JSON, CLI flags, URL query parameters (`DB_PASSWORD=...`, `"apiKey": "..."`).

A name such as `password` is not a secret; its value may be. Values that are references or
stand-ins (`${NAME}`, `<your-key>`, `os.environ/NAME`, `****`) and values that look like code
(`tokens[0]`, `self._secret`, `password: str`) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .rules import Finding

__all__ = ["NAME_KINDS", "AssignmentRule", "is_placeholder", "name_kind"]

# The kind an assignment's name says, first match wins; searched in the name's words joined by
# "_" and lower-cased (`AwsSecretAccessKey`, `aws-secret-access-key` -> `aws_secret_access_key`).
NAME_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("aws_secret_access_key", r"secret_?access_?key"),
        ("aws_session_token", r"(?:session|security)_?token"),
        ("litellm_master_key", r"master_?key"),
        ("private_key", r"private_?key"),
        ("api_key", r"(?:api|app|application)_?key"),
        ("access_key", r"(?:access|account)_?key"),
        ("password", r"passw(?:or)?d|_pwd$|(?:^|_)pass$"),
        ("secret", r"secret"),
        ("token", r"token"),
        ("credential", r"credential"),
        ("encryption_key", r"(?:encryption|signing)_?key"),
        ("authorization", r"authorization"),
        ("basic_auth", r"(?:^|_)auth$"),
    )
)
# Names too common in code and prose to trust any value: the value must look like a credential
# (Docker's config.json `"auth": "<base64 of user:password>"`, not `"auth": "basic"` or
# `'pass': 'The "pass" statement'`).
WEAK_NAME_KINDS = frozenset({"basic_auth"})
WEAK_NAMES = frozenset({"auth", "pass"})
MIN_WEAK_VALUE_LENGTH = 8
_CREDENTIAL_LIKE = re.compile(r"(?!.*\s)(?:(?=.*[0-9+/=])|(?=.*[a-z])(?=.*[A-Z]))")

# Words in a name that make it about a secret rather than a secret itself
# (MAX_TOKENS, PASSWORD_FILE, SECRET_NAME, TOKEN_URL, tokenizer, ...).
NOT_SECRET_NAME_WORDS = frozenset(
    (
        "max",
        "min",
        "num",
        "count",
        "limit",
        "limits",
        "size",
        "len",
        "length",
        "budget",
        "type",
        "types",
        "usage",
        "per",
        "ttl",
        "expiry",
        "expires",
        "expiration",
        "timeout",
        "file",
        "path",
        "dir",
        "url",
        "uri",
        "endpoint",
        "name",
        "names",
        "field",
        "header",
        "headers",
        "env",
        "var",
        "id",
        "ids",
        "policy",
        "rotation",
        "prompt",
        "pattern",
        "regex",
        "tokens",
        "tokenizer",
        "tokenize",
        "tokenized",
        "index",
        "version",
        "manager",
        "provider",
        "store",
        "format",
        "required",
        "validation",
        "valid",
        "reset",
        "forgot",
        "hint",
        "placeholder",
        "label",
        "prefix",
        "suffix",
        "cost",
        "costs",
        "rate",
        "window",
    )
)

_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

# Values that are references or stand-ins, not secrets.
_NOT_A_VALUE = re.compile(
    r"""(?ix)
    \$\{?[\w.:-]*\}?            # $NAME, ${NAME}
    | \$\(.*                    # $(cat token.txt)
    | \{\{?[^{}]*\}\}?          # {name}, {{ name }}
    | <[^<>]*>                  # <your-api-key>
    | %(?:\([^)]*\))?[sd]       # %s, %(name)s
    | os\.environ[/.\[].*       # LiteLLM's os.environ/NAME, os.environ["NAME"]
    | [*x.•]+ | \.\.\.          # ****, xxxx, ...
    | (?:none|null|nil|true|false|undefined|self|this|required|optional|string|str|bytes)
    | (?:password|passwd|secret|token|changeme|redacted|example|dummy|test|your[\w-]*)
    | \[REDACTED[^\]]*\]
    | .*(?:%[sdrif]|%\(|\{[\w.:!]*\}|\$\{).*   # a format string: '%s:%s', '{0}:{1}'
    """
)
# `password: str`, `token: Token`: type annotations, not YAML values.
_TYPE_NAME = re.compile(r"(?:int|float|bool|dict|list|tuple|set|object|any|[A-Z][A-Za-z]*)")
# `token = tokens[0]`, `secret = self._secret`, `password = get()`: code, not a value.
_CODE_REFERENCE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_DIGIT_OR_SYMBOL = re.compile(r"[^A-Za-z_]")
# Where a bare value that is not on an .env or YAML line ends.
_INLINE_VALUE_END = re.compile(r"[,;(){}\[\]<>&|]")
_AUTH_SCHEME = re.compile(r"(?:[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken|[Bb]ot)[ \t]+")
_CREDENTIALS = re.compile(r"[ \t]+([^\s\"'`\\,;]+)")
# Shorter quoted or inline values are too often punctuation or code ('"', 'tok').
MIN_VALUE_LENGTH = 4
_LINE_BREAK = re.compile(r"\n|\\n")
_LOOK_BACK = 200
_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")

_ASSIGNMENT = re.compile(
    r"""
    (?P<name_rest>[A-Za-z0-9_.-]*)      # the name goes on after the trigger
    (?P<name_quote>\\?["'])?            # closing quote of a quoted name, perhaps escaped
    (?P<before>[ \t]*)(?P<sep>:=|=>|=(?!=)|:(?![:/]))(?P<after>[ \t]*)
    (?:
        (?:[rRbBuUfF]{1,2})?(?P<quote>\\?["'`])(?P<quoted>(?:\\.|[^\\\n])*?)(?:(?P=quote)|$)
      | (?P<bare>[^\s"'`\\]+)(?P<line_rest>[^\n\\]{0,4096})
    )
    """,
    re.VERBOSE | re.MULTILINE,
)


def name_kind(name: str) -> str | None:
    """The kind of secret a variable called `name` holds, or None if it holds none."""
    words = [word.lower() for word in _NAME_WORDS.findall(name)]
    if NOT_SECRET_NAME_WORDS.intersection(words):
        return None
    joined = "_".join(words)
    for kind, pattern in NAME_KINDS:
        if pattern.search(joined):
            return kind
    return None


def is_placeholder(value: str) -> bool:
    return _NOT_A_VALUE.fullmatch(value.strip()) is not None


@dataclass(frozen=True)
class AssignmentRule:
    """The value assigned to a name that says it is secret; triggers are words of such names.

    `kinds` limits the rule to some kinds, so that the names that are more specific than any
    shape (LITELLM_MASTER_KEY=sk-...) can be given a higher priority than the shapes.
    """

    triggers: tuple[str, ...]
    kinds: frozenset[str]

    def find(self, text: str, at: int) -> Iterator[Finding]:
        match = _ASSIGNMENT.match(text, at)
        if not match:
            return
        name_start = at
        while name_start > 0 and text[name_start - 1] in _NAME_CHARACTERS:
            name_start -= 1
        if name_start > 0 and text[name_start - 1] == "\\" and text[name_start] in "nrt":
            name_start += 1  # `\nNAME=`: the n ends an escaped line break (JSON text)
        if text.endswith("://", 0, name_start):
            return  # the user of scheme://user:password@host; the URL rule has the password
        name = text[name_start : match.end("name_rest")]
        kind = name_kind(name)
        if kind not in self.kinds:
            return
        value = _secret_value(text, match, name, name_start, kind)
        weak = kind in WEAK_NAME_KINDS or name.lower() in WEAK_NAMES
        if value and _credible(text[value[0] : value[1]], weak):
            yield Finding(value[0], value[1], kind)


def _credible(value: str, weak: bool) -> bool:
    if is_placeholder(value):
        return False
    if weak:
        return len(value) >= MIN_WEAK_VALUE_LENGTH and bool(_CREDENTIAL_LIKE.match(value))
    return True


def _secret_value(
    text: str, match: re.Match[str], name: str, name_start: int, kind: str
) -> tuple[int, int] | None:
    """The span of the assigned value if it is data, None if it looks like code or prose."""
    quote = match.group("quote")
    if quote is not None:
        line_before = _line_before(text, name_start)
        if match.group("name_quote") is None and line_before and line_before.count(quote[-1]) % 2:
            return None  # print("token=" + t): the quote ends a string the name is in
        start, end = match.span("quoted")
        scheme = _AUTH_SCHEME.match(text, start, end)
        start = scheme.end() if scheme else start
        return (start, end) if end - start >= MIN_VALUE_LENGTH else None
    start, end = match.span("bare")
    value = match.group("bare")
    if kind == "authorization" and _AUTH_SCHEME.fullmatch(value + " "):
        credentials = _CREDENTIALS.match(text, end)  # Authorization: Bearer <credentials>
        return credentials.span(1) if credentials else None
    sep, spaced = match.group("sep"), bool(match.group("before") or match.group("after"))
    if sep == "=" and not spaced and (name.isupper() or name[0] == "-"):
        return start, end  # NAME=... (.env, export, docker -e), --password=...
    line_before = _line_before(text, name_start)
    alone_on_its_line = line_before is not None and line_before.strip() in ("", "-")
    if sep == ":" and alone_on_its_line and not match.group("line_rest").strip():
        # YAML `key: value` alone on its line; `password: str` is a type annotation.
        return None if _TYPE_NAME.fullmatch(value) else (start, end)
    cut = _INLINE_VALUE_END.search(value)
    if cut:
        if cut.start() == 0 or value[cut.start()] in "([":
            return None  # a call or a subscript
        value, end = value[: cut.start()], start + cut.start()
    if (
        len(value) < MIN_VALUE_LENGTH
        or _CODE_REFERENCE.fullmatch(value)
        or not _DIGIT_OR_SYMBOL.search(value)
    ):
        return None
    return start, end


def _line_before(text: str, position: int) -> str | None:
    """The text from the start of the line (a real or a JSON-escaped line break) to `position`;
    None if the line starts too far back to look at."""
    window = text[max(0, position - _LOOK_BACK) : position]
    parts = _LINE_BREAK.split(window)
    return None if len(parts) == 1 and position > _LOOK_BACK else parts[-1]
