"""The README's troubleshooting section, rendered from doctor's own checks.

    python -m llmops_kit.doctor.readme      # rewrites the section between the markers

Only the text between the markers is ours; the rest of README.md is left as it is.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import REPO_ROOT
from .checks import GROUPS
from .preflight import PREFLIGHT_IDS
from .registry import CheckGroup

README = REPO_ROOT / "README.md"
START = "<!-- doctor-checks:start -->"
END = "<!-- doctor-checks:end -->"
INTRO = (
    "`python manage_langfuse.py doctor` (or `scripts/debug_langfuse.sh`) runs these checks in "
    "this order and prints each as OK, WARN, FAIL or SKIP with its cause and the exact fix. "
    "It exits 0 when nothing failed (WARN and SKIP included) and 1 on any FAIL; `--json` "
    "gives the same findings to scripts, `--no-bedrock-calls` skips the one check that calls "
    "models (Converse with maxTokens=1 per model: the only one that costs money), `--native` "
    "checks the native proxy (`manage_langfuse.py proxy`) and skips what needs containers "
    "(chosen by itself, and said in one line, when no container of the stack exists but a "
    "proxy answers on LITELLM_PORT). "
    "`start` runs the checks marked *pre-flight* first, printed the same way: it starts "
    "nothing while one of them FAILs and goes on after a WARN. "
    "This table is generated from doctor's own list of checks."
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _group_table(group: CheckGroup) -> list[str]:
    lines = [f"**{group.title}**", "", "| id | checks | when it fails |", "| --- | --- | --- |"]
    for check in group.checks:
        where = " (Docker only)" if check.docker_only else ""
        where += " (*pre-flight*)" if check.id in PREFLIGHT_IDS else ""
        lines.append(f"| `{check.id}` | {_cell(check.summary)}{where} | {_cell(check.remedy)} |")
    return [*lines, ""]


def troubleshooting_markdown(groups: tuple[CheckGroup, ...] = GROUPS) -> str:
    """The section's body: the introduction, then one table per group, in run order."""
    lines = [INTRO, ""]
    for group in groups:
        lines += _group_table(group)
    return "\n".join(lines).rstrip() + "\n"


def section() -> str:
    return f"{START}\n{troubleshooting_markdown()}{END}"


def write_section(path: Path = README) -> None:
    """Replace the text between the markers; append the markers when they are missing."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section() + after
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section() + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write_section()
