"""The redaction corpus: documents with planted fake secrets, and ordinary source code.

The documents in this folder hold `{{kind}}` or `{{kind:variant}}` markers, filled at test time
with random values of that kind's real shape. So nothing secret-shaped is committed (no secret
scanner trips on the repository), and every run knows exactly which secrets it planted and
which placeholder kind each must become.

The ordinary code is the Python standard library of the interpreter running the tests.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import sysconfig
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent
DOCUMENT_SUFFIXES = (".env", ".ini", ".json", ".yaml", ".txt", ".md")
MARKER = re.compile(r"\{\{([a-z_]+)(?::([a-z0-9_]+))?\}\}")


@dataclass(frozen=True)
class PlantedDocument:
    name: str
    text: str
    secrets: tuple[tuple[str, str], ...]  # (kind, value), in order of appearance

    @property
    def expected_counts(self) -> Counter[str]:
        return Counter(kind for kind, _ in self.secrets)


def planted_documents(seed: int = 2026) -> list[PlantedDocument]:
    """Every document of the corpus with fresh fake secrets in its markers."""
    rng = random.Random(seed)
    documents = []
    for path in sorted(CORPUS.iterdir()):
        if not path.name.endswith(DOCUMENT_SUFFIXES):
            continue
        planted: list[tuple[str, str]] = []

        def plant(marker: re.Match[str], planted: list[tuple[str, str]] = planted) -> str:
            kind, variant = marker.group(1), marker.group(2) or ""
            value = fake_secret(kind, variant, rng)
            planted.append((kind, value))
            return value

        text = MARKER.sub(plant, path.read_text(encoding="utf-8"))
        documents.append(PlantedDocument(path.name, text, tuple(planted)))
    return documents


def secret_fragments(value: str) -> list[str]:
    """The parts of a planted secret that must not survive: a PEM block's every body line."""
    if value.startswith("-----BEGIN"):
        return [line for line in value.splitlines() if len(line) >= 16 and "-----" not in line]
    return [value]


def ordinary_source_files() -> list[Path]:
    """The standard library's own modules, without its tests (which plant fake secrets)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skipped = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}
    return [
        path
        for path in sorted(root.rglob("*.py"))
        if not skipped.intersection(path.relative_to(root).parts)
    ]


# --- fake secrets of every kind ----------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
UPPER_BASE32 = string.ascii_uppercase + "234567"
BASE64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
PASSWORD_CHARACTERS = ALNUM + "!#*+-.^_~"


def _text(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _password(rng: random.Random, length: int = 20) -> str:
    return _text(rng, PASSWORD_CHARACTERS, length - 1) + rng.choice(string.digits)


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(rng: random.Random) -> str:
    header = _base64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": str(rng.randrange(10**9)), "exp": 1_795_000_000 + rng.randrange(10**6)}
    payload = _base64url(json.dumps(claims).encode())
    return f"{header}.{payload}.{_base64url(rng.randbytes(32))}"


_PEM_LABELS = {
    "rsa": "RSA PRIVATE KEY",
    "rsa_encrypted": "RSA PRIVATE KEY",
    "ec": "EC PRIVATE KEY",
    "openssh": "OPENSSH PRIVATE KEY",
    "pkcs8": "PRIVATE KEY",
    "encrypted": "ENCRYPTED PRIVATE KEY",
    "pgp": "PGP PRIVATE KEY BLOCK",
}


def _pem(rng: random.Random, variant: str) -> str:
    label = _PEM_LABELS[variant]
    body = base64.b64encode(rng.randbytes(600)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    if variant == "rsa_encrypted":
        lines = ["Proc-Type: 4,ENCRYPTED", f"DEK-Info: AES-128-CBC,{rng.randbytes(16).hex()}", ""]
        lines += [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


_GENERATORS: dict[str, Callable[[random.Random, str], str]] = {
    "aws_access_key_id": lambda rng, variant: (
        ("ASIA" if variant == "temporary" else "AKIA") + _text(rng, UPPER_BASE32, 16)
    ),
    "aws_secret_access_key": lambda rng, _: _text(rng, BASE64, 39) + rng.choice(string.digits),
    "aws_session_token": lambda rng, variant: (
        ("" if variant == "unprefixed" else "IQoJb3JpZ2luX2Vj") + _text(rng, BASE64, 300)
    ),
    "openai_api_key": lambda rng, variant: (
        "sk-" + _text(rng, ALNUM, 20) + "T3BlbkFJ" + _text(rng, ALNUM, 20)
        if variant == "legacy"
        else "sk-proj-" + _text(rng, URLSAFE, 74) + "T3BlbkFJ" + _text(rng, URLSAFE, 74)
    ),
    "anthropic_api_key": lambda rng, _: "sk-ant-api03-" + _text(rng, URLSAFE, 93) + "AA",
    "github_token": lambda rng, variant: (
        {
            "classic": "ghp_",
            "server": "ghs_",
            "oauth": "gho_",
            "fine_grained": "github_pat_" + _text(rng, ALNUM, 22) + "_",
        }[variant]
        + _text(rng, ALNUM, 59 if variant == "fine_grained" else 36)
    ),
    "slack_token": lambda rng, variant: _slack(rng, variant),
    "slack_webhook_url": lambda rng, _: (
        f"T{_text(rng, UPPER_BASE32, 8)}/B{_text(rng, UPPER_BASE32, 10)}/{_text(rng, ALNUM, 24)}"
    ),
    "google_api_key": lambda rng, _: "AIza" + _text(rng, URLSAFE, 35),
    "stripe_api_key": lambda rng, variant: (
        ("rk_live_" if variant == "restricted" else "sk_live_") + _text(rng, ALNUM, 24)
    ),
    "langfuse_secret_key": lambda rng, _: f"sk-lf-{uuid.UUID(int=rng.getrandbits(128))}",
    "litellm_master_key": lambda rng, _: "sk-" + _text(rng, URLSAFE, 24),
    "jwt": lambda rng, _: _jwt(rng),
    "pem_private_key": _pem,
    "url_password": lambda rng, _: _text(rng, ALNUM + "-_.~!*", 15) + rng.choice(string.digits),
    "bearer_token": lambda rng, _: _text(rng, URLSAFE, 39) + rng.choice(string.digits),
    **{
        kind: lambda rng, _: _password(rng)
        for kind in (
            "password",
            "secret",
            "token",
            "credential",
            "api_key",
            "encryption_key",
            "authorization",
            "access_key",
            "private_key",
        )
    },
    "azure_client_secret": lambda rng, _: (
        _text(rng, ALNUM, 3) + rng.choice(string.digits) + "Q~" + _text(rng, ALNUM + "_~.-", 34)
    ),
    "azure_sas_signature": lambda rng, _: _text(rng, ALNUM, 40) + "%3D",
    "basic_auth": lambda rng, _: base64.b64encode(f"robot:{_password(rng)}".encode()).decode(),
}


HEX = "0123456789abcdef"
# Vendor tokens: (prefix, alphabet, length of what follows it).
_PREFIXED = {
    "sendgrid_api_key": ("SG.", URLSAFE, 66),
    "huggingface_token": ("hf_", string.ascii_letters, 34),
    "npm_token": ("npm_", ALNUM, 36),
    "pypi_token": ("pypi-AgEIcHlwaS5vcmc", URLSAFE, 70),
    "gitlab_token": ("glpat-", URLSAFE, 20),
    "digitalocean_token": ("dop_v1_", HEX, 64),
    "shopify_token": ("shpat_", HEX, 32),
    "mailgun_api_key": ("key-", HEX, 32),
    "postman_api_key": ("PMAK-", HEX, 24),
    "linear_api_key": ("lin_api_", ALNUM, 40),
    "grafana_token": ("glsa_", ALNUM, 32),
    "sentry_token": ("sntrys_", ALNUM, 60),
    "age_secret_key": ("AGE-SECRET-KEY-1", UPPER_BASE32, 58),
    "databricks_token": ("dapi", HEX, 32),
    "vault_token": ("hvs.", URLSAFE, 90),
    "stripe_webhook_secret": ("whsec_", ALNUM, 32),
    "google_oauth_token": ("ya29.", URLSAFE, 120),
    "google_client_secret": ("GOCSPX-", URLSAFE, 28),
    "groq_api_key": ("gsk_", ALNUM, 52),
    "replicate_token": ("r8_", ALNUM, 37),
    "perplexity_api_key": ("pplx-", ALNUM, 48),
    "xai_api_key": ("xai-", ALNUM, 80),
    "docker_hub_token": ("dckr_pat_", URLSAFE, 27),
    "newrelic_key": ("NRAK-", UPPER_BASE32, 27),
    "heroku_api_key": ("HRKU-", URLSAFE, 60),
    "alibaba_access_key_id": ("LTAI", ALNUM, 20),
    "onepassword_token": ("ops_eyJ", ALNUM, 250),
    "twilio_sid": ("AC", HEX, 32),
    "twilio_auth_token": ("", HEX, 32),
    "telegram_bot_token": ("AA", URLSAFE, 33),
    "discord_webhook_url": ("", URLSAFE, 68),
    "azure_storage_account_key": ("", BASE64, 86),
    "azure_shared_access_key": ("", BASE64, 43),
}


def _prefixed(kind: str, rng: random.Random) -> str:
    prefix, alphabet, length = _PREFIXED[kind]
    body = _text(rng, alphabet, length - 1) + rng.choice(string.digits)
    if kind == "sendgrid_api_key":
        body = body[:22] + "." + body[22:]
    if kind == "postman_api_key":
        body += "-" + _text(rng, HEX, 34)
    if kind in ("azure_storage_account_key", "azure_shared_access_key"):
        body += "=" * (2 if length % 4 == 2 else 1)
    return prefix + body


def _slack(rng: random.Random, variant: str) -> str:
    if variant == "app":
        return f"xapp-1-A{_text(rng, UPPER_BASE32, 10)}-{_text(rng, string.digits, 13)}-" + (
            _text(rng, HEX, 64)
        )
    return f"xoxb-{_text(rng, string.digits, 12)}-{_text(rng, string.digits, 13)}-" + _text(
        rng, ALNUM, 24
    )


_WORDS = ("correct", "horse", "battery", "staple", "orbit", "lantern", "meadow", "quartz")


def fake_secret(kind: str, variant: str, rng: random.Random) -> str:
    """A value of `kind`; variant `words` is letters only (a passphrase), which only the name
    or the context it stands in can give away."""
    if variant == "words":
        return "".join(rng.choice(_WORDS).capitalize() for _ in range(3))
    if kind in _PREFIXED:
        return _prefixed(kind, rng)
    return _GENERATORS[kind](rng, variant)
