"""The fault catalogue on the native proxy: each fault injected for real, then fixed as printed.

One real proxy (`manage_langfuse.py proxy`) in front of the Bedrock stand-in, sending traces to
the Langfuse stand-in, and moto's STS: shared by the whole module. Doctor runs in-process for
single checks (each test runs the checks the fault concerns) and once through the CLI for the
healthy exit 0. The user-facing test script runs against the same setup.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from llmops_kit.doctor import CHECKS, DoctorContext, DoctorOptions, Finding, Status, run_checks
from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.fakes.sts import running_moto_sts
from tests.integration.proxy_harness import (
    REPO_ROOT,
    REPOSITORY_CONFIG,
    RunningProxy,
    derive_config,
    start_proxy,
)

pytestmark = pytest.mark.integration

EXPORTER_CALLBACK = "callbacks.langfuse_v4.handler"
TEST_SCRIPT = REPO_ROOT / "tests" / "test_litellm_langfuse.py"
DELIVERY_WAIT_S = 60.0


def _callbacks() -> list[str]:
    document = yaml.safe_load(REPOSITORY_CONFIG.read_text(encoding="utf-8"))
    names = list((document.get("litellm_settings") or {}).get("callbacks") or [])
    return names if EXPORTER_CALLBACK in names else [*names, EXPORTER_CALLBACK]


@dataclass(frozen=True)
class NativeSetup:
    bedrock: RunningBedrock
    langfuse: LangfuseStandIn
    proxy: RunningProxy
    sts_url: str
    config: Path
    spool_dir: Path

    def env_lines(self) -> dict[str, str]:
        """The `.env` a user of this native proxy would have."""
        return {
            "LITELLM_PORT": str(httpx.URL(self.proxy.url).port),
            "LITELLM_MASTER_KEY": self.proxy.master_key,
            "LANGFUSE_HOST": self.langfuse.url,
            "LANGFUSE_PUBLIC_KEY": self.langfuse.public_key,
            "LANGFUSE_SECRET_KEY": self.langfuse.secret_key,
            "AWS_ACCESS_KEY_ID": self.bedrock.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.bedrock.secret_access_key,
            "AWS_BEDROCK_RUNTIME_ENDPOINT": self.bedrock.url,
            "AWS_REGION": self.bedrock.region,
            "BEDROCK_PROFILE_PREFIX": "us",
        }

    def environ(self) -> dict[str, str]:
        """Doctor's process environment: loopback AWS endpoints, the proxy's spool."""
        kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGFUSE_"))}
        return {
            **kept,
            "AWS_ENDPOINT_URL_STS": self.sts_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "LLMOPS_SPOOL_DIR": str(self.spool_dir),
            "NO_PROXY": "127.0.0.1,localhost",
        }

    def chat(self, text: str = "ping") -> None:
        response = httpx.post(
            f"{self.proxy.url}/v1/chat/completions",
            json={"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": text}]},
            headers={"Authorization": f"Bearer {self.proxy.master_key}"},
            timeout=60,
        )
        response.raise_for_status()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeSetup]:
    work = tmp_path_factory.mktemp("doctor-native")
    with (
        running_bedrock() as bedrock,
        running_langfuse() as langfuse,
        running_moto_sts() as sts_url,
    ):
        overrides = {
            "LANGFUSE_HOST": langfuse.url,
            "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
            "LANGFUSE_SECRET_KEY": langfuse.secret_key,
            "LLMOPS_EXPORT_MAX_BACKOFF_SECONDS": "2",
            "LLMOPS_EXPORT_TIMEOUT_SECONDS": "5",
        }
        with start_proxy(bedrock, work, env_overrides=overrides, callbacks=_callbacks()) as proxy:
            yield NativeSetup(
                bedrock, langfuse, proxy, sts_url, work / "litellm_config.yml", work / "spool"
            )


@pytest.fixture
def env_path(setup: NativeSetup, tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    write_env(path, setup.env_lines())
    return path


def write_env(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    path.chmod(0o600)


def set_line(path: Path, name: str, value: str) -> None:
    lines = [line for line in path.read_text().splitlines() if not line.startswith(f"{name}=")]
    path.write_text("\n".join([*lines, f"{name}={value}"]) + "\n")


def diagnose(
    setup: NativeSetup, env_path: Path, *check_ids: str, config: Path | None = None
) -> dict[str, Finding]:
    """Run the named checks (in doctor's order) natively, in this process."""
    options = DoctorOptions(env_path, config or setup.config, native=True)
    ctx = DoctorContext(options, environ=setup.environ())
    try:
        chosen = [c for c in CHECKS if c.id in check_ids]
        return {f.id: f for f in run_checks(ctx, chosen)}
    finally:
        ctx.close()


def assert_fails(finding: Finding, cause: str, fix: str) -> None:
    assert finding.status is Status.FAIL, finding
    assert cause in finding.message, finding
    assert fix in finding.fix, finding


@pytest.mark.parametrize("mode", ["--native", "no mode given"])
def test_a_healthy_native_setup_gives_exit_0_with_container_checks_skipped(
    setup: NativeSetup, env_path: Path, mode: str
) -> None:
    # Without --native and without any container of the stack, doctor finds the proxy
    # answering on LITELLM_PORT and checks it as the native proxy it is.
    done = subprocess.run(
        [
            sys.executable,
            "manage_langfuse.py",
            "doctor",
            *([mode] if mode.startswith("--") else []),
            "--json",
            "--env-file",
            str(env_path),
            "--config",
            str(setup.config),
        ],
        cwd=REPO_ROOT,
        env=setup.environ(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    failed = [f for f in report["findings"] if f["status"] == "FAIL"]
    assert done.returncode == 0, failed or done.stderr
    assert report["exit_code"] == 0
    ok = {f["id"] for f in report["findings"] if f["status"] == "OK"}
    assert {"langfuse.auth", "litellm.master_key", "bedrock.model_access", "host.ports"} <= ok
    containers = [f for f in report["findings"] if f["id"].startswith("containers.")]
    assert containers
    assert all(f["status"] == "SKIP" and "native proxy" in f["message"] for f in containers)
    for secret in (setup.proxy.master_key, setup.langfuse.secret_key):
        assert secret not in done.stdout + done.stderr
    if mode == "no mode given":
        assert "checking it as a native proxy (--native)" in done.stderr


def test_wrong_langfuse_keys_fail_and_the_project_keys_fix_it(
    setup: NativeSetup, env_path: Path
) -> None:
    set_line(env_path, "LANGFUSE_SECRET_KEY", "sk-lf-22222222-2222-4222-8222-222222222222")
    finding = diagnose(setup, env_path, "langfuse.web", "langfuse.auth")["langfuse.auth"]
    assert_fails(finding, "rejected the key pair", "LANGFUSE_SECRET_KEY=sk-lf-...")
    set_line(env_path, "LANGFUSE_SECRET_KEY", setup.langfuse.secret_key)
    assert diagnose(setup, env_path, "langfuse.auth")["langfuse.auth"].status is Status.OK


def test_langfuse_down_fails_and_starting_it_fixes_it(setup: NativeSetup, env_path: Path) -> None:
    setup.langfuse.stop()
    try:
        findings = diagnose(setup, env_path, "langfuse.web", "langfuse.auth")
    finally:
        setup.langfuse.start()
    assert_fails(
        findings["langfuse.web"], f"cannot reach Langfuse at {setup.langfuse.url}", "Start Langfuse"
    )
    assert findings["langfuse.auth"].status is Status.SKIP
    assert diagnose(setup, env_path, "langfuse.web")["langfuse.web"].status is Status.OK


def test_a_master_key_mismatch_fails_and_the_proxy_key_fixes_it(
    setup: NativeSetup, env_path: Path
) -> None:
    set_line(env_path, "LITELLM_MASTER_KEY", "sk-" + "0" * 48)
    finding = diagnose(setup, env_path, "litellm.liveliness", "litellm.master_key")[
        "litellm.master_key"
    ]
    assert_fails(finding, "the proxy rejects LITELLM_MASTER_KEY=sk-…0000 (HTTP 401)", "restart it")
    assert "LITELLM_MASTER_KEY=<the key it was started with>" in finding.fix
    set_line(env_path, "LITELLM_MASTER_KEY", setup.proxy.master_key)
    findings = diagnose(setup, env_path, "litellm.liveliness", "litellm.master_key")
    assert findings["litellm.master_key"].status is Status.OK


def test_an_invalid_config_fails_naming_the_line_and_restoring_it_fixes_it(
    setup: NativeSetup, env_path: Path, tmp_path: Path
) -> None:
    config = tmp_path / "litellm_config.yml"
    config.write_text(setup.config.read_text().replace("model_list:", "model_list:\n  - [", 1))
    finding = diagnose(setup, env_path, "litellm.config", config=config)["litellm.config"]
    assert_fails(finding, f"{config} is not valid YAML at line", "Correct the indentation")
    shutil.copy(setup.config, config)
    assert diagnose(setup, env_path, "litellm.config", config=config)["litellm.config"].status is (
        Status.OK
    )


def test_a_callback_that_fails_to_import_is_named_with_its_error(
    setup: NativeSetup, env_path: Path, tmp_path: Path
) -> None:
    shutil.copytree(REPO_ROOT / "callbacks", tmp_path / "callbacks")
    (tmp_path / "callbacks" / "broken.py").write_text("import llmops_missing_dependency\n")
    config = derive_config(tmp_path / "litellm_config.yml", callbacks=["callbacks.broken.handler"])
    finding = diagnose(setup, env_path, "callback.import", config=config)["callback.import"]
    assert_fails(
        finding,
        "callbacks.broken.handler: ModuleNotFoundError: No module named "
        "'llmops_missing_dependency'",
        "Fix the import in callbacks/broken.py, or remove callbacks.broken.handler",
    )
    derive_config(config, callbacks=_callbacks())  # the second way out the fix names
    finding = diagnose(setup, env_path, "callback.import", config=config)["callback.import"]
    assert finding.status is Status.OK


def _wait_for(condition, timeout_s: float = DELIVERY_WAIT_S) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_a_backlog_while_langfuse_is_unreachable_fails_and_langfuse_back_drains_it(
    setup: NativeSetup, env_path: Path
) -> None:
    def delivery() -> Finding:
        return diagnose(setup, env_path, "callback.delivery")["callback.delivery"]

    setup.langfuse.stop()
    try:
        setup.chat("a request traced while Langfuse is down")
        assert _wait_for(lambda: delivery().status is Status.FAIL), delivery()
        finding = delivery()
    finally:
        setup.langfuse.start()
    assert re.search(r"\d+ spans wait for Langfuse", finding.message), finding
    assert "the last export failed" in finding.message
    assert f"start Langfuse at {setup.langfuse.url}" in finding.fix
    assert "delivers it on its own" in finding.fix
    assert _wait_for(lambda: delivery().status is Status.OK), delivery()
    spool = diagnose(setup, env_path, "callback.spool")["callback.spool"]
    assert spool.status is Status.OK
    assert spool.message.startswith("0 spans waiting")


def _run_test_script(setup: NativeSetup, timeout_s: int) -> subprocess.CompletedProcess[str]:
    env = {
        **setup.environ(),
        "LLMOPS_TEST_PROXY_URL": setup.proxy.url,
        "LLMOPS_TEST_PROXY_KEY": setup.proxy.master_key,
        "LLMOPS_TEST_LANGFUSE_URL": setup.langfuse.url,
        "LANGFUSE_PUBLIC_KEY": setup.langfuse.public_key,
        "LANGFUSE_SECRET_KEY": setup.langfuse.secret_key,
        "LLMOPS_TEST_MODELS": "claude-sonnet-4-6,claude-haiku-4-5",
        "LLMOPS_TEST_TRACE_TIMEOUT": str(timeout_s),
    }
    return subprocess.run(
        [sys.executable, str(TEST_SCRIPT), "--env-file", os.devnull],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s + 120,
    )


def test_the_test_script_passes_against_the_native_setup(setup: NativeSetup) -> None:
    done = _run_test_script(setup, timeout_s=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 of 4 requests traced correctly" in done.stdout
    assert "claude-haiku-4-5 (streaming)" in done.stdout


def test_the_test_script_fails_precisely_when_no_trace_arrives(setup: NativeSetup) -> None:
    setup.langfuse.set_mode("error", status=503)
    try:
        done = _run_test_script(setup, timeout_s=5)
    finally:
        setup.langfuse.set_mode("normal")
    assert done.returncode == 1
    assert "0 of 4 requests traced correctly" in done.stdout
    assert "in Langfuse after 5 s" in done.stdout
    assert "readable 15 to 30 s after it arrives" in done.stdout
    assert "python manage_langfuse.py doctor" in done.stdout
