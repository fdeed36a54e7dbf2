"""Sessions: which requests belong to one task, and what is new in each of them.

Session id: an explicit one wins (`litellm_session_id` in the body, a session header, which
LiteLLM turns into the same, or `metadata.session_id`). Otherwise the id is derived from the
user and the first user message: Cline sends no id, resends the whole history every turn,
and its first user message (the task) never changes within a task, while its system prompt
does (Plan and Act differ). Markers that move between turns (`cache_control`) are ignored.

Input delta: Cline's requests repeat every earlier message, so logging each in full grows
with the square of a task's length. `InputLog` remembers, per session, digests of the
latest requests' messages; when the next request starts with exactly those of one of them
(the longest), only the new messages are logged. Retries and fallbacks of one request get
the same delta. State is bounded (least recently used sessions are forgotten) and per
process: a request handled by another proxy worker is simply logged in full.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .jsontext import encode_sorted

DERIVED_PREFIX = "auto-"
MAX_SESSIONS = 4096
# Earlier requests of a session a new one may repeat: a chat front end runs its own small
# requests (Open WebUI: title, tags, follow-ups) in the chat's session between two turns.
RECENT_REQUESTS = 4
# A `cache_control` member of sorted-key JSON, with one comma that joins it to a neighbour.
# Inside a string a quote is escaped (`\"`), so this only matches a real key.
_VOLATILE = re.compile(rb',"cache_control":\{[^{}]*\}|"cache_control":\{[^{}]*\},?')


def session_id(explicit: str | None, user_id: str | None, messages: Sequence[Any]) -> str | None:
    """The explicit id, else a stable one for (user, first user message); None if no text."""
    if explicit:
        return explicit
    first = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
    if first is None:
        return None
    text = _canonical(first.get("content"))
    digest = hashlib.sha256((user_id or "").encode() + b"\x00" + text).hexdigest()
    return DERIVED_PREFIX + digest[:24]


def _canonical(value: Any) -> bytes:
    """JSON with sorted keys and without the keys that change between turns of the same
    conversation."""
    text = encode_sorted(value)
    return _VOLATILE.sub(b"", text) if b'"cache_control":' in text else text


@dataclass(frozen=True)
class Prefix:
    """A request's messages: how many, and the digest of their canonical list without its
    closing bracket (`length` bytes), which the next request's list starts with if it
    repeats them."""

    count: int
    length: int
    digest: str


@dataclass(frozen=True)
class InputSelection:
    """The messages to log, and how many earlier ones were left out as already logged."""

    messages: list[Any]
    omitted: int


@dataclass
class _SessionState:
    call_id: str
    # What the latest request was compared against, and the latest requests (newest first).
    candidates: tuple[Prefix, ...]
    recent: tuple[Prefix, ...]


class InputLog:
    """Chooses what part of a request's messages to log (delta mode)."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._sessions: OrderedDict[str, _SessionState] = OrderedDict()
        self._max = max_sessions
        self._lock = threading.Lock()

    def select(self, session: str | None, call_id: str, messages: Sequence[Any]) -> InputSelection:
        if not session:
            return InputSelection(list(messages), 0)
        text = memoryview(_canonical(list(messages)))[:-1]  # without the closing "]"
        with self._lock:
            state = self._sessions.pop(session, None)
            if state is None:
                candidates, earlier = (), ()
            elif state.call_id == call_id:  # a retry or fallback: compared as its first try
                candidates, earlier = state.candidates, state.recent[1:]
            else:
                candidates, earlier = state.recent, state.recent
            repeated, current = _longest_repeated(text, len(messages), candidates)
            recent = (current, *earlier)[:RECENT_REQUESTS]
            self._sessions[session] = _SessionState(call_id, candidates, recent)
            while len(self._sessions) > self._max:
                self._sessions.popitem(last=False)
        if repeated is not None:
            return InputSelection(list(messages[repeated.count :]), repeated.count)
        return InputSelection(list(messages), 0)


def _longest_repeated(
    text: memoryview, count: int, candidates: Sequence[Prefix]
) -> tuple[Prefix | None, Prefix]:
    """The longest earlier request this one starts with, and this one's own prefix; one pass
    of the hash over the text, checked at each candidate's length."""
    fitting = sorted(
        (c for c in candidates if 0 < c.count <= count and c.length <= len(text)),
        key=lambda c: c.length,
    )
    hasher = hashlib.sha256()
    hashed = 0
    repeated = None
    for candidate in fitting:
        hasher.update(text[hashed : candidate.length])
        hashed = candidate.length
        # Only at a boundary between messages: "," after them, or the end of the list.
        at_boundary = hashed == len(text) or text[hashed] == ord(",")
        if at_boundary and hasher.copy().hexdigest() == candidate.digest:
            repeated = candidate
    hasher.update(text[hashed:])
    return repeated, Prefix(count, len(text), hasher.hexdigest())
