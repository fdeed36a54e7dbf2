"""From hook events to spooled spans, field by field, on payloads captured from the real proxy."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from callbacks import extract, mapping
from callbacks.callback_settings import CallbackSettings
from callbacks.otlp import attribute_map
from callbacks.recorder import Recorder

from .doubles import RecordingRedactor, exception_from

CALL_ID = "a55817f4-31d4-4657-838c-927324e2a401"


@pytest.fixture
def make_recorder(spool, clock, tmp_path):
    def make(**overrides: Any) -> Recorder:
        options = {"spool_dir": tmp_path, "environment": "production", "log_input": "full"}
        settings = CallbackSettings(**{**options, **overrides})
        return Recorder(settings, spool, RecordingRedactor(), wake=lambda: None, clock=clock)

    return make


@pytest.fixture
def recorder(make_recorder) -> Recorder:
    return make_recorder()


def spooled(spool) -> list[dict[str, Any]]:
    """Every spooled span, with its attributes decoded, in spooling order."""
    rows = spool.claim("test", state="ready", lease=60, max_bytes=10**9, max_spans=1000)
    return [{**row.span, "attrs": attribute_map(row.span)} for row in rows]


def by_type(spans, kind: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["attrs"]["langfuse.observation.type"] == kind]


def record_success(recorder, captured, name="cline_turn2_stream_success") -> None:
    recorder.record_attempt(extract.attempt_from_logging(captured(name), None), final=True)


def record_deployment_failure(recorder, captured, name: str) -> None:
    failure = captured(name)
    attempt = extract.attempt_from_deployment_failure(
        failure["request_data"], exception_from(failure["exception"]), None, 0.0
    )
    recorder.record_attempt(attempt, final=False)


def test_a_request_is_one_trace_of_a_root_span_and_a_generation(recorder, spool, captured) -> None:
    record_success(recorder, captured)
    spans = spooled(spool)
    root, generation = by_type(spans, "span")[0], by_type(spans, "generation")[0]
    assert len(spans) == 2
    assert {s["traceId"] for s in spans} == {CALL_ID.replace("-", "")}
    assert "parentSpanId" not in root
    assert generation["parentSpanId"] == root["spanId"]


def test_every_span_carries_the_trace_fields(recorder, spool, captured) -> None:
    record_success(recorder, captured)
    for span in spooled(spool):
        attrs = span["attrs"]
        assert attrs["langfuse.trace.name"] == "cline / claude-sonnet-4-6"
        assert attrs["session.id"].startswith("auto-")
        assert attrs["langfuse.trace.tags"] == ["cline", "claude-sonnet-4-6", "production"]
        assert attrs["langfuse.environment"] == "production"
        assert attrs["langfuse.trace.metadata.user_agent"] == "Cline/3.38.2"


def test_the_generation_carries_model_usage_cost_and_first_token_time(
    recorder, spool, captured
) -> None:
    payload = captured("cline_turn2_stream_success")["standard_logging_object"]
    record_success(recorder, captured)
    generation = by_type(spooled(spool), "generation")[0]
    attrs = generation["attrs"]
    assert generation["name"] == "claude-sonnet-4-6"
    assert attrs["langfuse.observation.model.name"] == "us.anthropic.claude-sonnet-4-6"
    assert json.loads(attrs["langfuse.observation.model.parameters"]) == {
        "temperature": 0,
        "max_tokens": 8192,
        "stream": True,
        "tools": ["read_file", "write_to_file", "execute_command"],
    }
    assert json.loads(attrs["langfuse.observation.usage_details"]) == {
        "input": 19,
        "output": 8,
        "cache_read_input_tokens": 625,
        "cache_creation_input_tokens": 321,
        "total": 973,
    }
    assert json.loads(attrs["langfuse.observation.cost_details"]) == {
        "input": 0.0000627,
        "output": 0.000132,
        "cache_read_input_tokens": 0.00020625,
        "cache_creation_input_tokens": 0.001324125,
        "total": 0.001725075,
    }
    first_token = dt.datetime.fromisoformat(attrs["langfuse.observation.completion_start_time"])
    assert first_token.timestamp() == pytest.approx(payload["completionStartTime"], abs=1e-6)
    assert int(generation["startTimeUnixNano"]) == round(payload["startTime"] * 1e6) * 1000
    assert int(generation["endTimeUnixNano"]) == round(payload["endTime"] * 1e6) * 1000
    assert attrs["langfuse.observation.metadata.model_group"] == "claude-sonnet-4-6"
    assert attrs["langfuse.observation.metadata.deployment"] == (
        "bedrock/converse/us.anthropic.claude-sonnet-4-6"
    )
    assert "langfuse.observation.level" not in attrs


def test_the_generation_logs_the_messages_and_the_answer(recorder, spool, captured) -> None:
    payload = captured("cline_turn2_stream_success")["standard_logging_object"]
    record_success(recorder, captured)
    attrs = by_type(spooled(spool), "generation")[0]["attrs"]
    assert json.loads(attrs["langfuse.observation.input"]) == payload["messages"]
    output = json.loads(attrs["langfuse.observation.output"])
    assert output["tool_calls"][0]["function"]["name"] == "read_file"


def test_the_root_span_shows_the_newest_message_and_the_answer(recorder, spool, captured) -> None:
    payload = captured("cline_turn2_stream_success")["standard_logging_object"]
    record_success(recorder, captured)
    attrs = by_type(spooled(spool), "span")[0]["attrs"]
    assert json.loads(attrs["langfuse.observation.input"]) == payload["messages"][-1]
    assert json.loads(attrs["langfuse.observation.output"])["role"] == "assistant"


def test_no_span_sends_trace_input_or_output(recorder, spool, captured) -> None:
    # Langfuse v4 ignores them: a trace's input and output are its root observation's.
    record_success(recorder, captured)
    for span in spooled(spool):
        assert not {"langfuse.trace.input", "langfuse.trace.output"} & span["attrs"].keys()


def test_a_retry_is_a_sibling_generation_with_the_error(recorder, spool, captured) -> None:
    record_deployment_failure(recorder, captured, "retry_deployment_failure")
    recorder.record_attempt(
        extract.attempt_from_logging(captured("retry_first_failure"), None), final=False
    )
    record_success(recorder, captured, "retry_success")
    spans = spooled(spool)
    generations = by_type(spans, "generation")
    assert [g["name"] for g in generations] == ["claude-sonnet-4-6", "claude-sonnet-4-6 (retry 1)"]
    failed = generations[0]["attrs"]
    assert failed["langfuse.observation.level"] == "ERROR"
    assert failed["langfuse.observation.status_message"].startswith(
        "RateLimitError (429) from bedrock: "
    )
    assert {g["parentSpanId"] for g in generations} == {by_type(spans, "span")[0]["spanId"]}


def test_a_request_failing_on_every_route_is_traced_with_each_attempt(
    recorder, spool, captured
) -> None:
    for n in range(1, 5):
        record_deployment_failure(recorder, captured, f"allfail_deployment_failure_{n}")
    recorder.record_attempt(
        extract.attempt_from_logging(captured("allfail_first_failure"), None), final=False
    )
    failure = captured("allfail_request_failure")
    recorder.record_request_failure(
        extract.request_from_data(failure["request_data"]),
        extract.error_from_exception(exception_from(failure["exception"])),
    )
    spans = spooled(spool)
    assert [g["name"] for g in by_type(spans, "generation")] == [
        "claude-sonnet-4-6",
        "claude-sonnet-4-6 (retry 1)",
        "claude-haiku-4-5 (fallback 1)",
        "claude-haiku-4-5 (fallback 1) (retry 1)",
    ]
    root = by_type(spans, "span")[0]["attrs"]
    assert root["langfuse.observation.level"] == "ERROR"
    assert root["langfuse.observation.status_message"].startswith("ServiceUnavailableError (503)")
    assert "refused" not in root["langfuse.trace.tags"]
    assert "fallback" in root["langfuse.trace.tags"]
    assert root["session.id"] == "5f0c2a9e-claude-session"
    assert root["langfuse.trace.name"] == "claude-cli / claude-sonnet-4-6"


def test_a_request_the_limits_refused_is_a_warning_naming_who_and_why(recorder, spool) -> None:
    request = extract.Request(
        call_id=CALL_ID,
        received_at=None,
        requested_group="claude-sonnet-4-6",
        user_agent="Cline/3.38.2",
        user_id="alice@example.com",
        key_alias="laptop",
        team="platform",
        explicit_session=None,
    )
    refusal = extract.AttemptError(
        "budget_exceeded", "429", None, "Budget exceeded for the key of alice", refused=True
    )
    recorder.record_request_failure(request, refusal)
    spans = spooled(spool)
    assert by_type(spans, "generation") == []  # no upstream attempt
    root = by_type(spans, "span")[0]["attrs"]
    assert root["langfuse.observation.level"] == "WARNING"
    assert root["langfuse.observation.status_message"] == (
        "budget_exceeded (429): Budget exceeded for the key of alice"
    )
    assert root["langfuse.observation.metadata.error_type"] == "budget_exceeded"
    assert root["langfuse.observation.metadata.refused"] is True
    assert "refused" in root["langfuse.trace.tags"]
    assert root["user.id"] == "alice@example.com"
    assert root["langfuse.trace.metadata.team"] == "platform"
    assert root["langfuse.trace.metadata.key_alias"] == "laptop"


def test_a_failed_attempt_before_any_fallback_carries_no_tags(recorder, spool, captured) -> None:
    # Langfuse keeps the tags of the trace's latest-written span: an early span without
    # `fallback` written last would drop it, so only spans that know the final set carry tags.
    record_deployment_failure(recorder, captured, "allfail_deployment_failure_1")
    [failed] = by_type(spooled(spool), "generation")
    assert "langfuse.trace.tags" not in failed["attrs"]
    assert failed["attrs"]["langfuse.trace.name"] == "claude-cli / claude-sonnet-4-6"


def test_every_tagged_span_of_a_fallback_carries_the_full_tag_set(
    recorder, spool, captured
) -> None:
    for n in range(1, 5):
        record_deployment_failure(recorder, captured, f"allfail_deployment_failure_{n}")
    failure = captured("allfail_request_failure")
    recorder.record_request_failure(
        extract.request_from_data(failure["request_data"]),
        extract.error_from_exception(exception_from(failure["exception"])),
    )
    tagged = [s["attrs"] for s in spooled(spool) if "langfuse.trace.tags" in s["attrs"]]
    assert len(tagged) == 3  # both fallback attempts and the root
    assert all("fallback" in attrs["langfuse.trace.tags"] for attrs in tagged)


def test_failed_attempts_state_zero_usage_and_cost(recorder, spool, captured) -> None:
    record_deployment_failure(recorder, captured, "retry_deployment_failure")
    recorder.record_attempt(
        extract.attempt_from_logging(captured("allfail_first_failure"), None), final=False
    )
    zeros = {"input": 0, "output": 0, "total": 0}
    for generation in by_type(spooled(spool), "generation"):
        assert json.loads(generation["attrs"]["langfuse.observation.usage_details"]) == zeros
        assert json.loads(generation["attrs"]["langfuse.observation.cost_details"]) == zeros


def test_a_stream_broken_midway_states_what_was_billed(recorder, spool, captured) -> None:
    # Bedrock bills the tokens a stream produced before it broke; LiteLLM recovers them.
    recorder.record_attempt(
        extract.attempt_from_logging(captured("midstream_failure"), None), final=False
    )
    attrs = by_type(spooled(spool), "generation")[0]["attrs"]
    assert json.loads(attrs["langfuse.observation.usage_details"]) == {
        "input": 11,
        "output": 2,
        "total": 13,
    }
    assert json.loads(attrs["langfuse.observation.cost_details"])["total"] == 6.93e-05


def test_a_stream_broken_midway_keeps_its_first_token_time(recorder, spool, captured) -> None:
    recorder.record_attempt(
        extract.attempt_from_logging(captured("midstream_failure"), None), final=False
    )
    generation = by_type(spooled(spool), "generation")[0]["attrs"]
    assert generation["langfuse.observation.level"] == "ERROR"
    assert "langfuse.observation.completion_start_time" in generation


def test_the_root_span_is_written_once(recorder, spool, captured) -> None:
    record_success(recorder, captured)
    failure = captured("allfail_request_failure")
    request = extract.request_from_logging(captured("cline_turn2_stream_success"))
    recorder.record_request_failure(
        request, extract.error_from_exception(exception_from(failure["exception"]))
    )
    assert len(by_type(spooled(spool), "span")) == 1


def test_input_logging_off_logs_no_messages(make_recorder, spool, captured) -> None:
    record_success(make_recorder(log_input="off"), captured)
    for span in spooled(spool):
        assert "langfuse.observation.input" not in span["attrs"]


def test_output_logging_off_logs_no_answer(make_recorder, spool, captured) -> None:
    record_success(make_recorder(log_output=False), captured)
    for span in spooled(spool):
        assert "langfuse.observation.output" not in span["attrs"]


def test_delta_mode_logs_only_the_new_messages_of_the_next_turn(
    make_recorder, spool, captured
) -> None:
    recorder = make_recorder(log_input="delta")
    record_success(recorder, captured, "cline_turn1_success")
    record_success(recorder, captured, "cline_turn2_stream_success")
    second = by_type(spooled(spool), "generation")[1]["attrs"]
    logged = json.loads(second["langfuse.observation.input"])
    assert [m["role"] for m in logged] == ["assistant", "user"]
    assert second["langfuse.observation.metadata.input_omitted_messages"] == "2"


def test_the_turns_of_a_task_share_a_session(recorder, spool, captured) -> None:
    record_success(recorder, captured, "cline_turn1_success")
    record_success(recorder, captured, "cline_turn2_stream_success")
    assert len({s["attrs"]["session.id"] for s in spooled(spool)}) == 1


def test_bodies_and_errors_pass_through_the_redactor(make_recorder, spool, captured) -> None:
    kwargs = captured("retry_success")
    kwargs["standard_logging_object"]["messages"][0]["content"] = "my key is SECRET"
    kwargs["standard_logging_object"]["response"]["choices"][0]["message"]["content"] = "SECRET"
    make_recorder().record_attempt(extract.attempt_from_logging(kwargs, None), final=True)
    failure = captured("retry_deployment_failure")
    failure["exception"]["message"] = "echo: SECRET"
    record_deployment_failure(make_recorder(), lambda _: failure, "ignored")
    spans = spooled(spool)
    assert "SECRET" not in json.dumps(spans)
    generation = by_type(spans, "generation")[0]["attrs"]
    assert json.loads(generation["langfuse.observation.metadata.redacted"]) == {"test": 2}


def test_every_exported_request_field_passes_through_the_redactor(
    make_recorder, spool, captured
) -> None:
    kwargs = captured("retry_success")
    payload, params = kwargs["standard_logging_object"], kwargs["litellm_params"]
    payload["model_parameters"]["stop"] = ["SECRET"]
    payload["end_user"] = "SECRET-user"
    params["litellm_session_id"] = "SECRET-session"
    params["metadata"]["user_agent"] = "deploy-bot/1.0 SECRET"
    make_recorder().record_attempt(extract.attempt_from_logging(kwargs, None), final=True)

    assert "SECRET" not in json.dumps(spooled(spool))


def test_an_oversized_field_is_truncated_with_a_marker(recorder, spool, captured) -> None:
    kwargs = captured("retry_success")
    kwargs["standard_logging_object"]["messages"][0]["content"] = "x" * (
        mapping.MAX_FIELD_CHARS + 10
    )
    recorder.record_attempt(extract.attempt_from_logging(kwargs, None), final=True)
    text = by_type(spooled(spool), "generation")[0]["attrs"]["langfuse.observation.input"]
    assert len(text) < mapping.MAX_FIELD_CHARS + 200
    assert text.endswith("characters kept]")
