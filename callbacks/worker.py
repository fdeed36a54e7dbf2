"""The delivery worker: drains the spool to Langfuse, in the delivery process (delivery.py).

Each round first settles spans *in doubt* (sent, no answer): after the settle delay it asks
Langfuse's read API which of their observations exist, removes those, and makes the rest
ready again. Then it claims ready spans, oldest first, and exports them as one batch under
Langfuse's 4 MB limit. A 413 splits the batch (a single span is shrunk, then rejected); a
refusal pauses exports with jittered backoff, honouring Retry-After, while recording goes
on. 401/403 is logged once, naming the keys, and the data kept.

Exactly once, because Langfuse v4 stores a span sent twice twice:
- a span leaves the spool only on a 2xx for the request that carried it;
- a span is sent again without a check only when the previous try certainly did not
  reach Langfuse (connection refused, an error status);
- every other span (no answer, a claim whose process died or outlived its lease) is in
  doubt, and is sent again only if, `settle` seconds after it was sent, the read API
  answers and lists none of its span ids; spans it lists are removed as delivered. Span ids
  are derived from the request, so a span sent twice would carry the same id.
Two gaps are left, both chosen over holding traces forever: a Langfuse that accepted a batch
but has not made it readable after the settle delay gets it again; and while the read API
cannot answer (404, 429, 5xx, timeout), spans in doubt wait, checked again with backoff,
for at most `max_doubt_seconds` (the README says how long), then are sent again unchecked
(counted as `in_doubt_resent_unchecked`). Either way new spans keep flowing meanwhile; the
reason is logged once and noted in the spool for `status` and `doctor`.

`run_once()` does one round and says how long to wait; `run()` only loops over it in the
delivery process's main thread (a wake cuts a wait short), so tests drive it with a scripted
transport and a fake clock, without threads or sleeping.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from .exporter import ExportResult, LookupFailed, OtlpIngestionClient, Outcome, RetryPolicy
from .spool import IN_DOUBT, READY, Claimed, Spool

log = logging.getLogger("llmops.callback")

BATCH_MAX_BYTES = 3_500_000
BATCH_MAX_SPANS = 1000
IN_DOUBT_MAX_SPANS = 200
IDLE_POLL_SECONDS = 2.0
FORGET_SPOOLED_EVERY_SECONDS = 60.0

Shrink = Callable[[Mapping[str, Any]], dict[str, Any] | None]


class DeliveryWorker:
    """Moves spans from the spool to Langfuse; `run` and `finish` never raise."""

    def __init__(
        self,
        spool: Spool,
        client: OtlpIngestionClient,
        *,
        owner: str,
        policy: RetryPolicy,
        shrink: Shrink,
        lease_seconds: float,
        max_doubt_seconds: float,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._spool = spool
        self._client = client
        self._owner = owner
        self._policy = policy
        self._shrink = shrink
        self._lease = lease_seconds
        self._max_doubt = max_doubt_seconds
        self._check_failures = 0
        self._check_problem = ""
        self._clock = clock
        self._rng = rng
        self._failures = 0
        self._paused_until = 0.0
        self._reported: Outcome | None = None
        self._forgot_at = float("-inf")
        self._wake = threading.Event()
        self._stopping = threading.Event()

    # -- one round ---------------------------------------------------------------------------

    def run_once(self) -> float:
        """Settle due in-doubt spans, send one batch; return seconds until the next round."""
        if self._paused():
            return self._paused_until - self._clock()
        self._settle_in_doubt()
        rows = self._spool.claim(
            self._owner,
            state=READY,
            lease=self._lease,
            max_bytes=BATCH_MAX_BYTES,
            max_spans=BATCH_MAX_SPANS,
        )
        if not rows:
            return IDLE_POLL_SECONDS
        if self._deliver(rows):
            return 0.0
        return max(0.0, self._paused_until - self._clock())

    def _paused(self) -> bool:
        return self._clock() < self._paused_until

    def _deliver(self, rows: Sequence[Claimed]) -> bool:
        """Export `rows`; True when every row is settled and the next batch may follow."""
        sent_at = self._clock()
        result = self._client.export([row.span for row in rows])
        ids = [row.id for row in rows]
        if result.outcome is Outcome.DELIVERED:
            self._spool.acknowledge(self._owner, ids)
            self._recovered()
            return True
        if result.outcome in (Outcome.TOO_LARGE, Outcome.REJECTED):
            return self._narrow(rows, result)
        self._fail(result, ids, sent_at)
        return False

    def _narrow(self, rows: Sequence[Claimed], result: ExportResult) -> bool:
        """Halve a refused batch until the refused span is alone; shrink or reject it."""
        if len(rows) > 1:
            half = len(rows) // 2
            if self._deliver(rows[:half]):
                return self._deliver(rows[half:])
            self._spool.retry_later(self._owner, [row.id for row in rows[half:]], 0.0)
            return False
        row = rows[0]
        smaller = self._shrink(row.span) if result.outcome is Outcome.TOO_LARGE else None
        if smaller is None:
            self._spool.reject(self._owner, [row.id], f"span dropped: {result.detail}")
            log.error(
                "Langfuse refused a span for good and it was dropped (%s); "
                "the spool's `rejected` counter counts these",
                result.detail,
            )
            return True
        self._spool.replace(self._owner, row.id, smaller)
        return self._deliver([replace(row, span=smaller)])

    def _fail(self, result: ExportResult, ids: Sequence[int], sent_at: float) -> None:
        self._failures += 1
        if result.outcome is Outcome.AUTH:
            delay = self._policy.maximum
        else:
            delay = self._policy.delay(self._failures, result.retry_after, self._rng)
        now = self._clock()
        self._paused_until = now + delay
        self._spool.count_failure(result.detail)
        if result.outcome is Outcome.IN_DOUBT:
            self._spool.mark_in_doubt(self._owner, ids, sent_at)
        else:
            self._spool.retry_later(self._owner, ids, self._paused_until)
        self._report(result)

    def _report(self, result: ExportResult) -> None:
        """One log line per kind of trouble, not one per retry."""
        if self._reported is result.outcome:
            return
        self._reported = result.outcome
        if result.outcome is Outcome.AUTH:
            log.error(
                "Langfuse refused the callback's keys (%s). Check LANGFUSE_PUBLIC_KEY and "
                "LANGFUSE_SECRET_KEY (and LANGFUSE_HOST) in .env, then restart the proxy; "
                "traces are kept in the spool meanwhile and sent once the keys work.",
                result.detail,
            )
        else:
            log.warning(
                "Langfuse export failed (%s); traces stay in the spool and are retried "
                "with backoff.",
                result.detail,
            )

    def _recovered(self) -> None:
        if self._reported is not None:
            log.warning("Langfuse accepts traces again; delivering the spooled backlog.")
        self._failures = 0
        self._reported = None

    # -- spans in doubt ----------------------------------------------------------------------

    def _settle_in_doubt(self) -> None:
        rows = self._spool.claim(
            self._owner,
            state=IN_DOUBT,
            lease=self._lease,
            max_bytes=BATCH_MAX_BYTES,
            max_spans=IN_DOUBT_MAX_SPANS,
        )
        by_trace: dict[str, list[Claimed]] = {}
        for row in rows:
            by_trace.setdefault(row.trace_id, []).append(row)
        groups = list(by_trace.values())
        for index, group in enumerate(groups):
            try:
                present = self._client.observation_ids(group[0].trace_id)
            except LookupFailed as problem:
                self._cannot_check([row for rest in groups[index:] for row in rest], problem)
                return
            found = [row.id for row in group if row.span_id in present]
            missing = [row.id for row in group if row.span_id not in present]
            if found:
                self._spool.found_delivered(self._owner, found)
            if missing:
                self._spool.resend(self._owner, missing)
        if rows:
            self._checks_answer()

    def _cannot_check(self, rows: Sequence[Claimed], problem: LookupFailed) -> None:
        """The read API failed: these rows wait (with backoff) while new spans keep flowing;
        those in doubt for `max_doubt_seconds` are sent again unchecked."""
        self._check_failures += 1
        now = self._clock()
        overdue = {
            row.id
            for row in rows
            if row.doubt_since is not None and now - row.doubt_since >= self._max_doubt
        }
        waiting = [row.id for row in rows if row.id not in overdue]
        if waiting:
            delay = self._policy.delay(self._check_failures, None, self._rng)
            self._spool.recheck_later(self._owner, waiting, now + delay)
        if overdue:
            self._spool.resend(self._owner, sorted(overdue), unchecked=True)
            log.warning(
                "Langfuse's read API could not confirm %d spans sent without an answer for "
                "%g s (%s); they are sent again, and Langfuse keeps a second copy of any it "
                "had received",
                len(overdue),
                self._max_doubt,
                problem,
            )
        if self._check_problem != str(problem):
            self._check_problem = str(problem)
            self._spool.note_in_doubt_check(self._check_problem)
            log.warning(
                "Langfuse's read API cannot confirm spans sent without an answer (%s); they "
                "wait and are checked again with backoff (new traces keep flowing), and are "
                "sent again unchecked after %g s in doubt.",
                problem,
                self._max_doubt,
            )

    def _checks_answer(self) -> None:
        self._check_failures = 0
        if self._check_problem:
            self._check_problem = ""
            self._spool.note_in_doubt_check("")
            log.warning("Langfuse's read API answers again; spans in doubt are checked.")

    # -- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """New spans were spooled: deliver them now unless backing off."""
        self._wake.set()

    def stop(self) -> None:
        """Make `run` return once its current round is done; callable from any thread."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        """Round after round in the calling thread, until `stop`."""
        while True:
            self._wake.clear()
            if self._stopping.is_set():
                return
            delay = self._round()
            if delay > 0:
                self._wake.wait(delay)

    def finish(self, seconds: float) -> None:
        """The last rounds before exit: deliver batch after batch while they are accepted,
        starting none after `seconds`. What is left waits in the spool."""
        deadline = self._clock() + seconds
        while self._round() == 0.0 and self._clock() < deadline:
            continue

    def _round(self) -> float:
        try:
            self._spool.flush()  # the recorded spans survive power loss from here on
            self._spool.compress_waiting()  # even while paused: that is when spans wait
            if self._clock() - self._forgot_at >= FORGET_SPOOLED_EVERY_SECONDS:
                self._forgot_at = self._clock()
                self._spool.forget_spooled()
            return self.run_once()
        except Exception:
            log.exception("Langfuse delivery round failed; retrying")
            return IDLE_POLL_SECONDS
