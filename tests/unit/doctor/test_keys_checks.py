"""Keys checks: the keys file as the proxy parses it, the ledger, keys at their budget."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from callbacks import keys_file, limits
from callbacks.ledger import SqliteLedger
from llmops_kit.doctor import Status
from tests.unit.doctor.conftest import ContextFactory, run_check, set_line

ALICE_KEY = "sk-alice-" + "a" * 32
BOB_KEY = "sk-bob-" + "b" * 32


def _keys(env_path: Path, entries: list[dict]) -> Path:
    path = env_path.parent / "keys.yml"
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    set_line(env_path, "LLMOPS_KEYS_FILE", "keys.yml")
    return path


def test_an_invalid_entry_fails_naming_its_line_and_never_the_key(
    env_path: Path, make_context: ContextFactory
) -> None:
    _keys(env_path, [{"key": ALICE_KEY, "user": "alice", "rpm": "lots"},
                     {"key": BOB_KEY, "user": "bob"}])  # fmt: skip

    finding = run_check(make_context(), "keys.file")

    assert finding.status is Status.FAIL
    assert "line 3, 'rpm': must be a positive whole number" in finding.message
    assert ALICE_KEY not in finding.message + finding.fix


def test_a_valid_file_counts_keys_with_limits(env_path: Path, make_context: ContextFactory) -> None:
    _keys(env_path, [{"key": ALICE_KEY, "user": "alice", "budget_usd": 5},
                     {"key": BOB_KEY, "user": "bob"}])  # fmt: skip

    finding = run_check(make_context(), "keys.file")

    assert (finding.status, finding.message) == (
        Status.OK,
        "2 developer keys, 1 with limits, 0 teams with limits",
    )


def test_an_unreachable_ledger_fails_with_the_reason(
    env_path: Path, make_context: ContextFactory
) -> None:
    _keys(env_path, [{"key": ALICE_KEY, "user": "alice", "budget_usd": 5}])
    set_line(env_path, "LLMOPS_LEDGER_URL", "redis://127.0.0.1:9/0")

    finding = run_check(make_context(), "keys.ledger")

    assert finding.status is Status.FAIL
    assert "the Redis ledger cannot be reached (ConnectionError)" in finding.message


def test_a_key_at_its_budget_is_a_warning_naming_it(
    env_path: Path, make_context: ContextFactory, tmp_path: Path
) -> None:
    path = _keys(env_path, [{"key": ALICE_KEY, "user": "alice", "budget_usd": 5}])
    entry = keys_file.load_keys(path.read_text()).entries[keys_file.digest(ALICE_KEY)]
    now = time.time()
    [own] = limits.scopes_for(keys_file.digest(ALICE_KEY), entry, now, limits.zone_from(""))
    SqliteLedger(tmp_path / "ledger").settle([own.scope], "h", 4_600_000, 0, now)
    ctx = make_context(native=True, environ={"LLMOPS_LEDGER_DIR": str(tmp_path / "ledger")})

    assert run_check(ctx, "keys.ledger").status is Status.OK
    finding = run_check(ctx, "keys.budgets")

    assert finding.status is Status.WARN
    assert finding.message == "at or near the budget: the key of alice: $4.60 of $5.00"
