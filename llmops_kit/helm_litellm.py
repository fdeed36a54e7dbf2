"""Values for LiteLLM's official chart (litellm-helm 1.106.2), and the objects they mount.

The container runs exactly what compose runs: the same image, entrypoint (callbacks/
proxy_entrypoint.py), command and environment, with every value fed by a secret setting moved
into a Secret the chart loads with `environmentSecrets`. The config and callbacks/ are one
ConfigMap mounted at the paths compose binds them to; the keys file is a Secret.

The spool is a PersistentVolumeClaim, not an emptyDir: an emptyDir lives only as long as its
pod, so a rollout, an eviction or a node drain would delete undelivered traces. The chart runs a
Deployment and has no volumeClaimTemplates, so a claim cannot be per pod. With one replica
(the default) the Recreate strategy lets the old pod go of the claim before the new one mounts
it. With LLMOPS_PROXY_REPLICAS > 1 the pods share the claim as compose's replicas share their
volume, each in a slot of its own (LLMOPS_SPOOL_SLOTS, a kernel flock): that is proven on one
host only, so a required pod affinity keeps them on one node (a ReadWriteOnce claim mounts on
one node anyway), and budgets and router state go to the user's Redis (helm_shared_state.py).
The HPA and KEDA stay off: they would change the count behind the kit's back. The chart's
migration Job is off: it mounts the same volumes, and the proxy updates its own schema at
start, as in compose; so is the optional worker Deployment of newer chart sources, for the
same reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from . import helm_charts as charts
from . import helm_manifests as manifests
from .errors import ConfigError
from .helm_compose import ComposeService, EnvEntry
from .helm_langfuse import split_image
from .helm_shared_state import SharedRedis
from .helm_shared_state import environment as shared_environment

# The compose host name of LiteLLM's own Postgres: no such service exists in a cluster.
COMPOSE_DATABASE_HOST = "litellm-postgres"
CONFIG_KEY = "litellm_config.yml"
KEYS_KEY = "keys.yml"
# Where compose/litellm.yml mounts the keys folder when there is no keys file (an empty one).
NO_KEYS_DIR = "/app/keys"
CALLBACK_KEY_PREFIX = "callbacks."
_CONFIG_ITEM = {"key": CONFIG_KEY, "path": CONFIG_KEY}


@dataclass(frozen=True)
class Paths:
    """Where compose puts each file in the proxy container; the pod uses the same paths."""

    config: str
    callbacks: str
    keys_dir: str
    keys_name: str
    spool: str
    ledger: str
    runtime: str

    @classmethod
    def of(cls, service: ComposeService) -> Paths:
        env = service.env()
        keys = PurePosixPath(env.get("LLMOPS_KEYS_FILE") or f"{NO_KEYS_DIR}/{KEYS_KEY}")
        try:
            config = service.command[service.command.index("--config") + 1]
            entrypoint_script = next(a for a in service.entrypoint if a.endswith(".py"))
            return cls(
                config=config,
                callbacks=str(PurePosixPath(entrypoint_script).parent),
                keys_dir=str(keys.parent),
                keys_name=keys.name,
                spool=env["LLMOPS_SPOOL_DIR"],
                ledger=env["LLMOPS_LEDGER_DIR"],
                runtime=env["LLMOPS_RUNTIME_DIR"],
            )
        except (ValueError, IndexError, KeyError, StopIteration):
            raise ConfigError(
                "compose/litellm.yml no longer says where the proxy's config, callbacks, keys "
                "file, spool, ledger or runtime directory are",
                fix="Keep --config in its command, proxy_entrypoint.py in its entrypoint, and "
                "LLMOPS_KEYS_FILE, LLMOPS_SPOOL_DIR, LLMOPS_LEDGER_DIR and LLMOPS_RUNTIME_DIR "
                "in its environment.",
            ) from None


@dataclass(frozen=True)
class Environment:
    """The proxy's environment split by where it goes, and what was left out and why."""

    plain: dict[str, str]
    secret: dict[str, str]
    notes: tuple[str, ...]


def environment(service: ComposeService, redis: SharedRedis | None = None) -> Environment:
    """Compose's environment for the proxy, less what cannot work in a cluster (said in notes),
    plus the router's variables for the Redis every pod shares, if there is one."""
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    notes: list[str] = []
    for entry in service.environment:
        note = _left_out(entry)
        if note:
            notes.append(note)
            continue
        (secret if entry.secret else plain)[entry.name] = entry.value
    if redis is not None:
        shared_plain, shared_secret = shared_environment(redis)
        plain.update(shared_plain)
        secret.update(shared_secret)
    return Environment(plain, secret, tuple(notes))


def _left_out(entry: EnvEntry) -> str | None:
    if entry.name == "AWS_PROFILE":
        return (
            "AWS_PROFILE is left out: a cluster has no ~/.aws to read it from. Give the pod an "
            "AWS role (EKS Pod Identity or IRSA: serviceAccount.annotations in the LiteLLM "
            "values), or put AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in .env."
        )
    if entry.name == "DATABASE_URL" and urlsplit(entry.value).hostname == COMPOSE_DATABASE_HOST:
        return (
            "DATABASE_URL is left out: LITELLM_DATABASE_URL names compose's litellm-postgres, "
            "which the cluster does not have; the proxy runs without its database (the kit's "
            "auth needs none). Set LITELLM_DATABASE_URL in .env to a Postgres the cluster "
            "reaches to keep LiteLLM's spend logs, then export again."
        )
    return None


@dataclass(frozen=True)
class ConfigFiles:
    """The ConfigMap's data, and where each callbacks/ file goes under the callbacks mount."""

    data: dict[str, str]
    callback_items: tuple[dict[str, str], ...]


def config_files(config: Path, callbacks: Path) -> ConfigFiles:
    """litellm_config.yml and every file of callbacks/ (no caches), keyed for a ConfigMap.

    A ConfigMap key cannot hold a "/", so callbacks/redaction/rules.py is stored under
    callbacks.redaction.rules.py and the volume's items put it back at redaction/rules.py.
    """
    data = {CONFIG_KEY: read_text(config)}
    items: list[dict[str, str]] = []
    for path in sorted(callbacks.rglob("*")):
        relative = path.relative_to(callbacks)
        if not path.is_file() or _skipped(relative):
            continue
        key = CALLBACK_KEY_PREFIX + relative.as_posix().replace("/", ".")
        if key in data:
            raise ConfigError(
                f"two files of callbacks/ map to one ConfigMap key {key!r}",
                fix="Rename one of them: a file a.b.py and a folder a/ with b.py collide.",
            )
        data[key] = read_text(path)
        items.append({"key": key, "path": relative.as_posix()})
    size = sum(len(k) + len(v.encode("utf-8")) for k, v in data.items())
    if size > manifests.CONFIGMAP_MAX_BYTES:
        raise ConfigError(
            f"the config and callbacks/ come to {size} bytes, over a ConfigMap's 1 MiB",
            fix="Remove large files from callbacks/ (test data belongs in tests/).",
        )
    return ConfigFiles(data, tuple(items))


def _skipped(relative: Path) -> bool:
    return relative.suffix == ".pyc" or any(
        part == "__pycache__" or part.startswith(".") for part in relative.parts
    )


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist",
            fix="Check LLMOPS_LITELLM_CONFIG and LLMOPS_KEYS_FILE in .env.",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not UTF-8 text; a ConfigMap or Secret built by the kit holds text only",
            fix="Keep only text files in callbacks/.",
        ) from None


def spool_claim_size(values: Mapping[str, str]) -> str:
    """Twice the spool's cap (SQLite's WAL and free pages come on top), at least 1Gi."""
    cap_mb = int(values.get("LLMOPS_SPOOL_MAX_MB") or "512")
    return f"{max(1, math.ceil(2 * cap_mb / 1024))}Gi"


def values_file(
    service: ComposeService, env: Environment, paths: Paths, files: ConfigFiles, replicas: int = 1
) -> dict[str, Any]:
    """The chart's values: `replicas` proxy pods running compose's container, mounts as in
    compose (the caller made sure more than one share a Redis)."""
    repository, tag = split_image(service.image)
    values: dict[str, Any] = {
        "replicaCount": replicas,
        "strategy": {"type": "Recreate"},
        "autoscaling": {"enabled": False},
        "keda": {"enabled": False},
        "image": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"},
        "command": list(service.entrypoint),
        "args": list(service.command),
        "service": {"type": "ClusterIP", "port": _port(service)},
        "masterkeySecretName": charts.LITELLM_SECRET,
        "masterkeySecretKey": "LITELLM_MASTER_KEY",
        "environmentSecrets": [charts.LITELLM_SECRET],
        "envVars": dict(env.plain),
        "proxyConfigMap": {"create": False, "name": charts.LITELLM_CONFIGMAP, "key": CONFIG_KEY},
        "db": {"useExisting": False, "deployStandalone": False},
        "migrationJob": {"enabled": False},
        # Newer chart sources can add a second Deployment (background jobs) with the same
        # volumes; it would mount the spool claim too. Off, as it is by default.
        "worker": {"enabled": False},
        "volumes": _volumes(files, paths),
        "volumeMounts": _volume_mounts(paths),
    }
    if replicas > 1:
        values["affinity"] = _one_node()
    if "LITELLM_LOG" in env.plain:
        # The chart sets LITELLM_LOG from logLevel unless envVars has it; both say the same.
        values["logLevel"] = env.plain["LITELLM_LOG"]
    return values


def _one_node() -> dict[str, Any]:
    """Every proxy pod on the node of the others: the spool claim and its slot locks are there."""
    return {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {
                        "matchLabels": {charts.INSTANCE_LABEL: charts.LITELLM.release}
                    },
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }


def _port(service: ComposeService) -> int:
    try:
        return int(service.command[service.command.index("--port") + 1])
    except (ValueError, IndexError):
        return 4000


def _volumes(files: ConfigFiles, paths: Paths) -> list[dict[str, Any]]:
    config = {"name": charts.LITELLM_CONFIGMAP}
    return [
        {"name": "llmops-config", "configMap": {**config, "items": [_CONFIG_ITEM]}},
        {"name": "llmops-callbacks", "configMap": {**config, "items": list(files.callback_items)}},
        {
            "name": "llmops-keys",
            "secret": {
                "secretName": charts.LITELLM_KEYS_SECRET,
                "items": [{"key": KEYS_KEY, "path": paths.keys_name}],
            },
        },
        {
            "name": "llmops-spool",
            "persistentVolumeClaim": {"claimName": charts.LITELLM_SPOOL_CLAIM},
        },
        {"name": "llmops-runtime", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]


def _volume_mounts(paths: Paths) -> list[dict[str, Any]]:
    return [
        {
            "name": "llmops-config",
            "mountPath": paths.config,
            "subPath": CONFIG_KEY,
            "readOnly": True,
        },
        {"name": "llmops-callbacks", "mountPath": paths.callbacks, "readOnly": True},
        # The folder, as in compose: a Secret mounted by subPath never sees an update.
        {"name": "llmops-keys", "mountPath": paths.keys_dir, "readOnly": True},
        # One claim for the pod's state: the spool, and the budget ledger (SQLite) unless
        # LLMOPS_LEDGER_URL names a shared Redis.
        {"name": "llmops-spool", "mountPath": paths.spool, "subPath": "spool"},
        {"name": "llmops-spool", "mountPath": paths.ledger, "subPath": "ledger"},
        {"name": "llmops-runtime", "mountPath": paths.runtime},
    ]
