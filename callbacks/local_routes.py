"""Optional routes to an OpenAI-compatible local server (Ollama, vLLM, llama.cpp server).

Set in `.env`: LLMOPS_LOCAL_API_BASE (the server's `/v1` URL) and LLMOPS_LOCAL_MODELS (the
names it serves, comma-separated). Each name becomes the model group `local-<name>`, sent
through LiteLLM's `openai/` provider and priced at LLMOPS_LOCAL_INPUT_USD_PER_MTOK and
LLMOPS_LOCAL_OUTPUT_USD_PER_MTOK (default 0: a local model costs nothing), so its requests are
traced like the Claude routes', usage and cost included. LLMOPS_LOCAL_API_KEY, when the server
wants one (vLLM `--api-key`), is referenced as `os.environ/...`, never written out.

proxy_entrypoint.py appends these routes to the rendered config: litellm_config.yml keeps only
the Claude routes, and without LLMOPS_LOCAL_API_BASE the config is left exactly as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

API_BASE = "LLMOPS_LOCAL_API_BASE"
MODELS = "LLMOPS_LOCAL_MODELS"
API_KEY = "LLMOPS_LOCAL_API_KEY"
INPUT_PRICE = "LLMOPS_LOCAL_INPUT_USD_PER_MTOK"
OUTPUT_PRICE = "LLMOPS_LOCAL_OUTPUT_USD_PER_MTOK"
GROUP_PREFIX = "local-"
# The OpenAI client refuses an empty key; a server without auth ignores whatever is sent.
NO_KEY = "no-key"
_URL = re.compile(r"https?://[^\s/]+(/\S*)?")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]*")


class LocalRoutesError(ValueError):
    """The local-model settings cannot make routes; the message names the variable."""


def local_routes(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """The model_list entries for the local server; empty when none is configured."""
    base = environ.get(API_BASE, "").strip()
    names = [name.strip() for name in environ.get(MODELS, "").split(",") if name.strip()]
    if not base and not names:
        return []
    if not base:
        raise LocalRoutesError(f"{MODELS} is set but {API_BASE} is not: set the server's URL")
    if not names:
        raise LocalRoutesError(f"{API_BASE} is set but {MODELS} is empty: name its models")
    if not _URL.fullmatch(base):
        raise LocalRoutesError(f"{API_BASE} must be an http(s) URL such as http://host:11434/v1")
    bad = [name for name in names if not _NAME.fullmatch(name)]
    if bad or len(set(names)) != len(names):
        raise LocalRoutesError(f"{MODELS}: each model named once, without spaces: {names}")
    per_token = {
        "input_cost_per_token": _price(environ, INPUT_PRICE),
        "output_cost_per_token": _price(environ, OUTPUT_PRICE),
    }
    key = f"os.environ/{API_KEY}" if environ.get(API_KEY) else NO_KEY
    return [
        {
            "model_name": GROUP_PREFIX + name,
            "litellm_params": {
                "model": f"openai/{name}",
                "api_base": base,
                "api_key": key,
                **per_token,
            },
            "model_info": {"id": GROUP_PREFIX + name},
        }
        for name in names
    ]


def add_local_routes(config_text: str, environ: Mapping[str, str]) -> str:
    """The rendered config with the local routes appended to its model_list."""
    routes = local_routes(environ)
    if not routes:
        return config_text
    document = yaml.safe_load(config_text) or {}
    model_list = document.get("model_list") or []
    taken = {entry.get("model_name") for entry in model_list}
    clashes = [r["model_name"] for r in routes if r["model_name"] in taken]
    if clashes:
        raise LocalRoutesError(f"{MODELS}: {', '.join(clashes)} already in litellm_config.yml")
    document["model_list"] = [*model_list, *routes]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _price(environ: Mapping[str, str], name: str) -> float:
    text = environ.get(name, "").strip() or "0"
    try:
        per_million = float(text)
    except ValueError:
        per_million = math.nan
    if not (math.isfinite(per_million) and per_million >= 0):
        raise LocalRoutesError(f"{name} must be USD per million tokens, 0 or more; got {text!r}")
    return per_million / 1_000_000
