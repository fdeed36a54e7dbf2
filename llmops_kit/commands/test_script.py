"""`test`: run the user-facing end-to-end check, tests/test_litellm_langfuse.py, as it is.

The script stays a plain file users can also run with `python`; this only passes it the
settings file and options, and returns its exit code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..settings import REPO_ROOT

SCRIPT = REPO_ROOT / "tests" / "test_litellm_langfuse.py"


def run(env_file: Path, *, models: str | None, timeout: float) -> int:
    argv = [sys.executable, str(SCRIPT), "--env-file", str(env_file), "--timeout", f"{timeout:g}"]
    if models:
        argv += ["--models", models]
    return subprocess.run(argv, check=False).returncode
