"""Load litellm_config.yml the way the proxy will, in a throwaway process, before it runs.

`validate_config` checks routes and prices; it does not load what the proxy loads at start,
so a typo there (a callback's attribute, `custom_auth`, an `os.environ/NAME` outside
model_list) passed it and then took the gateway down. `check_config_loads` finds those first:

- every `os.environ/NAME` anywhere in the config must name a variable that is set in the
  proxy's environment: LiteLLM silently resolves an unset one to null;
- every callable LiteLLM imports at start (`general_settings.custom_auth` and its kin, the
  dotted entries of the callback lists, `post_call_rules`) is imported by LiteLLM's own
  `get_instance_fn` from the rendered config, in a child process of the kit's Python (so the
  kit's process imports no callback code), with the proxy's environment, a throwaway spool
  and runtime directory, and LiteLLM's local cost map.

    python -m llmops_kit.config_load_check CONFIG NAME...   (the child; prints one JSON line)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .litellm_config import ENV_REFERENCE, callbacks_module
from .replicas import REDIS_PASSWORD_VARIABLE, ROUTER_REDIS_HOST_VARIABLE
from .settings import REPO_ROOT

LOAD_TIMEOUT_SECONDS = 180.0
RESULT_PREFIX = "llmops-load-result "
# What LiteLLM 1.106.2's ProxyConfig.load_config hands to get_instance_fn.
CALLABLE_SETTINGS = {
    "general_settings": (
        "custom_auth",
        "custom_key_generate",
        "custom_key_update",
        "custom_key_policy",
        "custom_team_metadata_validate",
        "custom_sso",
    ),
    "litellm_settings": ("post_call_rules",),
}
CALLBACK_LISTS = ("callbacks", "success_callback", "failure_callback", "audit_log_callbacks")
MESSAGE_LIMIT = 300
# References whose absence is a setting: no router Redis, no shared router state (one proxy;
# compose/litellm.yml passes both with several, see llmops_kit/replicas.py).
OPTIONAL_REFERENCES = frozenset({ROUTER_REDIS_HOST_VARIABLE, REDIS_PASSWORD_VARIABLE})


def unset_references(document: Any, environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(where, NAME) of each `os.environ/NAME` whose NAME is unset or empty in `environ`,
    except the optional ones."""

    def walk(value: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, Mapping):
            for key, item in value.items():
                yield from walk(item, f"{where}.{key}" if where else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, f"{where}[{index}]")
        elif isinstance(value, str) and value.startswith(ENV_REFERENCE):
            name = value[len(ENV_REFERENCE) :]
            if not environ.get(name) and name not in OPTIONAL_REFERENCES:
                yield where, name

    yield from walk(document, "")


def loaded_callables(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(where, dotted name) of each callable LiteLLM imports when it loads `document`."""
    found = []
    for section, keys in CALLABLE_SETTINGS.items():
        values = document.get(section) or {}
        for key in keys:
            if isinstance(values.get(key), str):
                found.append((f"{section}.{key}", values[key]))
    litellm_settings = document.get("litellm_settings") or {}
    for key in CALLBACK_LISTS:
        entries = litellm_settings.get(key) or []
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            # Names without a dot are LiteLLM's own integrations ("langfuse", "prometheus").
            if isinstance(entry, str) and "." in entry:
                found.append((f"litellm_settings.{key}[{index}]", entry))
    return found


def check_config_loads(config: Path, environ: Mapping[str, str]) -> None:
    """Raise ConfigError naming the first thing in `config` the proxy could not load with
    `environ` (its environment)."""
    with tempfile.TemporaryDirectory(prefix="llmops-config-check-") as scratch:
        work = Path(scratch)
        entrypoint = callbacks_module("proxy_entrypoint")
        try:
            rendered = entrypoint.prepare_runtime_config(config, environ, work / "runtime")
        except entrypoint.UnsetVariableError as error:
            fix = "Set it in .env, then run the command again."
            raise ConfigError(str(error), fix=fix) from None
        try:
            document = yaml.safe_load(rendered.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            raise ConfigError(
                f"{config} is not valid YAML", fix="Correct the indentation or quoting."
            ) from None
        for where, name in unset_references(document, environ):
            raise ConfigError(
                f"{config}: {where} is {ENV_REFERENCE}{name}, but {name} is not set for the "
                "proxy (LiteLLM would use null)",
                fix=f"Correct the name, or set {name} in .env.",
            )
        callables = loaded_callables(document)
        if callables:
            _import_in_child(config, rendered, callables, environ, work)


def _import_in_child(
    config: Path,
    rendered: Path,
    callables: list[tuple[str, str]],
    environ: Mapping[str, str],
    work: Path,
) -> None:
    env = {
        **environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LLMOPS_SPOOL_DIR": str(work / "spool"),
        "LLMOPS_RUNTIME_DIR": str(work / "runtime"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "llmops_kit.config_load_check",
        str(rendered),
        *(name for _, name in callables),
    ]
    try:
        child = subprocess.run(
            command,
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=LOAD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"loading {config} as LiteLLM does took more than {LOAD_TIMEOUT_SECONDS:g} s",
            fix="Run `python manage_langfuse.py proxy` to see where the proxy stops.",
        ) from None
    lines = [line for line in child.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        raise ConfigError(
            f"loading {config} as LiteLLM does failed (exit code {child.returncode})",
            fix="Run `python manage_langfuse.py proxy` to see where the proxy stops.",
        )
    failures: dict[str, str] = json.loads(lines[-1][len(RESULT_PREFIX) :])
    for where, name in callables:
        if name in failures:
            raise ConfigError(
                f"{config}: {where} is {name}, which LiteLLM cannot load: {failures[name]}",
                fix="Correct the module or attribute name; compare with the repository's file.",
            )


def _child(rendered: str, names: list[str]) -> int:
    """In the child: import each name as the proxy does; print {name: error} of failures."""
    from litellm.proxy.types_utils.utils import get_instance_fn

    failures = {}
    for name in names:
        try:
            get_instance_fn(value=name, config_file_path=rendered)
        except Exception as error:
            failures[name] = f"{type(error).__name__}: {str(error)[:MESSAGE_LIMIT]}"
    print(RESULT_PREFIX + json.dumps(failures), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    sys.exit(_child(sys.argv[1], sys.argv[2:]))
