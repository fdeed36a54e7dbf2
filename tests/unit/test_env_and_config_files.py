"""Reading .env and litellm_config.yml: compose's reading of .env, and errors that give the
real cause without echoing a value (.env holds secrets)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from llmops_kit import settings
from llmops_kit.errors import ConfigError
from llmops_kit.litellm_config import validate_config
from tests.e2e.engine import compose_binary

PASTED_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_line_without_equals_names_its_number_and_never_echoes_it(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"AWS_ACCESS_KEY_ID=AKIAEXAMPLE\n{PASTED_SECRET}\n")

    with pytest.raises(ConfigError) as caught:
        settings.read_env_file(env)

    assert caught.value.message == ".env line 2 is not KEY=VALUE"
    assert "wJalr" not in str(caught.value) and "EXAMPLEKEY" not in str(caught.value)


def test_an_unclosed_quote_names_its_line_and_not_the_value(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("A=1\nSECRET='s3cr3t-value\n")

    with pytest.raises(ConfigError) as caught:
        settings.read_env_file(env)

    assert caught.value.message == ".env line 2 is not KEY=VALUE"
    assert "s3cr3t" not in str(caught.value)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"\xef\xbb\xbfBIND_ADDRESS=0.0.0.0\n")

    assert settings.read_env_file(env) == {"BIND_ADDRESS": "0.0.0.0"}


def test_env_that_is_not_utf8_names_the_line_not_the_bytes(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(b"A=1\nSECRET=caf\xe9-s3cr3t\n")

    with pytest.raises(ConfigError) as caught:
        settings.read_env_file(env)

    assert caught.value.message == (
        f"{env} is not UTF-8 text: line 2 has an invalid byte (offset 14)"
    )
    assert "s3cr3t" not in str(caught.value)


def test_a_directory_where_env_should_be_says_so(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()

    with pytest.raises(ConfigError, match=r"\.env is a directory, not a file"):
        settings.load(tmp_path / ".env", {})


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (None, "is a directory, not a file"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "is a binary file, not text"),
        (b"model_list: []\n# caf\xe9\n", "is not UTF-8 text: line 2 has an invalid byte"),
    ],
)
def test_a_config_that_is_not_a_text_file_gives_the_real_cause(
    tmp_path: Path, content: bytes | None, cause: str
) -> None:
    config = tmp_path / "litellm_config.yml"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    env = tmp_path / ".env"
    settings.init_env(env)

    with pytest.raises(ConfigError) as caught:
        validate_config(config, settings.load(env, {}))

    assert caught.value.message.startswith(f"{config} {cause}")


TRICKY_ENV = (
    b"\xef\xbb\xbfA=1\n"
    b"B='single # quoted'\n"
    b'C="escaped\\nnewline" # comment\n'
    b"export D=exported # comment\n"
    b"E=${A}-interpolated\n"
    b"F = spaced\n"
    b"G=hash#inside\n"
    b'H="two\nlines"\n'
    b"I='${A} literal'\n"
)


def test_compose_and_the_kit_read_the_same_values_from_a_tricky_env(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes(TRICKY_ENV)
    names = "ABCDEFGHI"
    compose_file = tmp_path / "compose.yml"
    compose_file.write_text(
        "services:\n  s:\n    image: x:1\n    environment:\n"
        + "".join(f"      {name}: ${{{name}}}\n" for name in names)
    )
    argv = [str(compose_binary()), "-p", "dotenv", "--env-file", str(env), "-f", str(compose_file)]
    done = subprocess.run(
        [*argv, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
        check=True,
        timeout=60,
    )
    from_compose = json.loads(done.stdout)["services"]["s"]["environment"]
    # compose writes a literal $ of its output as $$
    from_compose = {k: v.replace("$$", "$") for k, v in from_compose.items()}

    assert settings.read_env_file(env) == from_compose
    assert from_compose["C"] == "escaped\nnewline" and from_compose["E"] == "1-interpolated"
