"""Findings as text lines for people and as JSON for machines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .checks import exit_code
from .findings import Finding, Status

ID_WIDTH = 24
STATUS_WIDTH = 5


def finding_lines(finding: Finding) -> list[str]:
    """`STATUS  id  message`, then `fix: ...` under it when there is something to do."""
    lines = [f"{finding.status:<{STATUS_WIDTH}} {finding.id:<{ID_WIDTH}} {finding.message}"]
    if finding.fix and finding.status in (Status.FAIL, Status.WARN):
        lines.append(f"{'':<{STATUS_WIDTH}} {'':<{ID_WIDTH}} fix: {finding.fix}")
    return lines


def summary_line(findings: Sequence[Finding]) -> str:
    counts = Counter(f.status for f in findings)
    parts = ", ".join(f"{counts[status]} {status}" for status in Status)
    verdict = "some checks FAILED" if exit_code(findings) else "nothing failed"
    return f"{parts}: {verdict}"


def as_json(findings: Sequence[Finding], *, mode: str) -> dict[str, Any]:
    """The same findings as the text output, for scripts (`doctor --json`)."""
    counts = Counter(f.status for f in findings)
    return {
        "mode": mode,
        "exit_code": exit_code(findings),
        "summary": {str(status): counts[status] for status in Status},
        "findings": [f.as_dict() for f in findings],
    }
