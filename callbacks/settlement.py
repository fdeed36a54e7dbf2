"""Settles each admitted request's reservation to what Bedrock billed (see limits.py).

A LiteLLM CustomLogger, loaded through auth.py (`callbacks.auth.budget_settlement`):
- a successful attempt's `response_cost` (cache reads and writes included) replaces the hold;
- a failed attempt that carries a cost (billed output before a stream broke) is added, the hold
  stays for the retry or fallback that may follow; unbilled failures cost nothing;
- when the request is over without a success (final failure, a stream cut midway, a client
  that disconnected), the hold lapses after a grace period that lets a late cost arrive.
Requests without a hold (keys without limits, the master key) pass straight through.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from .limits import METADATA_FIELD, Gate


def _hold_of_call(kwargs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
    key_metadata = metadata.get("user_api_key_metadata") or {}
    hold = key_metadata.get(METADATA_FIELD)
    return hold if isinstance(hold, Mapping) else None


def _hold_of_key(user_api_key_dict: Any) -> Mapping[str, Any] | None:
    hold = (getattr(user_api_key_dict, "metadata", None) or {}).get(METADATA_FIELD)
    return hold if isinstance(hold, Mapping) else None


def _billed(kwargs: Mapping[str, Any]) -> tuple[float, int]:
    payload = kwargs.get("standard_logging_object") or {}
    cost = payload.get("response_cost") or 0.0
    tokens = payload.get("total_tokens") or 0
    return float(cost), int(tokens)


class BudgetSettlement(CustomLogger):
    """Reports each admitted request's real cost to the ledger; never raises into LiteLLM."""

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self._gate = gate

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        hold = _hold_of_call(kwargs)
        if hold is not None:
            self._gate.settle(hold, *_billed(kwargs))

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        hold = _hold_of_call(kwargs)
        if hold is not None:
            self._gate.charge(hold, *_billed(kwargs))

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ):
        hold = _hold_of_key(user_api_key_dict)
        if hold is not None:
            self._gate.ended(hold)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict
    ) -> AsyncGenerator[Any, None]:
        hold = _hold_of_key(user_api_key_dict)
        try:
            async for item in response:
                yield item
        finally:
            if hold is not None:
                self._gate.ended(hold)
