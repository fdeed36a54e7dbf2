"""Start the LiteLLM proxy from `litellm_config.yml`, natively or inside the container.

LiteLLM resolves `os.environ/NAME` only as a whole value, but a route's model id needs the
inference-profile prefix inside it (`bedrock/converse/${BEDROCK_PROFILE_PREFIX}.anthropic...`).
So this shim replaces `${NAME}` references with the environment's values, writes the result
to a runtime directory beside a link to `callbacks/` (LiteLLM loads callbacks relative to the
config file), and then replaces itself with the LiteLLM CLI. Routes to a local model server,
when configured, are appended there too (local_routes.py). In the compose stack, whose
replicas share one spool volume (LLMOPS_SPOOL_SLOTS=on), it first takes this proxy's own
spool slot and starts the adopter of orphaned slots (replica_spool.py). Standard library
and PyYAML (which the LiteLLM image ships) only: it runs in the LiteLLM image as it is.

    python callbacks/proxy_entrypoint.py --config litellm_config.yml [litellm args...]
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType


def _local_routes() -> ModuleType:
    """local_routes.py beside this file: imported from the package, else loaded by path (as a
    script, and when llmops_kit loads this module by path)."""
    if __package__:
        return importlib.import_module(f"{__package__}.local_routes")
    path = Path(__file__).resolve().with_name("local_routes.py")
    spec = importlib.util.spec_from_file_location("llmops_local_routes", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


local_routes = _local_routes()

REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
RUNTIME_DIR_VARIABLE = "LLMOPS_RUNTIME_DIR"
SPOOL_DIR_VARIABLE = "LLMOPS_SPOOL_DIR"
SPOOL_SLOTS_VARIABLE = "LLMOPS_SPOOL_SLOTS"
# What the kit tunes for the capacity of one proxy, against LiteLLM's defaults
# (bench/capacity.py measures both; README "Capacity of one proxy"). LiteLLM sets Python's
# garbage-collector thresholds from PYTHON_GC_THRESHOLD (gen0,gen1,gen2) at start. With
# Python's young generation of 700 objects, a worker parsing large prompts collects several
# times per request and promotes what in-flight requests still hold to the old generation,
# whose collections walk the whole heap LiteLLM builds at start. A larger young generation
# lets a request's objects die first; gen1 and gen2 keep Python's defaults, so full
# collections are still scheduled as Python schedules them. An empty value: Python's defaults.
CAPACITY_ENVIRONMENT = {"PYTHON_GC_THRESHOLD": "20000,10,10"}
# What LiteLLM is told besides the config. In its default DEV mode LiteLLM loads a `.env` on
# its own, the first one found walking up from its install directory: with the kit's .venv
# inside the repository, that is the user's `.env`, whose DATABASE_URL is Langfuse's. The
# kit hands the proxy its settings itself (and benchmarks and tests their own), so LiteLLM
# runs in PRODUCTION mode, which only turns that loading off. The API docs (`/`, `/redoc`,
# `/openapi.json`) are served to anyone without a key: off (each can be set back).
LITELLM_ENVIRONMENT = {
    **CAPACITY_ENVIRONMENT,
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    # LiteLLM would otherwise fetch its beta-flag map from GitHub at the first /v1/messages.
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_MODE": "PRODUCTION",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
    "NO_OPENAPI": "True",
}


class UnsetVariableError(Exception):
    """The config names `${NAME}` but NAME is not set."""


def render(text: str, environ: Mapping[str, str]) -> str:
    """Replace every `${NAME}` with its value; a missing or empty NAME is an error."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = environ.get(name, "")
        if not value:
            raise UnsetVariableError(
                f"litellm_config.yml uses ${{{name}}} but {name} is not set; set it in .env"
            )
        return value

    return REFERENCE.sub(substitute, text)


def prepare_runtime_config(config: Path, environ: Mapping[str, str], runtime_dir: Path) -> Path:
    """Write the rendered config into runtime_dir, with `callbacks` linked beside it."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    rendered = runtime_dir / "litellm_config.yml"
    text = render(config.read_text(encoding="utf-8"), environ)
    rendered.write_text(local_routes.add_local_routes(text, environ), encoding="utf-8")
    link = runtime_dir / "callbacks"
    target = Path(__file__).resolve().parent
    if link.is_symlink() or link.exists():
        if link.resolve() == target:
            return rendered
        link.unlink()
    link.symlink_to(target, target_is_directory=True)
    return rendered


def split_config_argument(argv: list[str]) -> tuple[Path, list[str]]:
    """Take `--config PATH` out of argv; the rest goes to LiteLLM unchanged."""
    rest: list[str] = []
    config: Path | None = None
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            config = Path(next(args, ""))
        elif arg.startswith("--config="):
            config = Path(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    if config is None or not config.is_file():
        raise SystemExit(f"proxy_entrypoint: --config must name an existing file, got {config}")
    return config, rest


def take_spool_slot(runtime_dir: Path) -> None:
    """With LLMOPS_SPOOL_SLOTS=on: spool to this proxy's own slot of LLMOPS_SPOOL_DIR (noted
    in the runtime directory for `status`) and start the adopter of orphaned slots."""
    base = os.environ.get(SPOOL_DIR_VARIABLE, "")
    if os.environ.get(SPOOL_SLOTS_VARIABLE, "").lower() != "on" or not base:
        return
    # Imported here, as a package module (it imports its siblings): only the stack needs it.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from langfuse_v4 import load_package

    replica_spool = importlib.import_module(f"{load_package().__name__}.replica_spool")
    try:
        slot = replica_spool.claim_slot(Path(base), runtime_dir)
    except (OSError, replica_spool.NoFreeSlot) as error:
        raise SystemExit(f"proxy_entrypoint: no spool slot in {base}: {error}") from None
    os.environ[SPOOL_DIR_VARIABLE] = str(slot.directory)
    # Not waited for: it ends when this process (LiteLLM, after the exec) does.
    subprocess.Popen(
        [sys.executable, str(Path(replica_spool.__file__)), "adopt", base, str(os.getpid())],
        stdin=subprocess.DEVNULL,
        close_fds=True,
    )


def main(argv: list[str]) -> None:
    config, rest = split_config_argument(argv)
    runtime_dir = Path(
        os.environ.get(RUNTIME_DIR_VARIABLE) or tempfile.mkdtemp(prefix="llmops-proxy-")
    )
    try:
        rendered = prepare_runtime_config(config, os.environ, runtime_dir)
    except (UnsetVariableError, local_routes.LocalRoutesError) as error:
        raise SystemExit(f"proxy_entrypoint: {error}") from None
    take_spool_slot(runtime_dir)
    for name, value in LITELLM_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    command = [sys.executable, "-m", "litellm.proxy.proxy_cli", "--config", str(rendered), *rest]
    sys.stdout.flush()
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main(sys.argv[1:])
