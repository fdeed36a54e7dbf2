"""One export and one read-API lookup: what goes on the wire, and what each answer means."""

from __future__ import annotations

import base64

import pytest

from callbacks.exporter import (
    LookupFailed,
    OtlpIngestionClient,
    Outcome,
    RetryPolicy,
    parse_retry_after,
)

from .doubles import ScriptedLangfuse, read_timeout, refused, spans_of, status

SPAN = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "x", "attributes": []}


def client_for(langfuse: ScriptedLangfuse, clock) -> OtlpIngestionClient:
    return OtlpIngestionClient(
        host="http://langfuse.test:3000/",
        public_key="pk-lf-test",
        secret_key="sk-lf-test",
        timeout=5,
        clock=clock,
        transport=langfuse.transport(),
    )


def test_export_posts_gzipped_otlp_json_with_basic_auth_and_v4_header(clock) -> None:
    langfuse = ScriptedLangfuse()
    client_for(langfuse, clock).export([SPAN])
    request = langfuse.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://langfuse.test:3000/api/public/otel/v1/traces"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["x-langfuse-ingestion-version"] == "4"
    expected = base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert spans_of(request) == [SPAN]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (status(200), Outcome.DELIVERED),
        (status(401, {"message": "Invalid credentials"}), Outcome.AUTH),
        (status(403), Outcome.AUTH),
        (status(413), Outcome.TOO_LARGE),
        (status(400, {"message": "bad span"}), Outcome.REJECTED),
        (status(429), Outcome.RETRY),
        (status(503), Outcome.RETRY),
        (status(404), Outcome.RETRY),
        (refused, Outcome.RETRY),
        (read_timeout, Outcome.IN_DOUBT),
        (status(504), Outcome.IN_DOUBT),
        (status(500), Outcome.IN_DOUBT),
    ],
    ids=[
        "200",
        "401",
        "403",
        "413",
        "400",
        "429",
        "503",
        "404",
        "refused",
        "read-timeout",
        "504",
        "500",
    ],
)
def test_each_answer_has_one_meaning(answer, outcome, clock) -> None:
    langfuse = ScriptedLangfuse(exports=[answer])
    assert client_for(langfuse, clock).export([SPAN]).outcome is outcome


def test_retry_after_seconds_are_passed_on(clock) -> None:
    langfuse = ScriptedLangfuse(exports=[status(429, headers={"Retry-After": "17"})])
    assert client_for(langfuse, clock).export([SPAN]).retry_after == 17


def test_retry_after_as_an_http_date_becomes_seconds() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30


def test_a_wrong_host_says_so() -> None:
    langfuse = ScriptedLangfuse(exports=[status(404)])
    result = client_for(langfuse, lambda: 0.0).export([SPAN])
    assert "LANGFUSE_HOST" in result.detail


def test_observation_ids_follow_the_cursor_through_every_page(clock) -> None:
    langfuse = ScriptedLangfuse(
        reads=[
            status(200, {"data": [{"id": "a"}, {"id": "b"}], "meta": {"cursor": "next"}}),
            status(200, {"data": [{"id": "c"}], "meta": {}}),
        ]
    )
    assert client_for(langfuse, clock).observation_ids("ab" * 16) == {"a", "b", "c"}
    first, second = langfuse.requests
    assert first.url.path == "/api/public/v2/observations"
    assert first.url.params["traceId"] == "ab" * 16
    assert second.url.params["cursor"] == "next"


@pytest.mark.parametrize("answer", [status(500), status(401), read_timeout, refused])
def test_a_lookup_that_cannot_answer_fails_instead_of_saying_nothing_exists(answer, clock) -> None:
    langfuse = ScriptedLangfuse(reads=[answer])
    with pytest.raises(LookupFailed):
        client_for(langfuse, clock).observation_ids("ab" * 16)


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = RetryPolicy(initial=1, multiplier=2, maximum=10, jitter=0.5)
    delays = [policy.delay(n, rng=lambda: 0.0) for n in range(1, 7)]
    assert delays == [1, 2, 4, 8, 10, 10]


def test_jitter_takes_off_at_most_its_share() -> None:
    policy = RetryPolicy(initial=8, jitter=0.5)
    assert policy.delay(1, rng=lambda: 1.0) == 4
    assert policy.delay(1, rng=lambda: 0.5) == 6


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    policy = RetryPolicy(initial=1, max_retry_after=120)
    assert policy.delay(1, retry_after=30, rng=lambda: 0.0) == 30
    assert policy.delay(1, retry_after=3600, rng=lambda: 0.0) == 120
