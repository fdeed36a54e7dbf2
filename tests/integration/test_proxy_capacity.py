"""The proxy the kit starts runs with the settings the capacity figures were measured with.

LiteLLM reads PYTHON_GC_THRESHOLD at start and sets the worker's garbage-collector thresholds
from it (README "Capacity of one proxy"); its memory details, open to the master key, report
the thresholds the worker really runs with.
"""

from __future__ import annotations

import httpx

from callbacks.proxy_entrypoint import CAPACITY_ENVIRONMENT
from tests.integration.conftest import ProxyStack


def test_the_worker_collects_garbage_with_the_kits_thresholds(stack: ProxyStack) -> None:
    response = httpx.get(
        f"{stack.proxy.url}/debug/memory/details?top_n=1&include_process_info=false",
        headers={"Authorization": f"Bearer {stack.proxy.master_key}"},
        timeout=30,
    )

    assert response.status_code == 200
    thresholds = response.json()["garbage_collector"]["thresholds"]
    running = [thresholds[f"generation_{generation}"] for generation in range(3)]
    assert running == [int(n) for n in CAPACITY_ENVIRONMENT["PYTHON_GC_THRESHOLD"].split(",")]
