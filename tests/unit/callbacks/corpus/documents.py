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
    "slack_token": lambda rng, _: (
        f"xoxb-{_text(rng, string.digits, 12)}-{_text(rng, string.digits, 13)}-"
        + _text(rng, ALNUM, 24)
    ),
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
        )
    },
}


def fake_secret(kind: str, variant: str, rng: random.Random) -> str:
    return _GENERATORS[kind](rng, variant)
