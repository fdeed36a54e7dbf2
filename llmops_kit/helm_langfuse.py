"""Values for Langfuse's official chart (langfuse/langfuse-k8s 2.0.0), and the Secret they use.

The chart runs its own stores (Postgres, Valkey, SeaweedFS, ClickHouse through the ClickHouse
operator) and builds most of Langfuse's environment from them itself; what the kit carries over
from its settings is what compose sets on purpose: the images, the secrets, NEXTAUTH_URL,
telemetry and sign-up off, the v4 write mode, the headless initialisation (the project keys
the proxy sends with) and the S3 layout (one bucket, events/ media/ exports/, batch export off).
Every credential is read from one pre-created Secret, the layout the chart's own
examples/minimal-installation uses, so no secret is ever written into a values file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import helm_charts as charts
from . import helm_manifests as manifests
from .errors import ConfigError
from .helm_compose import ComposeService

# The Postgres database and owner the chart creates for Langfuse (its defaults, kept).
POSTGRES_DATABASE = "langfuse"
POSTGRES_USER = "langfuse"
# Compose's MinIO root user; the same name becomes the SeaweedFS S3 identity.
S3_USER = "minio"
S3_BUCKET = "langfuse"
# Variables compose sets on both Langfuse containers that the chart does not set itself.
SHARED_ENV = ("LANGFUSE_MIGRATION_V4_WRITE_MODE", "LANGFUSE_ENABLE_EXPERIMENTAL_FEATURES")
INIT_PREFIX = "LANGFUSE_INIT_"


def split_image(image: str) -> tuple[str, str]:
    """`registry/name:tag` as (repository, tag); the charts take no digest in their tag."""
    repository, colon, tag = image.rpartition(":")
    if not colon or "/" in tag or "@" in image:
        raise ConfigError(
            f"compose image {image!r} has no tag the chart can use",
            fix="Pin the image by tag (name:1.2.3) in compose/*.yml.",
        )
    return repository, tag


def flag(values: Mapping[str, str], name: str) -> bool:
    """A true/false setting as the chart's booleans want it."""
    raw = values.get(name, "").strip().lower()
    if raw not in ("true", "false"):
        raise ConfigError(
            f"{name}={values.get(name, '')!r} is neither true nor false",
            fix=f"Set {name}=true or {name}=false in .env.",
        )
    return raw == "true"


def secret_data(values: Mapping[str, str], web: ComposeService) -> dict[str, str]:
    """Every credential the chart and its stores read, under the keys the values point to."""
    postgres, s3 = values["POSTGRES_PASSWORD"], values["MINIO_ROOT_PASSWORD"]
    identity = {
        "name": S3_USER,
        "credentials": [{"accessKey": S3_USER, "secretKey": s3}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    data = {
        "salt": values["SALT"],
        "encryption-key": values["ENCRYPTION_KEY"],
        "nextauth-secret": values["NEXTAUTH_SECRET"],
        # Langfuse reads postgresql-password; the Postgres sub-chart reads the upper-case keys.
        "postgresql-password": postgres,
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": postgres,
        "POSTGRES_DB": POSTGRES_DATABASE,
        "USERDB_USER": POSTGRES_USER,
        "USERDB_PASSWORD": postgres,
        "clickhouse-password": values["CLICKHOUSE_PASSWORD"],
        # Langfuse reads redis-password; Valkey's ACL Secret has one key per user name.
        "redis-password": values["REDIS_AUTH"],
        "default": values["REDIS_AUTH"],
        "s3-user": S3_USER,
        "s3-password": s3,
        "seaweedfs_s3_config": json.dumps({"identities": [identity]}, separators=(",", ":")),
    }
    data.update({e.name: e.value for e in web.environment if _is_init(e.name) and e.secret})
    return data


def _is_init(name: str) -> bool:
    return name.startswith(INIT_PREFIX)


def values_file(
    values: Mapping[str, str], web: ComposeService, worker: ComposeService
) -> dict[str, Any]:
    """The chart's values: images and settings from compose, credentials by Secret key."""
    web_repository, web_tag = split_image(web.image)
    worker_repository, worker_tag = split_image(worker.image)
    if web_tag != worker_tag:
        raise ConfigError(
            f"langfuse-web ({web_tag}) and langfuse-worker ({worker_tag}) run different versions",
            fix="Pin both images to the same Langfuse release in compose/langfuse.yml.",
        )
    name = charts.LANGFUSE_SECRET
    shared = web.env()
    init_env = [
        {"name": e.name, "valueFrom": manifests.secret_ref(name, e.name)}
        if e.secret
        else {"name": e.name, "value": e.value}
        for e in web.environment
        if _is_init(e.name)
    ]
    return {
        "langfuse": {
            "image": {"tag": web_tag},
            "salt": {"secretKeyRef": {"name": name, "key": "salt"}},
            "encryptionKey": {"secretKeyRef": {"name": name, "key": "encryption-key"}},
            "nextauth": {
                "url": values["NEXTAUTH_URL"],
                "secret": {"secretKeyRef": {"name": name, "key": "nextauth-secret"}},
            },
            "features": {
                "telemetryEnabled": flag(values, "TELEMETRY_ENABLED"),
                "signUpDisabled": flag(values, "AUTH_DISABLE_SIGNUP"),
                "experimentalFeaturesEnabled": False,
            },
            "additionalEnv": [{"name": k, "value": shared[k]} for k in SHARED_ENV if k in shared],
            "web": {
                "image": {"repository": web_repository, "tag": web_tag},
                "pod": {"additionalEnv": init_env},
            },
            "worker": {"image": {"repository": worker_repository, "tag": worker_tag}},
        },
        "postgresql": {
            "auth": {
                "username": POSTGRES_USER,
                "database": POSTGRES_DATABASE,
                "existingSecret": name,
                "secretKeys": {
                    "adminPasswordKey": "postgresql-password",
                    "userPasswordKey": "postgresql-password",
                },
            },
            "settings": {"existingSecret": name},
            "userDatabase": {"existingSecret": name},
        },
        "clickhouse": {
            "auth": {"existingSecret": name, "existingSecretKey": "clickhouse-password"}
        },
        "redis": {
            "auth": {
                "existingSecret": name,
                "existingSecretPasswordKey": "redis-password",
                "usersExistingSecret": name,
            }
        },
        "s3": {
            "bucket": S3_BUCKET,
            "auth": {
                "existingSecret": name,
                "rootUserSecretKey": "s3-user",
                "rootPasswordSecretKey": "s3-password",
            },
            "allInOne": {"s3": {"existingConfigSecret": name}},
            "eventUpload": {"prefix": "events/"},
            "mediaUpload": {"prefix": "media/"},
            "batchExport": {"enabled": False, "prefix": "exports/"},
        },
    }


def secret_manifest(values: Mapping[str, str], web: ComposeService, namespace: str) -> dict:
    return manifests.secret(charts.LANGFUSE_SECRET, namespace, secret_data(values, web))
