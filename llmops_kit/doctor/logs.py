"""Recent container logs, scanned for errors whose cause and fix are known.

Only the last minutes count: an error fixed an hour ago should not fail today's run.
Lines come through compose's wrapper with secrets masked, and are masked again here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..bedrock_probe import CLOCK_FIX, SKEW_WORDS
from ..compose import PROXY_SERVICE
from ..errors import KitError
from .context import LANGFUSE_WEB_SERVICE, LANGFUSE_WORKER_SERVICE, DoctorContext
from .findings import Finding, Status, Verdicts
from .registry import CheckGroup

group = CheckGroup("logs", "Container logs")

SINCE = "10m"
TAIL_LINES = 500
EXAMPLE_CHARS = 160
LANGFUSE = (LANGFUSE_WEB_SERVICE, LANGFUSE_WORKER_SERVICE)


@dataclass(frozen=True)
class Signature:
    """A log pattern, what it means, and what to do about it."""

    name: str
    pattern: re.Pattern[str]
    services: tuple[str, ...]
    meaning: str
    fix: str
    severity: Status = Status.FAIL


def _signature(
    name: str,
    pattern: str,
    services: tuple[str, ...],
    meaning: str,
    fix: str,
    severity: Status = Status.FAIL,
) -> Signature:
    return Signature(name, re.compile(pattern, re.IGNORECASE), services, meaning, fix, severity)


SIGNATURES: tuple[Signature, ...] = (
    _signature(
        "AccessDeniedException",
        r"AccessDeniedException",
        (PROXY_SERVICE,),
        "Bedrock denied access to a model",
        "grant model access in the Bedrock console and bedrock:InvokeModel* in IAM "
        "(doctor's bedrock.model_access names the model)",
    ),
    _signature(
        "ExpiredToken",
        r"ExpiredToken",
        (PROXY_SERVICE,),
        "the AWS session token expired",
        "refresh the credentials (`aws sso login`, or new keys and AWS_SESSION_TOKEN in .env), "
        "then `python manage_langfuse.py update-config`",
    ),
    _signature(
        "clock skew",
        SKEW_WORDS,
        (PROXY_SERVICE,),
        "AWS refused the proxy's signatures for their time: this machine's clock is more "
        "than 5 minutes off (the keys are fine)",
        CLOCK_FIX,
    ),
    _signature(
        "signature rejected",
        rf"^(?!.*({SKEW_WORDS}))"
        r".*(InvalidSignatureException|UnrecognizedClientException|signature we calculated "
        r"does not match|security token included in the request is invalid)",
        (PROXY_SERVICE,),
        "AWS rejected the proxy's credentials",
        "copy AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the same access key into .env, "
        "then `python manage_langfuse.py update-config`",
    ),
    _signature(
        "callback import",
        r"ModuleNotFoundError|ImportError|Could not import",
        (PROXY_SERVICE,),
        "a callback or its dependency fails to import",
        "see doctor's callback.import for the module and the error",
    ),
    _signature(
        "callback cannot start",
        r"llmops callback cannot start",
        (PROXY_SERVICE,),
        "the tracing callback does not run: requests are served but not traced",
        "the log line names the cause (often LLMOPS_SPOOL_DIR not writable); then "
        "`python manage_langfuse.py restart litellm`",
    ),
    _signature(
        "Invalid public key",
        r"Invalid public key|Invalid credentials\. Confirm",
        (PROXY_SERVICE, *LANGFUSE),
        "Langfuse rejected the proxy's project keys",
        "see doctor's langfuse.auth for the fix",
    ),
    _signature(
        "ClickHouse unreachable",
        r"clickhouse.*(ECONNREFUSED|connection refused|ENOTFOUND|ETIMEDOUT|socket hang up)"
        r"|(ECONNREFUSED|ENOTFOUND|ETIMEDOUT).*(clickhouse|:8123\b)",
        LANGFUSE,
        "Langfuse cannot reach ClickHouse",
        "`python manage_langfuse.py restart clickhouse`",
    ),
    _signature(
        "Redis unreachable",
        r"NOAUTH|WRONGPASS|redis.*(ECONNREFUSED|connection refused|ENOTFOUND)",
        LANGFUSE,
        "Langfuse cannot use Redis",
        "`python manage_langfuse.py restart redis`; if it says WRONGPASS, REDIS_AUTH changed",
    ),
    _signature(
        "Postgres unreachable",
        r"P1001|Can't reach database server|password authentication failed",
        (*LANGFUSE, PROXY_SERVICE),
        "a service cannot use its Postgres",
        "`python manage_langfuse.py restart postgres`; 'password authentication failed' means "
        "the volume was initialised with another password than the one in .env",
    ),
    _signature(
        "S3 unreachable",
        r"NoSuchBucket|InvalidAccessKeyId|(s3|minio).*(ECONNREFUSED|connection refused)",
        LANGFUSE,
        "Langfuse cannot use MinIO (S3)",
        "`python manage_langfuse.py restart minio`",
    ),
    _signature(
        "ThrottlingException",
        r"ThrottlingException|Too many requests, please wait",
        (PROXY_SERVICE,),
        "Bedrock throttled requests (fallbacks took over where configured)",
        "ask AWS for a higher quota, or spread load over inference profiles",
        Status.WARN,
    ),
    _signature(
        "ProxyException",
        r"ProxyException",
        (PROXY_SERVICE,),
        "the proxy answered requests with errors",
        "`python manage_langfuse.py logs litellm --tail 200` shows the requests around it",
        Status.WARN,
    ),
)


def _service_of(line: str) -> str:
    """compose prefixes each line with `<service>-<n>  | ` or `<container name>  | `."""
    return re.sub(r"-\d+$", "", line.split("|", 1)[0].strip())


def scan(lines: list[str]) -> dict[Signature, tuple[int, str]]:
    """Signature -> (how many lines matched, the first of them)."""
    counts: Counter[Signature] = Counter()
    examples: dict[Signature, str] = {}
    for line in lines:
        service = _service_of(line)
        for signature in SIGNATURES:
            if any(service.endswith(s) for s in signature.services) and signature.pattern.search(
                line
            ):
                counts[signature] += 1
                examples.setdefault(signature, line)
    return {s: (counts[s], examples[s]) for s in SIGNATURES if counts[s]}


@group.check(
    "logs.signatures",
    summary="the last 10 minutes of the proxy's and Langfuse's logs hold no known error "
    "(AccessDeniedException, ExpiredToken, clock skew, rejected signatures, import errors, "
    "a callback that cannot start, 'Invalid public key', ClickHouse/Redis/Postgres/S3 "
    "connection errors, throttling, ProxyException)",
    remedy="each match names its meaning and fix; `python manage_langfuse.py logs SERVICE` "
    "shows the context",
    docker_only=True,
)
def signatures(ctx: DoctorContext, result: Verdicts) -> Finding:
    services = sorted({s for signature in SIGNATURES for s in signature.services})
    args = ["logs", "--no-color", "--since", SINCE, "--tail", str(TAIL_LINES), *services]
    try:
        lines = [ctx.redact(line) for line in ctx.project.stream(args)]
    except KitError as error:
        return result.skip(f"cannot read the logs: {error.message}")
    found = scan(lines)
    if not found:
        return result.ok(f"no known error in the last {SINCE} of {', '.join(services)}")
    parts = [
        f"{s.name} x{count} ({s.meaning}), e.g. {example.strip()[:EXAMPLE_CHARS]!r}"
        for s, (count, example) in found.items()
    ]
    fix = "; ".join(dict.fromkeys(s.fix for s in found))
    if any(s.severity is Status.FAIL for s in found):
        return result.fail("; ".join(parts), fix)
    return result.warn("; ".join(parts), fix)
