"""AWS Cost Explorer for tests: moto's server mode, and a scripted refusal moto cannot give.

    with running_cost_explorer() as ce:
        ce.answer(results_by_time)           # what the next GetCostAndUsage returns
        os.environ["AWS_ENDPOINT_URL_COST_EXPLORER"] = ce.url
    with denied_cost_explorer() as url: ...  # AccessDeniedException, as AWS sends it

moto does not track cost: its GetCostAndUsage answers from a queue of results set through
its `/moto-api/static/ce/cost-and-usage-results` route. Each queued result is checked
against botocore's `ce` service model (GetCostAndUsageResponse) before moto gets it, so a
test cannot hand the report a shape AWS would never send. The refusal follows AWS's JSON 1.1
protocol (HTTP 400, `__type` and `Message`), which is what botocore parses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import botocore.session
import httpx
from botocore.validate import ParamValidator
from moto.server import ThreadedMotoServer

from tests.fakes.loopback import serving

ACCOUNT = "123456789012"
DENIED_MESSAGE = (
    f"User: arn:aws:iam::{ACCOUNT}:user/report is not authorized to perform: "
    f"ce:GetCostAndUsage on resource: arn:aws:ce:us-east-1:{ACCOUNT}:/GetCostAndUsage "
    "because no identity-based policy allows the ce:GetCostAndUsage action"
)


def check_response(result: dict[str, Any]) -> None:
    """Raise if `result` is not a GetCostAndUsageResponse by botocore's model."""
    model = botocore.session.get_session().get_service_model("ce")
    shape = model.operation_model("GetCostAndUsage").output_shape
    report = ParamValidator().validate(result, shape)
    if report.has_errors():
        raise ValueError(report.generate_report())


@dataclass(frozen=True)
class CostExplorer:
    url: str

    def answer(self, results_by_time: list[dict[str, Any]]) -> None:
        """Queue the answer to the next GetCostAndUsage with new parameters."""
        result = {"ResultsByTime": results_by_time, "DimensionValueAttributes": []}
        check_response(result)
        response = httpx.post(
            f"{self.url}/moto-api/static/ce/cost-and-usage-results",
            json={"results": [result]},
            timeout=10,
        )
        response.raise_for_status()


def day(start: str, end: str, groups: dict[tuple[str, str], float]) -> dict[str, Any]:
    """One day of ResultsByTime grouped by SERVICE and USAGE_TYPE, UnblendedCost in USD."""
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Total": {},
        "Groups": [
            {
                "Keys": [service, usage_type],
                "Metrics": {"UnblendedCost": {"Amount": f"{amount:.10f}", "Unit": "USD"}},
            }
            for (service, usage_type), amount in groups.items()
        ],
        "Estimated": False,
    }


@contextmanager
def running_cost_explorer() -> Iterator[CostExplorer]:
    """moto's server on a free loopback port, in a thread."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield CostExplorer(f"http://{host}:{port}")
    finally:
        server.stop()


@contextmanager
def denied_cost_explorer() -> Iterator[str]:
    """An endpoint that refuses every call as AWS does without ce:GetCostAndUsage."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"__type": "AccessDeniedException", "Message": DENIED_MESSAGE})
            payload = body.encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", "7c2f1a4e-0000-4000-8000-000000000000")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            pass

    with serving(Handler) as url:
        yield url
