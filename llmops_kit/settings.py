"""The kit's settings: one table of variables, `.env` reading and writing, secret generation.

This module is the single source of truth for `.env`. Compose reads the same file for
interpolation; a test checks that what `docker compose config` resolves equals what
`load()` resolves here. Precedence everywhere: flag > process environment > `.env` > default.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv.parser import parse_stream
from dotenv.variables import parse_variables

from .errors import ConfigError
from .textfiles import read_text_file

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE_NAME = ".env"
EXAMPLE_FILE_NAME = ".env.example"


def _hex(nbytes: int) -> Callable[[], str]:
    return lambda: secrets.token_hex(nbytes)


def _master_key() -> str:
    return "sk-" + secrets.token_hex(24)


def _public_key() -> str:
    return f"pk-lf-{uuid.uuid4()}"


def _secret_key() -> str:
    return f"sk-lf-{uuid.uuid4()}"


@dataclass(frozen=True)
class Variable:
    """One `.env` variable: how to document it, default it, generate it or derive it."""

    name: str
    group: str
    help: str
    default: str = ""
    secret: bool = False
    generate: Callable[[], str] | None = None
    # Derived variables are computed from others so that pairs never disagree.
    derive: Callable[[Mapping[str, str]], str] | None = None
    example: str | None = None
    # A shape check for values the user may type by hand; None accepts anything.
    pattern: str | None = None


def _langfuse_db_url(values: Mapping[str, str]) -> str:
    return f"postgresql://postgres:{values['POSTGRES_PASSWORD']}@postgres:5432/postgres"


def _litellm_db_url(values: Mapping[str, str]) -> str:
    password = values["LITELLM_POSTGRES_PASSWORD"]
    return f"postgresql://litellm:{password}@litellm-postgres:5432/litellm"


# Langfuse's rule for environment names (PublicEnvironmentName, packages/shared/src/server/
# ingestion/types.ts in langfuse/langfuse, applied to every span it ingests): lowercased, every
# leading "langfuse", "langfuse-" or "langfuse_" stripped, cut to 40 characters, and "default"
# unless what is left is made of [a-z0-9_-]. A name it keeps as written matches this pattern.
TRACING_ENVIRONMENT_PATTERN = r"(?!langfuse)[a-z0-9_-]{1,40}"


def langfuse_environment(name: str) -> str:
    """The environment name Langfuse stores for `name`."""
    kept = re.sub(r"^(?:langfuse[-_]?)+", "", name.lower())[:40]
    return kept if re.fullmatch(r"[a-z0-9_-]+", kept) else "default"


def tracing_environment_problem(values: Mapping[str, str]) -> str | None:
    """What Langfuse would do to LANGFUSE_TRACING_ENVIRONMENT, when it would not keep it."""
    name = values.get("LANGFUSE_TRACING_ENVIRONMENT", "")
    stored = langfuse_environment(name)
    if not name or stored == name:
        return None
    return (
        f"LANGFUSE_TRACING_ENVIRONMENT={name!r} would be stored by Langfuse as {stored!r} "
        "(up to 40 lowercase letters, digits, - and _, not starting with 'langfuse')"
    )


G_STACK = "Stack: project, addresses and ports"
G_LANGFUSE = "Langfuse web and worker"
G_INIT = "Langfuse headless initialisation (first start only; later edits are ignored)"
G_STORES = "Langfuse stores: Postgres, ClickHouse, Redis, MinIO"
G_LITELLM = "LiteLLM proxy"
G_TRACE = "Tracing: where the proxy's callback sends traces"
G_AWS = "AWS Bedrock (credentials come from the standard AWS chain; leave empty to use it)"
G_CALLBACK = "Callback: redaction, spool and input logging"
G_LOCAL = "Local models: an OpenAI-compatible server (Ollama, vLLM, llama.cpp); optional"
G_SCALE = "Scale-out: LiteLLM replicas behind the balancer on LITELLM_PORT"
MAX_PROXY_REPLICAS = 16

VARIABLES: tuple[Variable, ...] = (
    # -- stack
    Variable(
        "COMPOSE_PROJECT_NAME",
        G_STACK,
        "Compose project name; the network is <name>_default.",
        default="langfuse",
        pattern=r"[a-z0-9][a-z0-9_-]*",
    ),
    Variable(
        "BIND_ADDRESS",
        G_STACK,
        "Address Langfuse web and the proxy publish their ports on (MinIO's S3 port stays "
        "on 127.0.0.1). Keep 127.0.0.1 and use scripts/port-forward.sh; set 0.0.0.0 only "
        "behind a firewall.",
        default="127.0.0.1",
    ),
    Variable("LANGFUSE_WEB_PORT", G_STACK, "Host port of Langfuse web.", "3000", pattern=r"\d+"),
    Variable("LITELLM_PORT", G_STACK, "Host port of the LiteLLM proxy.", "4000", pattern=r"\d+"),
    Variable("MINIO_S3_PORT", G_STACK, "Host port of MinIO's S3 API.", "9090", pattern=r"\d+"),
    Variable(
        "LLMOPS_EXTRA_COMPOSE_FILES",
        G_STACK,
        "Extra compose files layered over compose/*.yml, separated by the path separator "
        "(: on Linux and macOS), relative to the repository root: for test beds and local "
        "overrides. Leave empty for production.",
    ),
    # -- langfuse web and worker
    Variable(
        "NEXTAUTH_URL",
        G_LANGFUSE,
        "URL users open Langfuse at (the login redirects here).",
        "http://localhost:3000",
    ),
    Variable(
        "NEXTAUTH_SECRET", G_LANGFUSE, "Session signing secret.", secret=True, generate=_hex(32)
    ),
    Variable("SALT", G_LANGFUSE, "Salt for hashed API keys.", secret=True, generate=_hex(32)),
    Variable(
        "ENCRYPTION_KEY",
        G_LANGFUSE,
        "Encrypts stored credentials: exactly 64 hex characters.",
        secret=True,
        generate=_hex(32),
        pattern=r"[0-9a-f]{64}",
    ),
    Variable(
        "LANGFUSE_MIGRATION_V4_WRITE_MODE",
        G_LANGFUSE,
        "v4 write mode: events_only (v4 default; OTLP ingestion), dual or legacy.",
        "events_only",
        pattern=r"events_only|dual|legacy",
    ),
    Variable("TELEMETRY_ENABLED", G_LANGFUSE, "Anonymous usage telemetry to Langfuse.", "false"),
    Variable("AUTH_DISABLE_SIGNUP", G_LANGFUSE, "Only the admin below can log in.", "true"),
    # -- headless init
    Variable("LANGFUSE_INIT_ORG_ID", G_INIT, "Organisation id.", "llmops"),
    Variable("LANGFUSE_INIT_ORG_NAME", G_INIT, "Organisation name.", "LLMOps"),
    Variable("LANGFUSE_INIT_PROJECT_ID", G_INIT, "Project id.", "llmops-kit"),
    Variable("LANGFUSE_INIT_PROJECT_NAME", G_INIT, "Project name.", "coding-agents"),
    Variable(
        "LANGFUSE_INIT_PROJECT_PUBLIC_KEY",
        G_INIT,
        "Project public key (pk-lf-...). Rotating means a new key: init ignores edits.",
        generate=_public_key,
        pattern=r"pk-lf-[0-9a-f-]{36}",
    ),
    Variable(
        "LANGFUSE_INIT_PROJECT_SECRET_KEY",
        G_INIT,
        "Project secret key (sk-lf-...).",
        secret=True,
        generate=_secret_key,
        pattern=r"sk-lf-[0-9a-f-]{36}",
    ),
    Variable("LANGFUSE_INIT_USER_EMAIL", G_INIT, "Admin login e-mail.", "admin@llmops.dev"),
    Variable("LANGFUSE_INIT_USER_NAME", G_INIT, "Admin display name.", "admin"),
    Variable(
        "LANGFUSE_INIT_USER_PASSWORD",
        G_INIT,
        "Admin login password.",
        secret=True,
        generate=_hex(16),
    ),
    # -- stores
    Variable(
        "POSTGRES_PASSWORD",
        G_STORES,
        "Langfuse Postgres password.",
        secret=True,
        generate=_hex(24),
    ),
    Variable(
        "DATABASE_URL",
        G_STORES,
        "Langfuse Postgres URL; derived from POSTGRES_PASSWORD.",
        secret=True,
        derive=_langfuse_db_url,
        example="postgresql://postgres:<POSTGRES_PASSWORD>@postgres:5432/postgres",
    ),
    Variable(
        "CLICKHOUSE_PASSWORD",
        G_STORES,
        "ClickHouse password (user clickhouse).",
        secret=True,
        generate=_hex(24),
    ),
    Variable(
        "REDIS_AUTH",
        G_STORES,
        "Redis password (Redis runs with noeviction).",
        secret=True,
        generate=_hex(24),
    ),
    Variable(
        "MINIO_ROOT_PASSWORD",
        G_STORES,
        "MinIO root password (user minio); Langfuse uses it as its S3 secret key.",
        secret=True,
        generate=_hex(24),
    ),
    # -- litellm
    Variable(
        "LITELLM_MASTER_KEY",
        G_LITELLM,
        "Admin key of the proxy (sk-...). Clients may use it; per-user keys are better.",
        secret=True,
        generate=_master_key,
        pattern=r"sk-\S+",
    ),
    Variable(
        "LLMOPS_LITELLM_CONFIG",
        G_LITELLM,
        "LiteLLM config the proxy container mounts (relative to the repository root).",
        "./litellm_config.yml",
    ),
    Variable(
        "LLMOPS_KEYS_FILE",
        G_LITELLM,
        "Per-developer keys file (YAML or JSON; see keys.example.yml): each key names the "
        "user on every trace. Empty: only the master key is accepted.",
    ),
    Variable(
        "LLMOPS_LEDGER_URL",
        G_LITELLM,
        "Where keys with limits are counted: redis://[:password@]host:port/db to share one "
        "ledger between several proxies. Empty: SQLite in the proxy's data volume.",
        secret=True,
    ),
    Variable(
        "LLMOPS_LEDGER_UNAVAILABLE",
        G_LITELLM,
        "When the ledger cannot be reached: refuse requests of keys with limits (refuse), or "
        "admit them without limits, with a logged warning (admit).",
        "refuse",
        pattern=r"refuse|admit",
    ),
    Variable(
        "LLMOPS_BUDGET_TIMEZONE",
        G_LITELLM,
        "Time zone of the day/week/month budget periods (an IANA name). Empty: UTC.",
    ),
    Variable(
        "LLMOPS_BUDGET_OUTPUT_TOKENS",
        G_LITELLM,
        "Output tokens reserved for a request without max_tokens. Empty: the route's maximum "
        "output, which keeps the overshoot bound; smaller values reserve less.",
        pattern=r"\d*",
    ),
    Variable(
        "LITELLM_SALT_KEY",
        G_LITELLM,
        "Encrypts credentials in LiteLLM's database. Generated once; never change it.",
        secret=True,
        generate=_master_key,
    ),
    Variable(
        "LITELLM_POSTGRES_PASSWORD",
        G_LITELLM,
        "LiteLLM's own Postgres password.",
        secret=True,
        generate=_hex(24),
    ),
    Variable(
        "LITELLM_DATABASE_URL",
        G_LITELLM,
        "LiteLLM's Postgres URL; derived from LITELLM_POSTGRES_PASSWORD.",
        secret=True,
        derive=_litellm_db_url,
        example="postgresql://litellm:<LITELLM_POSTGRES_PASSWORD>@litellm-postgres:5432/litellm",
    ),
    # -- scale-out (llmops_kit/replicas.py, compose/litellm.yml, compose/haproxy.cfg)
    Variable(
        "LLMOPS_PROXY_REPLICAS",
        G_SCALE,
        f"How many LiteLLM proxies run behind the balancer (1 to {MAX_PROXY_REPLICAS}). Above "
        "1 they share cooldowns, rpm/tpm and the budget ledger through proxy-redis.",
        "1",
        pattern=r"[1-9]|1[0-6]",
    ),
    Variable(
        "LLMOPS_PROXY_REDIS_PASSWORD",
        G_SCALE,
        "Password of proxy-redis, the proxies' own Redis (router state, shared ledger).",
        secret=True,
        generate=_hex(24),
    ),
    # -- tracing
    Variable(
        "LANGFUSE_HOST",
        G_TRACE,
        "Langfuse as the proxy reaches it. In the stack: http://langfuse-web:3000 (never "
        "localhost: inside a container that is the container itself). Native proxy: your "
        "Langfuse Cloud or remote URL.",
        "http://langfuse-web:3000",
    ),
    Variable(
        "LANGFUSE_PUBLIC_KEY",
        G_TRACE,
        "Key the proxy sends traces with; in the stack equal to the init public key.",
        derive=lambda v: v["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"],
    ),
    Variable(
        "LANGFUSE_SECRET_KEY",
        G_TRACE,
        "Secret key the proxy sends traces with; in the stack equal to the init secret key.",
        secret=True,
        derive=lambda v: v["LANGFUSE_INIT_PROJECT_SECRET_KEY"],
    ),
    Variable(
        "LANGFUSE_TRACING_ENVIRONMENT",
        G_TRACE,
        "Environment name put on every trace: up to 40 lowercase letters, digits, - and _, "
        "not starting with 'langfuse' (Langfuse would store another name).",
        "default",
        pattern=TRACING_ENVIRONMENT_PATTERN,
    ),
    # -- callback (callbacks/callback_settings.py reads these inside the proxy)
    Variable(
        "LLMOPS_LOG_INPUT",
        G_CALLBACK,
        "Which request messages are logged: delta (only those new since the session's "
        "previous request; Cline resends the whole history every turn), full, or off.",
        "delta",
        pattern=r"full|delta|off",
    ),
    Variable(
        "LLMOPS_LOG_OUTPUT", G_CALLBACK, "Log model answers: on or off.", "on", pattern="on|off"
    ),
    Variable(
        "LLMOPS_SPOOL_MAX_MB",
        G_CALLBACK,
        "Cap of the spool of undelivered traces, in MB. When full, new traces are kept "
        "without input and output; beyond that they are dropped (both counted in `status`).",
        "512",
        pattern=r"\d+",
    ),
    Variable(
        "LLMOPS_EXPORT_TIMEOUT_SECONDS",
        G_CALLBACK,
        "How long one export to Langfuse may wait for an answer.",
        "30",
        pattern=r"\d+(\.\d+)?",
    ),
    Variable(
        "LLMOPS_EXPORT_MAX_BACKOFF_SECONDS",
        G_CALLBACK,
        "Longest pause between export retries while Langfuse is down or refusing.",
        "60",
        pattern=r"\d+(\.\d+)?",
    ),
    Variable(
        "LLMOPS_IN_DOUBT_SETTLE_SECONDS",
        G_CALLBACK,
        "After an export got no answer, wait this long before asking Langfuse's read API "
        "whether it arrived (Langfuse needs 15-30 s to make new data readable).",
        "60",
        pattern=r"\d+(\.\d+)?",
    ),
    Variable(
        "LLMOPS_REDACT_EXTRA_PATTERNS",
        G_CALLBACK,
        "Your own secret patterns, redacted before traces leave the proxy: a JSON list of "
        'regexes, or of {"kind": ..., "pattern": ...} objects.',
    ),
    Variable(
        "LLMOPS_REDACT_ALLOW",
        G_CALLBACK,
        "Strings never redacted (false positives you accept): a JSON list of exact strings.",
    ),
    # -- aws
    Variable("AWS_REGION", G_AWS, "Bedrock region.", "us-east-1", pattern=r"[a-z]{2}(-[a-z]+)+-\d"),
    Variable(
        "BEDROCK_PROFILE_PREFIX",
        G_AWS,
        "Cross-region inference profile prefix: us, eu, apac, jp, au or global; must fit "
        "AWS_REGION.",
        "us",
        pattern=r"us|eu|apac|jp|au|global",
    ),
    Variable("AWS_PROFILE", G_AWS, "Named profile from ~/.aws (mounted read-only)."),
    Variable("AWS_ACCESS_KEY_ID", G_AWS, "Access key id, if not using a profile or role."),
    Variable("AWS_SECRET_ACCESS_KEY", G_AWS, "Secret access key.", secret=True),
    Variable("AWS_SESSION_TOKEN", G_AWS, "Session token for temporary keys.", secret=True),
    Variable(
        "AWS_BEDROCK_RUNTIME_ENDPOINT",
        G_AWS,
        "Override the Bedrock Runtime endpoint (VPC endpoint, or a test double).",
    ),
    Variable(
        "LLMOPS_AWS_DIR",
        G_AWS,
        "Host directory mounted read-only as ~/.aws in the proxy container (profiles, SSO). "
        "Empty: your ~/.aws.",
    ),
    # -- local models (callbacks/local_routes.py turns these into routes)
    Variable(
        "LLMOPS_LOCAL_API_BASE",
        G_LOCAL,
        "The server's OpenAI-compatible URL, e.g. http://localhost:11434/v1 (Ollama); from the "
        "proxy container, the host is not localhost. Empty: no local routes.",
        pattern=r"https?://\S+",
    ),
    Variable(
        "LLMOPS_LOCAL_MODELS",
        G_LOCAL,
        "Models the server serves, comma-separated (e.g. llama3.2,qwen2.5-coder:7b); each "
        "becomes the model group local-<name>.",
    ),
    Variable(
        "LLMOPS_LOCAL_API_KEY",
        G_LOCAL,
        "Key the server expects (vLLM --api-key), if any.",
        secret=True,
    ),
    Variable(
        "LLMOPS_LOCAL_INPUT_USD_PER_MTOK",
        G_LOCAL,
        "Price traced per million input tokens of a local model, in USD (0: free).",
        "0",
        pattern=r"\d+(\.\d+)?",
    ),
    Variable(
        "LLMOPS_LOCAL_OUTPUT_USD_PER_MTOK",
        G_LOCAL,
        "Price traced per million output tokens of a local model, in USD (0: free).",
        "0",
        pattern=r"\d+(\.\d+)?",
    ),
)

BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SINGLE_QUOTED = re.compile(r"\s*(?:export\s+)?[^=]*=\s*'")
_NOT_A_SETTING_FIX = "Write it as NAME=value, or start the line with # to comment it out."


def parse_env_text(text: str) -> dict[str, str]:
    """Parse `.env` text as compose does: python-dotenv's parser (quotes, escapes, `export`,
    comments, a byte order mark), then `${NAME}` substituted from the values above it and
    the environment, except in single quotes. A line that is not NAME=value is an error
    naming its line number, never its content: it may be a secret pasted alone."""
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text.removeprefix("\ufeff"))):
        if binding.error or (
            binding.key is not None and (binding.value is None or not _NAME.fullmatch(binding.key))
        ):
            raise ConfigError(
                f".env line {binding.original.line} is not KEY=VALUE", fix=_NOT_A_SETTING_FIX
            )
        if binding.key is None or binding.value is None:
            continue  # a comment or a blank line
        literal = _SINGLE_QUOTED.match(binding.original.string) is not None
        known = {**os.environ, **values}
        values[binding.key] = (
            binding.value
            if literal
            else "".join(atom.resolve(known) for atom in parse_variables(binding.value))
        )
    return values


def read_env_file(path: Path) -> dict[str, str]:
    """The values in `path`, or an empty dict when it does not exist."""
    if not os.path.lexists(path):
        return {}
    return parse_env_text(read_text_file(path, fix="`python manage_langfuse.py init` writes one."))


def render_env(values: Mapping[str, str], *, example: bool = False) -> str:
    """`.env` text: every known variable grouped and commented, then any extra ones kept."""
    lines = [
        "# LLMOps kit settings. Generated by `python manage_langfuse.py init`.",
        "# Lines marked [secret] hold secrets: keep this file private (mode 0600).",
        "# The process environment wins over this file; flags win over both.",
    ]
    group = None
    for var in VARIABLES:
        if var.group != group:
            group = var.group
            lines += ["", f"# ---- {group}"]
        lines.append(f"# {'[secret] ' if var.secret else ''}{var.help}")
        if example:
            value = var.example or ("<generated by init>" if var.generate else var.default)
        else:
            value = values.get(var.name, "")
        lines.append(f"{var.name}={value}")
    extras = [k for k in values if k not in BY_NAME]
    if extras and not example:
        lines += ["", "# ---- Your own additions (kept as they are)"]
        lines += [f"{k}={values[k]}" for k in extras]
    return "\n".join(lines) + "\n"


def write_env_file(path: Path, text: str) -> None:
    """Write atomically with mode 0600: the file holds secrets from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".env.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class InitResult:
    """What `init` did: which variables it generated, derived or defaulted."""

    path: Path
    created: bool
    added: tuple[str, ...] = field(default_factory=tuple)


def complete_values(existing: Mapping[str, str]) -> dict[str, str]:
    """Fill every missing or empty variable: defaults, fresh secrets, then derived values.

    Values already set are kept as they are; derived values are only filled in when
    empty, so a hand-edited DATABASE_URL (an external database) survives.
    """
    values = dict(existing)
    for var in VARIABLES:
        if values.get(var.name):
            continue
        if var.generate is not None:
            values[var.name] = var.generate()
        elif var.derive is None:
            values.setdefault(var.name, var.default)
            if not values[var.name]:
                values[var.name] = var.default
    fill_derived(values)
    return values


def fill_derived(values: dict[str, str]) -> None:
    """Fill each empty derived variable from its sources; empty when a source is missing."""
    for var in VARIABLES:
        if var.derive is not None and not values.get(var.name):
            try:
                values[var.name] = var.derive(values)
            except KeyError:
                values[var.name] = ""


def init_env(path: Path) -> InitResult:
    """Create or complete `.env` at `path`; idempotent, keeps every value already set."""
    existed = path.exists()
    existing = read_env_file(path)
    values = complete_values(existing)
    added = tuple(k for k in values if existing.get(k, "") != values[k])
    if not existed or added:
        write_env_file(path, render_env(values))
    elif (path.stat().st_mode & 0o777) != 0o600:
        os.chmod(path, 0o600)
    return InitResult(path=path, created=not existed, added=added)


def mask(value: str) -> str:
    """Show a secret's shape, never the secret: the prefix of keys, then asterisks."""
    if not value:
        return ""
    for prefix in ("pk-lf-", "sk-lf-", "sk-"):
        if value.startswith(prefix):
            return f"{prefix}…{value[-4:]}" if len(value) > len(prefix) + 12 else f"{prefix}***"
    if "://" in value and "@" in value:
        scheme, rest = value.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return "***"


class Settings(Mapping[str, str]):
    """Resolved settings: process environment over `.env` over defaults; masked repr."""

    def __init__(self, values: Mapping[str, str], env_path: Path) -> None:
        self._values = dict(values)
        self.env_path = env_path

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Settings({self.env_path}, {len(self)} values, secrets masked)"

    def display(self, name: str) -> str:
        """A value safe to print: secrets masked."""
        value = self._values.get(name, "")
        var = BY_NAME.get(name)
        return mask(value) if var is not None and var.secret else value

    def int(self, name: str) -> int:
        raw = self._values.get(name, "")
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(
                f"{name}={raw!r} is not a whole number",
                fix=f"Set {name} in {self.env_path} to a number, e.g. {BY_NAME[name].default}.",
            ) from None

    @property
    def root(self) -> Path:
        return self.env_path.parent


def load(
    env_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    validate: bool = True,
) -> Settings:
    """Resolve settings: process environment > `.env` > defaults (derived values too)."""
    env_path = env_path or (REPO_ROOT / ENV_FILE_NAME)
    environ = os.environ if environ is None else environ
    file_values = read_env_file(env_path)
    merged: dict[str, str] = {}
    for var in VARIABLES:
        merged[var.name] = var.default
    merged.update(file_values)
    merged.update({k: environ[k] for k in BY_NAME if k in environ})
    fill_derived(merged)
    settings = Settings(merged, env_path)
    if validate:
        check_shapes(settings)
    return settings


def check_shapes(values: Mapping[str, str]) -> None:
    """Raise ConfigError naming the first variable whose value has the wrong shape."""
    for var in VARIABLES:
        value = values.get(var.name, "")
        if var.pattern and value and not re.fullmatch(var.pattern, value):
            shown = mask(value) if var.secret else value
            raise ConfigError(
                f"{var.name}={shown!r} has the wrong shape ({var.help})",
                fix=f"Correct {var.name} in .env, or delete the line and run "
                "`python manage_langfuse.py init` to generate it.",
            )
