"""Sessions: which requests belong to one task, and what is new in each of them.

Session id: an explicit one wins (`litellm_session_id` in the body, a session header, which
LiteLLM turns into the same, or `metadata.session_id`). Otherwise the id is derived from the
user and the first user message: Cline sends no id, resends the whole history every turn,
and its first user message (the task) never changes within a task, while its system prompt
does (Plan and Act differ). Markers that move between turns (`cache_control`) are ignored.

Input delta: Cline's requests repeat every earlier message, so logging each in full grows
with the square of a task's length. `InputLog` remembers, per session, a digest of the
previous request's messages; when the next request starts with exactly those, only the new
messages are logged. Retries and fallbacks of one request get the same delta. State is
bounded (least recently used sessions are forgotten) and per process: a request handled by
another proxy worker is simply logged in full.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DERIVED_PREFIX = "auto-"
MAX_SESSIONS = 4096
_VOLATILE_KEYS = frozenset({"cache_control"})


def session_id(explicit: str | None, user_id: str | None, messages: Sequence[Any]) -> str | None:
    """The explicit id, else a stable one for (user, first user message); None if no text."""
    if explicit:
        return explicit
    first = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
    if first is None:
        return None
    text = _canonical(first.get("content"))
    digest = hashlib.sha256(f"{user_id or ''}\x00{text}".encode()).hexdigest()
    return DERIVED_PREFIX + digest[:24]


def _stable(value: Any) -> Any:
    """The value without the keys that change between turns of the same conversation."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(item) for item in value]
    return value


def _canonical(value: Any) -> str:
    text = _sorted_json(value)
    # Copying the value to drop volatile keys is the slow part: only done when one may be there.
    if any(f'"{key}"' in text for key in _VOLATILE_KEYS):
        return _sorted_json(_stable(value))
    return text


_SORTED_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def _sorted_json(value: Any) -> str:
    return _SORTED_ENCODER.encode(value)


def _encoded(messages: Sequence[Any]) -> list[bytes]:
    """Each message's canonical form, computed once per request for every digest taken."""
    return [_canonical(message).encode() for message in messages]


def _digest(encoded: Sequence[bytes]) -> str:
    hasher = hashlib.sha256()
    for message in encoded:
        hasher.update(message)
        hasher.update(b"\x1e")
    return hasher.hexdigest()


@dataclass(frozen=True)
class Prefix:
    count: int
    digest: str


@dataclass(frozen=True)
class InputSelection:
    """The messages to log, and how many earlier ones were left out as already logged."""

    messages: list[Any]
    omitted: int


@dataclass
class _SessionState:
    call_id: str
    base: Prefix | None
    current: Prefix


class InputLog:
    """Chooses what part of a request's messages to log (delta mode)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._sessions: OrderedDict[str, _SessionState] = OrderedDict()
        self._max = max_sessions
        self._lock = threading.Lock()

    def select(self, session: str | None, call_id: str, messages: Sequence[Any]) -> InputSelection:
        if not session:
            return InputSelection(list(messages), 0)
        encoded = _encoded(messages)
        current = Prefix(len(messages), _digest(encoded))
        with self._lock:
            state = self._sessions.pop(session, None)
            if state is not None and state.call_id == call_id:
                base = state.base
            else:
                base = state.current if state is not None else None
            self._sessions[session] = _SessionState(call_id, base, current)
            while len(self._sessions) > self._max:
                self._sessions.popitem(last=False)
        if (
            base is not None
            and 0 < base.count <= len(messages)
            and _digest(encoded[: base.count]) == base.digest
        ):
            return InputSelection(list(messages[base.count :]), base.count)
        return InputSelection(list(messages), 0)
