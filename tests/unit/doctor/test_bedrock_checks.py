"""Bedrock pre-flight against moto's STS and the Bedrock stand-in; nothing leaves loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from llmops_kit import bedrock_probe
from llmops_kit.doctor import CHECKS, Status, run_checks
from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.fakes.loopback import serving
from tests.fakes.sts import running_moto_sts, scripted_sts
from tests.unit.doctor.conftest import REPO_ROOT, ContextFactory, run_check, set_line

SONNET = "us.anthropic.claude-sonnet-4-6"
CONFIGURED_MODELS = len(
    yaml.safe_load((REPO_ROOT / "litellm_config.yml").read_text(encoding="utf-8"))["model_list"]
)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[RunningBedrock]:
    with running_bedrock() as running:
        yield running


@pytest.fixture(scope="module")
def moto_sts() -> Iterator[str]:
    with running_moto_sts() as url:
        yield url


@pytest.fixture
def aws_env(
    env_path: Path, stand_in: RunningBedrock, moto_sts: str, monkeypatch: pytest.MonkeyPatch
) -> RunningBedrock:
    """`.env` with the stand-in's key pair and endpoint; boto3 sees only loopback endpoints."""
    stand_in.reset()
    stand_in.set_fault(SONNET, None)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(env_path.parent / "no-such-aws-file"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_sts)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    set_line(env_path, "AWS_ACCESS_KEY_ID", stand_in.access_key_id)
    set_line(env_path, "AWS_SECRET_ACCESS_KEY", stand_in.secret_access_key)
    set_line(env_path, "AWS_BEDROCK_RUNTIME_ENDPOINT", stand_in.url)
    set_line(env_path, "AWS_REGION", "us-east-1")
    set_line(env_path, "BEDROCK_PROFILE_PREFIX", "us")
    return stand_in


def test_working_credentials_pass_every_bedrock_check(
    aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    ctx = make_context(native=True)
    for check_id in (
        "bedrock.credentials",
        "bedrock.identity",
        "bedrock.session_token",
        "bedrock.region",
        "bedrock.clock_skew",
        "bedrock.model_access",
    ):
        finding = run_check(ctx, check_id)
        assert finding.status is Status.OK, finding


def test_model_access_calls_each_model_once_with_one_output_token(
    aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    run_check(make_context(native=True), "bedrock.model_access")
    calls = aws_env.calls()
    assert len({c["model_id"] for c in calls}) == len(calls) == CONFIGURED_MODELS
    assert {c["operation"] for c in calls} == {"Converse"}


def test_no_bedrock_calls_skips_the_model_probe_and_calls_nothing(
    aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    finding = run_check(make_context(native=True, bedrock_calls=False), "bedrock.model_access")
    assert finding.status is Status.SKIP
    assert aws_env.calls() == []


def test_no_credentials_fail_and_setting_keys_in_env_fixes_it(
    env_path: Path, aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    set_line(env_path, "AWS_ACCESS_KEY_ID", "")
    set_line(env_path, "AWS_SECRET_ACCESS_KEY", "")
    finding = run_check(make_context(native=True), "bedrock.credentials")
    assert finding.status is Status.FAIL
    assert finding.message == "no AWS credentials found in .env, the environment or ~/.aws"
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in finding.fix
    set_line(env_path, "AWS_ACCESS_KEY_ID", aws_env.access_key_id)
    set_line(env_path, "AWS_SECRET_ACCESS_KEY", aws_env.secret_access_key)
    assert run_check(make_context(native=True), "bedrock.credentials").status is Status.OK


def test_a_wrong_secret_fails_on_the_rejected_signature_without_printing_it(
    env_path: Path, aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    wrong = "W" * 40
    set_line(env_path, "AWS_SECRET_ACCESS_KEY", wrong)
    finding = run_check(make_context(native=True), "bedrock.model_access")
    assert finding.status is Status.FAIL
    assert "InvalidSignatureException" in finding.message
    assert "AWS_SECRET_ACCESS_KEY does not belong to AWS_ACCESS_KEY_ID" in finding.fix
    assert wrong not in finding.message + finding.fix
    set_line(env_path, "AWS_SECRET_ACCESS_KEY", aws_env.secret_access_key)
    assert run_check(make_context(native=True), "bedrock.model_access").status is Status.OK


def test_model_access_denied_names_the_model_and_the_console_fix(
    aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    aws_env.set_fault(SONNET, "access_denied")
    finding = run_check(make_context(native=True), "bedrock.model_access")
    assert finding.status is Status.FAIL
    assert f"{SONNET}: AccessDeniedException" in finding.message
    assert f"Bedrock refuses 1 of {CONFIGURED_MODELS} models" in finding.message
    assert f"Grant access to {SONNET}" in finding.fix
    aws_env.set_fault(SONNET, None)  # what granting access in the console does
    assert run_check(make_context(native=True), "bedrock.model_access").status is Status.OK


def test_an_expired_session_token_fails_with_the_refresh_fix(
    aws_env: RunningBedrock, make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scripted_sts(error_code="ExpiredToken") as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
        ctx = make_context(native=True)
        token = run_check(ctx, "bedrock.session_token")
        identity = run_check(ctx, "bedrock.identity")
    assert token.status is Status.FAIL
    assert token.message == "the AWS session token has expired (STS answered ExpiredToken)"
    assert "aws sso login" in token.fix
    assert identity.status is Status.SKIP


def test_a_clock_ten_minutes_off_fails(
    aws_env: RunningBedrock, make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scripted_sts(clock_offset_s=600) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
        finding = run_check(make_context(native=True), "bedrock.clock_skew")
    assert finding.status is Status.FAIL
    assert "behind AWS" in finding.message
    assert "timedatectl set-ntp true" in finding.fix


@pytest.mark.parametrize(
    ("skew_error", "offset_s", "direction"),
    [
        ("SignatureDoesNotMatch", 600, "behind AWS"),  # "Signature expired: ..."
        ("SignatureDoesNotMatch", -600, "ahead of AWS"),  # "Signature not yet current: ..."
        ("RequestExpired", 600, "behind AWS"),
        ("RequestTimeTooSkewed", -900, "ahead of AWS"),
    ],
)
def test_aws_refusing_the_signature_s_time_is_the_clock_not_the_key(
    aws_env: RunningBedrock,
    make_context: ContextFactory,
    monkeypatch: pytest.MonkeyPatch,
    skew_error: str,
    offset_s: float,
    direction: str,
) -> None:
    checks = [c for c in CHECKS if c.id.startswith(("bedrock.credentials", "bedrock.identity"))]
    checks += [c for c in CHECKS if c.id == "bedrock.clock_skew"]
    with scripted_sts(clock_offset_s=offset_s, skew_error=skew_error) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
        findings = {f.id: f for f in run_checks(make_context(native=True), checks)}

    identity, clock = findings["bedrock.identity"], findings["bedrock.clock_skew"]
    assert identity.status is Status.SKIP
    assert "AWS_SECRET_ACCESS_KEY" not in identity.message + identity.fix
    assert clock.status is Status.FAIL
    assert skew_error in clock.message
    assert direction in clock.message
    assert "timedatectl set-ntp true" in clock.fix


def test_a_clock_two_minutes_off_is_a_warning_read_from_sts_s_date(
    aws_env: RunningBedrock, make_context: ContextFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scripted_sts(clock_offset_s=120) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
        ctx = make_context(native=True)
        identity, clock = run_check(ctx, "bedrock.identity"), run_check(ctx, "bedrock.clock_skew")

    assert identity.status is Status.OK
    assert clock.status is Status.WARN
    assert "behind AWS" in clock.message


@contextmanager
def _bedrock_refusing_the_time() -> Iterator[str]:
    """Bedrock Runtime's answer to a request signed 10 minutes ago (restJson protocol)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(
                {
                    "message": "Signature expired: 20261206T101500Z is now earlier than "
                    "20261206T102000Z (20261206T102500Z - 5 min.)"
                }
            ).encode()
            self.send_response(403)
            self.send_header("x-amzn-ErrorType", "InvalidSignatureException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


def test_bedrock_s_signature_expired_is_the_clock_with_aws_s_time_from_the_message(
    env_path: Path, aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    with _bedrock_refusing_the_time() as url:
        set_line(env_path, "AWS_BEDROCK_RUNTIME_ENDPOINT", url)
        finding = run_check(make_context(native=True), "bedrock.model_access")

    assert finding.status is Status.FAIL
    assert "InvalidSignatureException" in finding.message
    assert "this clock is 600 s behind AWS" in finding.message
    assert "timedatectl set-ntp true" in finding.fix
    assert "AWS_SECRET_ACCESS_KEY" not in finding.fix


def test_a_profile_prefix_that_does_not_fit_the_region_fails_with_the_right_one(
    env_path: Path, aws_env: RunningBedrock, make_context: ContextFactory
) -> None:
    set_line(env_path, "BEDROCK_PROFILE_PREFIX", "eu")
    finding = run_check(make_context(native=True), "bedrock.region")
    assert finding.status is Status.FAIL
    assert finding.fix == f"In {env_path} set BEDROCK_PROFILE_PREFIX=us"
    set_line(env_path, "BEDROCK_PROFILE_PREFIX", "us")
    assert run_check(make_context(native=True), "bedrock.region").status is Status.OK


def test_an_ec2_host_is_recognised_from_its_dmi_data(tmp_path: Path) -> None:
    dmi = tmp_path / "devices" / "virtual" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("Amazon EC2\n")
    (dmi / "board_asset_tag").write_text("i-0123456789abcdef0\n")
    assert bedrock_probe.ec2_instance_id(tmp_path) == "i-0123456789abcdef0"
    (dmi / "sys_vendor").write_text("QEMU\n")
    assert bedrock_probe.ec2_instance_id(tmp_path) is None
