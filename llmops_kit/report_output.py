"""The report as JSON, CSV or terminal tables. Columns are a contract: add, never rename.

JSON: {"schema", "window": {"from", "to"}, "totals": {COLUMNS}, "groups": {dimension:
[{"key", COLUMNS...}]}}, with --reconcile also "reconciliation": [{"day", "model",
"langfuse_usd", "aws_usd", "difference_usd", "difference_percent", "incomplete"}].
CSV: one row for the totals (dimension `total`) then one per group, columns
`dimension,key,` + COLUMNS. Money in USD rounded to 6 decimals, times in seconds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.table import Table

from . import console
from .developer_keys import ScopeSpend
from .report_aggregate import Aggregate, Figures
from .report_data import Window
from .report_reconcile import USUAL_CAUSES, Difference

SCHEMA = "llmops-kit.usage-report/1"
COLUMNS = (
    "requests",
    "failed_requests",
    "fallbacks",
    "generations",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "input_cost_usd",
    "output_cost_usd",
    "cache_read_cost_usd",
    "cache_write_cost_usd",
    "cache_savings_usd",
    "latency_p50_s",
    "latency_p95_s",
    "ttft_p50_s",
    "ttft_p95_s",
    "output_tokens_per_s",
)
DECIMALS = {"_usd": 6, "_s": 3}
TOP_N = 10


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    rounded = {}
    for name in COLUMNS:
        value = row[name]
        places = next((p for suffix, p in DECIMALS.items() if name.endswith(suffix)), None)
        rounded[name] = round(value, places) if places is not None and value is not None else value
    rounded["output_tokens_per_s"] = (
        None if row["output_tokens_per_s"] is None else round(row["output_tokens_per_s"], 1)
    )
    return rounded


def as_json(
    result: Aggregate,
    period: Window,
    differences: Sequence[Difference] | None = None,
    budgets: Sequence[dict[str, Any]] | None = None,
) -> str:
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "window": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "totals": _rounded(result.totals.row()),
        "groups": {
            dimension: [{"key": key, **_rounded(f.row())} for key, f in result.ranked(dimension)]
            for dimension in result.dimensions
        },
    }
    if differences is not None:
        document["reconciliation"] = reconciliation_rows(differences)
    if budgets is not None:
        document["budgets"] = list(budgets)
    return json.dumps(document, indent=2) + "\n"


def budget_rows(spends: Iterable[ScopeSpend]) -> list[dict[str, Any]]:
    """Spend against budget in the current period, per limited key and team, fullest first."""
    limited = [s for s in spends if s.budget]
    return [
        {
            "who": s.who,
            "period": s.period,
            "spent_usd": round(s.spent / 1e6, 6),
            "budget_usd": round(s.budget / 1e6, 6),
            "spent_percent": round(100 * s.spent / s.budget, 1),
        }
        for s in sorted(limited, key=lambda s: (-s.spent / s.budget, s.who))
    ]


def print_budgets(rows: Sequence[dict[str, Any]]) -> None:
    _table(
        "Budgets, current period (the proxy's ledger)",
        ("key or team", "period", "spent", "budget", "%"),
        (
            [
                row["who"],
                row["period"],
                f"${row['spent_usd']:,.2f}",
                f"${row['budget_usd']:,.2f}",
                f"{row['spent_percent']:.0f}",
            ]
            for row in rows
        ),
    )


def as_csv(result: Aggregate) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("dimension", "key", *COLUMNS))

    def write(dimension: str, key: str, figures: Figures) -> None:
        row = _rounded(figures.row())
        writer.writerow((dimension, key, *("" if row[c] is None else row[c] for c in COLUMNS)))

    write("total", "", result.totals)
    for dimension in result.dimensions:
        for key, figures in result.ranked(dimension):
            write(dimension, key, figures)
    return buffer.getvalue()


# -- terminal ---------------------------------------------------------------------------------

TABLE_COLUMNS = (
    "req",
    "fail/fb",
    "in/out tok",
    "cache r/w",
    "cost $",
    "saved $",
    "s p50/95",
    "TTFT p50/95",
    "tok/s",
)


def _count(value: int) -> str:
    """1234 -> 1.2k, 3400000 -> 3.4M: the terminal table has no room for more."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            scaled = value / size
            digits = f"{scaled:.0f}" if scaled >= 100 else f"{scaled:.1f}".removesuffix(".0")
            return digits + suffix
    return str(value)


def _cells(figures: Figures) -> list[str]:
    row = figures.row()

    def seconds(low: float | None, high: float | None) -> str:
        if low is None or high is None:
            return "-"
        return "/".join(f"{v:.1f}" if v < 10 else f"{v:.0f}" for v in (low, high))

    speed = row["output_tokens_per_s"]
    return [
        f"{row['requests']:,}",
        f"{row['failed_requests']:,}/{row['fallbacks']:,}",
        f"{_count(row['input_tokens'])}/{_count(row['output_tokens'])}",
        f"{_count(row['cache_read_tokens'])}/{_count(row['cache_write_tokens'])}",
        f"{row['cost_usd']:,.2f}",
        f"{row['cache_savings_usd']:,.2f}",
        seconds(row["latency_p50_s"], row["latency_p95_s"]),
        seconds(row["ttft_p50_s"], row["ttft_p95_s"]),
        "-" if speed is None else f"{speed:.0f}",
    ]


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A borderless table: eleven figures per row fit a 100-column terminal."""
    grid = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        show_edge=False,
    )
    grid.add_column(columns[0], no_wrap=True, max_width=24, overflow="ellipsis")
    for column in columns[1:]:
        grid.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        grid.add_row(*row)
    console.out.print(grid)
    console.out.print()


def print_tables(result: Aggregate, period: Window, *, top: int = TOP_N) -> None:
    """Totals, then the top groups of each dimension (all days)."""
    totals = result.totals
    _table(f"Usage {period.describe()}", ("", *TABLE_COLUMNS), [["total", *_cells(totals)]])
    row = totals.row()
    console.out.print(
        f"cost parts: input ${row['input_cost_usd']:,.2f} · output ${row['output_cost_usd']:,.2f}"
        f" · cache read ${row['cache_read_cost_usd']:,.2f}"
        f" · cache write ${row['cache_write_cost_usd']:,.2f}"
        "\n(req: requests; fail/fb: failed requests / fallbacks; s: latency in seconds)\n",
        markup=False,
    )
    for dimension in result.dimensions:
        ranked = result.ranked(dimension)
        shown = ranked if dimension == "day" else ranked[:top]
        more = "" if len(shown) == len(ranked) else f" (top {len(shown)} of {len(ranked)})"
        _table(
            f"By {dimension}{more}",
            (dimension, *TABLE_COLUMNS),
            ([key, *_cells(figures)] for key, figures in shown),
        )
    if totals.unpriced_cache_reads:
        console.warn(
            f"{totals.unpriced_cache_reads:,} cache-read tokens are of models without a known "
            "input price: left out of the savings"
        )


def reconciliation_rows(differences: Sequence[Difference]) -> list[dict[str, Any]]:
    return [
        {
            "day": d.day,
            "model": d.model,
            "langfuse_usd": round(d.langfuse_usd, 6),
            "aws_usd": round(d.aws_usd, 6),
            "difference_usd": round(d.difference_usd, 6),
            "difference_percent": None if d.percent is None else round(d.percent, 1),
            "incomplete": d.incomplete,
        }
        for d in differences
    ]


def print_reconciliation(differences: Sequence[Difference], threshold: float) -> None:
    """Langfuse against AWS per day and model; flagged rows, then the usual causes."""
    flagged = [d for d in differences if d.flagged(threshold)]
    _table(
        "Langfuse against AWS Cost Explorer (unblended, USD)",
        ("day", "model", "Langfuse", "AWS", "AWS - Langfuse", "%", ""),
        (
            [
                d.day,
                d.model,
                f"{d.langfuse_usd:,.2f}",
                f"{d.aws_usd:,.2f}",
                f"{d.difference_usd:+,.2f}",
                "-" if d.percent is None else f"{d.percent:+.1f}",
                ("OVER " + f"{threshold:g} %" if d.flagged(threshold) else "")
                + (" (incomplete)" if d.incomplete else ""),
            ]
            for d in differences
        ),
    )
    if not flagged:
        console.success(f"every day and model within {threshold:g} %")
        return
    console.warn(f"{len(flagged)} day/model pairs differ by more than {threshold:g} %; usually:")
    for cause in USUAL_CAUSES:
        console.info(f"  - {cause}")
