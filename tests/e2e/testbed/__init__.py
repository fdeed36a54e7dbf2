"""The Docker test bed: the production compose files, run with offline stand-in images.

No registry can be reached here, so the real images cannot be pulled. `image.py` builds one
stand-in image with `docker import` (a tiny root filesystem; the host's /usr, Python, venv
and this repository are bind-mounted read-only at run time), and `overlay.yml` swaps only
the image, entrypoint/command and mounts of each production service: service names,
network, environment wiring, ports and healthchecks stay as production defines them.

What each service runs in the test bed:
    postgres, litellm-postgres   Debian's PostgreSQL (bin/postgres-standin)
    redis                        Debian's redis-server (bin/redis-standin)
    clickhouse                   clickhouse.py: HTTP interface, SQLite SQL, data in its volume
    minio                        s3.py: moto's S3 server, bucket `langfuse`, MinIO's health API
    langfuse-web, -worker        the Langfuse stand-in, tests/fakes/langfuse
    litellm                      the real LiteLLM proxy from the venv, without a database
    bedrock (test bed only)      the Bedrock Runtime stand-in, tests/fakes/bedrock
"""
