"""A test-only LiteLLM callback: appends each request's standard logging object to a file.

The proxy imports it as `tests.integration.metadata_recorder.recorder` (the repository root
is on its PYTHONPATH); RECORD_FILE_VARIABLE names the JSON-lines file. Tests read it to see
exactly what every callback, ours included, is given.
"""

from __future__ import annotations

import json
import os
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from tests.integration.proxy_harness import RECORD_FILE_VARIABLE


class MetadataRecorder(CustomLogger):
    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs)

    @staticmethod
    def _record(kwargs: Any) -> None:
        payload = kwargs.get("standard_logging_object")
        with open(os.environ[RECORD_FILE_VARIABLE], "a", encoding="utf-8") as handle:
            handle.write(json.dumps(payload, default=str) + "\n")


recorder = MetadataRecorder()
