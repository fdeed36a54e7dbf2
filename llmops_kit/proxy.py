"""Run the LiteLLM proxy natively in the foreground: same config and callbacks as the stack.

For users whose Langfuse is elsewhere (Langfuse Cloud, a remote host) and for tests. The
process environment wins over `.env`; Ctrl-C stops the proxy and waits for it to exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError
from .settings import REPO_ROOT, Settings

ENTRYPOINT = REPO_ROOT / "callbacks" / "proxy_entrypoint.py"
NATIVE_DATA_DIR = REPO_ROOT / "data" / "native-proxy"
STOP_GRACE_SECONDS = 15


def proxy_environment(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The proxy's environment: resolved settings, then the process environment on top.

    Empty settings are left out so that an empty AWS_PROFILE in `.env` does not hide the
    rest of the AWS credential chain. The database URL is dropped: the native proxy runs
    without a database and authenticates with the master key and the keys file.
    """
    env = {k: v for k, v in settings.items() if v}
    env.update(environ)
    env.pop("DATABASE_URL", None)
    keys_file = env.get("LLMOPS_KEYS_FILE")
    if keys_file:
        # Relative to the .env file's folder, as validation and compose read it.
        env["LLMOPS_KEYS_FILE"] = str((settings.root / keys_file).resolve())
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("LLMOPS_RUNTIME_DIR", str(NATIVE_DATA_DIR / "runtime"))
    env.setdefault("LLMOPS_SPOOL_DIR", str(NATIVE_DATA_DIR / "spool"))
    env.setdefault("LLMOPS_LEDGER_DIR", str(NATIVE_DATA_DIR / "ledger"))
    return env


def proxy_command(config: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        str(ENTRYPOINT),
        "--config",
        str(config),
        "--host",
        host,
        "--port",
        str(port),
    ]


def run(settings: Settings, *, config: Path, host: str, port: int) -> int:
    """Run the proxy until it exits or the user presses Ctrl-C; return its exit code."""
    if not config.is_file():
        raise ConfigError(
            f"config file {config} does not exist",
            fix="Pass --config with the path of your litellm_config.yml.",
        )
    env = proxy_environment(settings, os.environ)
    process = subprocess.Popen(proxy_command(config.resolve(), host, port), env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        # The terminal sent SIGINT to the whole process group; give LiteLLM time to drain.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 0
