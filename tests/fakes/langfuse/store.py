"""Everything the stand-in received: export requests and the spans they carried, in SQLite.

In memory by default; with a file path the data outlives the process, so a test can stop and
restart the stand-in and still count every span exactly once. Spans are stored as received,
never deduplicated: Langfuse v4 keeps a span sent twice twice, and exactly-once tests count
precisely those duplicates.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    content_type TEXT,
    content_encoding TEXT,
    size INTEGER NOT NULL,
    ingestion_version TEXT,
    status INTEGER,
    stored_spans INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    received_at REAL NOT NULL,
    document TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class ExportRequest:
    """What arrived on the wire, before it was judged."""

    received_at: float
    content_type: str | None
    content_encoding: str | None
    size: int
    ingestion_version: str | None


@dataclass(frozen=True)
class StoredSpan:
    """One span document (see otlp.received_spans) and when it arrived."""

    row_id: int
    request_id: int
    received_at: float
    document: dict[str, Any]


class Store:
    """A thread-safe SQLite store; `path=None` keeps it in memory."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        with self._lock, self._db:
            self._db.executescript(SCHEMA)

    def record(self, request: ExportRequest, status: int | None, spans: list[dict]) -> int:
        """Keep a request (status None: never answered) and the spans it delivered."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO requests (received_at, content_type, content_encoding, size,"
                " ingestion_version, status, stored_spans) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    request.received_at,
                    request.content_type,
                    request.content_encoding,
                    request.size,
                    request.ingestion_version,
                    status,
                    len(spans),
                ),
            )
            request_id = cursor.lastrowid
            self._db.executemany(
                "INSERT INTO spans (request_id, received_at, document) VALUES (?, ?, ?)",
                [(request_id, request.received_at, json.dumps(span)) for span in spans],
            )
        return request_id

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, received_at, content_type, content_encoding, size, ingestion_version,"
                " status, stored_spans FROM requests ORDER BY id"
            ).fetchall()
        keys = (
            "id",
            "receivedAt",
            "contentType",
            "contentEncoding",
            "bytes",
            "ingestionVersion",
            "status",
            "storedSpans",
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def spans(
        self, received_until: float | None = None, *, after_row_id: int = 0
    ) -> list[StoredSpan]:
        """Spans in arrival order; only those received at or before `received_until` if given,
        and only those stored after `after_row_id` (to read new spans alone)."""
        query = "SELECT id, request_id, received_at, document FROM spans WHERE id > ?"
        parameters: tuple[float, ...] = (after_row_id,)
        if received_until is not None:
            query += " AND received_at <= ?"
            parameters += (received_until,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", parameters).fetchall()
        return [StoredSpan(row[0], row[1], row[2], json.loads(row[3])) for row in rows]

    def reset(self) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM spans")
            self._db.execute("DELETE FROM requests")
