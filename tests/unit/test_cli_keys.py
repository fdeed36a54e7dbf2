"""`keys list|add|revoke|rotate|set` and `keys team set|list|remove`: exact output in an
isolated environment, the keys file checked as the proxy parses it (comments kept), spend read
from the ledger the proxy writes."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from callbacks import keys_file, limits
from callbacks.ledger import SqliteLedger
from llmops_kit import cli, settings
from llmops_kit.commands import keys as keys_command
from tests.unit.cli_harness import SERVICES, Kit, make_kit, ps_line

ALICE_KEY = "sk-alice-" + "a" * 28 + "a1b2"
BOB_KEY = "sk-bob-" + "b" * 28 + "c3d4"


LIST_OUTPUT = """\
Keys in keys/keys.yml (spent: this budget period; req/min: this minute)
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━┓
┃ user              ┃ team     ┃ key      ┃ limits            ┃ spent  ┃ req/min ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━┩
│ alice@example.com │ platform │ sk-…a1b2 │ $50/month, 60 rpm │ $12.34 │ 1       │
│ bob@example.com   │ -        │ sk-…c3d4 │ no limits         │ -      │ -       │
└───────────────────┴──────────┴──────────┴───────────────────┴────────┴─────────┘
"""


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kit:
    kit = make_kit(tmp_path, monkeypatch)
    settings.init_env(kit.env_file)
    kit.set(LLMOPS_KEYS_FILE="keys/keys.yml", LLMOPS_LEDGER_DIR=str(tmp_path / "ledger"))
    return kit


def _keys_path(kit: Kit) -> Path:
    return kit.env_file.parent / "keys" / "keys.yml"


def _write(kit: Kit, document: object) -> None:
    _keys_path(kit).parent.mkdir(exist_ok=True)
    _keys_path(kit).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def _document(kit: Kit) -> object:
    return yaml.safe_load(_keys_path(kit).read_text(encoding="utf-8"))


def test_add_generates_a_key_prints_it_once_and_writes_the_file_0600(kit: Kit) -> None:
    outcome = kit.run(
        "keys", "add", "carol@example.com", "--team", "platform", "--budget", "50/month",
        "--rpm", "60", "--models", "claude-sonnet-4-6,claude-haiku-4-5",
    )  # fmt: skip

    key = outcome.stdout.strip()
    assert outcome.code == 0
    assert key.startswith("sk-") and len(key) == 51
    assert outcome.stderr == (
        "OK added a key for carol@example.com to keys/keys.yml; give it to them now, it is not "
        "shown again\n"
    )
    assert _document(kit) == [
        {
            "key": key,
            "user": "carol@example.com",
            "budget_usd": 50.0,
            "budget_period": "month",
            "rpm": 60,
            "models": ["claude-sonnet-4-6", "claude-haiku-4-5"],
            "team": "platform",
        }
    ]
    assert _keys_path(kit).stat().st_mode & 0o777 == 0o600


def test_add_refuses_a_bad_budget_and_writes_nothing(kit: Kit) -> None:
    outcome = kit.run("keys", "add", "carol@example.com", "--budget", "lots")

    assert outcome.code == 1
    assert outcome.stdout == ""
    assert outcome.stderr == (
        "Error: --budget lots: expected AMOUNT or AMOUNT/PERIOD\n"
        "  fix: For example --budget 50/month, --budget 5/day; none removes it.\n"
    )
    assert not _keys_path(kit).exists()


def test_list_shows_masked_keys_limits_and_spend_this_period(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        kit,
        {
            "teams": {"platform": {"budget_usd": 500}},
            "keys": [
                {"key": ALICE_KEY, "user": "alice@example.com", "team": "platform",
                 "budget_usd": 50, "rpm": 60},
                {"key": BOB_KEY, "user": "bob@example.com"},
            ],
        },
    )  # fmt: skip
    entry = keys_file.load_keys(_keys_path(kit).read_text()).entries[keys_file.digest(ALICE_KEY)]
    now = time.time()
    [own, _team] = limits.scopes_for(keys_file.digest(ALICE_KEY), entry, now, limits.zone_from(""))
    ledger = SqliteLedger(tmp_path / "ledger")
    ledger.admit([own.scope], "h1", 0, now, now + 60)
    ledger.settle([own.scope], "h1", 12_340_000, 10, now)
    # The same clock for `keys list`: "this minute" must not end between admit and list.
    monkeypatch.setattr(keys_command, "time", SimpleNamespace(time=lambda: now))

    outcome = kit.run("keys", "list")

    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout == LIST_OUTPUT


def test_revoke_removes_the_key_the_proxy_then_refuses(kit: Kit) -> None:
    _write(kit, [{"key": ALICE_KEY, "user": "alice@example.com"},
                 {"key": BOB_KEY, "user": "bob@example.com"}])  # fmt: skip

    outcome = kit.run("keys", "revoke", "…a1b2")

    assert outcome.code == 0
    assert outcome.stderr == "OK revoked the key …a1b2 of alice@example.com\n"
    assert _document(kit) == [{"key": BOB_KEY, "user": "bob@example.com"}]


def test_rotate_replaces_the_key_and_keeps_the_rest(kit: Kit) -> None:
    _write(kit, [{"key": ALICE_KEY, "user": "alice@example.com", "rpm": 5}])

    outcome = kit.run("keys", "rotate", "alice@example.com")

    new = outcome.stdout.strip()
    assert outcome.code == 0 and new != ALICE_KEY and new.startswith("sk-")
    assert outcome.stderr == (
        "OK replaced the key …a1b2 of alice@example.com; the old key is refused from now on. "
        "The new key is not shown again\n"
    )
    assert _document(kit) == [{"key": new, "user": "alice@example.com", "rpm": 5}]


def test_set_changes_and_removes_limits(kit: Kit) -> None:
    _write(kit, [{"key": ALICE_KEY, "user": "alice@example.com", "rpm": 5, "budget_usd": 9}])

    outcome = kit.run("keys", "set", "alice@example.com", "--budget", "5/day", "--rpm", "none")

    assert outcome.code == 0
    assert outcome.stderr == "OK changed the key …a1b2 of alice@example.com: $5/day\n"
    assert _document(kit) == [
        {"key": ALICE_KEY, "user": "alice@example.com", "budget_usd": 5.0, "budget_period": "day"}
    ]


def test_ambiguous_selector_is_refused_naming_how_to_pick_one(kit: Kit) -> None:
    _write(kit, [{"key": ALICE_KEY, "user": "alice@example.com"},
                 {"key": BOB_KEY, "user": "alice@example.com", "alias": "ci"}])  # fmt: skip

    outcome = kit.run("keys", "revoke", "alice@example.com")

    assert outcome.code == 1
    assert outcome.stderr == (
        "Error: 2 keys of keys/keys.yml match 'alice@example.com'\n"
        "  fix: Name one key by its alias, its user, or …<last 4 characters> (`keys list`).\n"
    )
    assert len(_document(kit)) == 2


def test_a_change_the_proxy_would_refuse_is_not_written(kit: Kit) -> None:
    _write(kit, [{"key": ALICE_KEY, "user": "alice@example.com"}])

    outcome = kit.run("keys", "set", "alice@example.com", "--expires", "someday")

    assert outcome.code == 1
    assert outcome.stderr.startswith("Error: keys/keys.yml, line 3, 'expires': must be an ISO date")
    assert _document(kit) == [{"key": ALICE_KEY, "user": "alice@example.com"}]


def test_keys_help_lists_the_commands(kit: Kit) -> None:
    outcome = CliRunner().invoke(cli.app, ["keys", "--help"])

    commands = [line.split()[1] for line in outcome.stdout.splitlines() if line.startswith("│ ")]
    assert outcome.exit_code == 0
    assert commands[-6:] == ["list", "add", "revoke", "rotate", "set", "team"], outcome.stdout
    team = CliRunner().invoke(cli.app, ["keys", "team", "--help"])
    commands = [line.split()[1] for line in team.stdout.splitlines() if line.startswith("│ ")]
    assert commands[-3:] == ["set", "list", "remove"], team.stdout


def test_status_names_the_keys_at_or_near_their_budget(kit: Kit, tmp_path: Path) -> None:
    _write(kit, [{"key": ALICE_KEY, "user": "alice@example.com", "budget_usd": 10},
                 {"key": BOB_KEY, "user": "bob@example.com", "budget_usd": 10}])  # fmt: skip
    entry = keys_file.load_keys(_keys_path(kit).read_text()).entries[keys_file.digest(ALICE_KEY)]
    now = time.time()
    [own] = limits.scopes_for(keys_file.digest(ALICE_KEY), entry, now, limits.zone_from(""))
    SqliteLedger(tmp_path / "ledger").settle([own.scope], "h", 9_500_000, 0, now)
    kit.set(COMPOSE_PROJECT_NAME="kit")
    kit.docker.reply("compose", "config", "--services", stdout="\n".join(SERVICES) + "\n")
    kit.docker.reply("compose", "ps", stdout="\n".join(ps_line(s) for s in SERVICES) + "\n")
    kit.docker.reply("compose", "exec", "litellm", stdout='{"backlog_spans": 0}\n')

    outcome = kit.run("status")

    assert outcome.code == 0
    assert outcome.stderr.splitlines()[-1] == (
        "budgets: at or near the budget: the key of alice@example.com: $9.50 of $10.00"
    )


COMMENTED = f"""\
# Developer keys of the platform. Ask #llm-gateway before raising a budget.
teams:
  platform:  # shared by the platform team
    budget_usd: 500
keys:
  # Alice, laptop
  - key: {ALICE_KEY}
    user: alice@example.com
    team: platform
    rpm: 60  # raised for the migration
  # Bob, CI runner
  - key: {BOB_KEY}
    user: bob@example.com
# end of the keys
"""


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def _loads(kit: Kit) -> keys_file.KeysDocument:
    """The file as the proxy loads it; none of its entries refused."""
    master = kit.settings()["LITELLM_MASTER_KEY"]
    parsed = keys_file.load_keys(_keys_path(kit).read_text(), master_key=master)
    assert parsed.problems == []
    return parsed


def test_a_commented_keys_file_keeps_its_comments_through_every_keys_command(
    kit: Kit,
) -> None:
    _keys_path(kit).parent.mkdir()
    _keys_path(kit).write_text(COMMENTED, encoding="utf-8")
    comments = _comments(COMMENTED)

    carol = kit.run("keys", "add", "carol@example.com", "--rpm", "10").stdout.strip()
    assert _comments(_keys_path(kit).read_text()) == comments
    assert len(_loads(kit).entries) == 3

    assert kit.run("keys", "set", "alice@example.com", "--budget", "50/month").code == 0
    text = _keys_path(kit).read_text()
    assert _comments(text) == comments
    assert "    rpm: 60  # raised for the migration\n    budget_usd: 50.0\n" in text

    assert kit.run("keys", "rotate", "bob@example.com").code == 0
    assert _comments(_keys_path(kit).read_text()) == comments

    outcome = kit.run("keys", "revoke", "carol@example.com")
    assert outcome.code == 0 and "WARN" not in outcome.stderr
    text = _keys_path(kit).read_text()
    assert _comments(text) == comments
    assert text.startswith(COMMENTED.split("  - key:")[0])
    assert text.endswith("# end of the keys\n")
    assert keys_file.digest(carol) not in _loads(kit).entries

    assert kit.run("keys", "team", "set", "platform", "--rpm", "100").code == 0
    text = _keys_path(kit).read_text()
    assert _comments(text) == comments
    assert "  platform:  # shared by the platform team\n    budget_usd: 500\n    rpm: 100\n" in text
    assert _loads(kit).entries[keys_file.digest(ALICE_KEY)].team_limits.rpm == 100
    assert _keys_path(kit).stat().st_mode & 0o777 == 0o600


TEAMS_OUTPUT = """\
Teams in keys/keys.yml (spent: this budget period; req/min: this minute)
┏━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━┳━━━━━━━━━┓
┃ team     ┃ limits                                       ┃ keys ┃ spent ┃ req/min ┃
┡━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━━━━┩
│ platform │ $50/month, 100 rpm, models claude-sonnet-4-6 │ 1    │ $0.00 │ 0       │
│ research │ 2000 tpm                                     │ 0    │ -     │ -       │
└──────────┴──────────────────────────────────────────────┴──────┴───────┴─────────┘
"""


def test_team_set_adds_and_changes_a_teams_limits_that_the_proxy_applies(kit: Kit) -> None:
    _write(kit, [{"key": ALICE_KEY, "user": "alice@example.com", "team": "platform"}])

    outcome = kit.run(
        "keys", "team", "set", "platform", "--budget", "50/month", "--rpm", "100",
        "--models", "claude-sonnet-4-6",
    )  # fmt: skip

    assert outcome.code == 0, outcome.stderr
    assert outcome.stderr == (
        "OK added the team platform in keys/keys.yml: $50/month, 100 rpm, models "
        "claude-sonnet-4-6\n"
    )
    assert _document(kit) == {
        "teams": {
            "platform": {
                "budget_usd": 50.0,
                "budget_period": "month",
                "rpm": 100,
                "models": ["claude-sonnet-4-6"],
            }
        },
        "keys": [{"key": ALICE_KEY, "user": "alice@example.com", "team": "platform"}],
    }
    assert _keys_path(kit).stat().st_mode & 0o777 == 0o600
    alice = _loads(kit).entries[keys_file.digest(ALICE_KEY)]
    assert alice.team_limits.budget_usd == 50.0 and alice.team_limits.rpm == 100

    assert kit.run("keys", "team", "set", "research", "--tpm", "2000").code == 0
    listed = kit.run("keys", "team", "list")
    assert listed.code == 0, listed.stderr
    assert listed.stdout == TEAMS_OUTPUT

    changed = kit.run("keys", "team", "set", "platform", "--rpm", "none", "--models", "none")
    assert changed.stderr == "OK changed the team platform in keys/keys.yml: $50/month\n"
    assert _document(kit)["teams"]["platform"] == {"budget_usd": 50.0, "budget_period": "month"}


def test_team_remove_is_refused_while_a_key_names_the_team(kit: Kit) -> None:
    _write(
        kit,
        {
            "teams": {"platform": {"budget_usd": 500}, "research": {"rpm": 5}},
            "keys": [{"key": ALICE_KEY, "user": "alice@example.com", "team": "platform"}],
        },
    )

    refused = kit.run("keys", "team", "remove", "platform")
    assert refused.code == 1
    assert refused.stderr == (
        "Error: team platform still has 1 key(s): alice@example.com\n"
        "  fix: Move them first (`keys set USER --team OTHER`, or `--team none`) or revoke "
        "them; nothing was written.\n"
    )
    assert set(_document(kit)["teams"]) == {"platform", "research"}

    removed = kit.run("keys", "team", "remove", "research")
    assert removed.code == 0
    assert removed.stderr == "OK removed the team research from keys/keys.yml\n"
    assert _document(kit)["teams"] == {"platform": {"budget_usd": 500}}
    unknown = kit.run("keys", "team", "remove", "research")
    assert unknown.stderr.startswith("Error: keys/keys.yml has no team 'research'\n")
