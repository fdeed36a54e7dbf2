"""The report as one self-contained HTML page with charts, readable offline.

Charts are drawn by Plotly (PyPI `plotly`, pinned): a long-maintained MIT library whose
package carries plotly.js itself, so the page inlines the script and needs no network. The
figures are built in Python and drawn by `Plotly.newPlot`; when every chart is drawn the page
writes a render report into `#render-status` (charts drawn, traces and points in each), which
the browser test reads. Only aggregates go into the page (TTFT as a histogram per model), so its
size does not grow with the traffic.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from .report_aggregate import Aggregate, percentile
from .report_data import Window
from .report_output import TOP_N

TTFT_BINS = 30
CHART_HEIGHT = 380
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1f2933; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } .period { color: #52606d; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 14px; }
th, td { padding: 4px 10px; text-align: right; border-bottom: 1px solid #e4e7eb; }
th:first-child, td:first-child { text-align: left; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.chart { border: 1px solid #e4e7eb; border-radius: 6px; }
"""
_RENDER = """
const charts = CHARTS;
Promise.all(charts.map(c => Plotly.newPlot(c.id, c.figure.data, c.figure.layout,
    {displayModeBar: false, responsive: true}))).then(() => {
  const drawn = charts.map(c => {
    const div = document.getElementById(c.id);
    return {id: c.id, svg: div.querySelectorAll(".main-svg").length > 0,
            traces: div.data.length,
            points: div.data.reduce((n, t) => n + (t.y || t.x || []).length, 0)};
  });
  document.getElementById("render-status").textContent = JSON.stringify(drawn);
});
"""


def _layout(title: str, **extra: object) -> dict:
    return dict(
        title=dict(text=title, x=0.02),
        height=CHART_HEIGHT,
        margin=dict(l=60, r=20, t=50, b=50),
        legend=dict(orientation="h", y=-0.2),
        template="plotly_white",
        **extra,
    )


def cost_per_day_by_model(result: Aggregate) -> go.Figure:
    days = sorted({day for day, _ in result.cost_by_day_and_model})
    models = sorted({model for _, model in result.cost_by_day_and_model})
    figure = go.Figure(
        [
            go.Bar(
                name=model,
                x=days,
                y=[round(result.cost_by_day_and_model.get((day, model), 0.0), 4) for day in days],
            )
            for model in models
        ]
    )
    figure.update_layout(
        _layout("Cost per day by model (USD)", barmode="stack", xaxis=dict(type="date"))
    )
    return figure


def cost_by_user(result: Aggregate, top: int = TOP_N) -> go.Figure:
    ranked = result.ranked("user")
    users = [(user, figures.cost) for user, figures in ranked[:top]]
    others = sum(figures.cost for _, figures in ranked[top:])
    if len(ranked) > top:
        users.append((f"others ({len(ranked) - top})", others))
    colours = ["#3e7cb1"] * min(top, len(ranked)) + ["#9aa5b1"] * (len(users) > top)
    users.reverse()  # the largest at the top of a horizontal bar chart
    colours.reverse()
    figure = go.Figure(
        go.Bar(
            x=[round(cost, 4) for _, cost in users],
            y=[user for user, _ in users],
            orientation="h",
            marker_color=colours,
        )
    )
    figure.update_layout(_layout(f"Cost by user, top {top} and others (USD)"))
    return figure


def ttft_distribution(result: Aggregate) -> go.Figure:
    """Per model, the share of answered requests by time to first token (a histogram)."""
    samples = {model: sorted(values) for model, values in result.ttfts_by_model.items()}
    highest = max((percentile(v, 99) or 0.0 for v in samples.values()), default=0.0)
    width = max(highest / TTFT_BINS, 0.01)
    figure = go.Figure()
    for model, values in sorted(samples.items()):
        counts = [0] * TTFT_BINS
        for value in values:
            counts[min(int(value / width), TTFT_BINS - 1)] += 1
        figure.add_trace(
            go.Scatter(
                name=model,
                x=[round((index + 0.5) * width, 3) for index in range(TTFT_BINS)],
                y=[round(100 * count / len(values), 2) for count in counts],
                mode="lines+markers",
            )
        )
    figure.update_layout(
        _layout(
            "Time to first token by model (% of streamed answers)",
            xaxis_title="seconds (last bin: slower)",
        )
    )
    return figure


def cache_savings_per_day(result: Aggregate) -> go.Figure:
    days = result.ranked("day")
    saved = [round(figures.cache_savings, 4) for _, figures in days]
    running = [round(value, 4) for value in _cumulative(saved)]
    labels = [day for day, _ in days]
    figure = go.Figure(
        [
            go.Bar(name="saved that day", x=labels, y=saved, marker_color="#2f9e44"),
            go.Scatter(
                name="saved so far (right axis)",
                x=labels,
                y=running,
                mode="lines+markers",
                yaxis="y2",
            ),
        ]
    )
    figure.update_layout(
        _layout(
            "What prompt caching saved (USD)",
            xaxis=dict(type="date"),
            yaxis2=dict(overlaying="y", side="right", rangemode="tozero", showgrid=False),
        )
    )
    return figure


def _cumulative(values: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _summary_table(result: Aggregate) -> str:
    row = result.totals.row()
    cells = [
        ("requests", f"{row['requests']:,}"),
        ("failed", f"{row['failed_requests']:,}"),
        ("fallbacks", f"{row['fallbacks']:,}"),
        ("cost", f"${row['cost_usd']:,.2f}"),
        ("cache saved", f"${row['cache_savings_usd']:,.2f}"),
        ("input / output tokens", f"{row['input_tokens']:,} / {row['output_tokens']:,}"),
        ("cache read / write", f"{row['cache_read_tokens']:,} / {row['cache_write_tokens']:,}"),
        ("latency p50 / p95", _seconds(row["latency_p50_s"], row["latency_p95_s"])),
        ("TTFT p50 / p95", _seconds(row["ttft_p50_s"], row["ttft_p95_s"])),
    ]
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in cells)
    body = "".join(f"<td>{html.escape(value)}</td>" for _, value in cells)
    return f"<table><tr>{head}</tr><tr>{body}</tr></table>"


def _seconds(low: float | None, high: float | None) -> str:
    if low is None or high is None or math.isnan(low):
        return "-"
    return f"{low:.2f} s / {high:.2f} s"


def page(result: Aggregate, period: Window, *, now: datetime | None = None) -> str:
    """The whole page; with no traffic, a page that says so instead of empty charts."""
    generated = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    title = f"LLM usage {period.describe()}"
    if not result.totals.generations:
        content = "<p>No generations in this period.</p><p id='render-status'>[]</p>"
        script = ""
    else:
        figures = {
            "cost-per-day": cost_per_day_by_model(result),
            "cost-by-user": cost_by_user(result),
            "ttft": ttft_distribution(result),
            "cache-savings": cache_savings_per_day(result),
        }
        charts = [
            {"id": name, "figure": json.loads(figure.to_json())} for name, figure in figures.items()
        ]
        divs = "".join(f'<div class="chart" id="{name}"></div>' for name in figures)
        data = json.dumps(charts).replace("</", "<\\/")
        content = (
            f"{_summary_table(result)}<div class='charts'>{divs}</div>"
            "<p id='render-status' hidden></p>"
        )
        drawing = _RENDER.replace("CHARTS", data, 1)
        script = f"<script>{get_plotlyjs()}</script><script>{drawing}</script>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='period'>Generated {generated} from Langfuse"
        f"</p>{content}{script}</body></html>\n"
    )
