"""`report`: who spent what, on which model, how fast, read from Langfuse.

Reads every generation of the period through the public v2 observations API (see
report_data for why) and prints or writes the figures (report_aggregate, report_output,
report_html), and with --reconcile compares cost with AWS Cost Explorer (report_reconcile).
Exit 0 with a warning when the period holds no traffic, 1 when Langfuse or Cost Explorer cannot
be read or a day/model differs from the bill by more than the threshold, 2 for a bad option.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from .. import console, developer_keys, settings
from ..bedrock_probe import session_for
from ..errors import ConfigError, UsageError
from ..langfuse_api import LangfuseReader
from ..report_aggregate import DIMENSIONS, Aggregate, aggregate
from ..report_data import Window, fields_for, generations, window
from ..report_output import (
    as_csv,
    as_json,
    budget_rows,
    print_budgets,
    print_reconciliation,
    print_tables,
)
from ..report_reconcile import (
    DEFAULT_THRESHOLD_PERCENT,
    Difference,
    aws_costs,
    compare,
    langfuse_costs,
)

FORMATS = ("table", "json", "csv", "html")
GROUPINGS = tuple(DIMENSIONS)
DEFAULT_DIMENSIONS = ("user", "model", "day")
# LANGFUSE_HOST names Langfuse as the proxy's container reaches it; from the host the report
# reaches the published port instead.
IN_STACK_HOSTS = ("langfuse-web",)
REPORT_TIMEOUT_SECONDS = 60.0


def choice(option: str, value: str | None, choices: Collection[str]) -> str | None:
    """`value` if it is one of `choices` (or None); else a usage error naming them."""
    if value is None or value in choices:
        return value
    raise UsageError(f"{option} {value!r}: choose one of {', '.join(choices)}")


def langfuse_url(values: settings.Settings) -> str:
    host = values.get("LANGFUSE_HOST", "").rstrip("/")
    if host and urlsplit(host).hostname not in IN_STACK_HOSTS:
        return host
    bind = values.get("BIND_ADDRESS") or "127.0.0.1"
    address = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
    return f"http://{address}:{values.get('LANGFUSE_WEB_PORT', '3000')}"


def run(
    env_file: Path,
    *,
    since: str | None,
    date_from: str | None,
    date_to: str | None,
    by: str | None,
    output_format: str,
    out: Path | None,
    langfuse: str | None = None,
    reconcile: bool = False,
    threshold: float = DEFAULT_THRESHOLD_PERCENT,
    now: datetime | None = None,
) -> int:
    now = now or datetime.now(UTC)
    try:
        period = window(since, date_from, date_to, now=now)
    except ConfigError as error:
        raise UsageError(error.message, fix=error.fix) from error
    if reconcile and output_format not in ("table", "json"):
        raise UsageError("--reconcile goes with --format table or json")
    if output_format == "html" and out is None:
        raise UsageError("--format html writes a file", fix="Add --out FILE.")
    dimensions = (by,) if by else DEFAULT_DIMENSIONS
    if output_format == "html":
        dimensions = tuple(dict.fromkeys((*DEFAULT_DIMENSIONS, *dimensions)))
    values = settings.load(env_file, validate=False)
    url = langfuse or langfuse_url(values)
    keys = _keys(values)
    result = read(url, keys, period, dimensions)
    differences = (
        compare(
            langfuse_costs(result.cost_by_day_and_model_id),
            aws_costs(session_for(values), period),
            now=now,
        )
        if reconcile
        else None
    )
    if not result.totals.generations:
        console.warn(
            f"no generations in Langfuse at {url} from {period.describe()}: check the period, "
            "and that these keys are the project the proxy writes to"
        )
    code = _write(result, period, output_format, out, differences, _budgets(values))
    if differences is None:
        return code
    if output_format == "table":
        print_reconciliation(differences, threshold)
    flagged = any(d.flagged(threshold) for d in differences)
    return console.EXIT_FAILED if flagged else code


def _keys(values: settings.Settings) -> tuple[str, str]:
    public_key, secret_key = values.get("LANGFUSE_PUBLIC_KEY"), values.get("LANGFUSE_SECRET_KEY")
    if not public_key or not secret_key:
        raise ConfigError(
            "LANGFUSE_PUBLIC_KEY or LANGFUSE_SECRET_KEY is not set",
            fix="Run `python manage_langfuse.py init`, or set the project keys in .env.",
        )
    return public_key, secret_key


def read(url: str, keys: tuple[str, str], period: Window, dimensions: tuple[str, ...]) -> Aggregate:
    """Every generation of the period, aggregated as the pages arrive."""
    with LangfuseReader(url, *keys, timeout=REPORT_TIMEOUT_SECONDS) as client:
        pages = client.generation_pages(
            fields=fields_for("team" in dimensions), start=period.start, end=period.end
        )
        return aggregate(generations(pages), dimensions)


def _budgets(values: settings.Settings) -> list[dict[str, object]] | None:
    """Spend against budget this period per limited key and team, from the proxy's ledger;
    None when there is no keys file or no ledger readable from here."""
    try:
        figures = developer_keys.current_spending(values, os.environ)
    except ConfigError as error:
        console.warn(f"budgets left out: {error.message}")
        return None
    return None if figures is None else budget_rows(figures.values())


def _write(
    result: Aggregate,
    period: Window,
    output_format: str,
    out: Path | None,
    differences: list[Difference] | None = None,
    budgets: list[dict[str, object]] | None = None,
) -> int:
    if output_format == "table":
        print_tables(result, period)
        if budgets:
            print_budgets(budgets)
        return console.EXIT_OK
    if output_format == "html":
        from ..report_html import page

        text = page(result, period)
    else:
        text = (
            as_json(result, period, differences, budgets)
            if output_format == "json"
            else as_csv(result)
        )
    if out is None:
        console.out.print(text, end="", markup=False, emoji=False, soft_wrap=True)
    else:
        out.write_text(text)
        console.success(f"wrote {out}")
    return console.EXIT_OK
