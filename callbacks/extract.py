"""LiteLLM's hook arguments -> plain records of one request and one upstream attempt.

This is the only module that knows LiteLLM's shapes (checked against LiteLLM 1.106.2 and
payloads captured from the real proxy, see tests/unit/callbacks/data/):

- `kwargs["standard_logging_object"]` (success, and the first failure of a request),
  with the proxy's metadata in `kwargs["litellm_params"]["metadata"]`;
- the router's per-attempt kwargs in `async_post_call_failure_deployment_hook`;
- the proxy's request data in `async_post_call_failure_hook`, whose identity is empty for a
  request our custom_auth refused: a limits refusal (limits.Refused) carries it instead.

Every proxied request carries one `litellm_call_id`, shared by its retries and fallbacks
(LiteLLM's own trace id is not per request: a session header becomes the trace id). The
router's metadata says which attempt it is: `attempted_retries` on the current route and
`attempted_fallbacks` along the fallback chain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .forwarded_users import forwarded_user

# LiteLLM's user id for the master key: not a person.
ADMIN_USER_ID = "default_user_id"
USER_HEADER = "x-user-id"
# Claude Code names the subagent that sends a request, and the agent that started it.
AGENT_HEADER = "x-claude-code-agent-id"
PARENT_AGENT_HEADER = "x-claude-code-parent-agent-id"

MODEL_PARAMETERS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "stream",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "thinking",
    "response_format",
)
ERROR_MESSAGE_LIMIT = 2000
USD_DECIMALS = 12


@dataclass(frozen=True)
class Request:
    """What every span of one proxied request shares."""

    call_id: str
    received_at: float | None
    requested_group: str
    user_agent: str
    user_id: str | None
    key_alias: str | None
    team: str | None
    explicit_session: str | None
    messages: list[Any] = field(default_factory=list)
    agent_id: str | None = None
    parent_agent_id: str | None = None
    # Named by a trusted front end (forwarded_users.py); else from the User-Agent.
    client: str | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens, split the way Langfuse adds them up: `input` excludes the cached parts."""

    input: int
    output: int
    cache_read: int
    cache_write: int
    reasoning: int
    total: int


@dataclass(frozen=True)
class Cost:
    """USD from LiteLLM's own cost calculation with the pinned price map, rounded to the
    12 decimal places Langfuse stores (which also removes the noise of the subtractions)."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    reasoning: float
    total: float


@dataclass(frozen=True)
class AttemptError:
    kind: str
    status: str | None
    provider: str | None
    message: str
    # Stopped by the key's limits (limits.Refused; `kind` says which), not failed.
    refused: bool = False

    def describe(self) -> str:
        status = f" ({self.status})" if self.status else ""
        provider = f" from {self.provider}" if self.provider else ""
        return f"{self.kind}{status}{provider}: {self.message}"


@dataclass(frozen=True)
class Attempt:
    """One call to one upstream route: the first try, a retry, or a fallback."""

    request: Request
    model_group: str
    deployment: str
    deployment_id: str
    retry: int
    fallback: int
    start: float
    end: float
    completion_start: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    usage: Usage | None = None
    cost: Cost | None = None
    error: AttemptError | None = None
    cache_hit: bool = False

    @property
    def key(self) -> tuple[str, int, int]:
        """Identifies the attempt within its request: route, retry number, fallback depth."""
        return (self.deployment_id or self.deployment, self.retry, self.fallback)


# -- records from their JSON form (as they cross to the delivery process) -------------------


def request_from_json(data: Mapping[str, Any]) -> Request:
    return Request(**data)


def error_from_json(data: Mapping[str, Any] | None) -> AttemptError | None:
    return AttemptError(**data) if data is not None else None


def attempt_from_json(data: Mapping[str, Any]) -> Attempt:
    """The Attempt that jsontext.encode wrote (dataclasses become objects of their fields)."""
    usage, cost = data["usage"], data["cost"]
    return Attempt(
        **{
            **data,
            "request": request_from_json(data["request"]),
            "usage": Usage(**usage) if usage is not None else None,
            "cost": Cost(**cost) if cost is not None else None,
            "error": error_from_json(data["error"]),
        }
    )


# -- requests -------------------------------------------------------------------------------


def request_from_logging(kwargs: Mapping[str, Any]) -> Request:
    """From the kwargs LiteLLM passes to async_log_success_event / _failure_event."""
    payload = kwargs.get("standard_logging_object") or {}
    litellm_params = kwargs.get("litellm_params") or {}
    metadata = litellm_params.get("metadata") or {}
    return _request(
        call_id=str(kwargs.get("litellm_call_id") or payload.get("litellm_call_id") or ""),
        metadata=metadata,
        messages=payload.get("messages") or kwargs.get("messages") or [],
        session=litellm_params.get("litellm_session_id") or metadata.get("session_id"),
        body_user=payload.get("end_user"),
        model=payload.get("model_group") or kwargs.get("model"),
    )


def request_from_data(data: Mapping[str, Any]) -> Request:
    """From the proxy's request data, or the router's per-attempt kwargs."""
    metadata = data.get("metadata") or data.get("litellm_metadata") or {}
    return _request(
        call_id=str(data.get("litellm_call_id") or ""),
        metadata=metadata,
        messages=data.get("messages") or [],
        session=data.get("litellm_session_id") or metadata.get("session_id"),
        body_user=data.get("user"),
        model=data.get("model"),
    )


def _request(
    *,
    call_id: str,
    metadata: Mapping[str, Any],
    messages: Any,
    session: Any,
    body_user: Any,
    model: Any,
) -> Request:
    headers = {str(k).lower(): str(v) for k, v in (metadata.get("headers") or {}).items()}
    user_agent = str(metadata.get("user_agent") or headers.get("user-agent") or "")
    alias = _text(metadata.get("user_api_key_alias"))
    user_id = _text(metadata.get("user_api_key_user_id"))
    end_user = _text(metadata.get("user_api_key_end_user_id")) or _text(body_user)
    person = user_id if user_id != ADMIN_USER_ID else None
    forwarded = forwarded_user(metadata, headers)
    if forwarded is not None:
        person, session = forwarded.user or person, forwarded.session or session
    return Request(
        call_id=call_id,
        received_at=seconds(metadata.get("litellm_received_at")),
        requested_group=str(
            metadata.get("original_model_group") or metadata.get("model_group") or model or ""
        ),
        user_agent=user_agent,
        user_id=person or end_user or _text(headers.get(USER_HEADER)) or alias,
        key_alias=alias,
        team=_text(metadata.get("user_api_key_team_id")),
        explicit_session=_text(session),
        messages=list(messages) if isinstance(messages, list) else [messages],
        agent_id=_text(headers.get(AGENT_HEADER)),
        parent_agent_id=_text(headers.get(PARENT_AGENT_HEADER)),
        client=forwarded.client if forwarded is not None else None,
    )


# -- attempts -------------------------------------------------------------------------------


def attempt_from_logging(kwargs: Mapping[str, Any], started: float | None) -> Attempt:
    """A finished attempt from the standard logging object (success or failure)."""
    payload = kwargs.get("standard_logging_object") or {}
    metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
    start = float(payload.get("startTime") or 0.0)
    end = float(payload.get("endTime") or start)
    first_token = payload.get("completionStartTime")
    streamed = bool(payload.get("stream")) or (first_token is not None and first_token < end)
    failed = payload.get("status") == "failure"
    return Attempt(
        request=request_from_logging(kwargs),
        model_group=served_group(metadata, payload.get("model_group")),
        deployment=str(payload.get("model") or ""),
        deployment_id=str(payload.get("model_id") or ""),
        retry=_int(metadata.get("attempted_retries")),
        fallback=_int(metadata.get("attempted_fallbacks")),
        # A stream that fell back keeps the first attempt's start: the router's own
        # per-attempt start (recorded by the hook) is the better one when known.
        start=max(start, started) if started is not None and started < end else start,
        end=end,
        completion_start=float(first_token) if streamed and first_token else None,
        parameters=model_parameters(payload.get("model_parameters") or {}),
        output=None if failed else _output(payload.get("response")),
        # A failure reports zero usage, or what a stream that broke midway had produced.
        usage=_usage(payload),
        cost=_cost(payload),
        error=_error_from_payload(payload) if failed else None,
        cache_hit=bool(payload.get("cache_hit")),
    )


def attempt_from_deployment_failure(
    data: Mapping[str, Any], exception: BaseException, started: float | None, now: float
) -> Attempt:
    """A failed attempt from the router's per-attempt kwargs and the exception."""
    metadata = data.get("metadata") or data.get("litellm_metadata") or {}
    request = request_from_data(data)
    return Attempt(
        request=request,
        model_group=served_group(metadata, metadata.get("model_group") or request.requested_group),
        deployment=str(data.get("model") or metadata.get("deployment") or ""),
        deployment_id=str((metadata.get("model_info") or {}).get("id") or ""),
        retry=_int(metadata.get("attempted_retries")),
        fallback=_int(metadata.get("attempted_fallbacks")),
        start=started if started is not None else (request.received_at or now),
        end=now,
        parameters=model_parameters(data),
        error=error_from_exception(exception),
    )


def served_group(metadata: Mapping[str, Any], asked: Any) -> str:
    """The group whose deployment answered: the router's `deployment_model_name`, which
    differs from `model_group` when the client asked for an alias (`sonnet`)."""
    return str(metadata.get("deployment_model_name") or asked or "")


def is_refusal(exception: object) -> bool:
    """Whether the key's limits refused the request (limits.Refused names why)."""
    return _text(getattr(exception, "refusal", None)) is not None


def refused_request(request: Request, exception: BaseException) -> Request:
    """The request with the key owner a limits refusal names (unchanged for other errors)."""
    if not is_refusal(exception):
        return request
    user = _text(getattr(exception, "user", None))
    return dataclasses.replace(
        request,
        user_id=user or request.user_id,
        team=_text(getattr(exception, "team", None)) or request.team,
        key_alias=_text(getattr(exception, "key_alias", None)) or request.key_alias,
    )


def error_from_exception(exception: BaseException) -> AttemptError:
    refusal = _text(getattr(exception, "refusal", None))
    if refusal is not None:
        return AttemptError(
            kind=refusal,
            status=_text(getattr(exception, "code", None)),
            provider=None,
            message=str(exception)[:ERROR_MESSAGE_LIMIT],
            refused=True,
        )
    status = getattr(exception, "status_code", None)
    return AttemptError(
        kind=type(exception).__name__,
        status=str(status) if status is not None else None,
        provider=_text(getattr(exception, "llm_provider", None)),
        message=str(exception)[:ERROR_MESSAGE_LIMIT],
    )


def _error_from_payload(payload: Mapping[str, Any]) -> AttemptError:
    info = payload.get("error_information") or {}
    return AttemptError(
        kind=str(info.get("error_class") or "Error"),
        status=_text(info.get("error_code")),
        provider=_text(info.get("llm_provider")),
        message=str(info.get("error_message") or payload.get("error_str") or "")[
            :ERROR_MESSAGE_LIMIT
        ],
    )


def model_parameters(source: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling parameters, and tool names only (definitions are large and constant)."""
    chosen = {name: source[name] for name in MODEL_PARAMETERS if source.get(name) is not None}
    tools = source.get("tools")
    if isinstance(tools, list) and tools:
        chosen["tools"] = [_tool_name(tool) for tool in tools]
    return chosen


def _tool_name(tool: Any) -> str:
    # `dict` first: a request carries dozens of tools, and the check against the Mapping
    # ABC alone costs more than the rest of this function.
    if isinstance(tool, dict | Mapping):
        function = tool.get("function")
        if isinstance(function, dict | Mapping) and function.get("name"):
            return str(function["name"])
        if tool.get("name"):
            return str(tool["name"])
    return "?"


def _output(response: Any) -> Any:
    """The assistant message (content, tool calls, reasoning) rather than the envelope."""
    if isinstance(response, Mapping):
        choices = response.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
            message = choices[0].get("message")
            if isinstance(message, Mapping):
                return {k: v for k, v in message.items() if v is not None}
    return response


def _usage(payload: Mapping[str, Any]) -> Usage | None:
    usage = (payload.get("metadata") or {}).get("usage_object")
    if not isinstance(usage, Mapping):
        response = payload.get("response")
        usage = response.get("usage") if isinstance(response, Mapping) else None
    if not isinstance(usage, Mapping):
        return None
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    cache_read = _int(usage.get("cache_read_input_tokens") or prompt_details.get("cached_tokens"))
    cache_write = _int(
        usage.get("cache_creation_input_tokens") or prompt_details.get("cache_creation_tokens")
    )
    reasoning = _int(completion_details.get("reasoning_tokens"))
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    return Usage(
        input=max(0, prompt - cache_read - cache_write),
        output=max(0, completion - reasoning),
        cache_read=cache_read,
        cache_write=cache_write,
        reasoning=reasoning,
        total=_int(usage.get("total_tokens")) or prompt + completion,
    )


def _cost(payload: Mapping[str, Any]) -> Cost | None:
    """LiteLLM's cost breakdown; its input and output costs include their cached and
    reasoning parts, which are taken out so that the parts add up to the total."""
    breakdown = payload.get("cost_breakdown")
    if not isinstance(breakdown, Mapping):
        total = payload.get("response_cost")
        return Cost(0.0, 0.0, 0.0, 0.0, 0.0, _usd(float(total))) if total else None
    cache_read = _float(breakdown.get("cache_read_cost"))
    cache_write = _float(breakdown.get("cache_creation_cost"))
    reasoning = _float(breakdown.get("reasoning_cost"))
    total = _float(breakdown.get("total_cost")) or _float(payload.get("response_cost"))
    return Cost(
        input=_usd(_float(breakdown.get("input_cost")) - cache_read - cache_write),
        output=_usd(_float(breakdown.get("output_cost")) - reasoning),
        cache_read=_usd(cache_read),
        cache_write=_usd(cache_write),
        reasoning=_usd(reasoning),
        total=_usd(total),
    )


def _usd(amount: float) -> float:
    return round(max(0.0, amount), USD_DECIMALS)


# -- small conversions ----------------------------------------------------------------------


def seconds(value: Any) -> float | None:
    """Epoch seconds from a float, a datetime or an ISO 8601 string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    if isinstance(value, str):
        try:
            return seconds(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
