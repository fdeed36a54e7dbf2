"""The run loop, the output formats, and the README table generated from the checks."""

from __future__ import annotations

import json
import re

import pytest

from llmops_kit.doctor import CHECKS, GROUPS, Finding, Status, exit_code, run_checks
from llmops_kit.doctor.findings import Verdicts
from llmops_kit.doctor.readme import END, README, START, section, write_section
from llmops_kit.doctor.registry import Check
from llmops_kit.doctor.report import as_json, finding_lines, summary_line
from tests.unit.doctor.conftest import ContextFactory

ID_PREFIXES = {
    "containers": "containers.",
    "envfile": "env.",
    "network": "network.",
    "langfuse": "langfuse.",
    "callback": "callback.",
    "litellm": "litellm.",
    "access": "access.",
    "keys": "keys.",
    "models": "models.",
    "bedrock": "bedrock.",
    "host": "host.",
    "logs": "logs.",
}


def test_groups_run_in_the_documented_order() -> None:
    assert [g.name for g in GROUPS] == list(ID_PREFIXES)


def test_every_check_has_a_unique_id_named_after_its_group() -> None:
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))
    for group in GROUPS:
        for check in group.checks:
            assert check.id.startswith(ID_PREFIXES[group.name]), check.id
            assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+", check.id), check.id


def test_requirements_name_checks_that_run_earlier() -> None:
    order = {c.id: n for n, c in enumerate(CHECKS)}
    for check in CHECKS:
        for required in check.requires:
            assert order[required] < order[check.id], (check.id, required)


def _check(check_id: str, function, **options) -> Check:  # type: ignore[no-untyped-def]
    return Check(check_id, "summary", "remedy", function, **options)


def test_a_check_that_raises_becomes_a_fail_with_secrets_masked(
    make_context: ContextFactory,
) -> None:
    ctx = make_context()
    secret = ctx.settings["LITELLM_MASTER_KEY"]

    def explodes(ctx, result):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"boom with {secret}")

    (finding,) = run_checks(ctx, [_check("x.boom", explodes)])
    assert finding.status is Status.FAIL
    assert "RuntimeError" in finding.message
    assert secret not in finding.message
    assert "LLMOPS_DEBUG=1" in finding.fix


def test_a_check_is_skipped_when_what_it_requires_failed(make_context: ContextFactory) -> None:
    checks = [
        _check("x.first", lambda ctx, result: result.fail("down", "start it")),
        _check("x.second", lambda ctx, result: result.ok("fine"), requires=("x.first",)),
    ]
    _, second = run_checks(make_context(), checks)
    assert second == Finding(
        "x.second", Status.SKIP, "skipped because x.first failed; fix that first"
    )


def test_container_checks_skip_natively_and_say_why(make_context: ContextFactory) -> None:
    check = _check("x.container", lambda ctx, result: result.ok("ran"), docker_only=True)
    (finding,) = run_checks(make_context(native=True), [check])
    assert finding.status is Status.SKIP
    assert "native proxy" in finding.message


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ((Status.OK, Status.WARN, Status.SKIP), 0),
        ((Status.OK, Status.FAIL), 1),
        ((), 0),
    ],
)
def test_exit_code_is_1_only_on_a_fail(statuses: tuple[Status, ...], code: int) -> None:
    assert exit_code([Finding(f"x.{n}", s, "m", "f") for n, s in enumerate(statuses)]) == code


def test_a_failed_finding_prints_its_fix_under_it() -> None:
    finding = Verdicts("langfuse.auth").fail("Langfuse rejected the keys", "set the keys")
    assert finding_lines(finding) == [
        "FAIL  langfuse.auth            Langfuse rejected the keys",
        "                               fix: set the keys",
    ]


def test_an_ok_finding_is_one_line() -> None:
    assert finding_lines(Verdicts("host.disk").ok("12.0 GiB free")) == [
        "OK    host.disk                12.0 GiB free"
    ]


def test_json_holds_the_same_findings_and_the_exit_code() -> None:
    findings = [
        Verdicts("a.one").ok("fine"),
        Verdicts("a.two").fail("broken", "fix it"),
    ]
    document = json.loads(json.dumps(as_json(findings, mode="native")))
    assert document == {
        "mode": "native",
        "exit_code": 1,
        "summary": {"OK": 1, "WARN": 0, "FAIL": 1, "SKIP": 0},
        "findings": [
            {"id": "a.one", "status": "OK", "message": "fine", "fix": ""},
            {"id": "a.two", "status": "FAIL", "message": "broken", "fix": "fix it"},
        ],
    }
    assert summary_line(findings) == "1 OK, 0 WARN, 1 FAIL, 0 SKIP: some checks FAILED"


def test_readme_troubleshooting_section_is_the_one_generated_from_the_checks() -> None:
    text = README.read_text(encoding="utf-8")
    assert section() in text, (
        "README.md's troubleshooting table is out of date: run `python -m llmops_kit.doctor.readme`"
    )


def test_the_readme_section_documents_every_check() -> None:
    body = section()
    for check in CHECKS:
        assert f"| `{check.id}` |" in body, check.id


def test_writing_the_section_replaces_only_the_text_between_the_markers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{START}\nold table\n{END}\n\n## After\n")
    write_section(readme)
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n")
    assert text.endswith(f"{END}\n\n## After\n")
    assert "old table" not in text
    assert section() in text


def test_writing_the_section_appends_the_markers_when_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    write_section(readme)
    assert readme.read_text() == f"# Title\n\n{section()}\n"
