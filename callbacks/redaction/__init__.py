"""Redact secrets from everything the callback spools or exports.

    redactor = Redactor.from_env()
    clean, counts = redactor.redact(messages)     # a copy; counts == {"aws_access_key_id": 1}
    redactor.redact_text("key AKIA...")           # 'key [REDACTED:aws_access_key_id]'
    texts, counts = redactor.redact_json(messages)  # each message as redacted JSON text

One module per job:
    redactor.py     the public API: screen, walk, scan, replace; never raises
    screen.py       whether a text may hold a trigger at all (Rust regex searches)
    scanner.py      secrets found and replaced in a batch of strings, rule by rule
    triggers.py     where trigger literals occur (a few regex passes over lower-cased text)
    walk.py         a copy of a JSON-like value with its strings listed (tool-call arguments
                    decoded)
    recent.py       results remembered for long strings seen again
    environment.py  LLMOPS_REDACT_* settings and the environment's own secret values
    rules.py        the kinds of rule (shape, neighbour) and the findings they yield
    assignments.py  values given to names that say "secret" (`password=...`, `"apiKey": ...`)
    vendors.py      tokens recognisable by a vendor's prefix (`SG.`, `hf_`, `glpat-`, ...)
    connections.py  passwords and keys inside connection strings (`Password=`, `AccountKey=`)
    commands.py     credentials on command lines (`redis-cli -a`, `curl -u`, `--token`)
    catalog.py      the built-in rules, in the order they win
"""

from __future__ import annotations

from .environment import ALLOW_VARIABLE, EXTRA_PATTERNS_VARIABLE, RedactionConfigError
from .redactor import UNSCANNABLE, Redacted, Redactor, placeholder

__all__ = [
    "ALLOW_VARIABLE",
    "EXTRA_PATTERNS_VARIABLE",
    "UNSCANNABLE",
    "Redacted",
    "RedactionConfigError",
    "Redactor",
    "placeholder",
]
