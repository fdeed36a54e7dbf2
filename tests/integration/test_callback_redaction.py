"""Through the real proxy: no planted secret reaches the spool or Langfuse.

Every document of the redaction corpus (tests/unit/callbacks/corpus) travels in a prompt, in
a tool call's arguments, in a tool result, and back in the response (the Bedrock stand-in
echoes the start of the tool result). Langfuse refuses exports at first, so the
spool holds the traces and can be read; then Langfuse accepts them and what it stored is read.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.bedrock.harness import running_bedrock
from tests.fakes.langfuse.harness import running_langfuse
from tests.integration.callback_stack import (
    DELIVERY_TIMEOUT_S,
    CallbackStack,
    open_callback_stack,
)
from tests.unit.callbacks.corpus.documents import (
    PlantedDocument,
    fake_secret,
    planted_documents,
)

pytestmark = pytest.mark.integration

MODEL = "claude-haiku-4-5"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbackStack]:
    work_dir = tmp_path_factory.mktemp("callback-redaction")
    with (
        running_bedrock() as bedrock,
        running_langfuse() as langfuse,
        open_callback_stack(work_dir, bedrock, langfuse, {"LLMOPS_LOG_INPUT": "full"}) as opened,
    ):
        yield opened


def lead_secret(document: PlantedDocument) -> str:
    """An AWS access key id of the document's own: the tool result starts with it, so the
    stand-in's reply echoes it and the response path carries a secret too."""
    suffix = hashlib.sha256(document.name.encode()).hexdigest().upper()[:16]
    return f"AKIA{suffix}"


def conversation(document: PlantedDocument) -> list[dict]:
    """A Cline-like turn carrying the document as prompt, tool arguments and tool result."""
    call = {
        "id": "call_read_1",
        "type": "function",
        "function": {"name": "read_file", "arguments": json.dumps({"content": document.text})},
    }
    return [
        {"role": "user", "content": document.text},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": "call_read_1",
            "content": f"{lead_secret(document)}\n{document.text}",
        },
        {"role": "user", "content": f"Summarise {document.name}."},
    ]


def spooled_text(spool_dir: Path) -> str:
    """Every span body in the spool as stored (JSON, or compressed once it waited), as text."""
    with sqlite3.connect(spool_dir / "spool.db") as db:
        rows = db.execute("SELECT body, compressed FROM spans").fetchall()
    return "\n".join(
        (zlib.decompress(body) if compressed else body).decode("utf-8") for body, compressed in rows
    )


def wait_for_spooled(stack: CallbackStack, *needles: str) -> str:
    """The spool's text once it holds every needle (a request's spans land just after it)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        spooled = spooled_text(stack.spool_dir)
        if all(needle in spooled for needle in needles):
            return spooled
        assert time.monotonic() < deadline, (stack.health(), stack.proxy.log_tail())
        time.sleep(0.1)


def test_no_planted_secret_reaches_the_spool_or_langfuse(stack: CallbackStack) -> None:
    documents = planted_documents()
    secrets = {value for document in documents for _, value in document.secrets}
    secrets |= {lead_secret(document) for document in documents}
    stack.langfuse.set_mode("error", status=503)
    replies = [stack.chat(MODEL, conversation(document))[1] for document in documents]
    stack.wait_for_backlog(2 * len(documents))

    spooled = spooled_text(stack.spool_dir)
    assert "[REDACTED:" in spooled
    assert [s for s in secrets if s in spooled] == []

    stack.langfuse.set_mode("normal")
    stack.wait_until_delivered()
    stored = json.dumps(stack.langfuse.spans())
    assert [s for s in secrets if s in stored] == []
    # The secrets did travel, responses included: each reply echoes its document's lead secret.
    assert all(lead_secret(d) in reply for d, reply in zip(documents, replies, strict=True))


def planted_fields() -> dict[str, str]:
    rng = random.Random(12)
    return {
        "stop": fake_secret("anthropic_api_key", "", rng),
        "user": fake_secret("github_token", "classic", rng),
        "session header": fake_secret("huggingface_token", "", rng),
        "user agent": fake_secret("npm_token", "", rng),
    }


def chat_with_fields(stack: CallbackStack, planted: dict[str, str]) -> str:
    """One request with a secret in `stop`, the body's `user`, the session header and the
    User-Agent (exported as model parameters, user, session and trace metadata)."""
    call_id, _ = stack.chat(
        MODEL,
        [{"role": "user", "content": "Say hello."}],
        stop=[planted["stop"]],
        user=planted["user"],
        extra_headers={"x-claude-code-session-id": planted["session header"]},
        # The master key is no person, so the body's `user` becomes the trace's user.
        client=stack.client(
            user_agent=f"deploy-bot/1.0 {planted['user agent']}", api_key=stack.proxy.master_key
        ),
    )
    return call_id


def test_secrets_in_exported_request_fields_do_not_reach_the_spool(stack: CallbackStack) -> None:
    planted = planted_fields()
    stack.langfuse.set_mode("error", status=503)
    try:
        chat_with_fields(stack, planted)
        # Both spans spooled (the root carries the User-Agent, the generation the `stop` list).
        spooled = wait_for_spooled(stack, "[REDACTED:npm_token]", "[REDACTED:anthropic_api_key]")
    finally:
        stack.langfuse.set_mode("normal")
    assert [field for field, secret in planted.items() if secret in spooled] == []


def test_secrets_in_exported_request_fields_do_not_reach_langfuse(stack: CallbackStack) -> None:
    planted = planted_fields()
    call_id = chat_with_fields(stack, planted)

    stack.wait_until_delivered()
    root, generation = stack.trace(call_id)
    stored = json.dumps(stack.langfuse.spans())
    assert [field for field, secret in planted.items() if secret in stored] == []
    # The fields were exported, with placeholders where the secrets were.
    assert root["userId"] == "[REDACTED:github_token]"
    assert root["sessionId"] == "[REDACTED:huggingface_token]"
    assert "[REDACTED:anthropic_api_key]" in json.dumps(generation["modelParameters"])
    assert "[REDACTED:npm_token]" in json.dumps(root["metadata"])
