"""The built-in rules: what each kind of secret looks like, in the order they win.

Every pattern below runs at a trigger. Where a pattern can fail after a long run (a JWT without
its dots, a URL without "@"), the run is bounded, so text made of triggers stays linear.
"""

from __future__ import annotations

import re

from .assignments import NAME_KINDS, AssignmentRule
from .commands import FlagRule, program_rules
from .connections import ConnectionPasswordRule, azure_rules
from .rules import NeighbourRule, Rule, ShapeRule
from .vendors import AFTER_ESCAPE, vendor_rules

__all__ = ["BUILTIN_RULES", "builtin_kinds"]

_AFTER_ESCAPE = AFTER_ESCAPE
_BASE64_40 = rf"(?:(?<![A-Za-z0-9/+])|{_AFTER_ESCAPE})[A-Za-z0-9/+]{{40}}(?![A-Za-z0-9/+=])"
_AWS_KEY_ID = r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"
_AWS_KEY_ID_TRIGGERS = ("AKIA", "ASIA", "ABIA", "ACCA")
# Before `sk-`: not part of a longer word (`task-`, `disk-`).
_WORD_START = rf"(?:(?<![A-Za-z0-9_-])|{_AFTER_ESCAPE})"
# Without its END line (a cut-off paste) a private key is redacted to the end of the text.
_PEM = r"""-----BEGIN[ A-Z0-9]{0,40}PRIVATE\ KEY(?:\ BLOCK)?-----
           [\s\S]*?(?:-----END[ A-Z0-9]{0,40}PRIVATE\ KEY(?:\ BLOCK)?-----|\Z)"""


def _shape(kind: str, triggers: tuple[str, ...], pattern: str, *, gated: bool = False) -> ShapeRule:
    return ShapeRule(kind, triggers, re.compile(pattern, re.VERBOSE), gated=gated)


_NAME_TRIGGERS = (
    *("password", "passwd", "secret", "token", "credential", "authorization"),
    *("api_key", "api-key", "apikey", "private_key", "private-key", "privatekey"),
    *("master_key", "master-key", "masterkey", "encryption_key", "signing_key"),
    *("app_key", "app-key", "appkey", "application_key", "access_key", "access-key"),
    *("accesskey", "account_key", "accountkey", "_pwd"),
)
# Names that say "secret" only as a whole word, with their separator: `"auth": ...`, `DB_PASS=`.
_ASSIGNMENT_TRIGGERS = (
    *_NAME_TRIGGERS,
    *(
        f"{word}{separator}"
        for word in ("auth", "pass")
        for separator in ('"', '\\"', "'", "=", ":")
    ),
)
_HEX32 = "[0-9a-f]{32}"
_TWILIO_SID = rf"(?<![A-Za-z0-9])AC{_HEX32}(?![A-Za-z0-9])"
_TWILIO_SID_TRIGGERS = tuple(f"AC{digit}" for digit in "0123456789abcdef")
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
    *vendor_rules(),
    *azure_rules(),
    _shape("twilio_sid", _TWILIO_SID_TRIGGERS, _TWILIO_SID, gated=True),
    # A bot token follows its bot's numeric id: 123456789:AA...
    _shape(
        "telegram_bot_token",
        (":AA",),
        r"(?<=[0-9]{6}):(?P<secret>AA[A-Za-z0-9_-]{33})(?![\w-])",
        gated=True,
    ),
    # Microsoft Entra ID client secrets: three characters, a digit, `Q~`, then 31 to 34 more.
    _shape(
        "azure_client_secret",
        ("Q~",),
        r"(?<=[A-Za-z0-9_~.]{3}[0-9])Q~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])",
        gated=True,
    ),
    _shape(
        "discord_webhook_url",
        ("discord.com/api/webhooks/", "discordapp.com/api/webhooks/"),
        r"discord(?:app)?\.com/api/webhooks/[0-9]+/(?P<secret>[A-Za-z0-9_-]{30,})",
        gated=True,
    ),
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
    # A Twilio auth token (32 characters) close to an account sid.
    NeighbourRule(
        "twilio_auth_token",
        _TWILIO_SID_TRIGGERS,
        re.compile(_TWILIO_SID),
        re.compile(
            r"(?<![A-Za-z0-9_/+-])(?=[A-Za-z]{0,31}[0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9_/+=-])"
        ),
        reach=200,
        gated=True,
    ),
    *program_rules(),
    ConnectionPasswordRule(),
    FlagRule(_NAME_TRIGGERS),
    # Last: a name says less than a shape (OPENAI_API_KEY=sk-... is an openai_api_key).
    AssignmentRule(_ASSIGNMENT_TRIGGERS, frozenset(kind for kind, _ in NAME_KINDS) - _NAMED_FIRST),
)


def builtin_kinds() -> frozenset[str]:
    """Every kind a built-in rule can name."""
    kinds: set[str] = set()
    for rule in BUILTIN_RULES:
        kinds.update(getattr(rule, "kinds", ()) or {getattr(rule, "kind", "")})
    return frozenset(kinds - {""})
