"""`.env`: present and private, no secret missing or left at a default, derived values agree.

Fixes are commands that can be pasted as they are: a `sed` that deletes the offending
lines, then `init`, which generates what is missing and derives what depends on it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from ..settings import (
    BY_NAME,
    VARIABLES,
    complete_values,
    langfuse_environment,
    mask,
    tracing_environment_problem,
)
from .context import DoctorContext
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("envfile", ".env settings")

# What the proxy itself needs when it runs natively; the stack needs every generated secret.
NATIVE_REQUIRED = ("LITELLM_MASTER_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY")
MIN_SECRET_LENGTH = 16
# Defaults from upstream compose files and quick-start guides, and placeholders.
KNOWN_DEFAULTS = frozenset(
    {
        "mysecret",
        "mysalt",
        "0" * 64,
        "postgres",
        "clickhouse",
        "myredissecret",
        "miniosecret",
        "minio",
        "password",
        "changeme",
        "secret",
        "admin",
        "sk-1234",
        "pk-lf-1234567890",
        "sk-lf-1234567890",
    }
)
_PLACEHOLDER = re.compile(r"^<.*>$|^x{4,}$|change.?me|your[-_ ]", re.IGNORECASE)
_RECREATE_NOTE = (
    "; after the fix, `python manage_langfuse.py start` applies the new values (a store "
    "password already written into a volume stays the old one until that volume is recreated)"
)
# Variables with a check of their own below, left out of the generic shape check.
OWN_CHECKS = frozenset({"LANGFUSE_TRACING_ENVIRONMENT"})
_QUOTED_LINE = re.compile(r"""^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(["'])""")


def _required(ctx: DoctorContext) -> list[str]:
    if ctx.native:
        return list(NATIVE_REQUIRED)
    return [v.name for v in VARIABLES if v.secret and (v.generate or v.derive)]


def _is_default(value: str) -> bool:
    return (
        value.lower() in KNOWN_DEFAULTS
        or bool(_PLACEHOLDER.search(value))
        or len(set(value)) == 1
        or len(value) < MIN_SECRET_LENGTH
    )


def _dependents(names: Iterable[str], values: Mapping[str, str]) -> list[str]:
    """Derived variables whose value changes with any of `names`: they go when those go."""
    full = complete_values(values)
    found: list[str] = []
    for name in names:
        probe = {**full, name: full.get(name, "") + "\x00changed"}
        found += [
            v.name
            for v in VARIABLES
            if v.derive is not None and v.derive(probe) != v.derive(full) and v.name not in found
        ]
    return found


def regenerate_command(ctx: DoctorContext, names: Iterable[str]) -> str:
    """Delete the lines (and the values derived from them), then let `init` make new ones."""
    names = list(dict.fromkeys(names))
    names += [d for d in _dependents(names, ctx.settings) if d not in names]
    expressions = " ".join(f"-e '/^{name}=/d'" for name in names)
    env_path = shlex.quote(str(ctx.options.env_path))
    return f"sed -i {expressions} {env_path} && {ctx.kit_command('init')}"


@group.check(
    "env.file",
    summary="`.env` exists, parses, and only its owner can read it (mode 0600)",
    remedy="`python manage_langfuse.py init` creates it; `chmod 600 .env` makes it private",
)
def env_file(ctx: DoctorContext, result: Verdicts) -> Finding:
    path = ctx.options.env_path
    if ctx.env_file_error is not None:
        error = ctx.env_file_error
        return result.fail(f"{path}: {error.message}", error.fix or f"Correct {path}.")
    if not path.exists():
        message = f"there is no {path}"
        if ctx.native:
            return result.warn(
                f"{message}; the native proxy reads only the process environment",
                ctx.kit_command("init"),
            )
        return result.fail(message, ctx.kit_command("init"))
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return result.warn(
            f"{path} holds secrets but has mode {mode:04o}: others can read it",
            f"chmod 600 {shlex.quote(str(path))}",
        )
    return result.ok(f"{path} parses and has mode 0600")


@group.check(
    "env.secret.missing",
    summary="every secret the setup needs has a value",
    remedy="`python manage_langfuse.py init` generates what is missing and keeps the rest",
)
def missing_secrets(ctx: DoctorContext, result: Verdicts) -> Finding:
    missing = [name for name in _required(ctx) if not ctx.settings.get(name)]
    if missing:
        return result.fail(
            f"no value for {', '.join(missing)}",
            ctx.kit_command("init")
            + (" (or export them: the native proxy's environment wins)" if ctx.native else ""),
        )
    return result.ok(f"all {len(_required(ctx))} required secrets are set")


@group.check(
    "env.secret.default",
    summary="no secret is a well-known default, a placeholder, or shorter than 16 characters",
    remedy="delete the line from `.env` and run `python manage_langfuse.py init` for a fresh "
    "value; a store password already in a volume changes only when the volume is recreated",
)
def default_secrets(ctx: DoctorContext, result: Verdicts) -> Finding:
    weak = [
        name
        for name in _required(ctx)
        if ctx.settings.get(name) and _is_default(ctx.settings[name])
    ]
    if weak:
        shown = ", ".join(f"{name}={mask(ctx.settings[name])}" for name in weak)
        return result.fail(
            f"default or weak secrets: {shown}{'' if ctx.native else _RECREATE_NOTE}",
            regenerate_command(ctx, weak),
        )
    return result.ok("no secret is a default, a placeholder or too short")


def _derived_mismatches(ctx: DoctorContext) -> list[str]:
    full = complete_values(ctx.settings)
    mismatches = []
    for var in VARIABLES:
        actual = ctx.settings.get(var.name, "")
        if var.derive is None or not actual or actual == var.derive(full):
            continue
        expected = var.derive(full)
        if "://" in expected and urlsplit(expected).hostname != urlsplit(actual).hostname:
            continue  # a hand-edited URL to an external database is the user's choice
        mismatches.append(var.name)
    return mismatches


@group.check(
    "env.derived",
    summary="derived values agree: DATABASE_URL holds POSTGRES_PASSWORD, LiteLLM's "
    "LANGFUSE_PUBLIC_KEY/SECRET_KEY equal the project keys Langfuse is initialised with",
    remedy="delete the derived line from `.env` and run `python manage_langfuse.py init`, "
    "which derives it again",
)
def derived_values(ctx: DoctorContext, result: Verdicts) -> Finding:
    if ctx.native:
        return result.skip(
            "native proxy: Langfuse and its databases are configured elsewhere, so nothing "
            "in .env has to agree"
        )
    mismatches = _derived_mismatches(ctx)
    if mismatches:
        sources = "; ".join(f"{name}: {BY_NAME[name].help}" for name in mismatches)
        return result.fail(
            f"{', '.join(mismatches)} disagree with the values they derive from "
            f"({sources}){_RECREATE_NOTE}",
            regenerate_command(ctx, mismatches),
        )
    return result.ok("derived values agree with their sources")


def _quoted_names(path: Path) -> list[tuple[str, bool]]:
    """(name, balanced) for each quoted value in the file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):  # env.file reports why it cannot be read
        return []
    found = []
    for line in lines:
        match = _QUOTED_LINE.match(line)
        if match:
            value = line.split("=", 1)[1].strip()
            found.append((match[1], len(value) >= 2 and value[-1] == match[2]))
    return found


@group.check(
    "env.quotes",
    summary="no value in `.env` is quoted (`docker run --env-file` and systemd keep quotes "
    "as part of the value)",
    remedy="write `NAME=value` without quotes; generated values never need them",
)
def quoted_values(ctx: DoctorContext, result: Verdicts) -> Finding:
    quoted = _quoted_names(ctx.options.env_path)
    if not quoted:
        return result.ok("no quoted values")
    names = [name for name, _ in quoted]
    pattern = f"s/^({'|'.join(names)})=[\"'](.*)[\"']$/\\1=\\2/"
    fix = f"sed -i -E {shlex.quote(pattern)} {shlex.quote(str(ctx.options.env_path))}"
    broken = [name for name, balanced in quoted if not balanced]
    if broken:
        return result.fail(
            f"unbalanced quotes in {', '.join(broken)}: the quote becomes part of the value",
            f"Edit {ctx.options.env_path}: write {broken[0]}=value with no quote at all.",
        )
    return result.warn(f"quoted values: {', '.join(names)}", fix)


@group.check(
    "env.shapes",
    summary="values have the right shape (ports are numbers, ENCRYPTION_KEY is 64 hex "
    "characters, keys start with pk-lf-/sk-lf-/sk-, a known profile prefix)",
    remedy="correct the named variable in `.env`, or delete its line and run "
    "`python manage_langfuse.py init`",
)
def value_shapes(ctx: DoctorContext, result: Verdicts) -> Finding:
    bad = [
        var
        for var in VARIABLES
        if var.pattern
        and var.name not in OWN_CHECKS
        and ctx.settings.get(var.name)
        and not re.fullmatch(var.pattern, ctx.settings[var.name])
    ]
    if not bad:
        return result.ok("every value has its expected shape")
    shown = "; ".join(
        f"{v.name}={mask(ctx.settings[v.name]) if v.secret else ctx.settings[v.name]} ({v.help})"
        for v in bad
    )
    generated = [v.name for v in bad if v.generate is not None]
    if len(generated) == len(bad):
        fix = regenerate_command(ctx, generated)
    else:
        fix = f"Correct {', '.join(v.name for v in bad)} in {ctx.options.env_path}."
    return result.fail(f"wrong shape: {shown}", fix)


@group.check(
    "env.tracing_environment",
    summary="LANGFUSE_TRACING_ENVIRONMENT is a name Langfuse keeps as written (it lowercases, "
    "strips a leading 'langfuse', and turns invalid names into 'default')",
    remedy="set LANGFUSE_TRACING_ENVIRONMENT to up to 40 lowercase letters, digits, - and _, "
    "not starting with 'langfuse'",
)
def tracing_environment(ctx: DoctorContext, result: Verdicts) -> Finding:
    problem = tracing_environment_problem(ctx.settings)
    if problem is None:
        name = ctx.settings.get("LANGFUSE_TRACING_ENVIRONMENT") or "default"
        return result.ok(f"traces go to the environment {name!r}")
    stored = langfuse_environment(ctx.settings["LANGFUSE_TRACING_ENVIRONMENT"])
    pattern = f"s/^LANGFUSE_TRACING_ENVIRONMENT=.*/LANGFUSE_TRACING_ENVIRONMENT={stored}/"
    fix = f"sed -i {shlex.quote(pattern)} {shlex.quote(str(ctx.options.env_path))}"
    return result.fail(problem, fix)
