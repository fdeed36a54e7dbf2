"""The callback's settings, read once from the proxy's environment.

Every name here is also listed in llmops_kit/settings.py (group "Callback"), so `.env`
documents it; this module cannot import that one (it runs inside the LiteLLM image).
A bad value never stops the proxy: it falls back to the default and says so once.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("llmops.callback")

LOG_INPUT_MODES = ("full", "delta", "off")


@dataclass(frozen=True, kw_only=True)
class CallbackSettings:
    """Where traces go and how much of each request is kept."""

    langfuse_host: str = "http://langfuse-web:3000"
    public_key: str = ""
    secret_key: str = field(default="", repr=False)
    environment: str = "default"
    spool_dir: Path = Path(tempfile.gettempdir()) / "llmops-spool"
    spool_max_bytes: int = 512 * 1024 * 1024
    log_input: str = "delta"
    log_output: bool = True
    export_timeout_seconds: float = 30.0
    max_backoff_seconds: float = 60.0
    in_doubt_settle_seconds: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CallbackSettings:
        defaults = cls()
        reader = _Reader(environ)
        spool_dir = environ.get("LLMOPS_SPOOL_DIR", "")
        if not spool_dir:
            log.warning(
                "LLMOPS_SPOOL_DIR is not set; spooling to %s, which may not survive a restart",
                defaults.spool_dir,
            )
        return cls(
            langfuse_host=(environ.get("LANGFUSE_HOST") or defaults.langfuse_host).rstrip("/"),
            public_key=environ.get("LANGFUSE_PUBLIC_KEY", ""),
            secret_key=environ.get("LANGFUSE_SECRET_KEY", ""),
            environment=environ.get("LANGFUSE_TRACING_ENVIRONMENT") or defaults.environment,
            spool_dir=Path(spool_dir) if spool_dir else defaults.spool_dir,
            spool_max_bytes=int(
                reader.number("LLMOPS_SPOOL_MAX_MB", defaults.spool_max_bytes / 2**20) * 2**20
            ),
            log_input=reader.choice("LLMOPS_LOG_INPUT", LOG_INPUT_MODES, defaults.log_input),
            log_output=reader.choice("LLMOPS_LOG_OUTPUT", ("on", "off"), "on") == "on",
            export_timeout_seconds=reader.number(
                "LLMOPS_EXPORT_TIMEOUT_SECONDS", defaults.export_timeout_seconds
            ),
            max_backoff_seconds=reader.number(
                "LLMOPS_EXPORT_MAX_BACKOFF_SECONDS", defaults.max_backoff_seconds
            ),
            in_doubt_settle_seconds=reader.number(
                "LLMOPS_IN_DOUBT_SETTLE_SECONDS", defaults.in_doubt_settle_seconds
            ),
        )


@dataclass(frozen=True)
class _Reader:
    environ: Mapping[str, str]

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.environ.get(name, "").strip().lower()
        if not value:
            return default
        if value not in allowed:
            log.warning("%s=%r is not one of %s; using %s", name, value, "|".join(allowed), default)
            return default
        return value

    def number(self, name: str, default: float) -> float:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value <= 0:
            log.warning("%s=%r is not a positive number; using %s", name, raw, default)
            return default
        return value
