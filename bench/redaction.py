"""Redaction figures: CPU per 100 KB prompt, coverage per kind, false positives on ordinary code.

    .venv/bin/python bench/redaction.py

Measures the callback's own patterns (callbacks/redaction/) and, when it can be imported,
detect-secrets (the LiteLLM image ships 1.5.0; `pip install litellm[proxy]` does not), used as
LiteLLM's hide-secrets guardrail uses it: the text written to a file and `scan_file` run with
the default plugins. To include it without touching the venv:

    .venv/bin/pip install --target /tmp/ds detect-secrets==1.5.0
    PYTHONPATH=/tmp/ds .venv/bin/python bench/redaction.py

Times are the best of several runs of wall-clock time on an otherwise busy machine, so they
are an upper bound on the CPU used.
"""

from __future__ import annotations

import ast
import json
import sys
import tempfile
import timeit
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callbacks.redaction import Redactor  # noqa: E402
from tests.unit.callbacks.corpus.documents import (  # noqa: E402
    PlantedDocument,
    ordinary_source_files,
    planted_documents,
    secret_fragments,
)

PROMPT_CHARS = 100_000
DRAWS = 200
NEW_TURN_CHARS = 5_000


# --- a Cline-style prompt from the standard library ---------------------------------------------


def _docstrings(files: list[Path]) -> Iterator[str]:
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                docstring = ast.get_docstring(node)
                if docstring and len(docstring) > 200:
                    yield docstring


def cline_messages(files: list[Path], chars: int, first_file: int = 0) -> list[dict[str, Any]]:
    """A system prompt of prose, then turns of tool calls reading source files and answers."""
    prose = "\n\n".join(_docstrings(files[:60]))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prose[: int(chars * 0.4)]},
        {"role": "user", "content": [{"type": "text", "text": "<task>Fix the parser.</task>"}]},
    ]
    size = sum(len(json.dumps(message)) for message in messages)
    for turn, path in enumerate(files[first_file:], start=1):
        if size >= chars:
            break
        source = path.read_text(encoding="utf-8", errors="replace")[:6000]
        call = {
            "id": f"call_{turn}",
            "type": "function",
            "function": {"name": "read_file", "arguments": json.dumps({"path": path.name})},
        }
        turn_messages = [
            {"role": "assistant", "content": f"Reading {path.name}.", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{turn}", "content": source},
        ]
        messages += turn_messages
        size += sum(len(json.dumps(message)) for message in turn_messages)
    return messages


def fresh_copy(value: Any) -> Any:
    """Equal content in new string objects, as each request arrives freshly parsed."""
    return json.loads(json.dumps(value))


def best_ms(run: Callable[[], object], number: int = 5, repeat: int = 7) -> float:
    return min(timeit.repeat(run, number=number, repeat=repeat)) / number * 1000


# --- our patterns ------------------------------------------------------------------------------


def our_speed(files: list[Path]) -> None:
    messages = cline_messages(files, PROMPT_CHARS)
    size = len(json.dumps(messages))
    per_100kb = PROMPT_CHARS / size
    cold = Redactor(remember_chars=0)
    print(f"  scan passes (pivot characters): {len(cold.pivots)} ({cold.pivots})")
    print(f"  Cline-style request, {size // 1000} KB in {len(messages)} messages:")
    cold_ms = best_ms(lambda: cold.redact(messages)) * per_100kb
    print(f"    first sight of every string  {cold_ms:6.3f} ms per 100 KB")

    remembering = Redactor()
    remembering.redact(fresh_copy(messages))
    new_turn = cline_messages(files, NEW_TURN_CHARS, first_file=200)[2:]
    next_request = messages + new_turn
    copies = [fresh_copy(next_request) for _ in range(35)]
    warm_ms = best_ms(lambda: remembering.redact(copies.pop()), number=5, repeat=7)
    warm_ms *= PROMPT_CHARS / len(json.dumps(next_request))
    print(f"    next turn (history seen, ~5 KB new)  {warm_ms:6.3f} ms per 100 KB")

    code = "".join(path.read_text(encoding="utf-8", errors="replace") for path in files[40:80])
    code = code[:PROMPT_CHARS]
    print(f"    one 100 KB string of code    {best_ms(lambda: cold.redact(code)):6.3f} ms")


def coverage(
    documents: list[PlantedDocument], find: Callable[[str], str]
) -> dict[str, tuple[int, int]]:
    """Per kind: (planted, removed) over the documents, plain and JSON-encoded (tool results)."""
    planted: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for document in documents:
        for text in (document.text, json.dumps({"content": document.text})):
            output = find(text)
            for kind, value in document.secrets:
                planted[kind] += 1
                fragments = [json.dumps(f)[1:-1] for f in secret_fragments(value)]
                removed[kind] += not any(fragment in output for fragment in fragments)
    return {kind: (planted[kind], removed[kind]) for kind in sorted(planted)}


def print_coverage(result: dict[str, tuple[int, int]]) -> None:
    for kind, (planted, removed) in result.items():
        print(f"    {kind:24} {removed:3}/{planted:<3}")
    total_planted = sum(planted for planted, _ in result.values())
    total_removed = sum(removed for _, removed in result.values())
    print(f"    {'all':24} {total_removed:3}/{total_planted:<3}")


def missed_over_draws(find: Callable[[str], str], draws: int) -> tuple[int, int]:
    """(planted, missed) over `draws` fillings of the corpus with fresh random values."""
    planted = removed = 0
    for seed in range(draws):
        for kind_planted, kind_removed in coverage(planted_documents(seed), find).values():
            planted += kind_planted
            removed += kind_removed
    return planted, planted - removed


def false_positives(files: list[Path], flags: Callable[[str], bool]) -> tuple[int, int]:
    flagged = sum(flags(path.read_text(encoding="utf-8", errors="replace")) for path in files)
    return flagged, len(files)


# --- detect-secrets ------------------------------------------------------------------------------


def detect_secrets_scanner() -> Callable[[str], list[tuple[int, str]]] | None:
    """(line number, secret) found by detect-secrets' default plugins, or None if absent."""
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None

    def scan(text: str) -> list[tuple[int, str]]:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            with default_settings():
                found = SecretsCollection()
                found.scan_file(file.name)
        return [(secret.line_number, secret.secret_value or "") for _, secret in found]

    return scan


def detect_secrets_redactor(scan: Callable[[str], list[tuple[int, str]]]) -> Callable[[str], str]:
    """What a redactor built on detect-secrets would leave: flagged values (and, for a flagged
    line that holds no value, as for a PEM header, the whole line) replaced."""

    def redact(text: str) -> str:
        lines = text.split("\n")
        for line_number, secret in scan(text):
            index = line_number - 1
            if secret and secret in lines[index]:
                lines[index] = lines[index].replace(secret, "[REDACTED]")
            else:
                lines[index] = "[REDACTED]"
        return "\n".join(lines)

    return redact


# --- report ------------------------------------------------------------------------------------


def main() -> None:
    files = ordinary_source_files()
    documents = planted_documents()
    ours = Redactor(remember_chars=0)

    print("our patterns (callbacks/redaction/)")
    our_speed(files)
    print("  coverage: planted secrets removed, per kind (plain and JSON-encoded)")
    print_coverage(coverage(documents, ours.redact_text))
    planted, missed = missed_over_draws(ours.redact_text, DRAWS)
    print(f"  over {DRAWS} draws of fresh values: {missed} of {planted} planted secrets missed")
    flagged, total = false_positives(files, lambda text: bool(ours.redact(text).counts))
    print(
        f"  false positives: {flagged} of {total} standard library files "
        f"({flagged / total:.2%}) had anything redacted"
    )

    scan = detect_secrets_scanner()
    if scan is None:
        print("\ndetect-secrets: not importable, skipped (see the docstring to include it)")
        return
    from importlib.metadata import version

    print(f"\ndetect-secrets {version('detect-secrets')} (default plugins, scan_file)")
    messages = cline_messages(files, PROMPT_CHARS)
    text = "\n".join(_strings(messages))
    seconds = min(timeit.repeat(lambda: scan(text), number=1, repeat=3))
    print(f"  Cline-style request: {seconds * 1000 * PROMPT_CHARS / len(text):8.1f} ms per 100 KB")
    print("  coverage: planted secrets removed, per kind (plain and JSON-encoded)")
    print_coverage(coverage(documents, detect_secrets_redactor(scan)))
    sample = files[::10]
    flagged, total = false_positives(sample, lambda text: bool(scan(text)))
    print(
        f"  false positives: {flagged} of {total} standard library files "
        f"({flagged / total:.2%}, every tenth file) had anything flagged"
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


if __name__ == "__main__":
    main()
