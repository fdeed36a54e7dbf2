"""Does the cost in Langfuse match the AWS bill? Per UTC day and Claude model, against Cost
Explorer's unblended cost (ce:GetCostAndUsage, daily, grouped by service and usage type).

Claude on Bedrock is billed per model, under a service such as "Claude Sonnet 4.6 (Amazon
Bedrock Edition)" with usage types for input, output and cache tokens; older or first-party
models appear under "Amazon Bedrock" with the model in the usage type. Both are matched to
Langfuse's model ids (`us.anthropic.claude-sonnet-4-6`) by family and version ("sonnet 4.6").
Cost Explorer lags about a day: the last two days of a period are marked incomplete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .errors import BedrockError
from .report_data import Window

CE_REGION = "us-east-1"  # Cost Explorer's one endpoint
DEFAULT_THRESHOLD_PERCENT = 5.0
NOISE_FLOOR_USD = 0.01  # below this, a difference is rounding, whatever its percentage
IAM_POLICY_LINE = '{"Effect": "Allow", "Action": "ce:GetCostAndUsage", "Resource": "*"}'
LAG_DAYS = 2
USUAL_CAUSES = (
    "traffic that bypassed the proxy (other apps or keys calling Bedrock directly)",
    "cache writes with a 1-hour TTL, billed at 2x input, priced by the map as 5-minute writes",
    "regional inference profiles (us., eu., ...) cost about 10 % more than global.",
    "the pinned LiteLLM price map is older than AWS's current prices",
    "Cost Explorer lags about a day: recent days are incomplete",
)
_MODEL = re.compile(
    r"claude[\s_.-]*(?:(?P<pre_major>\d)(?:[.\-_](?P<pre_minor>\d)(?!\d))?[\s_.-]*)?"
    r"(?P<family>opus|sonnet|haiku)"
    r"(?:[\s_.-]*(?P<major>\d)(?!\d)(?:[.\-_](?P<minor>\d)(?!\d))?)?",
    re.IGNORECASE,
)


class CostExplorerError(BedrockError):
    """Cost Explorer refused or could not be reached."""


def model_key(text: str) -> str | None:
    """'sonnet 4.6' from `us.anthropic.claude-sonnet-4-6` or 'Claude Sonnet 4.6 (Amazon
    Bedrock Edition)'; None when the text names no Claude model."""
    match = _MODEL.search(text)
    if not match:
        return None
    major, minor = match["major"] or match["pre_major"], match["minor"] or match["pre_minor"]
    version = f" {major}.{minor}" if major and minor else f" {major}" if major else ""
    return f"{match['family'].lower()}{version}"


def is_bedrock_cost(service: str) -> bool:
    return "bedrock" in service.lower() or model_key(service) is not None


def aws_costs(session: boto3.Session, period: Window) -> dict[tuple[str, str], float]:
    """Unblended Bedrock cost per (UTC day, model key); cost no model matched is `other`."""
    client = session.client(
        "ce",
        region_name=CE_REGION,
        config=Config(retries={"total_max_attempts": 2}, read_timeout=30),
    )
    request: dict[str, Any] = {
        "TimePeriod": {
            "Start": period.start.date().isoformat(),
            "End": _end_day(period).isoformat(),
        },
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [
            {"Type": "DIMENSION", "Key": "SERVICE"},
            {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
        ],
    }
    costs: dict[tuple[str, str], float] = {}
    while True:
        answer = _call(lambda: client.get_cost_and_usage(**request))
        for day in answer.get("ResultsByTime", []):
            start = day["TimePeriod"]["Start"]
            for group in day.get("Groups", []):
                service, usage_type = [*group.get("Keys", []), "", ""][:2]
                if not is_bedrock_cost(service):
                    continue
                key = model_key(service) or model_key(usage_type) or "other"
                amount = float(group["Metrics"]["UnblendedCost"]["Amount"])
                costs[(start, key)] = costs.get((start, key), 0.0) + amount
        token = answer.get("NextPageToken")
        if not token:
            return costs
        request["NextPageToken"] = token


def _end_day(period: Window) -> date:
    """Cost Explorer's End is an exclusive date: a period ending at midnight ends that day."""
    end = period.end.astimezone(UTC)
    day = end.date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return day if end == midnight else day + timedelta(days=1)


def _call(request: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return request()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            raise CostExplorerError(
                "AWS denied ce:GetCostAndUsage to these credentials",
                fix=f"Add to the identity's IAM policy: {IAM_POLICY_LINE} (Cost Explorer "
                "must also be enabled for the account, in the Billing console).",
            ) from None
        message = str(error.response.get("Error", {}).get("Message", ""))
        raise CostExplorerError(
            f"Cost Explorer answered {code}: {message}",
            fix="Check the period (Cost Explorer keeps 13 months) and try again.",
        ) from None
    except NoCredentialsError:
        raise CostExplorerError(
            "no AWS credentials for Cost Explorer",
            fix="Set AWS credentials as for Bedrock (.env or AWS_PROFILE).",
        ) from None
    except BotoCoreError as error:
        raise CostExplorerError(
            f"cannot reach Cost Explorer: {type(error).__name__}",
            fix="Check the network path to ce.us-east-1.amazonaws.com.",
        ) from None


@dataclass(frozen=True)
class Difference:
    day: str
    model: str
    langfuse_usd: float
    aws_usd: float
    incomplete: bool

    @property
    def difference_usd(self) -> float:
        return self.aws_usd - self.langfuse_usd

    @property
    def percent(self) -> float | None:
        base = max(self.aws_usd, self.langfuse_usd)
        return None if base == 0 else 100 * self.difference_usd / base

    def flagged(self, threshold_percent: float) -> bool:
        return (
            abs(self.difference_usd) >= NOISE_FLOOR_USD
            and self.percent is not None
            and abs(self.percent) > threshold_percent
        )


def compare(
    langfuse: Mapping[tuple[str, str], float],
    aws: Mapping[tuple[str, str], float],
    *,
    now: datetime,
) -> list[Difference]:
    """Every (day, model) either side knows, in day then model order."""
    recent = {(now - timedelta(days=back)).date().isoformat() for back in range(LAG_DAYS)}
    return [
        Difference(
            day, model, langfuse.get((day, model), 0.0), aws.get((day, model), 0.0), day in recent
        )
        for day, model in sorted(set(langfuse) | set(aws))
    ]


def langfuse_costs(
    cost_by_day_and_model_id: Mapping[tuple[str, str], float],
) -> dict[tuple[str, str], float]:
    """Langfuse's cost per (day, model key), from cost per (day, Bedrock model id)."""
    costs: dict[tuple[str, str], float] = {}
    for (day, model_id), cost in cost_by_day_and_model_id.items():
        key = (day, model_key(model_id) or "other")
        costs[key] = costs.get(key, 0.0) + cost
    return costs
