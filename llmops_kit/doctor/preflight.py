"""The doctor's checks that `start` runs before it touches anything (its pre-flight).

Only what can be known before a container exists: the engine, compose, the ports, memory,
disk and the LiteLLM config. One definition of each check (cause, fix, thresholds) serves
both commands, so `start` and `doctor` cannot disagree about the same machine.
"""

from __future__ import annotations

from .checks import CHECKS
from .registry import Check

PREFLIGHT_IDS = (
    "host.docker",
    "host.compose",
    "host.compose_config",
    "host.ports",
    "host.memory",
    "host.disk",
    "litellm.config",
)
PREFLIGHT: tuple[Check, ...] = tuple(
    check for check_id in PREFLIGHT_IDS for check in CHECKS if check.id == check_id
)
