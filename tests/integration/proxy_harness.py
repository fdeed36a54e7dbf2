"""Run the real LiteLLM proxy with `manage_langfuse.py proxy` against the Bedrock stand-in.

    with running_bedrock() as bedrock, start_proxy(bedrock, tmp_path) as proxy:
        OpenAI(base_url=proxy.openai_url, api_key=proxy.master_key).chat.completions.create(...)

The proxy gets the repository's litellm_config.yml, re-written into the test's folder with
only the `litellm_settings.callbacks` list changed (`callbacks=`), so tests run the real
routes, retry policy and fallbacks. The environment is the developer's without any AWS_*,
LANGFUSE_*, LITELLM_* or LLMOPS_* variable or other kit setting (DATABASE_URL...), and
LiteLLM reads no `.env` of its own (callbacks/proxy_entrypoint.py), plus what the test
gives: the stand-in's URL and key pair, a fresh master key, the keys file; `.env` holds the
profile prefix and region, so both sources are exercised. Starting takes 5-15 s of CPU:
share one proxy per module.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from llmops_kit.settings import BY_NAME
from tests.fakes.bedrock.harness import RunningBedrock

REPO_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY_CONFIG = REPO_ROOT / "litellm_config.yml"
PROFILE_PREFIX = "us"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
_ISOLATED_PREFIXES = ("AWS_", "LANGFUSE_", "LITELLM_", "LLMOPS_")
# Where tests.integration.metadata_recorder appends what the callbacks were given.
RECORD_FILE_VARIABLE = "LLMOPS_TEST_RECORD_FILE"


@dataclass(frozen=True)
class RunningProxy:
    """A started proxy: where it listens, the master key, and its log file."""

    url: str
    master_key: str = field(repr=False)
    log_path: Path
    runtime_dir: Path

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def derive_config(target: Path, *, callbacks: Sequence[str] | None = None) -> Path:
    """The repository's config written to `target`, its callbacks list replaced if given."""
    document = yaml.safe_load(REPOSITORY_CONFIG.read_text(encoding="utf-8"))
    if callbacks is not None:
        document.setdefault("litellm_settings", {})["callbacks"] = list(callbacks)
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


def write_keys_file(path: Path, entries: Sequence[Mapping[str, str]]) -> Path:
    path.write_text(yaml.safe_dump(list(map(dict, entries))), encoding="utf-8")
    path.chmod(0o600)
    return path


def isolated_environment() -> dict[str, str]:
    """The developer's environment without any variable the kit or the proxy reads."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_ISOLATED_PREFIXES) and k not in BY_NAME
    }


def proxy_environment(
    bedrock: RunningBedrock, work_dir: Path, master_key: str, overrides: Mapping[str, str]
) -> dict[str, str]:
    """The developer's environment minus the kit's variables, plus the test's."""
    env = isolated_environment()
    env.update(
        {
            "AWS_BEDROCK_RUNTIME_ENDPOINT": bedrock.url,
            "AWS_ACCESS_KEY_ID": bedrock.access_key_id,
            "AWS_SECRET_ACCESS_KEY": bedrock.secret_access_key,
            "AWS_EC2_METADATA_DISABLED": "true",
            "LITELLM_MASTER_KEY": master_key,
            "LLMOPS_RUNTIME_DIR": str(work_dir / "runtime"),
            "LLMOPS_SPOOL_DIR": str(work_dir / "spool"),
            "PYTHONPATH": str(REPO_ROOT),
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    env.update(overrides)
    return env


@contextmanager
def start_proxy(
    bedrock: RunningBedrock,
    work_dir: Path,
    *,
    env_overrides: Mapping[str, str] | None = None,
    config: Path | None = None,
    callbacks: Sequence[str] | None = None,
) -> Iterator[RunningProxy]:
    """Start `manage_langfuse.py proxy` on a free loopback port; stop it on exit.

    `config` defaults to the repository's config derived with `callbacks`; `env_overrides`
    win over everything else (e.g. a wrong AWS_SECRET_ACCESS_KEY, LLMOPS_KEYS_FILE).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    config = config or derive_config(work_dir / "litellm_config.yml", callbacks=callbacks)
    env_file = work_dir / ".env"
    env_file.write_text(
        f"BEDROCK_PROFILE_PREFIX={PROFILE_PREFIX}\nAWS_REGION={bedrock.region}\n",
        encoding="utf-8",
    )
    master_key = "sk-" + secrets.token_hex(24)
    env = proxy_environment(bedrock, work_dir, master_key, env_overrides or {})
    port = free_port()
    command = [
        sys.executable,
        str(REPO_ROOT / "manage_langfuse.py"),
        "proxy",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(config),
        "--env-file",
        str(env_file),
    ]
    log_path = work_dir / "proxy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    proxy = RunningProxy(f"http://127.0.0.1:{port}", master_key, log_path, work_dir / "runtime")
    try:
        _wait_until_ready(process, proxy)
        yield proxy
    finally:
        _stop(process)


def _wait_until_ready(process: subprocess.Popen[bytes], proxy: RunningProxy) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the proxy exited with {process.returncode} before it was ready:\n"
                f"{proxy.log_tail()}"
            )
        try:
            if httpx.get(f"{proxy.url}/health/readiness", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the proxy was not ready in {READY_TIMEOUT_S} s:\n{proxy.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C as a user would press it; kill the whole group only if that does not work."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a LiteLLM worker left behind, if any
