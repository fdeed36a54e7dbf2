"""LiteLLM started by the kit reads no `.env` of its own: settings come from the kit alone.

In DEV mode LiteLLM loads the first `.env` found walking up from its install directory; with
the kit's .venv inside the repository that is the user's `.env` (its DATABASE_URL is
Langfuse's: a benchmark's proxy then failed looking for prisma). The same layout is built
here in a temporary folder: a `.env` above a directory through which LiteLLM is imported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from callbacks.proxy_entrypoint import LITELLM_ENVIRONMENT

PROBE = "LLMOPS_DOTENV_PROBE"


def _litellm_sees(tmp_path: Path, environ: dict[str, str]) -> str | None:
    """What `import litellm` leaves in os.environ[PROBE], LiteLLM installed below a `.env`."""
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.origin is not None
    site = tmp_path / "repo" / ".venv" / "site-packages"
    site.mkdir(parents=True)
    (site / "litellm").symlink_to(Path(spec.origin).parent, target_is_directory=True)
    (tmp_path / "repo" / ".env").write_text(f"{PROBE}=from-the-users-env\n")
    # A script, as `python -m litellm.proxy.proxy_cli` is: with `-c` python-dotenv would
    # search from the working directory instead of from LiteLLM's files.
    script = tmp_path / "probe.py"
    script.write_text(f"import json, os, litellm\nprint(json.dumps(os.environ.get({PROBE!r})))\n")
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**environ, "PYTHONPATH": str(site), "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def base_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (PROBE, "LITELLM_MODE")}


def test_litellm_as_the_kit_starts_it_reads_no_env_file(
    tmp_path: Path, base_environ: dict[str, str]
) -> None:
    assert _litellm_sees(tmp_path, {**base_environ, **LITELLM_ENVIRONMENT}) is None


def test_the_layout_does_reach_litellm_s_own_dotenv_loading(
    tmp_path: Path, base_environ: dict[str, str]
) -> None:
    # The control: without the kit's setting, the `.env` above LiteLLM is read.
    assert _litellm_sees(tmp_path, base_environ) == "from-the-users-env"
