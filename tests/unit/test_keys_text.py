"""Line-preserving edits of the keys file: the layouts people write (block entries, `{...}`
entries as in the README, a plain list) keep their comments, and read back as intended."""

from __future__ import annotations

from pathlib import Path

import yaml

from callbacks import keys_file
from llmops_kit import developer_keys, keys_text

ALICE = "sk-alice-" + "a" * 28 + "a1b2"
BOB = "sk-bob-" + "b" * 28 + "c3d4"

FLOW = f"""\
# as in the README
teams:
  platform: {{budget_usd: 500, budget_period: month}}  # the platform team
keys:
  - {{key: {ALICE}, user: alice@example.com, team: platform, budget_usd: 50, rpm: 60,
     models: [claude-sonnet-4-6, claude-haiku-4-5]}}   # alice, laptop
  - {{key: {BOB}, user: bob@example.com, expires: 2027-06-30}}
"""


def test_a_flow_entry_is_rewritten_on_its_own_lines_and_keeps_the_comment_after_it() -> None:
    text = keys_text.replace_key(
        FLOW, 0, {"key": ALICE, "user": "alice@example.com", "team": "platform", "rpm": 5}
    )
    assert text.splitlines()[4] == (
        f"  - {{key: {ALICE}, user: alice@example.com, team: platform, rpm: 5}}   # alice, laptop"
    )
    assert text.splitlines()[:4] == FLOW.splitlines()[:4]
    assert text.splitlines()[5:] == FLOW.splitlines()[6:]


def test_a_flow_team_keeps_its_style_and_its_comment() -> None:
    text = keys_text.set_team(FLOW, "platform", {"budget_usd": 9})
    assert text.splitlines()[2] == "  platform: {budget_usd: 9}  # the platform team"


def test_a_plain_list_becomes_teams_and_keys_below_its_header_comment() -> None:
    plain = f"# our keys\n- key: {ALICE}\n  user: alice@example.com  # laptop\n"
    text = keys_text.set_team(plain, "platform", {"rpm": 10})
    assert text == (
        "# our keys\nteams:\n  platform:\n    rpm: 10\nkeys:\n"
        f"- key: {ALICE}\n  user: alice@example.com  # laptop\n"
    )
    assert keys_file.load_keys(text).entries[keys_file.digest(ALICE)].team is None


def test_revoking_the_last_key_leaves_an_empty_list_the_proxy_reads() -> None:
    text = keys_text.remove_key(f"keys:  # none left soon\n  - key: {ALICE}\n    user: a\n", 0)
    assert text == "keys:  # none left soon\n  []\n"
    assert keys_file.load_keys(text).entries == {}


def test_a_layout_the_edits_do_not_handle_is_dumped_whole_and_said_so(tmp_path: Path) -> None:
    path = tmp_path / "keys.yml"
    path.write_text(f"- {{key: {ALICE},  # laptop\n   user: alice@example.com}}\n")
    doc = developer_keys.read(path)
    doc.replace_key(0, {"key": ALICE, "user": "alice@example.com", "rpm": 5})
    assert doc.comments_lost
    assert yaml.safe_load(doc.dump()) == [{"key": ALICE, "user": "alice@example.com", "rpm": 5}]


def test_the_shipped_example_keeps_every_comment_through_each_kind_of_edit(
    tmp_path: Path,
) -> None:
    example = Path(__file__).resolve().parents[2] / "keys.example.yml"
    path = tmp_path / "keys.yml"
    random_keys = example.read_text(encoding="utf-8").replace(
        "replace-me-with-a-random-key", "0" * 24
    )
    path.write_text(random_keys, encoding="utf-8")
    doc = developer_keys.read(path)
    comments = [line for line in doc.text.splitlines() if line.lstrip().startswith("#")]
    doc.add_key({"key": "sk-carol-" + "c" * 32, "user": "carol@example.com", "rpm": 5})
    doc.set_team("platform", {"budget_usd": 900.0})
    doc.set_team("research", {"tpm": 2000})
    changed = {**doc.keys[0], "rpm": 7, "models": ["claude-sonnet-5-5"]}
    doc.replace_key(0, changed)
    doc.remove_key(1)
    assert not doc.comments_lost
    assert [line for line in doc.text.splitlines() if line.lstrip().startswith("#")] == comments
    assert "\n\n\n" not in doc.text
    parsed = keys_file.load_keys(doc.text)
    assert parsed.problems == []
    assert [e.user for e in parsed.entries.values()] == [
        "alice@example.com",
        "open-webui@example.com",
        "carol@example.com",
    ]
    assert parsed.teams["research"].tpm == 2000
