"""Faults chosen per model id: which calls fail, how, and for how long.

Kinds: throttle (429), unavailable (503), access_denied (403), validation (400),
midstream_throttle (a stream that breaks with a throttlingException frame after
MIDSTREAM_TEXT_DELTAS text deltas; converse calls are not affected and do not use up the
count), slow_first_byte (the answer is held back delay_ms before its first byte).
A fault with a count fails only the next `count` matching calls; without one it stays until
cleared. The model id `*` matches calls to any model without a fault of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import errors
from .errors import ServiceError

KINDS = (
    "throttle",
    "unavailable",
    "access_denied",
    "validation",
    "midstream_throttle",
    "slow_first_byte",
)
ANY_MODEL = "*"
MIDSTREAM_TEXT_DELTAS = 2
DEFAULT_SLOW_FIRST_BYTE_MS = 2000
DEFAULT_VALIDATION_MESSAGE = (
    "The model returned the following errors: the request was refused by a validation fault "
    "set on the Bedrock stand-in."
)


@dataclass(frozen=True)
class Fault:
    kind: str
    count: int | None = None
    delay_ms: int = DEFAULT_SLOW_FIRST_BYTE_MS
    message: str = DEFAULT_VALIDATION_MESSAGE

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"fault count must be at least 1, got {self.count}")

    @property
    def error(self) -> ServiceError | None:
        """The HTTP error answered instead of the reply, for the kinds that have one."""
        return {
            "throttle": errors.THROTTLING,
            "unavailable": errors.SERVICE_UNAVAILABLE,
            "access_denied": errors.ACCESS_DENIED,
            "validation": errors.validation(self.message),
        }.get(self.kind)


def parse_fault_option(option: str, *, delay_ms: int) -> tuple[str, Fault]:
    """`MODEL_ID=KIND[:COUNT]`, as given to --fault (model ids may contain `:`)."""
    model_id, separator, spec = option.rpartition("=")
    if not separator or not model_id:
        raise ValueError(f"expected MODEL_ID=KIND[:COUNT], got {option!r}")
    kind, _, count = spec.partition(":")
    return model_id, Fault(kind, int(count) if count else None, delay_ms=delay_ms)


class FaultBook:
    """The faults in force; `take` decides a call's fault and uses up one of its count."""

    def __init__(self, initial: dict[str, Fault]) -> None:
        self._initial = dict(initial)
        self._faults = dict(initial)

    def set(self, model_id: str, fault: Fault | None) -> None:
        if fault is None:
            self._faults.pop(model_id, None)
        else:
            self._faults[model_id] = fault

    def reset(self) -> None:
        """Back to the faults given at start, counts full again."""
        self._faults = dict(self._initial)

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {model_id: vars(fault).copy() for model_id, fault in self._faults.items()}

    def take(self, model_id: str, *, stream: bool) -> Fault | None:
        key = model_id if model_id in self._faults else ANY_MODEL
        fault = self._faults.get(key)
        if fault is None or (fault.kind == "midstream_throttle" and not stream):
            return None
        if fault.count == 1:
            del self._faults[key]
        elif fault.count is not None:
            self._faults[key] = replace(fault, count=fault.count - 1)
        return fault
