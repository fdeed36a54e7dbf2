"""Least privilege: a developer key reaches the inference routes and nothing else.

Every route the pinned LiteLLM registers is enumerated from its app (lazy features included,
so a route a new LiteLLM adds is probed too) and called with a developer key: the routes of
callbacks/route_policy.py answer as usual, everything else 401/403, the pass-throughs
included. The proxy has the Langfuse stand-in configured, as in production, so an open
`/langfuse/...` pass-through would answer 200 with the stand-in's projects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import websockets

from callbacks.proxy_entrypoint import LITELLM_ENVIRONMENT
from callbacks.route_policy import DEVELOPER_ROUTES
from tests.fakes.langfuse.harness import LangfuseStandIn, running_langfuse
from tests.integration.conftest import DEVELOPER, ProxyStack, open_stack

pytestmark = pytest.mark.integration

PROBE_TIMEOUT_S = 20.0
PROBE_CONCURRENCY = 24
ENUMERATE_TIMEOUT_S = 180.0
REFUSED = frozenset({401, 403})
# The start of callbacks/route_policy.py's refusal: LiteLLM answers some allowed routes with
# a 403 of its own (e.g. a response id it did not issue), which is not a route refusal.
POLICY_REFUSAL = "Developer keys may not call"
# Not a key of this proxy: what anyone who can reach the port gets.
WRONG_KEY = "sk-not-a-key-of-this-proxy-0123456789"


_ENUMERATE = """
import json
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from litellm.proxy._lazy_features import register_all_features
from litellm.proxy.proxy_server import app

register_all_features(app)
rows = set()
for context in iter_route_contexts(app.routes):
    kind = type(context.original_route).__name__
    if isinstance(context.original_route, Mount):
        kind = "Mount"
    for method in sorted(context.methods or ["GET"]):
        rows.add((kind, context.path, method))
print(json.dumps(sorted(rows)))
"""


@dataclass(frozen=True)
class Probe:
    kind: str  # APIRoute, Route, Mount, APIWebSocketRoute
    template: str
    method: str

    @property
    def path(self) -> str:
        """A concrete path the template matches."""
        if self.template.startswith("/langfuse/"):
            return "/langfuse/api/public/projects"
        path = self.template
        while "{" in path:
            start = path.index("{")
            end = path.index("}", start)
            value = "probe/x" if path[start:end].endswith(":path") else "probe"
            path = path[:start] + value + path[end + 1 :]
        return path + "/" if self.kind == "Mount" else path

    @property
    def websocket(self) -> bool:
        return self.kind == "APIWebSocketRoute"

    def __str__(self) -> str:
        return f"{self.method} {self.template}" if not self.websocket else f"WS {self.template}"


def enumerate_routes() -> subprocess.Popen[str]:
    """Start listing every (route, method) of LiteLLM's app in a fresh interpreter, set up
    as the kit's entrypoint sets up the proxy."""
    return subprocess.Popen(
        [sys.executable, "-c", _ENUMERATE],
        env={**os.environ, **LITELLM_ENVIRONMENT},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def registered_routes(listing: subprocess.Popen[str]) -> list[Probe]:
    stdout, _ = listing.communicate(timeout=ENUMERATE_TIMEOUT_S)
    assert listing.returncode == 0, "listing LiteLLM's routes failed"
    rows = json.loads(stdout.strip().splitlines()[-1])
    return [Probe(kind, path, method) for kind, path, method in rows if method != "HEAD"]


@dataclass(frozen=True)
class Answer:
    status: int  # -1: no answer in time, 101: WebSocket accepted
    text: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.text[:120]}"


@dataclass(frozen=True)
class Answers:
    """The answer per probe, with a developer key and with a key the proxy does not know."""

    developer: dict[Probe, Answer]
    stranger: dict[Probe, Answer]


async def _http_answer(client: httpx.AsyncClient, probe: Probe, key: str | None) -> Answer:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if key and probe.template.startswith("/langfuse/"):
        # LiteLLM's Langfuse pass-through takes the key as the Basic auth secret.
        headers["Authorization"] = "Basic " + base64.b64encode(f"pk:{key}".encode()).decode()
    body = {} if probe.method in {"POST", "PUT", "PATCH"} else None
    try:
        response = await client.request(probe.method, probe.path, json=body, headers=headers)
    except httpx.TimeoutException:
        return Answer(-1)  # answered nothing in time: not a refusal
    return Answer(response.status_code, response.text[:500])


async def _websocket_answer(base_url: str, probe: Probe, key: str | None) -> Answer:
    url = base_url.replace("http://", "ws://") + probe.path + "?model=claude-sonnet-4-6"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with websockets.connect(
            url, additional_headers=headers, open_timeout=PROBE_TIMEOUT_S
        ):
            return Answer(101)
    except websockets.InvalidStatus as refused:
        return Answer(refused.response.status_code, refused.response.body.decode(errors="replace"))
    except (websockets.ConnectionClosed, OSError, TimeoutError):
        return Answer(-1)


async def _probe_all(base_url: str, key: str | None, probes: list[Probe]) -> dict[Probe, Answer]:
    limit = asyncio.Semaphore(PROBE_CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=PROBE_TIMEOUT_S) as client:

        async def one(probe: Probe) -> tuple[Probe, Answer]:
            async with limit:
                if probe.websocket:
                    return probe, await _websocket_answer(base_url, probe, key)
                return probe, await _http_answer(client, probe, key)

        return dict(await asyncio.gather(*(one(probe) for probe in probes)))


@pytest.fixture(scope="module")
def listing() -> Iterator[subprocess.Popen[str]]:
    process = enumerate_routes()
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def routes(listing: subprocess.Popen[str], routes_stack: ProxyStack) -> list[Probe]:
    """The routes; listed while the proxy starts (routes_stack), each taking seconds of CPU."""
    return registered_routes(listing)


@pytest.fixture(scope="module")
def langfuse() -> Iterator[LangfuseStandIn]:
    with running_langfuse() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def routes_stack(
    tmp_path_factory: pytest.TempPathFactory,
    langfuse: LangfuseStandIn,
    listing: subprocess.Popen[str],
) -> Iterator[ProxyStack]:
    overrides = {
        "LANGFUSE_HOST": langfuse.url,
        "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
        "LANGFUSE_SECRET_KEY": langfuse.secret_key,
    }
    with open_stack(tmp_path_factory.mktemp("routes"), env_overrides=overrides) as opened:
        yield opened


@pytest.fixture(scope="module")
def answers(routes_stack: ProxyStack, routes: list[Probe]) -> Answers:
    """Every route with the developer key; with a wrong key only where that tells something:
    routes that did not refuse the developer, and one method of each pass-through."""
    url = routes_stack.proxy.url
    developer = asyncio.run(_probe_all(url, DEVELOPER.key, routes))
    pass_throughs = {probe.template: probe for probe in routes if _pass_through(probe)}
    answered = [
        probe
        for probe in routes
        if probe.template not in DEVELOPER_ROUTES and developer[probe].status not in REFUSED
    ]
    stranger = asyncio.run(_probe_all(url, WRONG_KEY, [*answered, *pass_throughs.values()]))
    return Answers(developer=developer, stranger=stranger)


def _pass_through(probe: Probe) -> bool:
    return "{endpoint:path}" in probe.template


def test_every_route_litellm_registers_was_enumerated(routes: list[Probe]) -> None:
    templates = {probe.template for probe in routes}

    assert len(templates) > 500
    assert templates >= DEVELOPER_ROUTES, "an allowed route LiteLLM no longer registers"
    assert {"/langfuse/{endpoint:path}", "/bedrock/{endpoint:path}", "/routes"} <= templates


def test_developer_key_reaches_every_allowed_route(answers: Answers, routes: list[Probe]) -> None:
    refused = [
        f"{probe} -> {answers.developer[probe]}"
        for probe in routes
        if probe.template in DEVELOPER_ROUTES
        and (
            answers.developer[probe].status == 401
            or POLICY_REFUSAL in answers.developer[probe].text
        )
    ]

    assert not refused, "refused to a developer key:\n" + "\n".join(sorted(refused))


def test_developer_key_gets_nothing_more_than_a_wrong_key_on_every_other_route(
    answers: Answers, routes: list[Probe]
) -> None:
    # Either refused, or one of the routes LiteLLM serves without asking custom_auth at all
    # (docs, UI assets, OAuth discovery, login pages): the same answer as to a stranger.
    opened = [
        f"{probe}: {answers.developer[probe]} (a wrong key: {answers.stranger[probe].status})"
        for probe in routes
        if probe.template not in DEVELOPER_ROUTES
        and answers.developer[probe].status not in REFUSED
        and answers.developer[probe].status != answers.stranger[probe].status
    ]

    assert not opened, "answered a developer key:\n" + "\n".join(sorted(opened))


def test_every_pass_through_refuses_developer_keys(answers: Answers, routes: list[Probe]) -> None:
    pass_throughs = [probe for probe in routes if _pass_through(probe)]
    opened = [
        f"{probe}: {answers.developer[probe]}"
        for probe in pass_throughs
        if answers.developer[probe].status not in REFUSED
    ]

    assert len(pass_throughs) > 50
    assert not opened, "\n".join(opened)


def test_langfuse_pass_through_does_not_show_a_developer_the_projects(
    routes_stack: ProxyStack, langfuse: LangfuseStandIn
) -> None:
    key = base64.b64encode(f"{langfuse.public_key}:{DEVELOPER.key}".encode()).decode()

    response = httpx.get(
        f"{routes_stack.proxy.url}/langfuse/api/public/projects",
        headers={"Authorization": f"Basic {key}"},
        timeout=PROBE_TIMEOUT_S,
    )

    assert response.status_code == 403
    assert langfuse.project_id not in response.text
    assert "pass-through" in response.json()["error"]["message"]
    assert DEVELOPER.key not in response.text


def test_refusal_names_the_route_class_and_never_the_key(routes_stack: ProxyStack) -> None:
    response = httpx.get(
        f"{routes_stack.proxy.url}/health",
        headers={"Authorization": f"Bearer {DEVELOPER.key}"},
        timeout=PROBE_TIMEOUT_S,
    )

    assert response.status_code == 403
    message = response.json()["error"]["message"]
    assert "health check route" in message
    assert "master key" in message
    assert DEVELOPER.key not in response.text
    assert routes_stack.bedrock.calls() == []


@pytest.mark.parametrize("path", ["/", "/redoc", "/openapi.json"])
def test_api_docs_are_not_served_to_anyone_without_a_key(
    routes_stack: ProxyStack, path: str
) -> None:
    response = httpx.get(f"{routes_stack.proxy.url}{path}", timeout=PROBE_TIMEOUT_S)

    assert response.status_code in {401, 404}


@pytest.mark.parametrize("path", ["/routes", "/settings", "/get/config/callbacks"])
def test_master_key_still_reaches_admin_routes(routes_stack: ProxyStack, path: str) -> None:
    response = httpx.get(
        f"{routes_stack.proxy.url}{path}",
        headers={"Authorization": f"Bearer {routes_stack.proxy.master_key}"},
        timeout=PROBE_TIMEOUT_S,
    )

    assert response.status_code == 200


def test_master_key_reaches_the_langfuse_pass_through(
    routes_stack: ProxyStack, langfuse: LangfuseStandIn
) -> None:
    key = base64.b64encode(f"pk:{routes_stack.proxy.master_key}".encode()).decode()

    response = httpx.get(
        f"{routes_stack.proxy.url}/langfuse/api/public/projects",
        headers={"Authorization": f"Basic {key}"},
        timeout=PROBE_TIMEOUT_S,
    )

    assert response.status_code == 200
    assert langfuse.project_id in response.text
