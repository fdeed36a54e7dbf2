"""The HTML report in a real headless browser (Debian's chromium): it draws every chart with
data, logs nothing to the console, needs no network, and its screenshot is not blank.

One chromium run (a few seconds) loads the page from a file with networking disabled, dumps the
DOM after the page's scripts ran, and takes a screenshot. The page writes what it drew into
`#render-status` (see report_html).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llmops_kit.report_aggregate import aggregate
from llmops_kit.report_data import Generation, Window
from llmops_kit.report_html import page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WINDOW = (1280, 1000)
RUN_TIMEOUT_S = 60
DAY = datetime(2026, 11, 2, tzinfo=UTC)
MODELS = ("claude-sonnet", "claude-haiku", "claude-opus")


def generations() -> list[Generation]:
    """Three days, three models, twelve users: enough for every chart and for "others"."""
    made = []
    for index in range(360):
        made.append(
            Generation(
                trace_id=f"trace-{index}",
                start=DAY + timedelta(minutes=12 * index),
                user=f"user{index % 12}",
                session="(none)",
                client="cline",
                team="core",
                model_group=MODELS[index % 3],
                model="us.anthropic.claude-sonnet-4-6",
                failed=index % 50 == 0,
                fallback=False,
                latency_s=2.0 + index % 7,
                ttft_s=0.4 + (index % 9) / 10,
                input_tokens=2_000,
                output_tokens=400,
                cache_read_tokens=30_000,
                cache_write_tokens=1_000,
                input_cost=0.0066,
                output_cost=0.0066,
                cache_read_cost=0.0099,
                cache_write_cost=0.004125,
                cost=0.027225,
            )
        )
    return made


@dataclass(frozen=True)
class Rendered:
    dom: str
    console: list[str]
    screenshot: Path


def render(html_file: Path, work: Path) -> Rendered:
    screenshot = work / "report.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={work / 'profile'}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--virtual-time-budget=10000",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={screenshot}",
            "--dump-dom",
            html_file.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return Rendered(done.stdout, console, screenshot)


def png_facts(path: Path) -> tuple[int, int, int]:
    """Width, height, and how many different byte values its pixel data holds."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    return width, height, len(set(pixels))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (scripts/run_tests.sh)")
    work = tmp_path_factory.mktemp("html-report")
    html_file = work / "report.html"
    period = Window(DAY, DAY + timedelta(days=3))
    html_file.write_text(page(aggregate(generations(), ("user", "model", "day")), period))
    return render(html_file, work)


def test_every_chart_is_drawn_with_data(rendered: Rendered) -> None:
    status = re.search(r'<p id="render-status"[^>]*>([^<]*)</p>', rendered.dom)
    assert status, "the page's script did not finish drawing"
    charts = {chart["id"]: chart for chart in json.loads(status[1])}
    assert set(charts) == {"cost-per-day", "cost-by-user", "ttft", "cache-savings"}
    assert all(chart["svg"] and chart["traces"] > 0 for chart in charts.values())
    assert charts["cost-per-day"]["traces"] == len(MODELS)
    assert charts["cost-per-day"]["points"] == 3 * len(MODELS)  # 3 days x 3 models
    assert charts["cost-by-user"]["points"] == 11  # the top 10 and "others (2)"
    assert charts["ttft"]["traces"] == len(MODELS)
    assert charts["cache-savings"]["points"] == 2 * 3


def test_the_page_logs_nothing_to_the_console(rendered: Rendered) -> None:
    assert rendered.console == []


def test_the_page_loads_nothing_from_the_network(tmp_path: Path) -> None:
    period = Window(DAY, DAY + timedelta(days=3))
    text = page(aggregate(generations(), ("user", "model", "day")), period)
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", text)


def test_the_screenshot_shows_the_report_not_a_blank_page(rendered: Rendered) -> None:
    width, height, distinct_values = png_facts(rendered.screenshot)
    assert (width, height) == WINDOW
    assert distinct_values > 64  # a blank page has a handful; charts and text have hundreds
    assert rendered.screenshot.stat().st_size > 30_000
