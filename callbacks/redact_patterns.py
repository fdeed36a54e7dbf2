"""What each kind of secret looks like, for `redact.py`.

A rule names its *triggers*: literals that every secret of its kind contains, at the spot
where the rule's own pattern starts; a trigger in lower case matches in any case, one with an
upper-case letter exactly. The engine in `redact.py` finds all triggers in one fast pass and
asks a rule to look only there, so a rule may use a precise pattern that would be far too slow
to search 100 KB with.

A rule yields `Finding`s: the span to replace and the kind its placeholder names. Spans keep
what is not secret readable (the user and host of a URL, the name of a variable).

Rules:
- `ShapeRule`: the secret is recognisable on its own (`AKIA...`, `sk-ant-...`, PEM blocks, JWTs).
- `NeighbourRule`: a secret recognisable only beside another (AWS secret key next to its id).
- `AssignmentRule`: the secret is the value given to a name that says "secret" (`.env` lines,
  `export`, YAML, JSON, CLI flags, URL query parameters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str


class Rule(Protocol):
    triggers: tuple[str, ...]

    def find(self, text: str, at: int) -> Iterator[Finding]:
        """Secrets of this rule whose trigger starts at `at` in `text`."""
        ...


@dataclass(frozen=True)
class ShapeRule:
    """A secret recognisable by its own shape; group `secret` (else the match) is replaced."""

    kind: str
    triggers: tuple[str, ...]
    pattern: re.Pattern[str]

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


# --- assignments: NAME=value, NAME: value, "name": "value" ---------------------------------

# The kind an assignment's name says, first match wins; searched in the name's words joined by
# "_" and lower-cased (`AwsSecretAccessKey`, `aws-secret-access-key` -> `aws_secret_access_key`).
NAME_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("aws_secret_access_key", r"secret_?access_?key"),
        ("aws_session_token", r"(?:session|security)_?token"),
        ("litellm_master_key", r"master_?key"),
        ("private_key", r"private_?key"),
        ("api_key", r"api_?key"),
        ("password", r"passw(?:or)?d"),
        ("secret", r"secret"),
        ("token", r"token"),
        ("credential", r"credential"),
        ("encryption_key", r"(?:encryption|signing)_?key"),
        ("authorization", r"authorization"),
    )
)

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
        if text.endswith("://", 0, name_start):
            return  # the user of scheme://user:password@host; the URL rule has the password
        name = text[name_start : match.end("name_rest")]
        kind = name_kind(name)
        if kind not in self.kinds:
            return
        value = _secret_value(text, match, name, name_start, kind)
        if value and not is_placeholder(text[value[0] : value[1]]):
            yield Finding(value[0], value[1], kind)


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


# --- the rules -------------------------------------------------------------------------------

# Every pattern below runs at a trigger. Where a pattern can fail after a long run (a JWT without
# its dots, a URL without "@"), the run is bounded, so text made of triggers stays linear.

# Where a token may start: not inside a longer word, except after an escape such as the `\n` of
# a JSON-encoded text (a tool result).
_AFTER_ESCAPE = r"(?<=\\[nrt])"
_BASE64_40 = rf"(?:(?<![A-Za-z0-9/+])|{_AFTER_ESCAPE})[A-Za-z0-9/+]{{40}}(?![A-Za-z0-9/+=])"
_AWS_KEY_ID = r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"
_AWS_KEY_ID_TRIGGERS = ("AKIA", "ASIA", "ABIA", "ACCA")
# Before `sk-`: not part of a longer word (`task-`, `disk-`).
_WORD_START = rf"(?:(?<![A-Za-z0-9_-])|{_AFTER_ESCAPE})"
# Without its END line (a cut-off paste) a private key is redacted to the end of the text.
_PEM = r"""-----BEGIN[ A-Z0-9]{0,40}PRIVATE\ KEY(?:\ BLOCK)?-----
           [\s\S]*?(?:-----END[ A-Z0-9]{0,40}PRIVATE\ KEY(?:\ BLOCK)?-----|\Z)"""


def _shape(kind: str, triggers: tuple[str, ...], pattern: str) -> ShapeRule:
    return ShapeRule(kind, triggers, re.compile(pattern, re.VERBOSE))


_ASSIGNMENT_TRIGGERS = (
    *("password", "passwd", "secret", "token", "credential", "authorization"),
    *("api_key", "api-key", "apikey", "private_key", "private-key", "privatekey"),
    *("master_key", "master-key", "masterkey", "encryption_key", "signing_key"),
)
# Names more specific than any shape: LITELLM_MASTER_KEY=sk-... is not an OpenAI key.
_NAMED_FIRST = frozenset({"litellm_master_key", "aws_secret_access_key", "aws_session_token"})

# Earlier rules win where findings overlap: specific shapes before generic ones.
BUILTIN_RULES: tuple[Rule, ...] = (
    AssignmentRule(("secret", "token", "master_key", "master-key", "masterkey"), _NAMED_FIRST),
    _shape("pem_private_key", ("-----BEGIN",), _PEM),
    _shape("aws_access_key_id", _AWS_KEY_ID_TRIGGERS, _AWS_KEY_ID),
    _shape(
        "aws_session_token",
        ("IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdz"),
        r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz)[A-Za-z0-9/+=]{40,}",
    ),
    _shape("anthropic_api_key", ("sk-ant-",), _WORD_START + r"sk-ant-[A-Za-z0-9_-]{20,}"),
    _shape("langfuse_secret_key", ("sk-lf-",), _WORD_START + r"sk-lf-[A-Za-z0-9-]{8,}"),
    _shape("openai_api_key", ("sk-",), _WORD_START + r"sk-[A-Za-z0-9_-]{20,}"),
    _shape(
        "stripe_api_key",
        ("sk_live_", "rk_live_", "sk_test_", "rk_test_"),
        r"[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",
    ),
    _shape(
        "github_token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    _shape("slack_token", ("xox",), r"xox[abeoprs]-[A-Za-z0-9-]{10,}"),
    _shape(
        "slack_webhook_url",
        ("hooks.slack.com",),
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]+)",
    ),
    _shape("google_api_key", ("AIza",), r"AIza[A-Za-z0-9_-]{35}"),
    _shape(
        "jwt",
        ("eyJ",),
        r"eyJ[A-Za-z0-9_-]{8,8192}\.(?:eyJ[A-Za-z0-9_-]{5,65536}\.[A-Za-z0-9_-]*"
        r"|[A-Za-z0-9_-]{8,65536}\.[A-Za-z0-9_-]{8,})",
    ),
    # scheme://user:PASSWORD@host; the user may be empty (redis://:secret@host).
    _shape(
        "url_password",
        ("://",),
        r"://[^\s:/?#@\"'<>\\]{0,256}:(?P<secret>[^\s/?#\"'<>\\]{1,256})@(?=[A-Za-z0-9\[])",
    ),
    _shape(
        "bearer_token",
        ("bearer",),
        r"(?:Bearer|bearer|BEARER)[ \t]+"
        r"(?P<secret>(?=[A-Za-z]{0,4096}[0-9._~+/-])[A-Za-z0-9._~+/-]{8,}=*)",
    ),
    # After the shapes: any 40-character token near a key id, unless it has a shape of its own.
    NeighbourRule(
        "aws_secret_access_key",
        _AWS_KEY_ID_TRIGGERS,
        re.compile(_AWS_KEY_ID),
        re.compile(_BASE64_40),
        reach=200,
    ),
    # Last: a name says less than a shape (OPENAI_API_KEY=sk-... is an openai_api_key).
    AssignmentRule(_ASSIGNMENT_TRIGGERS, frozenset(kind for kind, _ in NAME_KINDS) - _NAMED_FIRST),
)


def literal_rule(kind: str, value: str) -> ShapeRule:
    """A rule for one known secret value (from the environment), matched exactly."""
    return ShapeRule(kind, (value,), re.compile(re.escape(value)))
