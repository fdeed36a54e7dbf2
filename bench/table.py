"""The report as text: where it ran, the figures per configuration, then the targets.

The ratios come last, one per line, so `python -m bench.run | tail -4` shows them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

COLUMNS = (
    ("latency p50", "latency_p50_ms"),
    ("p95", "latency_p95_ms"),
    ("p99", "latency_p99_ms"),
    ("overhead p50", "overhead_p50_ms"),
    ("req/s", "requests_per_s"),
    ("TTFT p50", "ttft_p50_ms"),
    ("TTFT p99", "ttft_p99_ms"),
    ("CPU ms/req", "cpu_ms_per_request"),
    ("RSS MB", "rss_mb"),
    ("loadgen CPU%", "loadgen_cpu_percent_max"),
)


def cell(figure: Mapping[str, float | None]) -> str:
    """`median ±half-range`, the half-range being the run-to-run spread."""
    median, low, high = figure["median"], figure["min"], figure["max"]
    if median is None or low is None or high is None:
        return "-"
    half_range = (high - low) / 2
    return f"{median:.1f} ±{half_range:.1f}" if half_range >= 0.05 else f"{median:.1f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _header(report: Mapping[str, Any]) -> list[str]:
    machine, settings = report["machine"], report["settings"]
    phases = ", ".join(
        f"{name} x{phase['concurrency']}{' streaming' if phase['stream'] else ''}"
        for name, phase in settings["phases"].items()
    )
    return [
        f"machine: {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gb']} GB RAM, Python {machine['python']}, "
        f"LiteLLM {machine['litellm']}",
        f"Bedrock stand-in: {settings['upstream_latency_ms']} ms latency, a token every "
        f"{settings['token_interval_ms']} ms; request: {settings['prompt_kb']} KB with tools; "
        f"{settings['repetitions']} round(s) of {settings['warmup_s']} s warm-up + "
        f"{settings['duration_s']} s per phase ({phases})",
    ]


def _figures(report: Mapping[str, Any]) -> list[str]:
    rows = [("", [title for title, _ in COLUMNS])]
    rows.append(("stand-in direct", [cell(report["upstream"]["summary"][k]) for _, k in COLUMNS]))
    for key, configuration in report["configurations"].items():
        cells = [cell(configuration["summary"][figure]) for _, figure in COLUMNS]
        rows.append((f"{key} {configuration['title']}", cells))
    label_width = max(len(label) for label, _ in rows)
    widths = [max(len(cells[i]) for _, cells in rows) for i in range(len(COLUMNS))]
    return [
        f"{label:<{label_width}}  "
        + "  ".join(text.rjust(width) for text, width in zip(cells, widths, strict=True))
        for label, cells in rows
    ]


def _problems(report: Mapping[str, Any]) -> list[str]:
    lines = []
    errors = {
        key: c["summary"]["errors"]
        for key, c in report["configurations"].items()
        if c["summary"]["errors"]
    }
    if errors:
        lines.append(f"failed requests per configuration (see the JSON report): {errors}")
    for key, configuration in report["configurations"].items():
        answers: Counter[str] = Counter()
        for run in configuration["runs"]:
            answers.update(run.get("langfuse_exports", {}).get("requests_by_status", {}))
        refused = {status: count for status, count in answers.items() if status != "200"}
        if refused:
            why = " (413: a batch over its 4.5 MB body limit, its spans lost)" * ("413" in refused)
            lines.append(
                f"{key}: the Langfuse stand-in refused {sum(refused.values())} of "
                f"{answers.total()} export requests {refused}{why}"
            )
    if report["callback"].get("error"):
        lines.append(f"callback measurement failed: {report['callback']['error']}")
    return lines


def render(report: Mapping[str, Any]) -> str:
    callback = report["callback"]
    lines = [*_header(report), "", *_figures(report), ""]
    lines.append("Times in ms; ±: half the run-to-run range. " + report["notes"]["no_slower"])
    lines += _problems(report)
    lines.append(
        "callback CPU per 100 KB prompt (in-process, new task): "
        f"{_number(callback['cpu_ms_per_100kb'])} ms   "
        f"target {callback['target']}: {callback['status']}   "
        f"(delivery process: {_number(callback.get('delivery_cpu_ms_per_100kb'))} ms)"
    )
    for ratio in report["ratios"]:
        verdict = (
            f"target {ratio['target']}: {ratio['status']}"
            if ratio["target"]
            else f"(no target; {ratio.get('meaning', 'shown, not judged')})"
        )
        lines.append(
            f"{ratio['name']}: {_number(ratio['median'])} "
            f"(min {_number(ratio['min'])}, max {_number(ratio['max'])})   {verdict}"
        )
    return "\n".join(lines)
