"""The network as the proxy container sees it: LANGFUSE_HOST, DNS, and HTTP to Langfuse.

Looked at from inside the container (`docker compose exec`), because that is where the
callback sends traces from: `localhost` there is the container itself, and `langfuse-web`
resolves only on the project's network.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from ..compose import PROXY_SERVICE
from ..errors import KitError
from .containers import container_environment, containers
from .context import LOOPBACK_HOSTS, PYTHON, DoctorContext
from .findings import Finding, Verdicts
from .registry import CheckGroup

group = CheckGroup("network", "Network inside the proxy container")

STACK_LANGFUSE_HOST = "http://langfuse-web:3000"
# Runs inside the proxy container with its Python: standard library only.
PROBE_SCRIPT = """
import json, os, socket, urllib.error, urllib.parse, urllib.request
url = os.environ.get("LANGFUSE_HOST", "").rstrip("/")
parts = urllib.parse.urlsplit(url)
out = {"url": url}
try:
    infos = socket.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
    out["addresses"] = sorted({info[4][0] for info in infos})
except Exception as error:
    out["dns_error"] = type(error).__name__ + ": " + str(error)
else:
    try:
        with urllib.request.urlopen(url + "/api/public/health", timeout=5) as answer:
            out["http_status"] = answer.status
    except urllib.error.HTTPError as error:
        out["http_status"] = error.code
    except Exception as error:
        out["http_error"] = type(error).__name__ + ": " + str(error)
print(json.dumps(out))
"""


def _recreate_fix(ctx: DoctorContext) -> str:
    return (
        f"In {ctx.options.env_path} set LANGFUSE_HOST={STACK_LANGFUSE_HOST}, then "
        f"{ctx.kit_command('update-config')}"
    )


def _proxy_running(ctx: DoctorContext) -> bool:
    try:
        container = containers(ctx).get(PROXY_SERVICE)
    except KitError:
        return False
    return container is not None and container.state == "running"


def _stopped_service(ctx: DoctorContext, name: str) -> str | None:
    """How a service of this project named `name` is, when it exists and is not running."""
    container = containers(ctx).get(name)
    if container is None or container.state == "running":
        return None
    return container.summary


def _probe(ctx: DoctorContext) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        output = ctx.project.exec(PROXY_SERVICE, [PYTHON, "-c", PROBE_SCRIPT])
        return json.loads(output.strip().splitlines()[-1])

    return ctx.remember("network.probe", run)


def _not_running(result: Verdicts) -> Finding:
    return result.skip(f"the {PROXY_SERVICE} container is not running (see containers.state)")


@group.check(
    "network.langfuse_host",
    summary="LANGFUSE_HOST inside the proxy container is not localhost (there, localhost is "
    "the container itself)",
    remedy=f"set `LANGFUSE_HOST={STACK_LANGFUSE_HOST}` in `.env`, then "
    "`python manage_langfuse.py update-config`",
    docker_only=True,
)
def langfuse_host(ctx: DoctorContext, result: Verdicts) -> Finding:
    try:
        environment = container_environment(ctx, PROXY_SERVICE)
    except KitError as error:
        return result.skip(f"cannot inspect the {PROXY_SERVICE} container: {error.message}")
    if environment is None:
        return result.skip(f"there is no {PROXY_SERVICE} container (see containers.state)")
    url = environment.get("LANGFUSE_HOST", "")
    host = urlsplit(url).hostname or ""
    if not url:
        return result.fail(
            f"the {PROXY_SERVICE} container has no LANGFUSE_HOST", _recreate_fix(ctx)
        )
    if host in LOOPBACK_HOSTS:
        return result.fail(
            f"LANGFUSE_HOST={url} inside the {PROXY_SERVICE} container: there {host} is the "
            "container itself, so no trace reaches Langfuse",
            _recreate_fix(ctx),
        )
    return result.ok(f"the proxy sends traces to {url}")


@group.check(
    "network.dns",
    summary="the host name in LANGFUSE_HOST resolves inside the proxy container",
    remedy="the proxy and Langfuse must share the compose project's network: start both with "
    "`python manage_langfuse.py start`",
    requires=("network.langfuse_host",),
    docker_only=True,
)
def dns(ctx: DoctorContext, result: Verdicts) -> Finding:
    if not _proxy_running(ctx):
        return _not_running(result)
    try:
        probe = _probe(ctx)
    except (KitError, ValueError, IndexError) as error:
        return result.fail(
            f"cannot run a network probe in the {PROXY_SERVICE} container: "
            f"{getattr(error, 'message', type(error).__name__)}",
            ctx.kit_command("logs", PROXY_SERVICE, "--tail", "50"),
        )
    host = urlsplit(probe.get("url", "")).hostname
    if "dns_error" in probe:
        stopped = _stopped_service(ctx, host or "")
        if stopped is not None:
            return result.fail(
                f"{host!r} does not resolve inside the {PROXY_SERVICE} container: its "
                f"container is {stopped} (Docker's DNS names only running containers)",
                f"{ctx.kit_command('restart', host or '')} (why it stopped: "
                f"{ctx.kit_command('logs', host or '', '--tail', '50')})",
            )
        return result.fail(
            f"{host!r} does not resolve inside the {PROXY_SERVICE} container "
            f"({probe['dns_error']})",
            f"{ctx.kit_command('start')} (puts every service on the project's network); if "
            f"Langfuse runs elsewhere, set LANGFUSE_HOST in {ctx.options.env_path} to its URL",
        )
    return result.ok(f"{host} resolves to {', '.join(probe.get('addresses', []))}")


@group.check(
    "network.langfuse_http",
    summary="the proxy container gets an answer from `LANGFUSE_HOST/api/public/health`",
    remedy="Langfuse web is down or unhealthy: see `langfuse.web`, then "
    "`python manage_langfuse.py restart langfuse-web`",
    requires=("network.dns",),
    docker_only=True,
)
def langfuse_http(ctx: DoctorContext, result: Verdicts) -> Finding:
    if not _proxy_running(ctx):
        return _not_running(result)
    probe = _probe(ctx)
    url = probe.get("url", "")
    status = probe.get("http_status")
    if status == 200:
        return result.ok(f"{url}/api/public/health answers 200 from inside the proxy container")
    detail = f"HTTP {status}" if status is not None else probe.get("http_error", "no answer")
    return result.fail(
        f"the proxy container cannot use Langfuse at {url}: {detail}",
        f"{ctx.kit_command('restart', 'langfuse-web')} (why: "
        f"{ctx.kit_command('logs', 'langfuse-web', '--tail', '50')})",
    )
