"""The callback's environment variables: defaults, and bad values that fall back."""

from __future__ import annotations

from pathlib import Path

from callbacks.callback_settings import CallbackSettings
from llmops_kit.settings import BY_NAME, G_CALLBACK

CALLBACK_VARIABLES = (
    "LLMOPS_LOG_INPUT",
    "LLMOPS_LOG_OUTPUT",
    "LLMOPS_SPOOL_MAX_MB",
    "LLMOPS_EXPORT_TIMEOUT_SECONDS",
    "LLMOPS_EXPORT_MAX_BACKOFF_SECONDS",
    "LLMOPS_IN_DOUBT_SETTLE_SECONDS",
)


def test_values_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = CallbackSettings.from_env(
        {
            "LANGFUSE_HOST": "http://langfuse.example:3000/",
            "LANGFUSE_PUBLIC_KEY": "pk-lf-1",
            "LANGFUSE_SECRET_KEY": "sk-lf-1",
            "LANGFUSE_TRACING_ENVIRONMENT": "staging",
            "LLMOPS_SPOOL_DIR": str(tmp_path),
            "LLMOPS_SPOOL_MAX_MB": "2",
            "LLMOPS_LOG_INPUT": "OFF",
            "LLMOPS_LOG_OUTPUT": "off",
        }
    )
    assert settings.langfuse_host == "http://langfuse.example:3000"
    assert (settings.environment, settings.spool_dir) == ("staging", tmp_path)
    assert settings.spool_max_bytes == 2 * 2**20
    assert (settings.log_input, settings.log_output) == ("off", False)


def test_bad_values_fall_back_to_the_defaults_and_say_so(caplog) -> None:
    settings = CallbackSettings.from_env({"LLMOPS_LOG_INPUT": "some", "LLMOPS_SPOOL_MAX_MB": "-1"})
    assert settings.log_input == CallbackSettings().log_input
    assert settings.spool_max_bytes == CallbackSettings().spool_max_bytes
    assert "LLMOPS_LOG_INPUT" in caplog.text and "LLMOPS_SPOOL_MAX_MB" in caplog.text


def test_the_secret_key_never_shows_in_repr() -> None:
    assert "sk-lf-hidden" not in repr(CallbackSettings(secret_key="sk-lf-hidden"))


def test_every_callback_variable_is_documented_in_the_kit_settings() -> None:
    for name in CALLBACK_VARIABLES:
        assert BY_NAME[name].group == G_CALLBACK, name
