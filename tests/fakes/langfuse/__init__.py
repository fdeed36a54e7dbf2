"""A wire-faithful Langfuse v4 stand-in, for tests only.

Run it with `python -m tests.fakes.langfuse --host 127.0.0.1 --port N` from the repository root
(also inside a test-bed container that mounts the host's venv), or from a test through
`harness.running_langfuse()`. It answers like langfuse-web v4 where the kit touches it: OTLP
ingestion, the v2 observations read API, projects (auth check) and health; `--worker` makes it
the langfuse-worker's health endpoint instead.

    otlp              decode OTLP/HTTP bodies (protobuf, JSON, gzip) as Langfuse does
    mapping           span -> the events-table row Langfuse v4 writes
    prices            Langfuse's usage/cost inference: Claude price table, approximate tokenizer
    traces            a trace as the UI aggregates it from its events (latest tags, root's I/O)
    observations_api  the v2 observations query: filters, field groups, cursor pages
    auth              the provisioned project and Langfuse's key check
    modes             normal, blackhole, error (for outage and lost-acknowledgement tests)
    responses         Langfuse's status codes and error bodies
    store             SQLite, in memory or on disk (survives restarts)
    server            the routes, including the /_fake/ control API
    harness           run it as a subprocess on a free loopback port
    traffic           known requests as the callback's spans, loaded straight into a store

Where it deliberately differs from a real deployment, the module saying so is `mapping`
(which attributes are mapped), `prices` (a small table, an approximate tokenizer), `traces`
(shown on the control API: v4 has no public trace route), `observations_api` (no structured
`filter`) and `server`
(413 above --max-body-bytes, which self-hosted Langfuse's OTLP route does not enforce itself).
"""
