"""The Bedrock stand-in against real clients: boto3 (botocore's parser and event-stream
decoder), httpx for raw wire checks, and LiteLLM's own SigV4 signing."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError, ReadTimeoutError

from tests.fakes.bedrock import errors
from tests.fakes.bedrock.eventstream import event_frame, exception_frame
from tests.fakes.bedrock.harness import RunningBedrock, running_bedrock
from tests.fakes.bedrock.replies import REASONING_TEXT
from tests.fakes.bedrock.rules import sign_reasoning

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
STARTUP_FAULT_MODEL = "us.anthropic.claude-opus-4-1-20250805-v1:0"  # `:` inside --fault
BEARER_TOKEN = "bedrock-api-key-for-tests"
READ_FILE_TOOL = {
    "toolSpec": {
        "name": "read_file",
        "description": "Read a file",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["path", "limit"],
            }
        },
    }
}
THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
SIGNED_HM = sign_reasoning("hm")


def tokens(text: str) -> int:
    """The stand-in's documented rule: ceil(characters / 4) per block."""
    return math.ceil(len(text) / 4)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


@pytest.fixture(scope="module")
def running() -> Iterator[RunningBedrock]:
    with running_bedrock(
        bearer_token=BEARER_TOKEN, faults={STARTUP_FAULT_MODEL: "unavailable:1"}
    ) as bedrock:
        yield bedrock


@pytest.fixture
def bedrock(running: RunningBedrock) -> RunningBedrock:
    running.reset()
    return running


@pytest.fixture
def client(bedrock: RunningBedrock) -> Any:
    return bedrock.client()


def signed_client(
    bedrock: RunningBedrock,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    region: str = "us-east-1",
) -> Any:
    """A boto3 client like bedrock.client(), with one of its signing inputs changed."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=bedrock.url,
        region_name=region,
        aws_access_key_id=access_key_id or bedrock.access_key_id,
        aws_secret_access_key=secret_access_key or bedrock.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}),
    )


def stream_events(response: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [next(iter(event.items())) for event in response["stream"]]


def streamed_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(body["delta"].get("text", "") for kind, body in events if "delta" in body)


# --- Converse ------------------------------------------------------------------------------


def test_converse_answers_with_text_naming_the_model(client: Any) -> None:
    response = client.converse(modelId=SONNET, messages=[user("hi there")])
    assert response["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": f"Hello from {SONNET}. You said: hi there"}],
    }
    assert response["stopReason"] == "end_turn"


def test_converse_usage_counts_four_characters_per_token(client: Any) -> None:
    response = client.converse(
        modelId=SONNET, system=[{"text": "You are terse."}], messages=[user("hi")]
    )
    output = tokens(f"Hello from {SONNET}. You said: hi")
    assert response["usage"] == {
        "inputTokens": tokens("You are terse.") + tokens("hi"),
        "outputTokens": output,
        "totalTokens": tokens("You are terse.") + tokens("hi") + output,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


def test_first_call_with_a_cache_point_writes_the_prefix(client: Any) -> None:
    system = [{"text": "A long system prompt."}, {"cachePoint": {"type": "default"}}]
    usage = client.converse(modelId=SONNET, system=system, messages=[user("hi")])["usage"]
    assert (usage["cacheWriteInputTokens"], usage["cacheReadInputTokens"]) == (6, 0)
    assert usage["inputTokens"] == tokens("hi")
    assert usage["cacheDetails"] == [{"ttl": "5m", "inputTokens": 6}]


def test_repeated_prefix_is_read_from_the_cache(client: Any) -> None:
    system = [{"text": "A long system prompt."}, {"cachePoint": {"type": "default"}}]
    client.converse(modelId=SONNET, system=system, messages=[user("hi")])
    usage = client.converse(modelId=SONNET, system=system, messages=[user("hi")])["usage"]
    assert (usage["cacheReadInputTokens"], usage["cacheWriteInputTokens"]) == (6, 0)
    assert usage["totalTokens"] == 6 + tokens("hi") + usage["outputTokens"]


def test_longer_conversation_reads_old_prefix_and_writes_only_the_new_part(client: Any) -> None:
    cache_point = {"cachePoint": {"type": "default"}}
    system = [{"text": "System prompt!!!"}, cache_point]  # 16 characters: 4 tokens
    first = {"role": "user", "content": [{"text": "first question"}, cache_point]}
    client.converse(modelId=SONNET, system=system, messages=[first])
    answer = {"role": "assistant", "content": [{"text": "first answer"}]}
    second = {"role": "user", "content": [{"text": "second question"}, cache_point]}
    usage = client.converse(modelId=SONNET, system=system, messages=[first, answer, second])[
        "usage"
    ]
    assert usage["cacheReadInputTokens"] == 4 + tokens("first question")
    assert usage["cacheWriteInputTokens"] == tokens("first answer") + tokens("second question")
    assert usage["inputTokens"] == 0


def test_prompt_cache_is_per_model(client: Any) -> None:
    system = [{"text": "Shared prompt."}, {"cachePoint": {"type": "default"}}]
    client.converse(modelId=SONNET, system=system, messages=[user("hi")])
    usage = client.converse(modelId=HAIKU, system=system, messages=[user("hi")])["usage"]
    assert usage["cacheWriteInputTokens"] == tokens("Shared prompt.")


def test_tools_and_user_text_get_a_tool_use_of_the_first_tool(client: Any) -> None:
    response = client.converse(
        modelId=SONNET, messages=[user("show README.md")], toolConfig={"tools": [READ_FILE_TOOL]}
    )
    text_block, tool_block = response["output"]["message"]["content"]
    assert text_block == {"text": "Calling read_file."}
    assert tool_block["toolUse"]["name"] == "read_file"
    assert tool_block["toolUse"]["input"] == {"path": "show README.md", "limit": 1}
    assert tool_block["toolUse"]["toolUseId"].startswith("tooluse_")
    assert response["stopReason"] == "tool_use"


def test_tool_result_gets_a_text_answer(client: Any) -> None:
    tool_use = {"toolUseId": "tooluse_1", "name": "read_file", "input": {"path": "a"}}
    messages = [
        user("show a"),
        {"role": "assistant", "content": [{"toolUse": tool_use}]},
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "A!"}]}}],
        },
    ]
    response = client.converse(
        modelId=SONNET, messages=messages, toolConfig={"tools": [READ_FILE_TOOL]}
    )
    assert response["output"]["message"]["content"] == [
        {"text": f"Hello from {SONNET}. The tool returned: A!"}
    ]
    assert response["stopReason"] == "end_turn"


def test_thinking_puts_signed_reasoning_first(client: Any) -> None:
    response = client.converse(
        modelId=SONNET, messages=[user("hi")], additionalModelRequestFields=THINKING
    )
    reasoning = response["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]
    assert reasoning["text"] == REASONING_TEXT
    assert reasoning["signature"]


def test_thinking_tokens_reported_when_litellm_asks_for_them(client: Any) -> None:
    response = client.converse(
        modelId=SONNET,
        messages=[user("hi")],
        additionalModelRequestFields=THINKING,
        additionalModelResponseFieldPaths=["/usage/output_tokens_details"],
    )
    assert response["additionalModelResponseFields"] == {
        "usage": {"output_tokens_details": {"thinking_tokens": tokens(REASONING_TEXT)}}
    }


def test_max_tokens_cuts_the_answer(client: Any) -> None:
    response = client.converse(
        modelId=SONNET, messages=[user("hi")], inferenceConfig={"maxTokens": 3}
    )
    assert response["output"]["message"]["content"] == [{"text": f"Hello from {SONNET}"[:12]}]
    assert (response["stopReason"], response["usage"]["outputTokens"]) == ("max_tokens", 3)


# --- ConverseStream ------------------------------------------------------------------------


def test_stream_is_an_eventstream_response(client: Any) -> None:
    response = client.converse_stream(modelId=SONNET, messages=[user("hi")])
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert "x-amzn-requestid" in headers


def test_stream_events_come_in_bedrock_order(client: Any) -> None:
    events = stream_events(client.converse_stream(modelId=SONNET, messages=[user("hi")]))
    kinds = [kind for kind, _ in events]
    deltas = kinds.count("contentBlockDelta")
    assert kinds == ["messageStart"] + ["contentBlockDelta"] * deltas + [
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0][1] == {"role": "assistant"}
    assert events[-2][1] == {"stopReason": "end_turn"}


def test_streamed_text_equals_the_converse_text(client: Any) -> None:
    events = stream_events(client.converse_stream(modelId=SONNET, messages=[user("hi there")]))
    assert streamed_text(events) == f"Hello from {SONNET}. You said: hi there"


def test_stream_tool_use_starts_its_block_and_streams_the_input(client: Any) -> None:
    response = client.converse_stream(
        modelId=SONNET,
        messages=[user("show a long file name")],
        toolConfig={"tools": [READ_FILE_TOOL]},
    )
    events = stream_events(response)
    start = next(body for kind, body in events if kind == "contentBlockStart")
    assert start["start"]["toolUse"]["name"] == "read_file"
    fragments = [
        body["delta"]["toolUse"]["input"]
        for kind, body in events
        if kind == "contentBlockDelta" and "toolUse" in body["delta"]
    ]
    assert len(fragments) > 1
    assert "".join(fragments) == '{"limit":1,"path":"show a long file name"}'
    assert ("messageStop", {"stopReason": "tool_use"}) in events


def test_stream_reasoning_streams_text_then_signature(client: Any) -> None:
    response = client.converse_stream(
        modelId=SONNET, messages=[user("hi")], additionalModelRequestFields=THINKING
    )
    reasoning = [
        body["delta"]["reasoningContent"]
        for kind, body in stream_events(response)
        if kind == "contentBlockDelta" and "reasoningContent" in body["delta"]
    ]
    assert "".join(part.get("text", "") for part in reasoning) == REASONING_TEXT
    assert list(reasoning[-1]) == ["signature"]


def test_stream_metadata_carries_usage_with_cache_tokens(client: Any) -> None:
    system = [{"text": "Cached system."}, {"cachePoint": {"type": "default"}}]
    response = client.converse_stream(modelId=SONNET, system=system, messages=[user("hi")])
    kind, metadata = stream_events(response)[-1]
    assert kind == "metadata"
    assert metadata["usage"]["cacheWriteInputTokens"] == tokens("Cached system.")
    assert metadata["usage"]["inputTokens"] == tokens("hi")
    assert "latencyMs" in metadata["metrics"]


def test_frames_decode_with_botocore_event_stream_buffer() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(event_frame("contentBlockDelta", {"delta": {"text": "hé"}}))
    buffer.add_data(exception_frame("throttlingException", "slow down"))
    event, exception = list(buffer)
    assert event.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(event.payload) == {"delta": {"text": "hé"}}
    assert exception.headers[":message-type"] == "exception"
    assert exception.headers[":exception-type"] == "throttlingException"


# --- Faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        ("throttle", "ThrottlingException", 429),
        ("unavailable", "ServiceUnavailableException", 503),
        ("access_denied", "AccessDeniedException", 403),
        ("validation", "ValidationException", 400),
    ],
)
def test_fault_surfaces_as_the_bedrock_error(
    bedrock: RunningBedrock, client: Any, kind: str, code: str, status: int
) -> None:
    bedrock.set_fault(SONNET, kind)
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=SONNET, messages=[user("hi")])
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_throttle_uses_bedrocks_wording(bedrock: RunningBedrock, client: Any) -> None:
    bedrock.set_fault(SONNET, "throttle")
    with pytest.raises(ClientError) as raised:
        client.converse_stream(modelId=SONNET, messages=[user("hi")])
    assert raised.value.response["Error"]["Message"] == errors.THROTTLING_MESSAGE


def test_fault_applies_only_to_its_model(bedrock: RunningBedrock, client: Any) -> None:
    bedrock.set_fault(SONNET, "throttle")
    assert client.converse(modelId=HAIKU, messages=[user("hi")])["stopReason"] == "end_turn"


def test_wildcard_fault_applies_to_every_model(bedrock: RunningBedrock, client: Any) -> None:
    bedrock.set_fault("*", "unavailable")
    with pytest.raises(ClientError, match="ServiceUnavailableException"):
        client.converse(modelId=HAIKU, messages=[user("hi")])


def test_fault_count_fails_only_the_first_calls(bedrock: RunningBedrock, client: Any) -> None:
    bedrock.set_fault(SONNET, "throttle", count=2)
    for _ in range(2):
        with pytest.raises(ClientError, match="ThrottlingException"):
            client.converse(modelId=SONNET, messages=[user("hi")])
    client.converse(modelId=SONNET, messages=[user("hi")])
    assert [call["status"] for call in bedrock.calls()] == [429, 429, 200]


def test_cleared_fault_lets_calls_through(bedrock: RunningBedrock, client: Any) -> None:
    bedrock.set_fault(SONNET, "throttle")
    bedrock.set_fault(SONNET, None)
    assert client.converse(modelId=SONNET, messages=[user("hi")])["stopReason"] == "end_turn"


def test_fault_given_at_start_is_in_force(client: Any) -> None:
    with pytest.raises(ClientError, match="ServiceUnavailableException"):
        client.converse(modelId=STARTUP_FAULT_MODEL, messages=[user("hi")])


def test_reset_restores_the_start_faults(bedrock: RunningBedrock, client: Any) -> None:
    with pytest.raises(ClientError):
        client.converse(modelId=STARTUP_FAULT_MODEL, messages=[user("hi")])
    bedrock.reset()
    with pytest.raises(ClientError, match="ServiceUnavailableException"):
        client.converse(modelId=STARTUP_FAULT_MODEL, messages=[user("hi")])


def test_midstream_throttle_breaks_the_stream_after_two_text_deltas(
    bedrock: RunningBedrock, client: Any
) -> None:
    bedrock.set_fault(SONNET, "midstream_throttle")
    received: list[str] = []
    response = client.converse_stream(modelId=SONNET, messages=[user("hi")])
    with pytest.raises(EventStreamError) as raised:
        for event in response["stream"]:
            received.append(next(iter(event)))
    assert raised.value.response["Error"]["Code"] == "throttlingException"
    assert received == ["messageStart", "contentBlockDelta", "contentBlockDelta"]
    assert bedrock.calls()[0]["response_text"] == "Hello from"


def test_midstream_throttle_leaves_converse_calls_alone(
    bedrock: RunningBedrock, client: Any
) -> None:
    bedrock.set_fault(SONNET, "midstream_throttle", count=1)
    client.converse(modelId=SONNET, messages=[user("hi")])
    with pytest.raises(EventStreamError):
        list(client.converse_stream(modelId=SONNET, messages=[user("hi")])["stream"])


def test_slow_first_byte_holds_the_answer_back(bedrock: RunningBedrock) -> None:
    bedrock.set_fault(SONNET, "slow_first_byte", count=1, delay_ms=5000)
    impatient = bedrock.client(read_timeout=1)
    with pytest.raises(ReadTimeoutError):
        impatient.converse(modelId=SONNET, messages=[user("hi")])


def test_unknown_fault_kind_is_refused_by_the_control_api(bedrock: RunningBedrock) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        bedrock.set_fault(SONNET, "meltdown")


# --- Authentication ------------------------------------------------------------------------


def test_wrong_secret_is_an_invalid_signature(bedrock: RunningBedrock) -> None:
    wrong_secret = signed_client(bedrock, secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as raised:
        wrong_secret.converse(modelId=SONNET, messages=[user("hi")])
    error = raised.value.response
    assert error["Error"]["Code"] == "InvalidSignatureException"
    assert error["Error"]["Message"] == errors.INVALID_SIGNATURE.message
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_access_key_is_an_unrecognized_client(bedrock: RunningBedrock) -> None:
    stranger = signed_client(bedrock, access_key_id="AKIAUNKNOWN000000000")
    with pytest.raises(ClientError, match="UnrecognizedClientException"):
        stranger.converse(modelId=SONNET, messages=[user("hi")])


def test_request_without_authorization_is_refused(bedrock: RunningBedrock) -> None:
    response = httpx.post(f"{bedrock.url}/model/{SONNET}/converse", json={"messages": []})
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException:")


def test_bearer_api_key_is_accepted(bedrock: RunningBedrock) -> None:
    response = httpx.post(
        f"{bedrock.url}/model/{SONNET}/converse",
        headers={"Authorization": f"Bearer {BEARER_TOKEN}"},
        json={"messages": [user("hi")]},
    )
    assert response.status_code == 200
    assert bedrock.calls()[0]["auth"] == {"scheme": "bearer", "access_key_id": None, "region": None}


def test_wrong_bearer_api_key_is_refused(bedrock: RunningBedrock) -> None:
    response = httpx.post(
        f"{bedrock.url}/model/{SONNET}/converse",
        headers={"Authorization": "Bearer wrong"},
        json={"messages": [user("hi")]},
    )
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"].startswith("AccessDeniedException:")


def test_call_log_records_the_signing_region(bedrock: RunningBedrock) -> None:
    signed_client(bedrock, region="eu-west-1").converse(modelId=HAIKU, messages=[user("hi")])
    assert bedrock.calls()[0]["auth"]["region"] == "eu-west-1"


def test_litellm_signed_requests_are_accepted(
    bedrock: RunningBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    response = litellm.completion(
        model=f"bedrock/converse/{SONNET}",
        messages=[{"role": "user", "content": "hi"}],
        aws_access_key_id=bedrock.access_key_id,
        aws_secret_access_key=bedrock.secret_access_key,
        aws_region_name="us-east-1",
        aws_bedrock_runtime_endpoint=bedrock.url,
    )
    assert response.choices[0].message.content == f"Hello from {SONNET}. You said: hi"


# --- Request rules -------------------------------------------------------------------------


def test_thinking_with_tool_use_needs_the_reasoning_block_back(client: Any) -> None:
    tool_use = {"toolUse": {"toolUseId": "tooluse_1", "name": "read_file", "input": {}}}
    result = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "A"}]}}
    messages = [
        user("show a"),
        {"role": "assistant", "content": [tool_use]},
        {"role": "user", "content": [result]},
    ]
    with pytest.raises(ClientError) as raised:
        client.converse(
            modelId=SONNET,
            messages=messages,
            toolConfig={"tools": [READ_FILE_TOOL]},
            additionalModelRequestFields=THINKING,
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == errors.THINKING_BLOCK_REQUIRED.format(
        index=1, found="tool_use"
    )


def test_thinking_with_tool_use_passes_when_reasoning_comes_first(client: Any) -> None:
    reasoning = {"reasoningContent": {"reasoningText": {"text": "hm", "signature": SIGNED_HM}}}
    tool_use = {"toolUse": {"toolUseId": "tooluse_1", "name": "read_file", "input": {}}}
    result = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "A"}]}}
    messages = [
        user("show a"),
        {"role": "assistant", "content": [reasoning, tool_use]},
        {"role": "user", "content": [result]},
    ]
    response = client.converse(
        modelId=SONNET,
        messages=messages,
        toolConfig={"tools": [READ_FILE_TOOL]},
        additionalModelRequestFields=THINKING,
    )
    assert response["stopReason"] == "end_turn"


def test_invalid_model_id_is_a_validation_error(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.converse(modelId="us.amazon.nova-pro-v1:0", messages=[user("hi")])
    assert raised.value.response["Error"]["Message"] == "The provided model identifier is invalid."


def test_conversation_must_start_with_a_user_message(client: Any) -> None:
    assistant = {"role": "assistant", "content": [{"text": "hello"}]}
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=SONNET, messages=[assistant])
    assert raised.value.response["Error"]["Message"] == errors.MUST_START_WITH_USER.message


# --- Call log ------------------------------------------------------------------------------


def test_call_log_records_what_arrived(bedrock: RunningBedrock, client: Any) -> None:
    system = [{"text": "sys"}, {"cachePoint": {"type": "default"}}]
    client.converse_stream(
        modelId=SONNET,
        system=system,
        messages=[user("hi")],
        toolConfig={"tools": [READ_FILE_TOOL]},
    )["stream"].close()
    (call,) = bedrock.calls()
    assert (call["model_id"], call["operation"], call["stream"]) == (
        SONNET,
        "ConverseStream",
        True,
    )
    assert call["status"] == 200
    assert call["request"]["system"] == system
    assert call["request"]["toolConfig"] == {"tools": [READ_FILE_TOOL]}


def test_call_log_records_failed_calls(bedrock: RunningBedrock, client: Any) -> None:
    bedrock.set_fault(HAIKU, "throttle")
    with pytest.raises(ClientError):
        client.converse(modelId=HAIKU, messages=[user("hi")])
    (call,) = bedrock.calls()
    assert (call["status"], call["error"], call["fault"]) == (
        429,
        "ThrottlingException",
        "throttle",
    )


def test_reset_empties_the_call_log_and_the_prompt_cache(
    bedrock: RunningBedrock, client: Any
) -> None:
    system = [{"text": "Cache me."}, {"cachePoint": {"type": "default"}}]
    client.converse(modelId=SONNET, system=system, messages=[user("hi")])
    bedrock.reset()
    usage = client.converse(modelId=SONNET, system=system, messages=[user("hi")])["usage"]
    assert usage["cacheWriteInputTokens"] == tokens("Cache me.")
    assert len(bedrock.calls()) == 1


# --- Thinking signatures -------------------------------------------------------------------


def _tool_loop_with(reasoning_text: dict[str, str]) -> list[dict[str, Any]]:
    tool_use = {"toolUse": {"toolUseId": "tooluse_1", "name": "read_file", "input": {}}}
    result = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "A"}]}}
    return [
        user("show a"),
        {
            "role": "assistant",
            "content": [{"reasoningContent": {"reasoningText": reasoning_text}}, tool_use],
        },
        {"role": "user", "content": [result]},
    ]


def test_reasoning_block_from_an_answer_is_accepted_back(client: Any) -> None:
    first = client.converse(
        modelId=SONNET,
        messages=[user("show a")],
        toolConfig={"tools": [READ_FILE_TOOL]},
        additionalModelRequestFields=THINKING,
    )
    messages = [
        user("show a"),
        first["output"]["message"],
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "x", "content": [{"text": "A"}]}}],
        },
    ]
    response = client.converse(
        modelId=HAIKU,  # a fallback route accepts the blocks too
        messages=messages,
        toolConfig={"tools": [READ_FILE_TOOL]},
        additionalModelRequestFields=THINKING,
    )
    assert response["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    ("reasoning_text", "expected"),
    [
        ({"text": "hm"}, errors.SIGNATURE_REQUIRED),
        ({"text": "edited", "signature": SIGNED_HM}, errors.SIGNATURE_INVALID),
    ],
)
def test_reasoning_block_without_its_signature_is_refused(
    client: Any, reasoning_text: dict[str, str], expected: str
) -> None:
    with pytest.raises(ClientError) as raised:
        client.converse(
            modelId=SONNET,
            messages=_tool_loop_with(reasoning_text),
            toolConfig={"tools": [READ_FILE_TOOL]},
            additionalModelRequestFields=THINKING,
        )
    assert raised.value.response["Error"]["Message"] == expected.format(
        where="messages.1.content.0"
    )


# --- Beta flags ----------------------------------------------------------------------------


def test_beta_flags_bedrock_documents_are_accepted(bedrock: RunningBedrock, client: Any) -> None:
    flags = ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07", "effort-2025-11-24"]
    client.converse(
        modelId=SONNET,
        messages=[user("hi")],
        additionalModelRequestFields={"anthropic_beta": flags},
    )
    assert bedrock.calls()[-1]["beta_flags"] == flags


@pytest.mark.parametrize("flag", ["claude-code-20250219", "made-up-flag-2099-01-01"])
def test_unknown_beta_flag_is_refused_as_bedrock_does(client: Any, flag: str) -> None:
    with pytest.raises(ClientError) as raised:
        client.converse(
            modelId=SONNET,
            messages=[user("hi")],
            additionalModelRequestFields={"anthropic_beta": ["effort-2025-11-24", flag]},
        )
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "ValidationException",
        "The model returned the following errors: invalid beta flag",
    )


def test_unknown_beta_flag_in_the_header_is_refused(bedrock: RunningBedrock) -> None:
    client = bedrock.client()
    client.meta.events.register(
        "before-sign.bedrock-runtime.Converse",
        lambda request, **_: request.headers.__setitem__("anthropic-beta", "claude-code-20250219"),
    )
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=SONNET, messages=[user("hi")])
    assert raised.value.response["Error"]["Message"].endswith("invalid beta flag")


# --- CountTokens ---------------------------------------------------------------------------

BASE_SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_count_tokens_counts_a_converse_prompt_like_converse_does(client: Any) -> None:
    system = [{"text": "You are terse."}, {"cachePoint": {"type": "default"}}]
    messages = [user("What does this repository do?")]
    tool_config = {"tools": [READ_FILE_TOOL]}

    counted = client.count_tokens(
        modelId=BASE_SONNET,
        input={"converse": {"messages": messages, "system": system, "toolConfig": tool_config}},
    )

    spent = client.converse(
        modelId=SONNET, messages=messages, system=system[:1], toolConfig=tool_config
    )["usage"]["inputTokens"]
    assert counted["inputTokens"] == spent


def test_count_tokens_counts_an_anthropic_invoke_model_body(client: Any) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "List the files."},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "ls", "input": {"p": "."}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "README.md"}],
            },
        ],
    }

    counted = client.count_tokens(
        modelId=BASE_SONNET, input={"invokeModel": {"body": json.dumps(body).encode()}}
    )

    texts = ["You are terse.", "List the files.", 'ls{"p":"."}', "README.md"]
    assert counted["inputTokens"] == sum(map(tokens, texts))


def test_count_tokens_refuses_an_inference_profile_id(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.count_tokens(modelId=SONNET, input={"converse": {"messages": [user("hi")]}})
    assert raised.value.response["Error"]["Message"] == "The provided model identifier is invalid."


def test_count_tokens_answers_a_fault_set_for_the_base_model(
    bedrock: RunningBedrock, client: Any
) -> None:
    unsupported = "The provided model doesn't support counting tokens."
    bedrock.set_fault(BASE_SONNET, "validation", message=unsupported)
    with pytest.raises(ClientError) as raised:
        client.count_tokens(modelId=BASE_SONNET, input={"converse": {"messages": [user("hi")]}})
    assert raised.value.response["Error"]["Message"] == unsupported
    (call,) = bedrock.calls()
    assert (call["operation"], call["status"]) == ("CountTokens", 400)
