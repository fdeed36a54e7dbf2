"""The request path: choose what to log, redact it, map it to spans, spool them, wake the worker.

Applied, in the delivery process, to each event the proxy's hook makes (a finished attempt,
a request that failed as a whole); events cross to it as JSON (`encode_event`,
`decode_event`). Nothing here touches
the network: the spans are spooled when a call returns, and the worker sends them later.
Per-request state (which attempts were recorded, whether a fallback happened, whether the root
span was written) is kept in a bounded map, so that LiteLLM reporting one failed attempt
through two hooks still yields one generation; across a restart of the delivery process the
spool does the same (it skips span ids it holds).

Redaction happens before anything is spooled: message bodies, outputs and error messages
pass through the redactor, and then every other string a span exports (request fields such
as the session, the user, the User-Agent and the `stop` list); only the figures the kit
itself computed (usage, cost, redaction counts) bypass it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import extract, jsontext, mapping
from .callback_settings import CallbackSettings
from .extract import Attempt, AttemptError, Request
from .sessions import InputLog, InputSelection, session_id
from .spool import AppendResult, SpanRow, Spool

MAX_TRACKED_REQUESTS = 10_000


class Redactor(Protocol):
    def redact(self, value: Any) -> tuple[Any, Mapping[str, int]]: ...

    def redact_json(self, items: Sequence[Any]) -> tuple[list[str], Mapping[str, int]]: ...


@dataclass
class _RequestState:
    first_start: float
    recorded: set[tuple[str, int, int]] = field(default_factory=set)
    fallback: bool = False
    root_written: bool = False


@dataclass
class _Redacted:
    """Values passed through the redactor, with the count of what it replaced, by kind."""

    redactor: Redactor
    counts: dict[str, int] = field(default_factory=dict)

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        cleaned, counts = self.redactor.redact(value)
        self._count(counts)
        return cleaned

    def json_texts(self, items: Sequence[Any]) -> list[str]:
        """Each item redacted, as JSON text: the large bodies, which the redactor can often
        pass through as encoded without walking them."""
        texts, counts = self.redactor.redact_json(items)
        self._count(counts)
        return texts

    def _count(self, counts: Mapping[str, int]) -> None:
        for kind, count in counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count


class Recorder:
    """Turns hook events into spooled spans. Thread-safe; the hook never waits on the network."""

    def __init__(
        self,
        settings: CallbackSettings,
        spool: Spool,
        redactor: Redactor,
        *,
        wake: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._spool = spool
        self._redactor = redactor
        self._wake = wake
        self._clock = clock
        self._inputs = InputLog()
        self._requests: OrderedDict[str, _RequestState] = OrderedDict()
        self._lock = threading.Lock()

    # -- request state -----------------------------------------------------------------------

    def _state(self, call_id: str, start: float) -> _RequestState:
        """Caller holds the lock."""
        state = self._requests.get(call_id)
        if state is None:
            state = self._requests[call_id] = _RequestState(first_start=start)
            while len(self._requests) > MAX_TRACKED_REQUESTS:
                self._requests.popitem(last=False)
        return state

    # -- events ------------------------------------------------------------------------------

    def record_attempt(self, attempt: Attempt, *, final: bool) -> AppendResult | None:
        """One finished attempt -> its generation; `final` (a success) adds the root span."""
        call_id = attempt.request.call_id
        with self._lock:
            state = self._state(call_id, attempt.start)
            if attempt.key in state.recorded:
                return None
            state.recorded.add(attempt.key)
            state.first_start = min(state.first_start, attempt.start)
            state.fallback = state.fallback or attempt.fallback > 0
            write_root = final and not state.root_written
            tags_final = final or state.fallback or state.root_written
            state.root_written = state.root_written or write_root
            fallback, first_start = state.fallback, state.first_start
        request = attempt.request
        fields = self._trace_fields(request, fallback, tags_final=tags_final)
        redacted = _Redacted(self._redactor)
        selection = self._select_input(fields.session_id, request)
        output = redacted(attempt.output) if self._settings.log_output else None
        status = redacted(attempt.error.describe()) if attempt.error else None
        generation = mapping.generation_span(
            attempt,
            fields,
            input_messages=_json_list(redacted.json_texts(selection.messages))
            if selection
            else None,
            output=output,
            status_message=status,
            metadata={
                "input_mode": self._settings.log_input,
                "input_omitted_messages": selection.omitted if selection else None,
                "redacted": dict(redacted.counts) or None,
            },
        )
        spans = [generation]
        if write_root:
            spans.append(
                mapping.root_span(
                    fields,
                    start=request.received_at or first_start,
                    end=attempt.end,
                    input_message=self._last_message(request, redacted),
                    output=output,
                    error=None,
                    status_message=None,
                )
            )
        return self._store(fields, spans)

    def record_request_failure(
        self, request: Request, error: AttemptError, at: float | None = None
    ) -> AppendResult | None:
        """The client got an error (`at`, default now): the root span says which, at ERROR
        (WARNING for a request the key's limits refused)."""
        now = at if at is not None else self._clock()
        with self._lock:
            state = self._state(request.call_id, request.received_at or now)
            if state.root_written:
                return None
            state.root_written = True
            fallback, first_start = state.fallback, state.first_start
        fields = self._trace_fields(request, fallback, refused=error.refused)
        redacted = _Redacted(self._redactor)
        root = mapping.root_span(
            fields,
            start=request.received_at or first_start,
            end=now,
            input_message=self._last_message(request, redacted),
            output=None,
            error=error,
            status_message=redacted(error.describe()),
        )
        return self._store(fields, [root])

    # -- helpers -----------------------------------------------------------------------------

    def _trace_fields(
        self, request: Request, fallback: bool, *, tags_final: bool = True, refused: bool = False
    ) -> mapping.TraceFields:
        session = session_id(request.explicit_session, request.user_id, request.messages)
        return mapping.trace_fields(
            request,
            session_id=session,
            environment=self._settings.environment,
            fallback=fallback,
            tags_final=tags_final,
            refused=refused,
        )

    def _select_input(self, session: str | None, request: Request) -> InputSelection | None:
        mode = self._settings.log_input
        if mode == "off":
            return None
        if mode == "delta":
            return self._inputs.select(session, request.call_id, request.messages)
        return InputSelection(list(request.messages), 0)

    def _last_message(self, request: Request, redacted: _Redacted) -> str | None:
        if self._settings.log_input == "off" or not request.messages:
            return None
        return redacted.json_texts(request.messages[-1:])[0]

    def _store(self, fields: mapping.TraceFields, spans: list[dict[str, Any]]) -> AppendResult:
        spans = [self._with_fields_redacted(s) for s in spans]
        rows = [SpanRow(fields.trace_id, s["spanId"], s) for s in spans]
        result = self._spool.append(rows)
        self._wake()
        return result

    def _with_fields_redacted(self, span: dict[str, Any]) -> dict[str, Any]:
        """The span with every string it exports passed through the redactor: its name and
        every attribute (session, user, tags, User-Agent, model parameters such as `stop`,
        what a future field adds), except the bodies and status, redacted on their own, and
        the figures the kit computed itself. What is found here is not in the span's
        `redacted` counts (they are written already)."""
        attributes = span["attributes"]
        todo = [i for i, pair in enumerate(attributes) if pair["key"] not in _ALREADY_CLEAN]
        values, _ = self._redactor.redact([span["name"], *(attributes[i]["value"] for i in todo)])
        name, *cleaned = values
        redacted = list(attributes)
        for i, value in zip(todo, cleaned, strict=True):
            redacted[i] = {"key": attributes[i]["key"], "value": value}
        return {**span, "name": name, "attributes": redacted}


# Span attributes `_with_fields_redacted` leaves: bodies and status redacted already, and the
# kit's own figures.
_ALREADY_CLEAN = frozenset(
    {
        *mapping.BODY_ATTRIBUTES,
        "langfuse.observation.status_message",
        "langfuse.observation.usage_details",
        "langfuse.observation.cost_details",
        "langfuse.observation.metadata.redacted",
    }
)


def _json_list(texts: Sequence[str]) -> str:
    """The JSON text of a list, from the JSON texts of its items."""
    return "[" + ",".join(texts) + "]"


# -- events: what the hook hands to the recorder in the delivery process --------------------


@dataclass(frozen=True)
class AttemptEvent:
    """One finished attempt; `final` (a success) adds the root span."""

    attempt: Attempt
    final: bool

    def apply_to(self, recorder: Recorder) -> None:
        recorder.record_attempt(self.attempt, final=self.final)


@dataclass(frozen=True)
class FailureEvent:
    """The request failed as a whole, at `at`."""

    request: Request
    error: AttemptError
    at: float

    def apply_to(self, recorder: Recorder) -> None:
        recorder.record_request_failure(self.request, self.error, self.at)


Event = AttemptEvent | FailureEvent


def encode_event(event: Event) -> bytes:
    """The event as JSON, to cross to the delivery process."""
    return jsontext.encode({type(event).__name__: event})


def decode_event(data: bytes) -> Event:
    (kind, fields), *_ = jsontext.decode(data).items()
    if kind == "AttemptEvent":
        return AttemptEvent(extract.attempt_from_json(fields["attempt"]), fields["final"])
    if kind == "FailureEvent":
        request = extract.request_from_json(fields["request"])
        return FailureEvent(request, AttemptError(**fields["error"]), fields["at"])
    raise ValueError(f"unknown event {kind!r}")
