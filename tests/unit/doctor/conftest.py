"""A doctor context over a real `.env` in a temporary folder, and one check run at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from llmops_kit import settings
from llmops_kit.doctor import CHECKS, DoctorContext, DoctorOptions, Finding

REPO_ROOT = Path(__file__).resolve().parents[3]
KIT_PREFIXES = ("AWS_", "LANGFUSE_", "LITELLM_", "LLMOPS_")


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The machine's environment without any of the kit's variables, plus `extra`."""
    names = set(settings.BY_NAME)
    environ = {
        k: v for k, v in os.environ.items() if k not in names and not k.startswith(KIT_PREFIXES)
    }
    environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return {**environ, **(extra or {})}


def run_check(ctx: DoctorContext, check_id: str) -> Finding:
    """One check, as the runner would run it with nothing before it."""
    (check,) = [c for c in CHECKS if c.id == check_id]
    return check.run(ctx, {})


def apply_fix(fix: str) -> None:
    """Run a printed fix as a user pastes it, from the repository, with this Python first."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    subprocess.run(
        ["bash", "-c", fix], cwd=REPO_ROOT, env=clean_environ({"PATH": path}), check=True
    )


def set_line(path: Path, name: str, value: str) -> None:
    """Replace (or add) `name=value` in a `.env` file, keeping every other line."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith(f"{name}=")]
    path.write_text("\n".join([*lines, f"{name}={value}"]) + "\n")


@pytest.fixture
def env_path(tmp_path: Path) -> Path:
    """A complete `.env` as `init` writes it."""
    path = tmp_path / ".env"
    settings.init_env(path)
    return path


ContextFactory = Callable[..., DoctorContext]


@pytest.fixture
def make_context(env_path: Path) -> Iterator[ContextFactory]:
    """Contexts over `env_path` (or another file), closed after the test."""
    contexts: list[DoctorContext] = []

    def make(
        *,
        native: bool = False,
        environ: Mapping[str, str] | None = None,
        env: Path | None = None,
        config: Path = REPO_ROOT / "litellm_config.yml",
        bedrock_calls: bool = True,
    ) -> DoctorContext:
        options = DoctorOptions(env or env_path, config, native, bedrock_calls)
        contexts.append(DoctorContext(options, environ=clean_environ(environ)))
        return contexts[-1]

    yield make
    for ctx in contexts:
        ctx.close()
