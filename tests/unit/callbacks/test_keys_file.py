"""callbacks/keys_file.py: the keys file with teams and limits, checked entry by entry."""

from __future__ import annotations

import datetime as dt
import logging
import os
import textwrap
from pathlib import Path

import pytest

from callbacks import keys_file

ALICE_KEY = "sk-alice-" + "a" * 32
BOB_KEY = "sk-bob-" + "b" * 32
CAROL_KEY = "sk-carol-" + "c" * 32
MASTER_KEY = "sk-master-" + "m" * 32


def _load(text: str) -> keys_file.KeysDocument:
    return keys_file.load_keys(textwrap.dedent(text), master_key=MASTER_KEY)


def _entry(doc: keys_file.KeysDocument, key: str) -> keys_file.KeyEntry | None:
    return doc.entries.get(keys_file.digest(key))


def test_mapping_with_keys_and_teams_gives_each_key_its_own_and_its_teams_limits() -> None:
    doc = _load(f"""
        teams:
          platform: {{budget_usd: 500, budget_period: week, rpm: 600}}
        keys:
          - key: {ALICE_KEY}
            user: alice@example.com
            team: platform
            budget_usd: 50
            tpm: 100000
            models: [claude-sonnet-4-6, claude-haiku-4-5]
            expires: 2027-01-31
            forwards_users: true
    """)

    alice = _entry(doc, ALICE_KEY)
    assert doc.problems == []
    assert alice.limits == keys_file.Limits(
        budget_usd=50.0,
        tpm=100000,
        models=("claude-sonnet-4-6", "claude-haiku-4-5"),
        expires=dt.datetime(2027, 1, 31, tzinfo=dt.UTC),
    )
    assert alice.team_limits == keys_file.Limits(budget_usd=500.0, budget_period="week", rpm=600)
    assert alice.forwards_users is True


def test_list_of_today_still_works_without_limits() -> None:
    doc = _load(f"""
        - key: {ALICE_KEY}
          user: alice@example.com
    """)

    alice = _entry(doc, ALICE_KEY)
    assert alice.limits == keys_file.Limits() and not alice.limits.limited
    assert (alice.team_limits, alice.forwards_users) == (None, False)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("budget_usd", "-5", "line 4, 'budget_usd': must be a positive number"),
        ("budget_usd", "ten", "line 4, 'budget_usd': must be a positive number"),
        ("budget_period", "year", "line 4, 'budget_period': must be one of day, week, month"),
        ("rpm", "1.5", "line 4, 'rpm': must be a positive whole number"),
        ("tpm", "0", "line 4, 'tpm': must be a positive whole number"),
        ("models", "claude-sonnet-4-6", "line 4, 'models': must be a list of model group"),
        ("expires", "next tuesday", "line 4, 'expires': must be an ISO date"),
        ("forwards_users", "maybe", "line 4, 'forwards_users': must be true or false"),
    ],
)
def test_invalid_limit_refuses_only_that_entry_naming_line_and_field(
    field: str, value: str, problem: str
) -> None:
    doc = _load(f"""
        - key: {ALICE_KEY}
          user: alice@example.com
          {field}: {value}
        - key: {BOB_KEY}
          user: bob@example.com
    """)

    assert _entry(doc, ALICE_KEY) is None
    assert _entry(doc, BOB_KEY) is not None
    assert len(doc.problems) == 1 and problem in doc.problems[0]
    assert ALICE_KEY not in doc.problems[0]


def test_invalid_team_refuses_its_keys_only() -> None:
    doc = _load(f"""
        teams:
          platform:
            budget_usd: lots
        keys:
          - {{key: {ALICE_KEY}, user: alice@example.com, team: platform}}
          - {{key: {BOB_KEY}, user: bob@example.com}}
    """)

    assert _entry(doc, ALICE_KEY) is None and _entry(doc, BOB_KEY) is not None
    assert doc.problems == [
        "keys file, line 4, 'budget_usd': must be a positive number; "
        "the keys of team platform are refused"
    ]


def test_duplicate_key_refuses_every_copy_and_no_other_key() -> None:
    doc = _load(f"""
        - {{key: {ALICE_KEY}, user: alice@example.com}}
        - {{key: {BOB_KEY}, user: bob@example.com}}
        - {{key: {ALICE_KEY}, user: mallory@example.com}}
    """)

    assert _entry(doc, ALICE_KEY) is None and _entry(doc, BOB_KEY) is not None
    assert doc.problems == [
        "keys file, lines 2, 4: the same key for alice@example.com, mallory@example.com; "
        "every copy is refused"
    ]


def test_strict_parse_for_the_cli_raises_on_any_refused_entry() -> None:
    text = f"- {{key: {ALICE_KEY}, user: alice@example.com, rpm: -1}}\n"

    with pytest.raises(keys_file.KeysFileError, match="line 1, 'rpm'"):
        keys_file.parse_keys(text)


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 10**9))


def test_reload_applies_a_revocation_even_when_another_line_of_the_edit_is_invalid(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keys.yml"
    _write(
        path,
        f"""
        - {{key: {ALICE_KEY}, user: alice@example.com}}
        - {{key: {BOB_KEY}, user: bob@example.com}}
        - {{key: {CAROL_KEY}, user: carol@example.com}}
    """,
    )
    keys = keys_file.KeysFile(path)
    assert keys.lookup(keys_file.digest(BOB_KEY)) is not None

    # One edit: bob removed, a typo in carol's entry.
    _write(
        path,
        f"""
        - {{key: {ALICE_KEY}, user: alice@example.com}}
        - {{key: {CAROL_KEY}, user: carol@example.com, rpm: sixty}}
    """,
    )
    with caplog.at_level(logging.ERROR, logger="llmops.keys"):
        assert keys.lookup(keys_file.digest(ALICE_KEY)) is not None

    assert keys.lookup(keys_file.digest(BOB_KEY)) is None
    assert keys.lookup(keys_file.digest(CAROL_KEY)) is None  # fail closed, loudly
    assert "line 3, 'rpm': must be a positive whole number" in caplog.text
    assert CAROL_KEY not in caplog.text
