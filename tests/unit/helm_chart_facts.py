"""What the two official charts accept, in our own words, for the keys `export helm` sets.

Neither chart ships a values.schema.json at the pinned versions, so these facts were read from
each chart's values.yaml and templates with the search tool (no chart code is kept here):

- langfuse/langfuse-k8s, charts/langfuse, chart 2.0.0 (appVersion 4.4.0), commit f5e4abf:
  values.yaml, templates/_helpers.tpl, templates/validations.yaml, templates/web/*.yaml,
  templates/worker/deployment.yaml, examples/minimal-installation.
- BerriAI/litellm, litellm-helm (helm/litellm-helm; deploy/charts/litellm-helm before the move):
  values.yaml (commit 41d0edf), templates/deployment.yaml (f77c13e), _deployment.tpl (2ad9e53,
  the newest), configmap-litellm.yaml, secret-masterkey.yaml, migrations-job.yaml. The exact
  source of the published 1.106.2 chart was not in the index; every key below but
  worker.enabled is in both the newest source and the older 1.80-era one. For the shared state:
  deploy/charts/litellm-helm values.yaml (00eb60c: autoscaling, keda, affinity, redis),
  templates/deployment.yaml (0b4538e: replicas, affinity, the redis.enabled variables),
  templates/hpa.yaml (4564512) and templates/_helpers.tpl (003feda: selector labels).

Each entry: a dotted path and the type its template expects. `ENV_LIST` marks a list of
Kubernetes EnvVar objects rendered as-is, `VOLUMES` / `MOUNTS` lists of Volume / VolumeMount
objects rendered as-is, `STR_MAP` a map of names to strings rendered as `value: "..."`.
"""

from __future__ import annotations

ENV_LIST = "a list of EnvVar"
VOLUMES = "a list of Volume"
MOUNTS = "a list of VolumeMount"
STR_MAP = "a map of strings"
STR_LIST = "a list of strings"
AFFINITY = "an Affinity"

SECRET_KEY_REF = {"secretKeyRef.name": str, "secretKeyRef.key": str}


def _under(prefix: str, facts: dict[str, object]) -> dict[str, object]:
    return {f"{prefix}.{path}": kind for path, kind in facts.items()}


LANGFUSE_KEYS: dict[str, object] = {
    "langfuse.image.tag": str,
    **_under("langfuse.salt", SECRET_KEY_REF),
    **_under("langfuse.encryptionKey", SECRET_KEY_REF),
    "langfuse.nextauth.url": str,
    **_under("langfuse.nextauth.secret", SECRET_KEY_REF),
    "langfuse.features.telemetryEnabled": bool,
    "langfuse.features.signUpDisabled": bool,
    "langfuse.features.experimentalFeaturesEnabled": bool,
    # Added to web and worker after the chart's own variables (web: also web.pod.additionalEnv).
    "langfuse.additionalEnv": ENV_LIST,
    "langfuse.web.image.repository": str,
    "langfuse.web.image.tag": str,
    "langfuse.web.pod.additionalEnv": ENV_LIST,
    "langfuse.worker.image.repository": str,
    "langfuse.worker.image.tag": str,
    "postgresql.auth.username": str,
    "postgresql.auth.database": str,
    "postgresql.auth.existingSecret": str,
    "postgresql.auth.secretKeys.adminPasswordKey": str,
    "postgresql.auth.secretKeys.userPasswordKey": str,
    "postgresql.settings.existingSecret": str,
    "postgresql.userDatabase.existingSecret": str,
    "clickhouse.auth.existingSecret": str,
    "clickhouse.auth.existingSecretKey": str,
    "redis.auth.existingSecret": str,
    "redis.auth.existingSecretPasswordKey": str,
    "redis.auth.usersExistingSecret": str,
    "s3.bucket": str,
    "s3.auth.existingSecret": str,
    "s3.auth.rootUserSecretKey": str,
    "s3.auth.rootPasswordSecretKey": str,
    "s3.allInOne.s3.existingConfigSecret": str,
    "s3.eventUpload.prefix": str,
    "s3.mediaUpload.prefix": str,
    "s3.batchExport.enabled": bool,
    "s3.batchExport.prefix": str,
}

# Chart defaults the kit relies on without setting them.
LANGFUSE_DEFAULTS = {
    # SeaweedFS creates only these buckets; validations.yaml fails on any other.
    "s3.allInOne.s3.createBuckets": ["langfuse"],
    # Valkey's ACL Secret needs one key per user; Langfuse logs in as this one.
    "redis.auth.username": "default",
    # validations.yaml: must stay "default" while the chart deploys ClickHouse.
    "clickhouse.auth.username": "default",
}

# Keys the bundled stores read from the Secrets named in their existingSecret values.
LANGFUSE_STORE_SECRET_KEYS = {
    # groundhog2k postgres (settings.existingSecret, userDatabase.existingSecret)
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "USERDB_USER",
    "USERDB_PASSWORD",
    # valkey (usersExistingSecret): the password of the user named redis.auth.username
    "default",
    # seaweedfs (allInOne.s3.existingConfigSecret): its IAM identities as JSON
    "seaweedfs_s3_config",
}

LITELLM_KEYS: dict[str, object] = {
    # Ignored (spec.replicas left out) while autoscaling.enabled renders an HPA.
    "replicaCount": int,
    # templates/hpa.yaml and keda.yaml: each changes the pod count on its own.
    "autoscaling.enabled": bool,
    "keda.enabled": bool,
    # Rendered as-is into the pod spec's affinity.
    "affinity": AFFINITY,
    # Rendered as-is into the Deployment's spec.strategy.
    "strategy.type": str,
    "image.repository": str,
    "image.tag": str,
    "image.pullPolicy": str,
    # When set, the container's command / args replace the chart's `--config /etc/litellm/...`.
    "command": STR_LIST,
    "args": STR_LIST,
    "service.type": str,
    "service.port": int,
    # PROXY_MASTER_KEY comes from this Secret and key; no masterkey Secret is generated then.
    "masterkeySecretName": str,
    "masterkeySecretKey": str,
    # Each Secret's keys become environment variables (envFrom).
    "environmentSecrets": STR_LIST,
    "envVars": STR_MAP,
    # Unless envVars already sets LITELLM_LOG, the chart sets it from this.
    "logLevel": str,
    # create: false -> the chart mounts key `key` of ConfigMap `name` at /etc/litellm/config.yaml.
    "proxyConfigMap.create": bool,
    "proxyConfigMap.name": str,
    "proxyConfigMap.key": str,
    # Neither true -> the chart sets no DATABASE_* variables and deploys no Postgres.
    "db.useExisting": bool,
    "db.deployStandalone": bool,
    # The migration Job mounts .Values.volumes as well (and would mount the spool claim).
    "migrationJob.enabled": bool,
    # Newest stored source only (templates/_deployment.tpl, worker-deployment.yaml): a second
    # Deployment with the same pod spec and volumes. Unknown to older charts, which ignore it.
    "worker.enabled": bool,
    "volumes": VOLUMES,
    "volumeMounts": MOUNTS,
}

# What the LiteLLM chart renders: a Deployment (no StatefulSet, no volumeClaimTemplates).
LITELLM_WORKLOAD_KIND = "Deployment"
LITELLM_CONFIG_MOUNT = "/etc/litellm/config.yaml"
# templates/_helpers.tpl selectorLabels: the pods carry the release name under this label.
LITELLM_INSTANCE_LABEL = "app.kubernetes.io/instance"
# `redis.enabled` deploys the Bitnami Redis subchart and sets only these variables, which
# litellm_config.yml does not read (its router settings read LLMOPS_ROUTER_REDIS_HOST).
LITELLM_CHART_REDIS_VARIABLES = ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")
