"""Redaction: no planted secret survives, each placeholder names its kind, code is left alone."""

from __future__ import annotations

import copy
import json
import random
import re
from collections import Counter
from typing import Any

import pydantic
import pytest

from callbacks.redaction import (
    ALLOW_VARIABLE,
    EXTRA_PATTERNS_VARIABLE,
    RedactionConfigError,
    Redactor,
)
from callbacks.redaction.catalog import builtin_kinds
from callbacks.redaction.triggers import TriggerScanner
from tests.unit.callbacks.corpus.documents import (
    PlantedDocument,
    ordinary_source_files,
    planted_documents,
    secret_fragments,
)

DOCUMENTS = planted_documents()
PLACEHOLDER = re.compile(r"\[REDACTED:([a-z0-9_]+)\]")


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor.from_env({})


def cline_conversation(document: str) -> dict[str, Any]:
    """A request and its response with `document` in five places: pasted by the user, written
    by a tool call (JSON arguments), returned by an OpenAI tool result (JSON text) and an
    Anthropic one (content blocks), and quoted in the model's answer."""
    return {
        "messages": [
            {"role": "system", "content": "You are Cline, a highly skilled software engineer."},
            {
                "role": "user",
                "content": [{"type": "text", "text": f"<task>\nFix this:\n{document}\n</task>"}],
            },
            {
                "role": "assistant",
                "content": "I will write the file.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "write_to_file",
                            "arguments": json.dumps({"path": "config", "content": document}),
                        },
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": json.dumps({"path": "config", "content": document, "written": True}),
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": document}],
                    }
                ],
            },
        ],
        "response": {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": document},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 300},
        },
    }


PLACES_IN_A_CONVERSATION = 5


def survivors(document: PlantedDocument, redacted: str) -> list[tuple[str, str]]:
    """The planted secrets still (partly) readable in `redacted`, shortened for the report."""
    return [
        (kind, fragment[:12] + "...")
        for kind, value in document.secrets
        for fragment in secret_fragments(value)
        if fragment in redacted
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_no_planted_secret_survives_anywhere_in_a_conversation(
    redactor: Redactor, document: PlantedDocument
) -> None:
    redacted = json.dumps(redactor.redact(cline_conversation(document.text)).value)

    assert survivors(document, redacted) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_each_placeholder_names_the_kind_of_the_secret_it_replaces(
    redactor: Redactor, document: PlantedDocument
) -> None:
    redacted = redactor.redact_text(document.text)

    assert Counter(PLACEHOLDER.findall(redacted)) == document.expected_counts


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_counts_report_every_secret_of_a_conversation_by_kind(
    redactor: Redactor, document: PlantedDocument
) -> None:
    counts = redactor.redact(cline_conversation(document.text)).counts

    expected = {kind: n * PLACES_IN_A_CONVERSATION for kind, n in document.expected_counts.items()}
    assert counts == expected


@pytest.mark.parametrize("seed", range(20))
def test_no_secret_survives_other_draws_of_random_values(redactor: Redactor, seed: int) -> None:
    """Values are random: other draws put other characters next to names and delimiters."""
    for document in planted_documents(seed):
        plain = redactor.redact_text(document.text)
        encoded = redactor.redact_text(json.dumps({"content": document.text}))

        assert survivors(document, plain) == [], document.name
        escaped = [
            kind
            for kind, value in document.secrets
            for fragment in secret_fragments(value)
            if json.dumps(fragment)[1:-1] in encoded
        ]
        assert escaped == [], document.name


def test_the_corpus_plants_every_kind_the_redactor_promises() -> None:
    planted = {kind for document in DOCUMENTS for kind, _ in document.secrets}

    assert builtin_kinds() - planted == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "psql postgresql://admin:hunter2-2026@10.0.0.5:5432/orders",
            "psql postgresql://admin:[REDACTED:url_password]@10.0.0.5:5432/orders",
        ),
        ("redis://:s3cret-pw@cache:6379", "redis://:[REDACTED:url_password]@cache:6379"),
        ("DB_PASSWORD=hunter2\nDB_USER=app", "DB_PASSWORD=[REDACTED:password]\nDB_USER=app"),
        (
            '{"password": "hunter2", "user": "app"}',
            '{"password": "[REDACTED:password]", "user": "app"}',
        ),
        ("password: correct-horse-42\nuser: app", "password: [REDACTED:password]\nuser: app"),
        (
            "https://hooks.slack.com/services/T0000AAAA/B0000BBBB/abcdefghijklmnopqrstuvwx",
            "https://hooks.slack.com/services/[REDACTED:slack_webhook_url]",
        ),
        ("Authorization: Bearer abc123def456ghi", "Authorization: Bearer [REDACTED:bearer_token]"),
        (
            "Server=sql1;User Id=app;Password=CorrectHorse;Database=orders",
            "Server=sql1;User Id=app;Password=[REDACTED:password];Database=orders",
        ),
        (
            'Server=sql1;Password="p;ss w0rd";Encrypt=True',
            'Server=sql1;Password="[REDACTED:password]";Encrypt=True',
        ),
        ("curl -u deploy:s3cret-pw https://ci", "curl -u deploy:[REDACTED:password] https://ci"),
        ("redis-cli -h cache -a s3cretpw ping", "redis-cli -h cache -a [REDACTED:password] ping"),
        ('redis-cli -a "pa ss;w0rd" ping', 'redis-cli -a "[REDACTED:password]" ping'),
        ("mysql -p'p@ss;w0rd' shop; ls -a", "mysql -p'[REDACTED:password]' shop; ls -a"),
        ('{"auth": "cm9ib3Q6aHVudGVyMg=="}', '{"auth": "[REDACTED:basic_auth]"}'),
        (
            "./deploy --api-key abc123xyz --env prod",
            "./deploy --api-key [REDACTED:api_key] --env prod",
        ),
    ],
)
def test_what_is_not_secret_stays_readable(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "MAX_TOKENS=4096",
        "password = getpass.getpass('Password: ')",
        "token = tokens[0]",
        "    password: str",
        "api_key: os.environ/OPENAI_API_KEY",
        'api_key: "${OPENAI_API_KEY}"',
        "the bearer of bad news",
        "see task-management-dashboard-component-v2 for details",
        'headers = {"Authorization": f"Bearer {token}"}',
        "LANGFUSE_PUBLIC_KEY=pk-lf-1234567890abcdef",
        "  --token TOKEN         the API token (default: $API_TOKEN)",
        "use the --password option to set it",
        '{"auth": "basic", "type": "oauth2"}',
        "def login(self, user=None, password=None, usenetrc=True):",
        "docker run -p 8080:80 -u 1000:1000 app",
        "git push -u origin main && curl -u $USER:$PASS https://ci",
        "the message key-value store; msg.SG.split()",
    ],
)
def test_code_and_prose_that_only_mention_secrets_are_kept(redactor: Redactor, text: str) -> None:
    assert redactor.redact_text(text) == text


def test_a_private_key_cut_off_before_its_end_line_is_redacted_to_the_end(
    redactor: Redactor,
) -> None:
    text = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\nbm9u"

    assert redactor.redact_text(text) == "key:\n[REDACTED:pem_private_key]"


def test_overlapping_findings_become_one_placeholder(redactor: Redactor) -> None:
    token = "ghs_" + "A1b2C3d4E5" * 4
    redacted = redactor.redact(f"git clone https://x-access-token:{token}@github.com/acme/app")

    assert redacted == (
        "git clone https://x-access-token:[REDACTED:github_token]@github.com/acme/app",
        {"github_token": 1},
    )


def test_the_copy_keeps_the_shape_and_the_input_is_not_changed(redactor: Redactor) -> None:
    value = {
        "model": "claude-sonnet-4-6",
        "temperature": 0.2,
        "stream": True,
        "stop": None,
        "max_tokens": 4096,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "key AKIAABCDEFGHIJKLMNOP"}]},
            {"role": "assistant", "content": ("a", "b")},
        ],
        "metadata": {"tags": ["cline", "prod"], "nested": [[1, [2, ["DB_PASSWORD=hunter2"]]]]},
    }
    original = copy.deepcopy(value)

    redacted = redactor.redact(value).value

    assert value == original
    assert redacted == {
        **original,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "key [REDACTED:aws_access_key_id]"}],
            },
            {"role": "assistant", "content": ["a", "b"]},
        ],
        "metadata": {
            "tags": ["cline", "prod"],
            "nested": [[1, [2, ["DB_PASSWORD=[REDACTED:password]"]]]],
        },
    }


def test_a_pydantic_model_is_redacted_as_its_fields(redactor: Redactor) -> None:
    class Message(pydantic.BaseModel):  # as LiteLLM's own response types are
        role: str
        content: str

    message = Message(role="assistant", content="the key is AKIAABCDEFGHIJKLMNOP")

    redacted = redactor.redact({"message": message}).value

    assert redacted["message"]["content"] == "the key is [REDACTED:aws_access_key_id]"
    assert redacted["message"]["role"] == "assistant"


def test_dict_keys_are_kept_as_they_are(redactor: Redactor) -> None:
    value = {"DB_PASSWORD=hunter2": "x"}

    assert redactor.redact(value).value == value


def test_tool_call_arguments_are_redacted_inside_and_stay_valid_json(redactor: Redactor) -> None:
    arguments = json.dumps({"command": "export GITHUB_TOKEN=ghp_" + "x1Y2z3" * 6, "cwd": "/app"})
    call = {"function": {"name": "execute_command", "arguments": arguments}}

    redacted = redactor.redact(call).value

    assert json.loads(redacted["function"]["arguments"]) == {
        "command": "export GITHUB_TOKEN=[REDACTED:github_token]",
        "cwd": "/app",
    }


def test_tool_call_arguments_without_a_secret_are_returned_unchanged(redactor: Redactor) -> None:
    arguments = '{"path":  "src/app.py",\n "content": "print(1)"}'

    redacted = redactor.redact({"arguments": arguments}).value

    assert redacted["arguments"] == arguments  # not decoded and encoded again


def test_extra_patterns_from_the_environment_are_redacted_with_their_kind() -> None:
    redactor = Redactor.from_env(
        {
            EXTRA_PATTERNS_VARIABLE: json.dumps(
                [r"EMP-\d{6}", {"kind": "ticket", "pattern": r"TICKET-(?P<secret>\d+)"}]
            )
        }
    )

    redacted = redactor.redact("employee EMP-123456 filed TICKET-9876")

    assert redacted == (
        "employee [REDACTED:custom] filed TICKET-[REDACTED:ticket]",
        {"custom": 1, "ticket": 1},
    )


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        (EXTRA_PATTERNS_VARIABLE, "EMP-\\d+"),
        (EXTRA_PATTERNS_VARIABLE, '["EMP-(\\\\d+"]'),
        (EXTRA_PATTERNS_VARIABLE, '[{"kind": "Bad Kind", "pattern": "x"}]'),
        (ALLOW_VARIABLE, '{"not": "a list"}'),
        (ALLOW_VARIABLE, "[1, 2]"),
    ],
)
def test_an_unusable_setting_is_refused_naming_its_variable(variable: str, raw: str) -> None:
    with pytest.raises(RedactionConfigError, match=variable):
        Redactor.from_env({variable: raw})


def test_allow_listed_strings_are_never_redacted() -> None:
    redactor = Redactor.from_env({ALLOW_VARIABLE: '["AKIAIOSFODNN7EXAMPLE"]'})

    redacted = redactor.redact_text("docs use AKIAIOSFODNN7EXAMPLE, ours is AKIAABCDEFGHIJKLMNOP")

    assert redacted == "docs use AKIAIOSFODNN7EXAMPLE, ours is [REDACTED:aws_access_key_id]"


def test_secret_values_of_the_environment_are_redacted_wherever_they_appear() -> None:
    redactor = Redactor.from_env({"LITELLM_MASTER_KEY": "sk-1234abcd", "AWS_REGION": "us-east-1"})

    redacted = redactor.redact_text("curl -H 'x-api: sk-1234abcd' in us-east-1")

    assert redacted == "curl -H 'x-api: [REDACTED:litellm_master_key]' in us-east-1"


def test_a_value_nested_too_deeply_becomes_one_unscannable_placeholder(redactor: Redactor) -> None:
    value: list[Any] = ["DB_PASSWORD=hunter2"]
    for _ in range(10_000):
        value = [value]

    assert redactor.redact(value) == ("[REDACTED:unscannable]", {"unscannable": 1})


def test_an_object_that_cannot_be_read_makes_the_value_unscannable(redactor: Redactor) -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    assert redactor.redact({"a": Broken()}) == ("[REDACTED:unscannable]", {"unscannable": 1})


def test_a_string_that_cannot_be_scanned_is_replaced_and_the_others_are_kept(
    redactor: Redactor,
) -> None:
    class Unhashable(str):
        def __hash__(self) -> int:
            raise RuntimeError("cannot hash")

    broken = Unhashable("AKIAABCDEFGHIJKLMNOP " * 100)

    redacted = redactor.redact(["fine", broken, "key AKIAABCDEFGHIJKLMNOP"])

    assert redacted == (
        ["fine", "[REDACTED:unscannable]", "key [REDACTED:aws_access_key_id]"],
        {"unscannable": 1, "aws_access_key_id": 1},
    )


def test_text_made_of_triggers_is_replaced_whole(redactor: Redactor) -> None:
    assert redactor.redact("eyJ" * 30_000) == ("[REDACTED:unscannable]", {"unscannable": 1})


def test_every_value_on_a_long_line_is_redacted(redactor: Redactor) -> None:
    line = " ".join(f'secret="s3cret-value-{n:04}"' for n in range(2_000))

    redacted = redactor.redact(line)

    assert redacted.counts == {"secret": 2_000}
    assert "s3cret-value" not in redacted.value


def test_a_long_string_seen_again_is_redacted_the_same_way(redactor: Redactor) -> None:
    text = "x = 1\n" * 500 + "DB_PASSWORD=hunter2\n"

    first = redactor.redact([text])
    again = redactor.redact(["".join([text])])

    assert (
        again == first == (["x = 1\n" * 500 + "DB_PASSWORD=[REDACTED:password]\n"], {"password": 1})
    )


def test_the_trigger_scanner_finds_every_occurrence_a_naive_search_finds() -> None:
    """Lower-case triggers match in any case, the others exactly; overlaps are all found."""
    rng = random.Random(7)
    for _ in range(300):
        triggers = {"".join(rng.choices("abcA-", k=rng.randint(1, 4))) for _ in range(5)}
        text = "".join(rng.choices("abcABCxy-", k=200))

        found = sorted(TriggerScanner(triggers).find(text))

        naive = sorted(
            (i, trigger)
            for trigger in triggers
            for i in range(len(text))
            if (text[i : i + len(trigger)].lower() == trigger)
            or (not trigger.islower() and text.startswith(trigger, i))
        )
        assert found == naive


def test_ordinary_source_code_is_rarely_redacted(redactor: Redactor) -> None:
    files = ordinary_source_files()
    flagged = {
        path.name: counts
        for path in files
        if (counts := redactor.redact(path.read_text(encoding="utf-8", errors="replace")).counts)
    }

    rate = len(flagged) / len(files)
    print(f"\nfalse positives: {len(flagged)} of {len(files)} standard library files ({rate:.2%})")
    assert len(files) > 100
    assert rate < 0.01, flagged


# --- the JSON path: messages passed through as encoded unless they may hold a secret --------


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.name)
def test_no_planted_secret_survives_the_json_path_of_a_conversation(
    redactor: Redactor, document: PlantedDocument
) -> None:
    messages = cline_conversation(document.text)["messages"]

    texts, counts = redactor.redact_json(messages)

    assert survivors(document, "\n".join(texts)) == []
    assert counts == {kind: n * 4 for kind, n in document.expected_counts.items()}
    assert [json.loads(text) for text in texts] == redactor.redact(messages).value


def test_messages_without_a_trigger_pass_through_as_encoded(redactor: Redactor) -> None:
    messages = [
        {"role": "system", "content": "You are Cline."},
        {"role": "user", "content": [{"type": "text", "text": "Fix the settings loader."}]},
    ]

    texts, counts = redactor.redact_json(messages)

    assert [json.loads(text) for text in texts] == messages
    assert counts == {}


def test_a_secret_spelled_with_escapes_in_tool_call_arguments_is_found(
    redactor: Redactor,
) -> None:
    """The arguments are JSON text: `\\u0049` there is an I, so the key id is AKIAIOSF...,
    which only the walk (which decodes the arguments) sees: no trigger is written out."""
    arguments = '{"key": "AK\\u0049AIOSFODNN7EXAMPLE"}'
    message = {"role": "assistant", "tool_calls": [{"function": {"arguments": arguments}}]}

    texts, counts = redactor.redact_json([message])

    assert "OSFODNN7EXAMPLE" not in texts[0]
    assert counts == {"aws_access_key_id": 1}


def test_a_known_secret_with_quotes_is_found_in_tool_call_arguments() -> None:
    secret = 'pa"ss\\word-Zq81x'
    redactor = Redactor.from_env({"DATABASE_PASSWORD": secret})
    arguments = json.dumps({"command": f"psql -W {secret}"})
    message = {"role": "assistant", "tool_calls": [{"function": {"arguments": arguments}}]}

    texts, counts = redactor.redact_json([message])

    assert "Zq81x" not in texts[0]
    assert counts == {"database_password": 1}


def test_extra_patterns_apply_on_the_json_path() -> None:
    redactor = Redactor.from_env(
        {EXTRA_PATTERNS_VARIABLE: json.dumps([{"kind": "ticket", "pattern": "TKT-[0-9]{6}"}])}
    )

    texts, counts = redactor.redact_json([{"role": "user", "content": "see TKT-123456"}])

    assert "TKT-123456" not in texts[0]
    assert counts == {"ticket": 1}
