"""The Langfuse stand-in answers like Langfuse v4 on the wire, so tests that trust it are honest.

Covered: OTLP ingestion (the OpenTelemetry SDK's exporter in protobuf, gzip; hand-written OTLP
JSON), Langfuse's auth and size answers, no deduplication, the v2 observations read API with
its attribute mapping and shapes checked against Langfuse's OpenAPI contract, Langfuse's own
usage and cost inference (price table checked against the pinned LiteLLM map), the trace
aggregate (latest tags, root input/output, summed cost), environment name normalisation,
the official Python SDK against it, the blackhole and error modes, persistence across a restart, the
readable-after delay and the worker health stand-in.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from langfuse import Langfuse
from langfuse.api.commons.errors.unauthorized_error import UnauthorizedError
from openapi_schema_validator import OAS30Validator
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.fakes.langfuse import prices
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse

CONTRACT = Path(__file__).parents[2] / "fakes" / "langfuse" / "langfuse-openapi-v4.9-subset.yml"
START_NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20.000Z
ALL_FIELDS = "core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context"
CHECK_HOST = ". Confirm that you've configured the correct host."
SHORT_READ = httpx.Timeout(5.0, read=1.0)


@pytest.fixture(scope="module")
def shared_langfuse() -> Iterator[LangfuseStandIn]:
    with running_langfuse() as stand_in:
        yield stand_in


@pytest.fixture
def langfuse(shared_langfuse: LangfuseStandIn) -> LangfuseStandIn:
    shared_langfuse.reset()
    return shared_langfuse


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return yaml.safe_load(CONTRACT.read_text())


def assert_matches_schema(contract: dict[str, Any], instance: Any, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": contract["components"]}
    OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER).validate(instance)


def export_with_sdk(
    stand_in: LangfuseStandIn,
    record: Callable[[Tracer], None],
    compression: Compression = Compression.NoCompression,
) -> None:
    """Record spans with the OpenTelemetry SDK and export them over OTLP/HTTP protobuf."""
    exporter = OTLPSpanExporter(
        endpoint=stand_in.otlp_endpoint,
        headers={"Authorization": stand_in.basic_auth, "x-langfuse-ingestion-version": "4"},
        compression=compression,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "llmops-kit-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    record(provider.get_tracer("llmops-kit"))
    provider.shutdown()


def attribute(key: str, value: Any) -> dict[str, Any]:
    """One OTLP/JSON attribute."""
    return {"key": key, "value": any_value(value)}


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    return {"stringValue": value}


def otlp_span(
    attributes: dict[str, Any],
    *,
    trace_id: str | None = None,
    parent_span_id: str = "",
    name: str = "litellm-request",
    duration_ms: int = 1500,
) -> dict[str, Any]:
    return {
        "traceId": trace_id or uuid.uuid4().hex,
        "spanId": uuid.uuid4().hex[:16],
        "parentSpanId": parent_span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(START_NS),
        "endTimeUnixNano": str(START_NS + duration_ms * 1_000_000),
        "attributes": [attribute(key, value) for key, value in attributes.items()],
        "status": {},
    }


def otlp_json(*spans: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [attribute("service.name", "llmops-kit")]},
                    "scopeSpans": [{"scope": {"name": "llmops-kit"}, "spans": list(spans)}],
                }
            ]
        }
    ).encode()


def post_export(
    stand_in: LangfuseStandIn,
    body: bytes,
    *,
    authorization: str | None = None,
    content_type: str = "application/json",
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {
        "Authorization": authorization or stand_in.basic_auth,
        "Content-Type": content_type,
        "x-langfuse-ingestion-version": "4",
        **(extra_headers or {}),
    }
    return httpx.post(stand_in.otlp_endpoint, content=body, headers=headers, timeout=10.0)


def basic(public_key: str, secret_key: str) -> str:
    return "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()


def generation_attributes(**overrides: Any) -> dict[str, Any]:
    return {
        "langfuse.trace.name": "cline / claude-sonnet-4-6",
        "session.id": "cline-task-1",
        "user.id": "alice",
        "langfuse.trace.tags": ["cline", "claude-sonnet-4-6"],
        "langfuse.environment": "Production",
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "claude-sonnet-4-6",
        "langfuse.observation.model.parameters": json.dumps({"temperature": 0.2, "stream": True}),
        "langfuse.observation.usage_details": json.dumps(
            {"input": 100, "output": 20, "cache_read_input_tokens": 50}
        ),
        "langfuse.observation.cost_details": json.dumps({"input": 0.0003, "output": 0.0003}),
        "langfuse.observation.completion_start_time": "2023-11-14T22:13:20.250Z",
        "langfuse.observation.level": "WARNING",
        "langfuse.observation.status_message": "fallback used",
        "langfuse.observation.input": '[{"role": "user", "content": "hi"}]',
        "langfuse.observation.output": "hello",
        "langfuse.observation.metadata.model_group": "claude-sonnet-4-6",
        **overrides,
    }


# --- ingestion -------------------------------------------------------------------------------


def test_sdk_protobuf_export_is_stored_with_its_ids(langfuse: LangfuseStandIn) -> None:
    recorded = {}

    def record(tracer: Tracer) -> None:
        with (
            tracer.start_as_current_span("request") as parent,
            tracer.start_as_current_span("attempt", attributes={"session.id": "s"}) as child,
        ):
            recorded["trace_id"] = format(child.get_span_context().trace_id, "032x")
            recorded["span_id"] = format(child.get_span_context().span_id, "016x")
            recorded["parent_id"] = format(parent.get_span_context().span_id, "016x")

    export_with_sdk(langfuse, record)

    child = next(span for span in langfuse.spans() if span["name"] == "attempt")
    assert (child["traceId"], child["spanId"], child["parentSpanId"]) == (
        recorded["trace_id"],
        recorded["span_id"],
        recorded["parent_id"],
    )
    assert child["attributes"] == {"session.id": "s"}
    assert [r["contentType"] for r in langfuse.otlp_requests()] == ["application/x-protobuf"] * 2


def test_gzip_compressed_export_is_accepted(langfuse: LangfuseStandIn) -> None:
    export_with_sdk(langfuse, lambda tracer: tracer.start_span("one").end(), Compression.Gzip)

    [request] = langfuse.otlp_requests()
    assert (request["contentEncoding"], request["status"], request["storedSpans"]) == (
        "gzip",
        200,
        1,
    )


def test_json_export_keeps_attribute_types(langfuse: LangfuseStandIn) -> None:
    attributes = {"text": "a", "count": 7, "ratio": 0.5, "flag": True, "tags": ["x", "y"]}

    post_export(langfuse, otlp_json(otlp_span(attributes)))

    [span] = langfuse.spans()
    assert span["attributes"] == attributes


def test_gzip_json_export_is_accepted(langfuse: LangfuseStandIn) -> None:
    body = gzip.compress(otlp_json(otlp_span({"session.id": "s"})))

    response = post_export(langfuse, body, extra_headers={"Content-Encoding": "gzip"})

    assert response.status_code == 200
    assert len(langfuse.spans()) == 1


def test_export_is_answered_with_an_empty_json_object(langfuse: LangfuseStandIn) -> None:
    response = post_export(langfuse, otlp_json(otlp_span({})))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}


def test_ingestion_version_header_is_recorded(langfuse: LangfuseStandIn) -> None:
    post_export(langfuse, otlp_json(otlp_span({})))
    httpx.post(
        langfuse.otlp_endpoint,
        content=otlp_json(otlp_span({})),
        headers={"Authorization": langfuse.basic_auth, "Content-Type": "application/json"},
    )

    assert [r["ingestionVersion"] for r in langfuse.otlp_requests()] == ["4", None]


def test_wrong_secret_is_refused_with_langfuse_401(langfuse: LangfuseStandIn) -> None:
    response = post_export(
        langfuse,
        otlp_json(otlp_span({})),
        authorization=basic(langfuse.public_key, "sk-lf-wrong"),
    )

    assert response.status_code == 401
    assert response.json() == {"message": "Invalid credentials" + CHECK_HOST}
    assert langfuse.spans() == []
    assert [r["status"] for r in langfuse.otlp_requests()] == [401]


def test_missing_authorization_is_refused_with_langfuse_401(langfuse: LangfuseStandIn) -> None:
    response = httpx.post(
        langfuse.otlp_endpoint,
        content=otlp_json(otlp_span({})),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 401
    assert response.json() == {"message": "No authorization header"}


def test_unknown_content_type_is_refused_with_400(langfuse: LangfuseStandIn) -> None:
    response = post_export(langfuse, b"spans", content_type="text/plain")

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid content type"}


def test_ingestion_version_above_4_is_refused_with_400(langfuse: LangfuseStandIn) -> None:
    response = post_export(
        langfuse,
        otlp_json(otlp_span({})),
        extra_headers={"x-langfuse-ingestion-version": "5"},
    )

    assert response.status_code == 400
    assert langfuse.spans() == []


def test_body_above_the_size_limit_is_refused_with_413(langfuse: LangfuseStandIn) -> None:
    oversized = otlp_json(otlp_span({"langfuse.observation.input": "x" * (4_718_592 + 1)}))

    response = post_export(langfuse, oversized)

    assert response.status_code == 413
    assert response.text == "Body exceeded 4.5mb limit"
    assert langfuse.spans() == []


def test_span_sent_twice_is_stored_and_read_twice(langfuse: LangfuseStandIn) -> None:
    span = otlp_span({"session.id": "s"})

    post_export(langfuse, otlp_json(span))
    post_export(langfuse, otlp_json(span))

    assert [s["spanId"] for s in langfuse.spans()] == [span["spanId"]] * 2
    assert [o["id"] for o in langfuse.observations(trace_id=span["traceId"])] == [
        span["spanId"]
    ] * 2


# --- read API ---------------------------------------------------------------------------------


def test_generation_is_read_back_with_the_mapped_fields(langfuse: LangfuseStandIn) -> None:
    root = otlp_span({}, name="request")
    span = otlp_span(
        generation_attributes(),
        trace_id=root["traceId"],
        parent_span_id=root["spanId"],
        name="bedrock/converse",
    )
    post_export(langfuse, otlp_json(root, span))

    [observation] = langfuse.observations(trace_id=span["traceId"], type="GENERATION")

    expected = {
        "id": span["spanId"],
        "traceId": span["traceId"],
        "parentObservationId": root["spanId"],
        "type": "GENERATION",
        "name": "bedrock/converse",
        "startTime": "2023-11-14T22:13:20.000Z",
        "endTime": "2023-11-14T22:13:21.500Z",
        "completionStartTime": "2023-11-14T22:13:20.250Z",
        "latency": 1.5,
        "timeToFirstToken": 0.25,
        "traceName": "cline / claude-sonnet-4-6",
        "sessionId": "cline-task-1",
        "userId": "alice",
        "tags": ["cline", "claude-sonnet-4-6"],
        "environment": "production",
        "model": "claude-sonnet-4-6",
        "modelParameters": {"temperature": 0.2, "stream": "true"},  # Langfuse keeps str|number
        "usageDetails": {"input": 100, "output": 20, "cache_read_input_tokens": 50, "total": 170},
        "costDetails": {"input": 0.0003, "output": 0.0003, "total": 0.0006},
        "totalCost": 0.0006,
        "level": "WARNING",
        "statusMessage": "fallback used",
        "input": '[{"role": "user", "content": "hi"}]',
        "output": "hello",
        "isRootObservation": False,
    }
    assert {key: observation[key] for key in expected} == expected
    assert observation["metadata"]["model_group"] == "claude-sonnet-4-6"


def test_observations_are_filtered_by_session_id(langfuse: LangfuseStandIn) -> None:
    mine = otlp_span(generation_attributes(**{"session.id": "task-a"}))
    other = otlp_span(generation_attributes(**{"session.id": "task-b"}))
    post_export(langfuse, otlp_json(mine, other))

    assert [o["id"] for o in langfuse.observations(session_id="task-a")] == [mine["spanId"]]


def test_observations_are_filtered_by_user_id(langfuse: LangfuseStandIn) -> None:
    mine = otlp_span(generation_attributes(**{"user.id": "alice"}))
    other = otlp_span(generation_attributes(**{"user.id": "bob"}))
    post_export(langfuse, otlp_json(mine, other))

    assert [o["id"] for o in langfuse.observations(user_id="bob")] == [other["spanId"]]


def test_trace_attributes_reach_only_the_spans_that_carry_them(langfuse: LangfuseStandIn) -> None:
    root = otlp_span({"session.id": "task-a"}, name="request")
    child = otlp_span({}, trace_id=root["traceId"], parent_span_id=root["spanId"])
    post_export(langfuse, otlp_json(root, child))

    assert [o["id"] for o in langfuse.observations(session_id="task-a")] == [root["spanId"]]


def test_default_fields_are_core_and_basic(langfuse: LangfuseStandIn) -> None:
    span = otlp_span(generation_attributes())
    post_export(langfuse, otlp_json(span))

    response = httpx.get(
        f"{langfuse.url}/api/public/v2/observations",
        params={"traceId": span["traceId"]},
        headers={"Authorization": langfuse.basic_auth},
    )

    [observation] = response.json()["data"]
    assert observation["name"] == span["name"]
    assert "input" not in observation
    assert "usageDetails" not in observation


def test_cursor_pages_return_every_observation_once(langfuse: LangfuseStandIn) -> None:
    spans = [otlp_span({"session.id": "paged"}) for _ in range(5)]
    post_export(langfuse, otlp_json(*spans))
    seen: list[str] = []
    params: dict[str, Any] = {"sessionId": "paged", "limit": 2}

    for _ in range(len(spans)):
        page = httpx.get(
            f"{langfuse.url}/api/public/v2/observations",
            params=params,
            headers={"Authorization": langfuse.basic_auth},
        ).json()
        seen += [observation["id"] for observation in page["data"]]
        if "cursor" not in page["meta"]:
            break
        params["cursor"] = page["meta"]["cursor"]

    assert sorted(seen) == sorted(span["spanId"] for span in spans)


def test_observations_answer_matches_the_openapi_contract(
    langfuse: LangfuseStandIn, contract: dict[str, Any]
) -> None:
    root = otlp_span({}, name="request")
    span = otlp_span(
        generation_attributes(), trace_id=root["traceId"], parent_span_id=root["spanId"]
    )
    post_export(langfuse, otlp_json(root, span))

    response = httpx.get(
        f"{langfuse.url}/api/public/v2/observations",
        params={"fields": ALL_FIELDS, "limit": 1},
        headers={"Authorization": langfuse.basic_auth},
    )

    assert response.status_code == 200
    assert_matches_schema(contract, response.json(), "ObservationsV2Response")


@pytest.mark.parametrize(
    ("path", "schema_name"),
    [("/api/public/health", "HealthResponse"), ("/api/public/projects", "Projects")],
)
def test_answer_matches_the_openapi_contract(
    langfuse: LangfuseStandIn, contract: dict[str, Any], path: str, schema_name: str
) -> None:
    response = httpx.get(langfuse.url + path, headers={"Authorization": langfuse.basic_auth})

    assert response.status_code == 200
    assert_matches_schema(contract, response.json(), schema_name)


def test_read_api_refuses_a_wrong_secret(langfuse: LangfuseStandIn) -> None:
    response = httpx.get(
        f"{langfuse.url}/api/public/v2/observations",
        headers={"Authorization": basic(langfuse.public_key, "sk-lf-wrong")},
    )

    assert response.status_code == 401
    assert response.json() == {"message": "Invalid credentials" + CHECK_HOST}


# --- what Langfuse infers and aggregates ------------------------------------------------------


def failed_attempt_attributes(**overrides: Any) -> dict[str, Any]:
    """A failed generation (no output) as a callback would send it without usage or cost."""
    attributes = generation_attributes()
    for key in (
        "langfuse.observation.usage_details",
        "langfuse.observation.cost_details",
        "langfuse.observation.output",
    ):
        del attributes[key]
    return {
        **attributes,
        "langfuse.observation.model.name": "us.anthropic.claude-sonnet-4-6",
        "langfuse.observation.level": "ERROR",
        "langfuse.observation.input": "x" * 4000,
        **overrides,
    }


def test_generation_without_usage_or_cost_is_tokenized_and_priced_even_at_error(
    langfuse: LangfuseStandIn,
) -> None:
    span = otlp_span(failed_attempt_attributes())
    post_export(langfuse, otlp_json(span))

    [observation] = langfuse.observations(trace_id=span["traceId"])

    assert observation["level"] == "ERROR"
    assert observation["usageDetails"] == {"input": 1000, "total": 1000}  # ~4 characters a token
    assert observation["totalCost"] == pytest.approx(1000 * 3e-06)


def test_explicit_zero_usage_and_cost_are_stored_as_given(langfuse: LangfuseStandIn) -> None:
    zeros = json.dumps({"input": 0, "output": 0, "total": 0})
    span = otlp_span(
        failed_attempt_attributes(
            **{
                "langfuse.observation.usage_details": zeros,
                "langfuse.observation.cost_details": zeros,
            }
        )
    )
    post_export(langfuse, otlp_json(span))

    [observation] = langfuse.observations(trace_id=span["traceId"])

    assert observation["usageDetails"] == {"input": 0, "output": 0, "total": 0}
    assert observation["totalCost"] == 0


def test_usage_without_cost_is_priced_from_the_model_table(langfuse: LangfuseStandIn) -> None:
    usage = {"input": 100, "output": 10, "cache_read_input_tokens": 1000}
    span = otlp_span(
        failed_attempt_attributes(
            **{"langfuse.observation.usage_details": json.dumps(usage)},
        )
    )
    post_export(langfuse, otlp_json(span))

    [observation] = langfuse.observations(trace_id=span["traceId"])

    assert observation["usageDetails"] == {**usage, "total": 1110}
    assert observation["costDetails"]["cache_read_input_tokens"] == pytest.approx(1000 * 3e-07)
    assert observation["totalCost"] == pytest.approx(100 * 3e-06 + 10 * 1.5e-05 + 1000 * 3e-07)


def test_a_model_missing_from_the_table_is_neither_tokenized_nor_priced(
    langfuse: LangfuseStandIn,
) -> None:
    span = otlp_span(failed_attempt_attributes(**{"langfuse.observation.model.name": "gpt-x"}))
    post_export(langfuse, otlp_json(span))

    [observation] = langfuse.observations(trace_id=span["traceId"])

    assert (observation["usageDetails"], observation["costDetails"]) == ({}, {})


def test_price_table_agrees_with_the_pinned_litellm_price_map() -> None:
    spec = importlib.util.find_spec("litellm")  # located, not imported (slow)
    assert spec is not None and spec.submodule_search_locations
    price_map = json.loads(
        (
            Path(spec.submodule_search_locations[0]) / "model_prices_and_context_window_backup.json"
        ).read_text()
    )
    for model in prices.MODELS:
        entry = price_map[model.bedrock_id]
        assert (
            model.prices["input"],
            model.prices["output"],
            model.prices["cache_read_input_tokens"],
            model.prices["cache_creation_input_tokens"],
        ) == (
            entry["input_cost_per_token"],
            entry["output_cost_per_token"],
            entry["cache_read_input_token_cost"],
            entry["cache_creation_input_token_cost"],
        ), model.name
        for profile in ("us.", "global.", "eu."):
            assert prices.find_model(profile + model.bedrock_id) is model


def test_trace_tags_are_the_latest_events_not_the_union(langfuse: LangfuseStandIn) -> None:
    root = otlp_span({"langfuse.trace.tags": ["cline", "fallback"]}, name="request")
    late = otlp_span(
        {"langfuse.trace.tags": ["cline"]}, trace_id=root["traceId"], parent_span_id=root["spanId"]
    )
    untagged = otlp_span({}, trace_id=root["traceId"], parent_span_id=root["spanId"])
    post_export(langfuse, otlp_json(root))
    post_export(langfuse, otlp_json(late))
    post_export(langfuse, otlp_json(untagged))

    trace = langfuse.trace(root["traceId"])

    assert trace is not None
    assert trace["tags"] == ["cline"]


def test_trace_input_and_output_come_from_the_root_observation(
    langfuse: LangfuseStandIn,
) -> None:
    root = otlp_span(
        {
            "langfuse.observation.input": "root input",
            "langfuse.observation.output": "root output",
            "langfuse.trace.input": "trace input",
            "langfuse.trace.output": "trace output",
        },
        name="request",
    )
    child = otlp_span(
        {"langfuse.observation.input": "child input"},
        trace_id=root["traceId"],
        parent_span_id=root["spanId"],
    )
    post_export(langfuse, otlp_json(root, child))

    trace = langfuse.trace(root["traceId"])

    assert trace is not None
    assert (trace["input"], trace["output"], trace["name"]) == (
        "root input",
        "root output",
        "request",
    )


def test_trace_cost_is_the_sum_over_its_observations(langfuse: LangfuseStandIn) -> None:
    root = otlp_span({}, name="request")
    billed = otlp_span(
        generation_attributes(), trace_id=root["traceId"], parent_span_id=root["spanId"]
    )
    unbilled = otlp_span(
        failed_attempt_attributes(), trace_id=root["traceId"], parent_span_id=root["spanId"]
    )
    post_export(langfuse, otlp_json(root, billed, unbilled))

    trace = langfuse.trace(root["traceId"])

    assert trace is not None
    assert trace["totalCost"] == pytest.approx(0.0006 + 1000 * 3e-06)


def test_unknown_trace_is_not_found(langfuse: LangfuseStandIn) -> None:
    assert langfuse.trace(uuid.uuid4().hex) is None


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Production", "production"),
        ("langfuse-prod", "prod"),
        ("langfuse_prod", "prod"),
        ("langfuselangfuse-x", "x"),
        ("langfuse", "default"),
        ("prod eu", "default"),
        ("a" * 41, "a" * 40),
    ],
)
def test_environment_names_are_normalised_as_langfuse_does(
    langfuse: LangfuseStandIn, sent: str, stored: str
) -> None:
    span = otlp_span({"langfuse.environment": sent})
    post_export(langfuse, otlp_json(span))

    [observation] = langfuse.observations(trace_id=span["traceId"])

    assert observation["environment"] == stored


# --- the official Langfuse SDK against the stand-in -------------------------------------------


def test_sdk_auth_check_accepts_the_project_keys(langfuse: LangfuseStandIn) -> None:
    client = Langfuse(
        public_key=langfuse.public_key,
        secret_key=langfuse.secret_key,
        host=langfuse.url,
        tracing_enabled=False,
    )
    try:
        assert client.auth_check() is True
    finally:
        client.shutdown()


def test_sdk_auth_check_rejects_a_wrong_secret(langfuse: LangfuseStandIn) -> None:
    # Another public key: the SDK shares one client per public key within a process.
    client = Langfuse(
        public_key=f"pk-lf-{uuid.uuid4()}",
        secret_key="sk-lf-wrong",
        host=langfuse.url,
        tracing_enabled=False,
    )
    try:
        with pytest.raises(UnauthorizedError):
            client.auth_check()
    finally:
        client.shutdown()


def test_sdk_reads_observations_by_trace_id(langfuse: LangfuseStandIn) -> None:
    span = otlp_span(generation_attributes())
    post_export(langfuse, otlp_json(span))
    client = Langfuse(
        public_key=langfuse.public_key,
        secret_key=langfuse.secret_key,
        host=langfuse.url,
        tracing_enabled=False,
    )
    try:
        page = client.api.observations.get_many(trace_id=span["traceId"], fields=ALL_FIELDS)
    finally:
        client.shutdown()

    [observation] = page.data
    assert (observation.model, observation.session_id, observation.total_cost) == (
        "claude-sonnet-4-6",
        "cline-task-1",
        0.0006,
    )


# --- modes ------------------------------------------------------------------------------------


def test_blackhole_holds_an_export_without_answering(langfuse: LangfuseStandIn) -> None:
    langfuse.set_mode("blackhole")

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            langfuse.otlp_endpoint,
            content=otlp_json(otlp_span({})),
            headers={"Authorization": langfuse.basic_auth, "Content-Type": "application/json"},
            timeout=SHORT_READ,
        )
    assert [r["status"] for r in langfuse.otlp_requests()] == [None]


def test_blackhole_holds_the_read_api_too(langfuse: LangfuseStandIn) -> None:
    langfuse.set_mode("blackhole")

    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{langfuse.url}/api/public/health", timeout=SHORT_READ)


def test_error_mode_answers_a_langfuse_rate_limit(langfuse: LangfuseStandIn) -> None:
    langfuse.set_mode("error", status=429, retry_after=7)

    response = post_export(langfuse, otlp_json(otlp_span({})))

    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert response.json()["code"] == "rate_limited"
    assert langfuse.spans() == []


def test_error_mode_with_a_count_recovers_after_that_many_exports(
    langfuse: LangfuseStandIn,
) -> None:
    langfuse.set_mode("error", status=503, count=2)

    statuses = [post_export(langfuse, otlp_json(otlp_span({}))).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_error_mode_with_store_keeps_spans_whose_answer_failed(langfuse: LangfuseStandIn) -> None:
    langfuse.set_mode("error", status=500, store=True)

    response = post_export(langfuse, otlp_json(otlp_span({})))

    assert response.status_code == 500
    assert len(langfuse.spans()) == 1


# --- lifecycle --------------------------------------------------------------------------------


def test_restart_keeps_spans_with_a_store_path(tmp_path: Path) -> None:
    with running_langfuse(store_path=tmp_path / "langfuse.sqlite") as stand_in:
        span = otlp_span({"session.id": "durable"})
        post_export(stand_in, otlp_json(span))

        stand_in.stop()
        stand_in.start()

        assert [s["spanId"] for s in stand_in.spans()] == [span["spanId"]]
        assert [o["id"] for o in stand_in.observations(session_id="durable")] == [span["spanId"]]


def test_fresh_observations_are_hidden_during_the_ingestion_delay() -> None:
    with running_langfuse(ingestion_delay_s=300) as stand_in:
        span = otlp_span({})
        post_export(stand_in, otlp_json(span))

        assert len(stand_in.spans()) == 1
        assert stand_in.observations(trace_id=span["traceId"]) == []


def test_observations_become_readable_after_the_ingestion_delay() -> None:
    with running_langfuse(ingestion_delay_s=0.5) as stand_in:
        span = otlp_span({})
        post_export(stand_in, otlp_json(span))
        deadline = time.monotonic() + 15
        while not stand_in.observations(trace_id=span["traceId"]) and time.monotonic() < deadline:
            time.sleep(0.1)

        assert [o["id"] for o in stand_in.observations(trace_id=span["traceId"])] == [
            span["spanId"]
        ]


def test_worker_mode_serves_only_the_worker_health() -> None:
    with running_langfuse(worker=True) as worker:
        health = httpx.get(f"{worker.url}/api/health")
        web_route = httpx.get(f"{worker.url}/api/public/health")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert web_route.status_code == 404
