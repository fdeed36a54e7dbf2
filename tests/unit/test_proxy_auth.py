"""callbacks/auth.py: who a key belongs to, loaded by file path as LiteLLM loads it."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from llmops_kit.litellm_config import callbacks_module
from llmops_kit.settings import REPO_ROOT

MASTER_KEY = "sk-master-" + "m" * 32
ALICE_KEY = "sk-alice-" + "a" * 32
BOB_KEY = "sk-bob-" + "b" * 32
ALICE = {"key": ALICE_KEY, "user": "alice@example.com", "team": "platform", "alias": "laptop"}


@pytest.fixture(scope="module")
def auth() -> ModuleType:
    return callbacks_module("auth")


def _keys_file(tmp_path: Path, entries: list[dict[str, str]]) -> Path:
    path = tmp_path / "keys.yml"
    path.write_text(yaml.safe_dump(entries), encoding="utf-8")
    return path


def _authenticator(auth: ModuleType, keys_file: Path | None) -> object:
    environ = {"LITELLM_MASTER_KEY": MASTER_KEY}
    if keys_file is not None:
        environ["LLMOPS_KEYS_FILE"] = str(keys_file)
    return auth.Authenticator.from_environ(environ)


def _refusal(auth: ModuleType, authenticator: object, key: str | None) -> str:
    with pytest.raises(auth.ProxyException) as refused:
        authenticator.authenticate(key)
    assert refused.value.code == "401"
    return refused.value.message


def test_master_key_is_the_proxy_admin(auth: ModuleType) -> None:
    identity = _authenticator(auth, None).authenticate(MASTER_KEY)

    assert identity.user_role == auth.LitellmUserRoles.PROXY_ADMIN
    assert identity.key_alias == "master-key"
    assert MASTER_KEY not in identity.model_dump_json()


def test_developer_key_carries_user_team_and_alias(auth: ModuleType, tmp_path: Path) -> None:
    identity = _authenticator(auth, _keys_file(tmp_path, [ALICE])).authenticate(ALICE_KEY)

    assert (identity.user_id, identity.team_id, identity.key_alias) == (
        "alice@example.com",
        "platform",
        "laptop",
    )
    assert identity.user_role == auth.LitellmUserRoles.INTERNAL_USER


def test_developer_key_is_hashed_before_litellm_sees_it(auth: ModuleType, tmp_path: Path) -> None:
    identity = _authenticator(auth, _keys_file(tmp_path, [ALICE])).authenticate(ALICE_KEY)

    assert ALICE_KEY not in identity.model_dump_json()


def test_alias_defaults_to_the_user(auth: ModuleType, tmp_path: Path) -> None:
    entry = {"key": BOB_KEY, "user": "bob@example.com"}

    identity = _authenticator(auth, _keys_file(tmp_path, [entry])).authenticate(BOB_KEY)

    assert (identity.key_alias, identity.team_id) == ("bob@example.com", None)


def test_missing_key_is_refused_saying_how_to_send_one(auth: ModuleType) -> None:
    message = _refusal(auth, _authenticator(auth, None), "")

    assert "Authorization: Bearer" in message and "x-api-key" in message


def test_unknown_key_is_refused_showing_only_its_last_four_characters(
    auth: ModuleType, tmp_path: Path
) -> None:
    message = _refusal(auth, _authenticator(auth, _keys_file(tmp_path, [ALICE])), BOB_KEY)

    assert "sk-…bbbb" in message
    assert BOB_KEY not in message


def test_without_a_master_key_configured_an_unknown_key_is_refused(
    auth: ModuleType,
) -> None:
    authenticator = auth.Authenticator("", auth.KeysFile(None))

    _refusal(auth, authenticator, "sk-" + "x" * 20)


def test_key_added_to_the_file_works_without_a_restart(auth: ModuleType, tmp_path: Path) -> None:
    keys_file = _keys_file(tmp_path, [ALICE])
    authenticator = _authenticator(auth, keys_file)
    authenticator.authenticate(ALICE_KEY)

    _keys_file(tmp_path, [ALICE, {"key": BOB_KEY, "user": "bob@example.com"}])
    os.utime(keys_file, ns=(0, 10**18))

    assert authenticator.authenticate(BOB_KEY).user_id == "bob@example.com"


def test_edit_that_breaks_the_yaml_keeps_only_the_keys_it_still_lists(
    auth: ModuleType, tmp_path: Path
) -> None:
    bob = {"key": BOB_KEY, "user": "bob@example.com"}
    keys_file = _keys_file(tmp_path, [ALICE, bob])
    authenticator = _authenticator(auth, keys_file)
    authenticator.authenticate(BOB_KEY)

    keys_file.write_text(f"- key: {ALICE_KEY}\n  user: [unclosed\n", encoding="utf-8")
    os.utime(keys_file, ns=(0, 10**18))

    assert authenticator.authenticate(ALICE_KEY).user_id == "alice@example.com"
    _refusal(auth, authenticator, BOB_KEY)


def test_deleting_the_file_revokes_its_keys(auth: ModuleType, tmp_path: Path) -> None:
    keys_file = _keys_file(tmp_path, [ALICE])
    authenticator = _authenticator(auth, keys_file)
    authenticator.authenticate(ALICE_KEY)

    keys_file.unlink()

    _refusal(auth, authenticator, ALICE_KEY)


def test_litellm_hook_is_an_async_function_of_request_and_key(auth: ModuleType) -> None:
    with pytest.raises(auth.ProxyException):
        asyncio.run(auth.user_api_key_auth(request=None, api_key="sk-" + "z" * 20))


def test_json_keys_file_is_read_like_yaml(auth: ModuleType) -> None:
    entries = auth.parse_keys(json.dumps([ALICE]))

    assert [entry.user for entry in entries.values()] == ["alice@example.com"]


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ({"key": ALICE_KEY}, "unknown section(s) key; allowed: keys, teams"),
        (["sk-just-a-string"], "line 1: expected a mapping"),
        ([{"key": ALICE_KEY}], "line 1: 'user' is required"),
        ([{"key": "pk-" + "a" * 30, "user": "a"}], "line 1, 'key': must be a string starting"),
        ([{"key": "sk-short", "user": "a"}], "line 1, 'key': too short"),
        ([{"key": "sk-replace-me-with-a-random-key", "user": "a"}], "still the example key"),
        ([{"key": ALICE_KEY, "user": "a", "role": "admin"}], "unknown field(s) role"),
        ([ALICE, {"key": ALICE_KEY, "user": "b"}], "lines 1, 5: the same key for a"),
        ([{"key": MASTER_KEY, "user": "a"}], "line 1: reuses the master key"),
        ([{"key": ALICE_KEY, "user": " "}], "line 2, 'user': must be a non-empty string"),
    ],
)
def test_unusable_keys_file_names_the_entry_and_never_the_key(
    auth: ModuleType, entries: object, problem: str
) -> None:
    with pytest.raises(auth.KeysFileError) as rejected:
        auth.parse_keys(yaml.safe_dump(entries), master_key=MASTER_KEY)

    assert problem in str(rejected.value)
    assert ALICE_KEY not in str(rejected.value) and MASTER_KEY not in str(rejected.value)


def test_example_keys_file_documents_the_format_but_its_keys_are_refused(
    auth: ModuleType,
) -> None:
    example = (REPO_ROOT / "keys.example.yml").read_text(encoding="utf-8")

    with pytest.raises(auth.KeysFileError, match="'key': still the example key"):
        auth.parse_keys(example)


def test_forwards_users_is_exposed_in_the_key_metadata(auth: ModuleType, tmp_path: Path) -> None:
    front_end = {**ALICE, "forwards_users": True}

    identity = _authenticator(auth, _keys_file(tmp_path, [front_end])).authenticate(ALICE_KEY)

    assert identity.metadata == {"forwards_users": True}


def test_keys_without_limits_are_admitted_without_the_ledger(
    auth: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_authenticator", _authenticator(auth, _keys_file(tmp_path, [ALICE])))
    monkeypatch.setattr(auth.budget_runtime, "gate", _no_ledger)

    identity = asyncio.run(auth.user_api_key_auth(request=None, api_key=ALICE_KEY))

    assert identity.user_id == "alice@example.com"


def _no_ledger() -> None:
    raise AssertionError("a key without limits reached the ledger")
