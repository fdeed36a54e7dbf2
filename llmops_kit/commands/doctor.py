"""`doctor`: run every check, print each finding with its fix; exit 1 on any FAIL.

WARN and SKIP do not change the exit code: a warning names something to look at (a backlog
in flight, a quoted value), not something broken, and scripts need 0 for a working setup.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .. import console
from ..doctor import DoctorContext, DoctorOptions, Finding, Status, exit_code, run_checks
from ..doctor.containers import native_proxy_only
from ..doctor.report import as_json, finding_lines, summary_line

STYLES = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}


def print_finding(finding: Finding, to: Console | None = None) -> None:
    """One finding as doctor prints it (stdout), or `start` (stderr, beside its progress)."""
    target = to or console.out
    first, *rest = finding_lines(finding)
    status = str(finding.status)
    target.print(Text(status, style=STYLES[finding.status]) + first[len(status) :])
    for line in rest:
        target.print(line, markup=False)


def run(
    env_file: Path, config: Path | None, *, as_json_output: bool, native: bool, bedrock_calls: bool
) -> int:
    options = DoctorOptions(
        env_path=env_file, config_path=config, native=native, bedrock_calls=bedrock_calls
    )
    ctx = DoctorContext(options)
    if not native and native_proxy_only(ctx):
        console.info(
            f"doctor: no Docker stack {ctx.settings['COMPOSE_PROJECT_NAME']!r} exists, but a "
            f"proxy answers on {ctx.proxy_url}: checking it as a native proxy (--native)"
        )
        ctx.close()
        native = True
        options = replace(options, native=True)
        ctx = DoctorContext(options)
    mode = "native" if native else "docker"
    try:
        if as_json_output:
            findings = run_checks(ctx)
            console.out.print(json.dumps(as_json(findings, mode=mode), indent=2), markup=False)
        else:
            where = (
                "the native proxy"
                if native
                else f"the Docker stack {ctx.settings['COMPOSE_PROJECT_NAME']!r}"
            )
            console.info(f"doctor: checking {where} with {env_file} and {ctx.config_path}")
            findings = run_checks(ctx, on_finding=print_finding)
            console.out.print(summary_line(findings), markup=False)
    finally:
        ctx.close()
    return exit_code(findings)
