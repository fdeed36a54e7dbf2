"""`.env` checks: each problem named with its cause, and the printed fix makes it green."""

from __future__ import annotations

from pathlib import Path

from llmops_kit import settings
from llmops_kit.doctor import Status
from tests.unit.doctor.conftest import ContextFactory, apply_fix, run_check, set_line


def test_a_generated_env_passes_every_env_check(make_context: ContextFactory) -> None:
    ctx = make_context()
    for check_id in ("env.file", "env.secret.missing", "env.secret.default", "env.derived"):
        assert run_check(ctx, check_id).status is Status.OK, check_id
    assert run_check(ctx, "env.quotes").status is Status.OK
    assert run_check(ctx, "env.shapes").status is Status.OK
    assert run_check(ctx, "env.tracing_environment").status is Status.OK


def test_a_default_secret_fails_masked_and_its_fix_replaces_it(
    env_path: Path, make_context: ContextFactory
) -> None:
    set_line(env_path, "REDIS_AUTH", "myredissecret")
    finding = run_check(make_context(), "env.secret.default")
    assert finding.status is Status.FAIL
    assert "REDIS_AUTH=***" in finding.message
    assert "myredissecret" not in finding.message + finding.fix
    assert "manage_langfuse.py init" in finding.fix
    apply_fix(finding.fix)
    assert settings.read_env_file(env_path)["REDIS_AUTH"] != "myredissecret"
    assert run_check(make_context(), "env.secret.default").status is Status.OK


def test_regenerating_a_password_also_regenerates_the_url_derived_from_it(
    env_path: Path, make_context: ContextFactory
) -> None:
    set_line(env_path, "POSTGRES_PASSWORD", "postgres")
    set_line(env_path, "DATABASE_URL", "postgresql://postgres:postgres@postgres:5432/postgres")
    apply_fix(run_check(make_context(), "env.secret.default").fix)
    ctx = make_context()
    assert run_check(ctx, "env.secret.default").status is Status.OK
    assert run_check(ctx, "env.derived").status is Status.OK


def test_a_missing_secret_fails_and_init_fills_it(
    env_path: Path, make_context: ContextFactory
) -> None:
    set_line(env_path, "ENCRYPTION_KEY", "")
    finding = run_check(make_context(), "env.secret.missing")
    assert finding.status is Status.FAIL
    assert "ENCRYPTION_KEY" in finding.message
    assert finding.fix.startswith("python manage_langfuse.py init --env-file")
    apply_fix(finding.fix)
    assert run_check(make_context(), "env.secret.missing").status is Status.OK


def test_the_native_proxy_needs_only_its_own_secrets(
    tmp_path: Path, make_context: ContextFactory
) -> None:
    env = tmp_path / "native.env"
    env.write_text("LITELLM_MASTER_KEY=sk-0123456789abcdef0123456789abcdef\n")
    finding = run_check(make_context(native=True, env=env), "env.secret.missing")
    assert finding.status is Status.FAIL
    assert finding.message == "no value for LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY"


def test_proxy_keys_that_differ_from_the_project_keys_fail_and_init_rederives_them(
    env_path: Path, make_context: ContextFactory
) -> None:
    set_line(env_path, "LANGFUSE_SECRET_KEY", "sk-lf-00000000-0000-4000-8000-000000000000")
    finding = run_check(make_context(), "env.derived")
    assert finding.status is Status.FAIL
    assert "LANGFUSE_SECRET_KEY" in finding.message
    assert "sk-lf-00000000" not in finding.message + finding.fix
    apply_fix(finding.fix)
    values = settings.read_env_file(env_path)
    assert values["LANGFUSE_SECRET_KEY"] == values["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    assert run_check(make_context(), "env.derived").status is Status.OK


def test_an_external_database_url_is_not_a_mismatch(
    env_path: Path, make_context: ContextFactory
) -> None:
    set_line(env_path, "DATABASE_URL", "postgresql://langfuse:other@db.internal:5432/langfuse")
    assert run_check(make_context(), "env.derived").status is Status.OK


def test_quoted_values_warn_and_the_sed_fix_unquotes_them(
    env_path: Path, make_context: ContextFactory
) -> None:
    values = settings.read_env_file(env_path)
    set_line(env_path, "LITELLM_MASTER_KEY", f'"{values["LITELLM_MASTER_KEY"]}"')
    set_line(env_path, "AWS_REGION", "'eu-west-1'")
    finding = run_check(make_context(), "env.quotes")
    assert finding.status is Status.WARN
    assert finding.message == "quoted values: LITELLM_MASTER_KEY, AWS_REGION"
    apply_fix(finding.fix)
    assert run_check(make_context(), "env.quotes").status is Status.OK
    fixed = settings.read_env_file(env_path)
    assert fixed["LITELLM_MASTER_KEY"] == values["LITELLM_MASTER_KEY"]
    assert fixed["AWS_REGION"] == "eu-west-1"


def test_an_unbalanced_quote_fails(env_path: Path, make_context: ContextFactory) -> None:
    set_line(env_path, "AWS_REGION", '"us-east-1')
    finding = run_check(make_context(), "env.quotes")
    assert finding.status is Status.FAIL
    assert "AWS_REGION" in finding.message


def test_an_env_readable_by_others_warns_and_chmod_fixes_it(
    env_path: Path, make_context: ContextFactory
) -> None:
    env_path.chmod(0o644)
    finding = run_check(make_context(), "env.file")
    assert finding.status is Status.WARN
    assert finding.fix == f"chmod 600 {env_path}"
    apply_fix(finding.fix)
    assert run_check(make_context(), "env.file").status is Status.OK


def test_a_malformed_line_fails_naming_it(env_path: Path, make_context: ContextFactory) -> None:
    env_path.write_text(env_path.read_text() + "this is not a setting\n")
    finding = run_check(make_context(), "env.file")
    assert finding.status is Status.FAIL
    assert "is not KEY=VALUE" in finding.message


def test_a_missing_env_fails_for_the_stack_and_init_creates_it(
    tmp_path: Path, make_context: ContextFactory
) -> None:
    missing = tmp_path / "nowhere" / ".env"
    finding = run_check(make_context(env=missing), "env.file")
    assert finding.status is Status.FAIL
    apply_fix(finding.fix)
    assert run_check(make_context(env=missing), "env.file").status is Status.OK


def test_a_value_of_the_wrong_shape_fails_naming_the_variable(
    env_path: Path, make_context: ContextFactory
) -> None:
    set_line(env_path, "ENCRYPTION_KEY", "abc123")
    set_line(env_path, "LITELLM_PORT", "four-thousand")
    finding = run_check(make_context(), "env.shapes")
    assert finding.status is Status.FAIL
    assert "ENCRYPTION_KEY=***" in finding.message
    assert "LITELLM_PORT=four-thousand" in finding.message
    assert "abc123" not in finding.message


def test_a_tracing_environment_langfuse_would_rename_fails_and_its_fix_makes_it_green(
    env_path: Path, make_context: ContextFactory
) -> None:
    set_line(env_path, "LANGFUSE_TRACING_ENVIRONMENT", "langfuse-prod")
    finding = run_check(make_context(), "env.tracing_environment")
    assert finding.status is Status.FAIL
    assert "would be stored by Langfuse as 'prod'" in finding.message
    assert run_check(make_context(), "env.shapes").status is Status.OK  # reported once
    apply_fix(finding.fix)
    assert settings.read_env_file(env_path)["LANGFUSE_TRACING_ENVIRONMENT"] == "prod"
    assert run_check(make_context(), "env.tracing_environment").status is Status.OK
