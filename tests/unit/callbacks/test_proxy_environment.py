"""What the entrypoint adds to LiteLLM's environment: the kit's settings, a user's own winning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callbacks import proxy_entrypoint
from callbacks.proxy_entrypoint import CAPACITY_ENVIRONMENT


class Execed(Exception):
    """Raised instead of replacing the test process with LiteLLM."""


def _environment_litellm_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> dict[str, str]:
    config = tmp_path / "litellm_config.yml"
    config.write_text("model_list: []\n", encoding="utf-8")
    monkeypatch.setattr(os, "environ", {**environ, "LLMOPS_RUNTIME_DIR": str(tmp_path / "rt")})
    seen: dict[str, str] = {}

    def execv(path: str, argv: list[str]) -> None:
        seen.update(os.environ)
        raise Execed

    monkeypatch.setattr(os, "execv", execv)
    with pytest.raises(Execed):
        proxy_entrypoint.main(["--config", str(config)])
    return seen


def test_litellm_gets_the_kits_gc_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _environment_litellm_gets(tmp_path, monkeypatch, {"PATH": "/usr/bin"})

    assert seen["PYTHON_GC_THRESHOLD"] == CAPACITY_ENVIRONMENT["PYTHON_GC_THRESHOLD"]


@pytest.mark.parametrize("own", ["700,10,10", ""])
def test_a_users_own_gc_thresholds_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own: str
) -> None:
    seen = _environment_litellm_gets(tmp_path, monkeypatch, {"PYTHON_GC_THRESHOLD": own})

    assert seen["PYTHON_GC_THRESHOLD"] == own
