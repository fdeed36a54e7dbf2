"""Events cross to the delivery process as JSON: values orjson refuses must cross too.

Before, such an event was written as its str() and the delivery process logged only "an
event could not be recorded (TypeError)": the request was served but never traced.
"""

from __future__ import annotations

from typing import Any

from callbacks import extract
from callbacks.jsontext import TRUNCATED
from callbacks.recorder import AttemptEvent, FailureEvent, decode_event, encode_event


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def request(content: Any) -> extract.Request:
    return extract.Request(
        call_id="c1",
        received_at=1.0,
        requested_group="claude-sonnet-4-6",
        user_agent="Cline/3.38.2",
        user_id="alice@example.com",
        key_alias=None,
        team=None,
        explicit_session=None,
        messages=[{"role": "user", "content": content}],
    )


def test_an_attempt_nested_past_orjsons_limit_crosses_with_its_input_truncated() -> None:
    attempt = extract.Attempt(
        request=request(["look", nested(300)]),
        model_group="claude-sonnet-4-6",
        deployment="d",
        deployment_id="id",
        retry=0,
        fallback=0,
        start=1.0,
        end=2.0,
        output={"content": "fine"},
    )

    decoded = decode_event(encode_event(AttemptEvent(attempt, final=True)))

    assert isinstance(decoded, AttemptEvent) and decoded.final
    assert decoded.attempt.output == {"content": "fine"}
    content = decoded.attempt.request.messages[0]["content"]
    assert content[0] == "look"
    deepest = content[1]
    while isinstance(deepest, list):
        deepest = deepest[0]
    assert deepest == TRUNCATED


def test_a_failure_with_a_lone_surrogate_crosses_intact() -> None:
    error = extract.AttemptError("BadRequestError", "400", "bedrock", "bad \ud800 text")
    event = FailureEvent(request("half a pair \udc00"), error, 3.0)

    decoded = decode_event(encode_event(event))

    assert decoded == event
