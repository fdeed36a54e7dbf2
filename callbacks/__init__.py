"""The kit's LiteLLM logging callback: every proxied request becomes one Langfuse v4 trace.

LiteLLM loads `langfuse_v4.py` by file path (`callbacks: ["callbacks.langfuse_v4.handler"]`),
which imports this directory as a package under a private name. The pieces, each in its room:

    langfuse_v4.py  the file LiteLLM loads: the bootstrap, and `handler`
    hook.py         LiteLLM's CustomLogger: which LiteLLM hook reports what; never raises
    handoff.py      the proxy's side of the delivery process: a bounded queue, a writer
                    thread that resends what was not acknowledged and restarts the child
    extract.py      LiteLLM's hook arguments -> plain records of a request and an attempt
    recorder.py     events -> spans: choose input per mode, redact, map, spool, wake the worker
    sessions.py     session id derivation and the per-session input delta
    redaction/      secrets -> placeholders naming their kind (a package: one module per job)
    mapping.py      requests and attempts -> OTLP spans with Langfuse attributes
    otlp.py         OTLP/JSON encoding: attribute values, the export request envelope
    jsontext.py     JSON text by orjson, with a fallback for what orjson refuses
    spool.py        the durable SQLite (WAL) spool shared by every delivery process
    exporter.py     one OTLP/HTTP export and one read-API lookup; the retry policy as data
    worker.py       the loop that drains the spool to Langfuse, exactly once
    delivery.py     the child process beside each proxy process, the only recorder: records
                    the events the hook hands over and runs that loop (a script; it says why)
    runtime.py      once per proxy process: the hook and the hand-off to its child
    callback_settings.py  the environment variables it reads
    spool_health.py backlog, ages and counters for `status` and `doctor` (also a script)

auth.py, fallback_policy.py, request_guard.py and proxy_entrypoint.py live here too, for the
same reason (the proxy loads them beside its config), but stand alone. auth.py imports the
developer keys' modules (and route_policy.py, the routes a developer key may call) from this
package:

    keys_file.py      the keys file: keys, teams and their limits, checked entry by entry
    limits.py         admission before routing (expiry, models, rpm/tpm, budget reservations)
    pricing.py        a request's reservation: its cost's upper bound from the price map
    ledger.py         spend, holds and per-minute counts in SQLite (WAL), shared by workers
    ledger_redis.py   the same in Redis (Lua), shared by several proxies
    settlement.py     the CustomLogger that replaces each hold with the billed cost
    budget_runtime.py the process's one Gate, wired from the environment

Only the standard library and what the LiteLLM image ships are imported (orjson, and
pydantic-core's Rust regex engine for the redaction screen, redis for a shared ledger):
nothing from llmops_kit, and not the Langfuse SDK.
"""
