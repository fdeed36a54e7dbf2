"""`manage_langfuse.py doctor`: every check a function returning one frozen Finding.

findings.py   Status, Finding, and Verdicts (how a check builds its Finding)
registry.py   Check and CheckGroup: id, summary, remedy, requires, docker_only
context.py    DoctorContext: options, settings, probes shared between checks
containers envfile network langfuse callback litellm bedrock host logs
              the checks, one module per part of the setup, run in that order
checks.py     the ordered list and the loop (a check never raises into it)
report.py     text lines and JSON;  readme.py  the README's troubleshooting table
"""

from __future__ import annotations

from .checks import CHECKS, GROUPS, exit_code, run_checks
from .context import DoctorContext, DoctorOptions
from .findings import Finding, Status

__all__ = [
    "CHECKS",
    "GROUPS",
    "DoctorContext",
    "DoctorOptions",
    "Finding",
    "Status",
    "exit_code",
    "run_checks",
]
