"""Routes to a local OpenAI-compatible server, rendered from LLMOPS_LOCAL_* into the config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from callbacks import local_routes
from callbacks.proxy_entrypoint import prepare_runtime_config
from llmops_kit.errors import ConfigError
from llmops_kit.litellm_config import validate_config
from llmops_kit.settings import REPO_ROOT

CONFIG = """\
# the Claude routes
model_list:
  - model_name: claude-sonnet-4-6
    litellm_params:
      model: bedrock/converse/x
"""
OLLAMA = {
    "LLMOPS_LOCAL_API_BASE": "http://localhost:11434/v1",
    "LLMOPS_LOCAL_MODELS": "llama3.2, qwen2.5-coder:7b",
}


def test_without_a_local_server_the_config_is_left_as_written() -> None:
    assert local_routes.add_local_routes(CONFIG, {}) == CONFIG


def test_each_local_model_becomes_a_free_local_group_after_the_claude_routes() -> None:
    document = yaml.safe_load(local_routes.add_local_routes(CONFIG, OLLAMA))

    names = [entry["model_name"] for entry in document["model_list"]]
    assert names == ["claude-sonnet-4-6", "local-llama3.2", "local-qwen2.5-coder:7b"]
    assert document["model_list"][2] == {
        "model_name": "local-qwen2.5-coder:7b",
        "litellm_params": {
            "model": "openai/qwen2.5-coder:7b",
            "api_base": "http://localhost:11434/v1",
            "api_key": "no-key",
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
        },
        "model_info": {"id": "local-qwen2.5-coder:7b"},
    }


def test_prices_per_million_tokens_and_the_key_by_reference() -> None:
    environ = {
        **OLLAMA,
        "LLMOPS_LOCAL_API_KEY": "secret-server-key",
        "LLMOPS_LOCAL_INPUT_USD_PER_MTOK": "0.5",
        "LLMOPS_LOCAL_OUTPUT_USD_PER_MTOK": "2",
    }
    text = local_routes.add_local_routes(CONFIG, environ)

    params = yaml.safe_load(text)["model_list"][1]["litellm_params"]
    assert params["input_cost_per_token"] == pytest.approx(0.5e-6)
    assert params["output_cost_per_token"] == pytest.approx(2e-6)
    assert params["api_key"] == "os.environ/LLMOPS_LOCAL_API_KEY"
    assert "secret-server-key" not in text


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"LLMOPS_LOCAL_MODELS": "llama3.2"}, "LLMOPS_LOCAL_API_BASE"),
        ({"LLMOPS_LOCAL_API_BASE": "http://localhost:11434/v1"}, "LLMOPS_LOCAL_MODELS"),
        ({**OLLAMA, "LLMOPS_LOCAL_API_BASE": "localhost:11434"}, "LLMOPS_LOCAL_API_BASE"),
        ({**OLLAMA, "LLMOPS_LOCAL_MODELS": "llama3.2,llama3.2"}, "LLMOPS_LOCAL_MODELS"),
        ({**OLLAMA, "LLMOPS_LOCAL_MODELS": "llama 3"}, "LLMOPS_LOCAL_MODELS"),
        ({**OLLAMA, "LLMOPS_LOCAL_INPUT_USD_PER_MTOK": "-1"}, "LLMOPS_LOCAL_INPUT_USD_PER_MTOK"),
        ({**OLLAMA, "LLMOPS_LOCAL_OUTPUT_USD_PER_MTOK": "nan"}, "LLMOPS_LOCAL_OUTPUT_USD_PER_MTOK"),
    ],
)
def test_settings_that_cannot_make_routes_are_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(local_routes.LocalRoutesError, match=named):
        local_routes.local_routes(environ)


def test_a_local_model_may_not_take_a_configured_groups_name() -> None:
    config = CONFIG.replace("claude-sonnet-4-6", "local-llama3.2")
    with pytest.raises(local_routes.LocalRoutesError, match=r"local-llama3\.2 already in"):
        local_routes.add_local_routes(config, OLLAMA)


def test_the_entrypoint_writes_the_local_routes_into_the_runtime_config(tmp_path: Path) -> None:
    config = tmp_path / "litellm_config.yml"
    config.write_text(CONFIG)

    rendered = prepare_runtime_config(config, OLLAMA, tmp_path / "runtime")

    names = [m["model_name"] for m in yaml.safe_load(rendered.read_text())["model_list"]]
    assert names[1:] == ["local-llama3.2", "local-qwen2.5-coder:7b"]


def test_the_entrypoint_run_as_a_script_refuses_bad_local_settings(tmp_path: Path) -> None:
    config = tmp_path / "litellm_config.yml"
    config.write_text(CONFIG)
    script = REPO_ROOT / "callbacks" / "proxy_entrypoint.py"

    finished = subprocess.run(
        [sys.executable, str(script), "--config", str(config)],
        env={"LLMOPS_RUNTIME_DIR": str(tmp_path / "runtime"), "LLMOPS_LOCAL_MODELS": "llama3.2"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert finished.returncode == 1
    assert "proxy_entrypoint: LLMOPS_LOCAL_MODELS is set but LLMOPS_LOCAL_API_BASE" in (
        finished.stderr
    )


def test_start_and_update_config_refuse_bad_local_settings_before_the_proxy_does() -> None:
    settings = {
        "BEDROCK_PROFILE_PREFIX": "us",
        "AWS_REGION": "us-east-1",
        "LLMOPS_LOCAL_API_BASE": "http://localhost:11434/v1",
    }
    with pytest.raises(ConfigError, match="LLMOPS_LOCAL_MODELS is empty"):
        validate_config(REPO_ROOT / "litellm_config.yml", settings)
