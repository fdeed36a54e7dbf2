"""`.env` generation: shapes, consistency, idempotence, file mode, values kept."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from llmops_kit import settings
from llmops_kit.errors import ConfigError


@pytest.fixture
def env_path(tmp_path: Path) -> Path:
    return tmp_path / ".env"


def generated(env_path: Path) -> dict[str, str]:
    settings.init_env(env_path)
    return settings.read_env_file(env_path)


def test_init_writes_secrets_of_the_right_shape(env_path: Path) -> None:
    values = generated(env_path)
    assert re.fullmatch(r"[0-9a-f]{64}", values["ENCRYPTION_KEY"])
    for name in ("NEXTAUTH_SECRET", "SALT", "POSTGRES_PASSWORD", "CLICKHOUSE_PASSWORD"):
        assert re.fullmatch(r"[0-9a-f]{32,}", values[name]), name
    for name in ("REDIS_AUTH", "MINIO_ROOT_PASSWORD", "LANGFUSE_INIT_USER_PASSWORD"):
        assert re.fullmatch(r"[0-9a-f]{32,}", values[name]), name
    uuid4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(f"pk-lf-{uuid4}", values["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"])
    assert re.fullmatch(f"sk-lf-{uuid4}", values["LANGFUSE_INIT_PROJECT_SECRET_KEY"])
    assert re.fullmatch(r"sk-[0-9a-f]{48}", values["LITELLM_MASTER_KEY"])
    assert values["LITELLM_SALT_KEY"].startswith("sk-")
    assert "@" in values["LANGFUSE_INIT_USER_EMAIL"]


def test_every_secret_is_fresh_per_init(tmp_path: Path) -> None:
    first = generated(tmp_path / "a.env")
    second = generated(tmp_path / "b.env")
    for var in settings.VARIABLES:
        if var.generate is not None:
            assert first[var.name] != second[var.name], var.name


def test_no_secret_left_empty_or_at_a_default(env_path: Path) -> None:
    values = generated(env_path)
    optional_aws = {
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LLMOPS_LEDGER_URL",
        "LLMOPS_LOCAL_API_KEY",
    }
    for var in settings.VARIABLES:
        if var.secret and var.name not in optional_aws:
            assert values[var.name], var.name
            assert values[var.name] != var.default, var.name


def test_derived_values_agree_with_their_sources(env_path: Path) -> None:
    values = generated(env_path)
    assert f":{values['POSTGRES_PASSWORD']}@postgres:5432/" in values["DATABASE_URL"]
    assert (
        f":{values['LITELLM_POSTGRES_PASSWORD']}@litellm-postgres:"
        in (values["LITELLM_DATABASE_URL"])
    )
    assert values["LANGFUSE_PUBLIC_KEY"] == values["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]
    assert values["LANGFUSE_SECRET_KEY"] == values["LANGFUSE_INIT_PROJECT_SECRET_KEY"]


def test_file_is_private_from_creation(env_path: Path) -> None:
    settings.init_env(env_path)
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600


def test_init_restores_private_mode_of_an_existing_file(env_path: Path) -> None:
    settings.init_env(env_path)
    env_path.chmod(0o644)
    settings.init_env(env_path)
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600


def test_init_is_idempotent(env_path: Path) -> None:
    settings.init_env(env_path)
    before = env_path.read_bytes()
    result = settings.init_env(env_path)
    assert result.added == ()
    assert not result.created
    assert env_path.read_bytes() == before


def test_init_keeps_values_already_set_and_fills_the_rest(env_path: Path) -> None:
    env_path.write_text(
        "LITELLM_SALT_KEY=sk-keep-this-salt\nPOSTGRES_PASSWORD=mine\nMY_OWN=1\n",
        encoding="utf-8",
    )
    result = settings.init_env(env_path)
    values = settings.read_env_file(env_path)
    assert values["LITELLM_SALT_KEY"] == "sk-keep-this-salt"
    assert values["POSTGRES_PASSWORD"] == "mine"
    assert values["DATABASE_URL"] == "postgresql://postgres:mine@postgres:5432/postgres"
    assert values["MY_OWN"] == "1"
    assert "LITELLM_SALT_KEY" not in result.added
    assert "ENCRYPTION_KEY" in result.added


def test_salt_key_survives_repeated_inits(env_path: Path) -> None:
    salt = generated(env_path)["LITELLM_SALT_KEY"]
    for _ in range(3):
        settings.init_env(env_path)
    assert settings.read_env_file(env_path)["LITELLM_SALT_KEY"] == salt


def test_process_environment_wins_over_env_file(env_path: Path) -> None:
    settings.init_env(env_path)
    resolved = settings.load(env_path, {"AWS_REGION": "eu-central-1", "UNRELATED": "x"})
    assert resolved["AWS_REGION"] == "eu-central-1"
    assert "UNRELATED" not in resolved


def test_defaults_apply_without_an_env_file(env_path: Path) -> None:
    resolved = settings.load(env_path, {})
    assert resolved["COMPOSE_PROJECT_NAME"] == "langfuse"
    assert resolved["BIND_ADDRESS"] == "127.0.0.1"


def test_quoted_values_and_comments_are_parsed_like_compose() -> None:
    parsed = settings.parse_env_text(
        "# comment\nA='quoted value'\nB=\"dq\"\nexport C=plain # trailing\n\nD=\n"
    )
    assert parsed == {"A": "quoted value", "B": "dq", "C": "plain", "D": ""}


def test_a_malformed_line_names_its_line_number() -> None:
    with pytest.raises(ConfigError, match="line 2"):
        settings.parse_env_text("A=1\nthis is not a setting\n")


def test_a_badly_shaped_value_names_the_variable(env_path: Path) -> None:
    settings.init_env(env_path)
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY") as caught:
        settings.load(env_path, {"ENCRYPTION_KEY": "too-short"})
    assert "too-short" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("sk-lf-0f1e2d3c-4b5a-4968-8776-655443322110", "sk-lf-…2110"),
        ("pk-lf-0f1e2d3c-4b5a-4968-8776-655443322110", "pk-lf-…2110"),
        (
            "postgresql://postgres:hunter2@postgres:5432/db",
            "postgresql://postgres:***@postgres:5432/db",
        ),
        ("deadbeefdeadbeef", "***"),
        ("", ""),
    ],
)
def test_mask_never_shows_the_secret(value: str, shown: str) -> None:
    assert settings.mask(value) == shown


def test_settings_repr_hides_values(env_path: Path) -> None:
    settings.init_env(env_path)
    resolved = settings.load(env_path, {})
    assert resolved["LITELLM_MASTER_KEY"] not in repr(resolved)
    assert resolved.display("LITELLM_MASTER_KEY") != resolved["LITELLM_MASTER_KEY"]
