"""`export helm`: values for the official charts, generated from a test .env, checked three ways.

1. Against compose: the proxy container the LiteLLM values describe (image, command, args,
   environment with its Secret, mounts) equals what the real `docker compose config` resolves
   for the litellm service from the same .env; the interpolation behind it equals compose's
   for every service the export reads.
2. Against the charts: every key set exists with the type the chart's templates expect
   (tests/unit/helm_chart_facts.py, facts read from the pinned charts), and the Langfuse values
   pass the chart's own render-time validations.
3. Against the manifests: every Secret, key, ConfigMap and claim the values name is written.
What a user relies on besides: secrets only in the 0600 Secret files, never printed.
"""

from __future__ import annotations

import base64
import json
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmops_kit import helm_charts, helm_export, helm_litellm, settings
from llmops_kit.errors import ConfigError
from llmops_kit.helm_compose import interpolate
from tests.unit import helm_chart_facts as facts
from tests.unit.cli_harness import make_kit
from tests.unit.test_compose_files import resolved_services, write_env

EXTERNAL_DATABASE = "postgresql://litellm:pw-external-0123456789@db.example.internal:5432/litellm"
KEYS_TEXT = "keys:\n  - key: sk-test-0123456789abcdef\n    user: ada\n"


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def decoded(secret: Mapping[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class Exported:
    """One export from one .env: its files parsed, and the settings they came from."""

    def __init__(self, env_file: Path) -> None:
        self.env_file = env_file
        self.values = settings.load(env_file, environ={})
        self.result = helm_export.build(self.values)
        self.langfuse = documents(self.result.files[helm_export.LANGFUSE_VALUES])[0]
        self.litellm = documents(self.result.files[helm_export.LITELLM_VALUES])[0]
        self.objects = [
            doc for name in helm_export.MANIFESTS for doc in documents(self.result.files[name])
        ]

    def object(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind} {name} written {len(found)} times"
        return found[0]

    def secret(self, name: str) -> dict[str, str]:
        return decoded(self.object("Secret", name))

    def proxy_environment(self) -> dict[str, str]:
        """What the proxy container gets from the kit: envVars plus the envFrom Secret."""
        secret_names = self.litellm["environmentSecrets"]
        from_secrets = {k: v for name in secret_names for k, v in self.secret(name).items()}
        return {**self.litellm["envVars"], **from_secrets}


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """A .env as a production cluster would have it: keys, AWS keys, an external database."""
    folder = tmp_path_factory.mktemp("helm")
    keys = folder / "keys" / "keys.yml"
    keys.parent.mkdir()
    keys.write_text(KEYS_TEXT)
    env_file = write_env(
        folder / ".env",
        LLMOPS_KEYS_FILE=str(keys),
        LITELLM_DATABASE_URL=EXTERNAL_DATABASE,
        AWS_ACCESS_KEY_ID="AKIAEXAMPLEEXAMPLE00",
        AWS_SECRET_ACCESS_KEY="secret-access-key-0123456789",
        AWS_SESSION_TOKEN="session-token-0123456789",
        LLMOPS_REDACT_ALLOW='["sk-not-a-secret"]',
    )
    return Exported(env_file)


@pytest.fixture(scope="module")
def compose_default(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """A .env as `init` writes it for compose, with an AWS profile."""
    return Exported(write_env(tmp_path_factory.mktemp("helm") / ".env", AWS_PROFILE="dev"))


SHARED_REDIS_PASSWORD = "p@ss-0123456789"
SHARED_LEDGER_URL = "redis://:p%40ss-0123456789@redis.shared.svc.cluster.local:6379/2"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """Three proxy pods and a Redis the user provides for their budgets and router state."""
    return Exported(
        write_env(
            tmp_path_factory.mktemp("helm") / ".env",
            LLMOPS_PROXY_REPLICAS="3",
            LLMOPS_LEDGER_URL=SHARED_LEDGER_URL,
        )
    )


# -- 1. the same container as compose


def compose_env(service: Mapping[str, Any]) -> dict[str, str]:
    """A resolved service's environment; names compose leaves unset (None) are not passed."""
    return {k: v for k, v in service["environment"].items() if v is not None}


def test_the_proxy_gets_the_environment_compose_gives_it(production: Exported) -> None:
    compose = resolved_services(production.env_file)["litellm"]

    assert production.proxy_environment() == compose_env(compose)


def test_the_proxy_runs_compose_image_entrypoint_and_command(production: Exported) -> None:
    compose = resolved_services(production.env_file)["litellm"]
    image = production.litellm["image"]

    assert f"{image['repository']}:{image['tag']}" == compose["image"]
    assert production.litellm["command"] == compose["entrypoint"]
    assert production.litellm["args"] == compose["command"]
    assert production.litellm["service"]["port"] == int(compose["command"][-1])


def test_the_proxy_mounts_files_where_compose_does(production: Exported) -> None:
    compose = resolved_services(production.env_file)["litellm"]
    compose_targets = {v["target"] for v in compose["volumes"]} | set(compose["tmpfs"])
    # ~/.aws is the one mount a cluster replaces (a pod role, or keys in the Secret).
    compose_targets.discard("/root/.aws")

    mounts = {m["mountPath"] for m in production.litellm["volumeMounts"]}

    assert mounts == compose_targets


@pytest.mark.parametrize("service", ["langfuse-web", "langfuse-worker", "litellm"])
def test_the_compose_files_resolve_as_docker_compose_resolves_them(
    service: str, production: Exported, compose_default: Exported
) -> None:
    for exported in (production, compose_default):
        ours = helm_export.service(exported.values, service)
        compose = resolved_services(exported.env_file)[service]

        assert ours.env() == compose_env(compose)
        assert ours.image == compose["image"]


def test_what_cannot_work_in_a_cluster_is_left_out_and_said(compose_default: Exported) -> None:
    env = compose_default.proxy_environment()
    notes = "\n".join(compose_default.result.notes)

    assert "AWS_PROFILE" not in env
    assert "DATABASE_URL" not in env
    assert "AWS_PROFILE is left out" in notes
    assert "DATABASE_URL is left out" in notes


def test_langfuse_runs_the_images_compose_pins(production: Exported) -> None:
    services = resolved_services(production.env_file)
    web, worker = production.langfuse["langfuse"]["web"], production.langfuse["langfuse"]["worker"]

    assert (
        f"{web['image']['repository']}:{web['image']['tag']}" == services["langfuse-web"]["image"]
    )
    assert (
        f"{worker['image']['repository']}:{worker['image']['tag']}"
        == services["langfuse-worker"]["image"]
    )


def test_langfuse_gets_the_settings_compose_sets(production: Exported) -> None:
    web = compose_env(resolved_services(production.env_file)["langfuse-web"])
    lf, s3 = production.langfuse["langfuse"], production.langfuse["s3"]
    env = {e["name"]: e for e in lf["additionalEnv"] + lf["web"]["pod"]["additionalEnv"]}
    secret = production.secret(helm_charts.LANGFUSE_SECRET)

    def value(name: str) -> str:
        entry = env[name]
        return (
            entry["value"]
            if "value" in entry
            else secret[entry["valueFrom"]["secretKeyRef"]["key"]]
        )

    assert lf["nextauth"]["url"] == web["NEXTAUTH_URL"]
    assert str(lf["features"]["telemetryEnabled"]).lower() == web["TELEMETRY_ENABLED"]
    assert str(lf["features"]["signUpDisabled"]).lower() == web["AUTH_DISABLE_SIGNUP"]
    assert str(s3["batchExport"]["enabled"]).lower() == web["LANGFUSE_S3_BATCH_EXPORT_ENABLED"]
    assert s3["eventUpload"]["prefix"] == web["LANGFUSE_S3_EVENT_UPLOAD_PREFIX"]
    assert s3["mediaUpload"]["prefix"] == web["LANGFUSE_S3_MEDIA_UPLOAD_PREFIX"]
    assert s3["bucket"] == web["LANGFUSE_S3_EVENT_UPLOAD_BUCKET"]
    for name in [n for n in web if n.startswith("LANGFUSE_INIT_")] + [
        "LANGFUSE_MIGRATION_V4_WRITE_MODE"
    ]:
        assert value(name) == web[name], name
    assert secret["salt"] == web["SALT"]
    assert secret["encryption-key"] == web["ENCRYPTION_KEY"]
    assert secret["nextauth-secret"] == web["NEXTAUTH_SECRET"]
    assert secret["clickhouse-password"] == web["CLICKHOUSE_PASSWORD"]
    assert secret["redis-password"] == web["REDIS_AUTH"]
    assert secret["s3-password"] == web["LANGFUSE_S3_EVENT_UPLOAD_SECRET_ACCESS_KEY"]


def test_the_proxy_sends_traces_with_the_key_langfuse_is_initialised_with(
    production: Exported,
) -> None:
    proxy = production.proxy_environment()
    init = {e["name"]: e for e in production.langfuse["langfuse"]["web"]["pod"]["additionalEnv"]}
    secret = production.secret(helm_charts.LANGFUSE_SECRET)

    assert proxy["LANGFUSE_PUBLIC_KEY"] == init["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]["value"]
    assert proxy["LANGFUSE_SECRET_KEY"] == secret["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    # Both releases in one namespace: the chart's web Service answers at compose's address.
    assert proxy["LANGFUSE_HOST"] == f"http://{helm_charts.LANGFUSE_WEB_SERVICE}:3000"


# -- 2. against the charts


def leaves(
    values: Mapping[str, Any], known: Mapping[str, object], prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    """(path, value) of each key set, descending into maps the facts do not name whole."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path not in known and isinstance(value, Mapping):
            yield from leaves(value, known, f"{path}.")
        else:
            yield path, value


def kind_problem(kind: object, value: Any) -> str | None:
    if isinstance(kind, type):
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        return None if ok else f"expects {kind.__name__}, got {value!r}"
    if kind == facts.STR_LIST:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif kind == facts.STR_MAP:
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    elif kind == facts.ENV_LIST:
        ok = isinstance(value, list) and all(is_env_var(v) for v in value)
    elif kind == facts.VOLUMES:
        ok = isinstance(value, list) and all(is_volume(v) for v in value)
    elif kind == facts.MOUNTS:
        ok = isinstance(value, list) and all(
            set(m) <= {"name", "mountPath", "subPath", "readOnly"}
            and m["mountPath"].startswith("/")
            for m in value
        )
    elif kind == facts.AFFINITY:
        ok = isinstance(value, dict) and set(value) <= {
            "nodeAffinity",
            "podAffinity",
            "podAntiAffinity",
        }
    else:
        raise AssertionError(f"unknown kind {kind}")
    return None if ok else f"is not {kind}"


def is_env_var(entry: Mapping[str, Any]) -> bool:
    has_value = isinstance(entry.get("value"), str)
    ref = entry.get("valueFrom", {}).get("secretKeyRef", {})
    return bool(re.fullmatch(r"[A-Z_][A-Z0-9_]*", entry["name"])) and (
        has_value != bool(ref.get("name") and ref.get("key"))
    )


def is_volume(volume: Mapping[str, Any]) -> bool:
    sources = set(volume) - {"name"}
    return len(sources) == 1 and sources <= {
        "configMap",
        "secret",
        "persistentVolumeClaim",
        "emptyDir",
    }


@pytest.mark.parametrize("fixture", ["production", "shared"])
@pytest.mark.parametrize(
    ("chart", "known"), [("langfuse", facts.LANGFUSE_KEYS), ("litellm", facts.LITELLM_KEYS)]
)
def test_values_set_only_keys_the_chart_reads_with_their_types(
    chart: str, known: Mapping[str, object], fixture: str, request: pytest.FixtureRequest
) -> None:
    exported: Exported = request.getfixturevalue(fixture)
    values = exported.langfuse if chart == "langfuse" else exported.litellm
    problems = {}
    for path, value in leaves(values, known):
        if path not in known:
            problems[path] = "is not a key the chart reads"
        elif problem := kind_problem(known[path], value):
            problems[path] = problem

    assert problems == {}


def test_langfuse_values_pass_the_chart_validations(production: Exported) -> None:
    """templates/validations.yaml of chart 2.0.0: the rules the kit's values could trip."""
    lf = production.langfuse
    assert (
        lf["postgresql"]["settings"]["existingSecret"] == lf["postgresql"]["auth"]["existingSecret"]
    )
    assert lf["postgresql"]["userDatabase"]["existingSecret"]
    assert lf["redis"]["auth"]["usersExistingSecret"]
    assert lf["s3"]["allInOne"]["s3"]["existingConfigSecret"]
    assert lf["s3"]["bucket"] in facts.LANGFUSE_DEFAULTS["s3.allInOne.s3.createBuckets"]
    assert "username" not in lf.get("clickhouse", {}).get("auth", {})
    assert "username" not in lf["redis"]["auth"]


def test_the_litellm_values_fit_its_deployment(production: Exported) -> None:
    values = production.litellm
    # One pod owns the spool claim; Recreate frees it before the next pod mounts it.
    assert values["replicaCount"] == 1
    assert values["strategy"] == {"type": "Recreate"}
    assert values["migrationJob"]["enabled"] is False
    assert values["worker"]["enabled"] is False
    assert values["proxyConfigMap"]["create"] is False
    assert facts.LITELLM_CONFIG_MOUNT not in {m["mountPath"] for m in values["volumeMounts"]}


# -- 3. against the manifests


def test_every_secret_and_key_the_values_name_is_written(production: Exported) -> None:
    refs: list[tuple[str, str]] = []

    def collect(node: Any) -> None:
        if isinstance(node, Mapping):
            if "secretKeyRef" in node:
                refs.append((node["secretKeyRef"]["name"], node["secretKeyRef"]["key"]))
            for child in node.values():
                collect(child)
        elif isinstance(node, list):
            for child in node:
                collect(child)

    collect(production.langfuse)
    lf = production.langfuse
    name = lf["postgresql"]["auth"]["existingSecret"]
    refs += [(name, k) for k in lf["postgresql"]["auth"]["secretKeys"].values()]
    refs += [
        (lf["clickhouse"]["auth"]["existingSecret"], lf["clickhouse"]["auth"]["existingSecretKey"])
    ]
    refs += [
        (lf["redis"]["auth"]["existingSecret"], lf["redis"]["auth"]["existingSecretPasswordKey"])
    ]
    s3 = lf["s3"]["auth"]
    refs += [
        (s3["existingSecret"], s3["rootUserSecretKey"]),
        (s3["existingSecret"], s3["rootPasswordSecretKey"]),
    ]
    refs += [(name, key) for key in facts.LANGFUSE_STORE_SECRET_KEYS]
    ll = production.litellm
    refs.append((ll["masterkeySecretName"], ll["masterkeySecretKey"]))
    refs += [(v["secret"]["secretName"], "keys.yml") for v in ll["volumes"] if "secret" in v]

    missing = [(s, k) for s, k in refs if k not in production.secret(s)]

    assert missing == []
    for secret in ll["environmentSecrets"]:
        production.object("Secret", secret)


def test_the_configmap_and_claim_the_proxy_mounts_are_written(production: Exported) -> None:
    values = production.litellm
    config_map = production.object("ConfigMap", values["proxyConfigMap"]["name"])
    data = config_map["data"]
    for volume in values["volumes"]:
        if "configMap" in volume:
            assert volume["configMap"]["name"] == config_map["metadata"]["name"]
            assert {i["key"] for i in volume["configMap"]["items"]} <= set(data)
        if "persistentVolumeClaim" in volume:
            production.object("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])

    assert values["proxyConfigMap"]["key"] in data
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", key) for key in data)


def test_the_configmap_carries_the_config_and_every_callback(production: Exported) -> None:
    callbacks = settings.REPO_ROOT / "callbacks"
    expected = {
        p.relative_to(callbacks).as_posix(): p.read_text()
        for p in callbacks.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    config_map = production.object("ConfigMap", helm_charts.LITELLM_CONFIGMAP)["data"]
    volume = next(v for v in production.litellm["volumes"] if v["name"] == "llmops-callbacks")
    projected = {i["path"]: config_map[i["key"]] for i in volume["configMap"]["items"]}

    assert projected == expected
    assert (
        config_map["litellm_config.yml"] == (settings.REPO_ROOT / "litellm_config.yml").read_text()
    )


def test_the_secrets_hold_the_env_values(production: Exported) -> None:
    proxy = production.secret(helm_charts.LITELLM_SECRET)

    assert proxy["LITELLM_MASTER_KEY"] == production.values["LITELLM_MASTER_KEY"]
    assert proxy["DATABASE_URL"] == EXTERNAL_DATABASE
    assert proxy["AWS_SECRET_ACCESS_KEY"] == "secret-access-key-0123456789"
    assert production.secret(helm_charts.LITELLM_KEYS_SECRET) == {"keys.yml": KEYS_TEXT}
    s3_config = json.loads(production.secret(helm_charts.LANGFUSE_SECRET)["seaweedfs_s3_config"])
    [identity] = s3_config["identities"]
    assert identity["credentials"] == [
        {"accessKey": "minio", "secretKey": production.values["MINIO_ROOT_PASSWORD"]}
    ]


@pytest.mark.parametrize("fixture", ["production", "shared"])
def test_values_files_hold_no_secret(fixture: str, request: pytest.FixtureRequest) -> None:
    exported: Exported = request.getfixturevalue(fixture)
    secrets = [
        v
        for n, v in exported.values.items()
        if settings.BY_NAME.get(n) and settings.BY_NAME[n].secret and len(v) >= 8
    ] + [SHARED_REDIS_PASSWORD]
    text = (
        exported.result.files[helm_export.LANGFUSE_VALUES]
        + exported.result.files[helm_export.LITELLM_VALUES]
    )

    assert secrets and [s for s in secrets if s in text] == []


def test_the_charts_are_pinned_to_the_releases_compose_runs(production: Exported) -> None:
    services = resolved_services(production.env_file)

    assert services["litellm"]["image"].endswith(":v" + helm_charts.LITELLM.version)
    assert helm_charts.LITELLM.app_version == "v" + helm_charts.LITELLM.version
    assert (
        production.langfuse["langfuse"]["image"]["tag"]
        == services["langfuse-web"]["image"].split(":")[-1]
    )


# -- the command


def test_export_writes_private_files_and_prints_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(tmp_path, monkeypatch)
    kit.run("init")
    out = tmp_path / "k8s"

    outcome = kit.run("export", "helm", "--out", str(out))

    assert outcome.code == 0, outcome.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {
        name: 0o600 for name in helm_export.build(kit.settings()).files
    }
    printed = outcome.stdout + outcome.stderr
    resolved = kit.settings()
    for name, var in settings.BY_NAME.items():
        if var.secret and resolved.get(name):
            assert resolved[name] not in printed, name
    assert f"helm install langfuse {helm_charts.LANGFUSE.reference}" in printed
    assert f"--version {helm_charts.LITELLM.version}" in printed


def test_export_of_several_pods_without_redis_writes_nothing_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(tmp_path, monkeypatch)
    kit.run("init")
    kit.set(LLMOPS_PROXY_REPLICAS="3")
    out = tmp_path / "k8s"

    outcome = kit.run("export", "helm", "--out", str(out))

    assert outcome.code == 1
    assert "LLMOPS_PROXY_REPLICAS=3" in outcome.stderr
    assert "Set LLMOPS_LEDGER_URL" in outcome.stderr
    assert not out.exists()


def test_export_tightens_an_existing_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(tmp_path, monkeypatch)
    kit.run("init")
    out = tmp_path / "k8s"
    out.mkdir(mode=0o755)

    assert kit.run("export", "helm", "--out", str(out)).code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_export_without_env_file_says_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(tmp_path, monkeypatch)

    outcome = kit.run("export", "helm", "--out", str(tmp_path / "k8s"))

    assert outcome.code == 1
    assert "manage_langfuse.py init" in outcome.stderr
    assert not (tmp_path / "k8s").exists()


def test_export_refuses_a_namespace_kubernetes_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(tmp_path, monkeypatch)
    kit.run("init")

    outcome = kit.run("export", "helm", "--out", str(tmp_path / "k8s"), "--namespace", "LLM_ops")

    assert outcome.code == 2
    assert "not a Kubernetes namespace name" in outcome.stderr
    assert not (tmp_path / "k8s").exists()


def test_export_writes_the_namespace_into_every_manifest(production: Exported) -> None:
    other = helm_export.build(production.values, "team-a")
    namespaces = {
        doc["metadata"]["namespace"]
        for name in helm_export.MANIFESTS
        for doc in documents(other.files[name])
    }

    assert namespaces == {"team-a"}
    assert "-n team-a" in helm_export.install_commands(Path("k8s"), "team-a")[-1]


# -- the pieces


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("${A}", {"A": "1"}, "1"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+x=}${A:-UNSET}", {"A": "v"}, "x=v"),
        ("${A:+x=}${A:-UNSET}", {"A": ""}, "UNSET"),
        ("${A:-${B}/.aws}", {"B": "/home"}, "/home/.aws"),
        ("$$A and $A", {"A": "1"}, "$A and 1"),
    ],
)
def test_interpolation_forms(template: str, values: dict[str, str], expected: str) -> None:
    assert interpolate(template, values).text == expected


def test_a_required_variable_names_itself_not_a_value() -> None:
    with pytest.raises(ConfigError) as raised:
        interpolate("${SALT:?run init}", {"SALT": ""})

    assert "SALT is not set (run init)" in str(raised.value)


def test_a_required_secret_is_marked_secret_in_the_environment(production: Exported) -> None:
    proxy = helm_export.service(production.values, "litellm")
    secret = {e.name for e in proxy.environment if e.secret}

    assert {"LITELLM_MASTER_KEY", "LANGFUSE_SECRET_KEY", "DATABASE_URL"} <= secret
    assert "LANGFUSE_PUBLIC_KEY" not in secret


@pytest.mark.parametrize(("cap", "size"), [("512", "1Gi"), ("2048", "4Gi"), ("100", "1Gi")])
def test_the_spool_claim_has_room_for_twice_the_cap(cap: str, size: str) -> None:
    assert helm_litellm.spool_claim_size({"LLMOPS_SPOOL_MAX_MB": cap}) == size


def test_the_configmap_skips_caches_and_refuses_colliding_names(tmp_path: Path) -> None:
    config = tmp_path / "litellm_config.yml"
    config.write_text("model_list: []\n")
    callbacks = tmp_path / "callbacks"
    (callbacks / "__pycache__").mkdir(parents=True)
    (callbacks / "__pycache__" / "hook.cpython-311.pyc").write_bytes(b"\x00")
    (callbacks / "hook.py").write_text("x = 1\n")

    files = helm_litellm.config_files(config, callbacks)

    assert files.callback_items == ({"key": "callbacks.hook.py", "path": "hook.py"},)
    (callbacks / "a").mkdir()
    (callbacks / "a" / "b.py").write_text("")
    (callbacks / "a.b.py").write_text("")
    with pytest.raises(ConfigError, match="one ConfigMap key"):
        helm_litellm.config_files(config, callbacks)


# -- budgets and router state across pods


def router_redis_settings(exported: Exported) -> dict[str, Any]:
    """The router settings of the litellm_config.yml the pods mount (from the ConfigMap)."""
    configmap = exported.object("ConfigMap", helm_charts.LITELLM_CONFIGMAP)
    router = yaml.safe_load(configmap["data"][helm_litellm.CONFIG_KEY])["router_settings"]
    return {k: v for k, v in router.items() if k.startswith("redis_")}


def from_environment(reference: object, env: Mapping[str, str]) -> str | None:
    """What LiteLLM reads for an `os.environ/NAME` value of the config."""
    name = str(reference).removeprefix("os.environ/")
    return env.get(name)


def test_pods_share_budgets_and_router_state_through_the_users_redis(shared: Exported) -> None:
    env = shared.proxy_environment()
    router = router_redis_settings(shared)

    # The ledger: every pod admits and settles against the same Redis.
    assert env["LLMOPS_LEDGER_URL"] == SHARED_LEDGER_URL
    # The router (cooldowns, rpm/tpm): the config's redis_* resolve to that Redis.
    assert from_environment(router["redis_host"], env) == "redis.shared.svc.cluster.local"
    assert from_environment(router["redis_password"], env) == SHARED_REDIS_PASSWORD
    assert router["redis_port"] == 6379
    # Host plain, password only in the Secret the pods load.
    assert "LLMOPS_ROUTER_REDIS_HOST" in shared.litellm["envVars"]
    assert "LLMOPS_PROXY_REDIS_PASSWORD" not in shared.litellm["envVars"]


def test_several_pods_run_as_many_proxies_on_the_spools_node(shared: Exported) -> None:
    values = shared.litellm
    [term] = values["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]

    assert values["replicaCount"] == 3
    # Nothing else changes the count: the chart's HPA and KEDA are off.
    assert values["autoscaling"]["enabled"] is False
    assert values["keda"]["enabled"] is False
    # Each pod spools in its own slot of the one claim, locked on the node that mounts it.
    assert shared.proxy_environment()["LLMOPS_SPOOL_SLOTS"] == "on"
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == {
        facts.LITELLM_INSTANCE_LABEL: helm_charts.LITELLM.release
    }
    # The chart's own Redis sets variables the kit's config does not read: not used.
    assert "redis" not in values
    config = shared.object("ConfigMap", helm_charts.LITELLM_CONFIGMAP)["data"]
    for name in facts.LITELLM_CHART_REDIS_VARIABLES:
        assert f"os.environ/{name}" not in config[helm_litellm.CONFIG_KEY]


def test_one_pod_without_redis_keeps_its_state_and_says_so(production: Exported) -> None:
    env = production.proxy_environment()

    assert production.litellm["replicaCount"] == 1
    assert "affinity" not in production.litellm
    assert env["LLMOPS_LEDGER_URL"] == ""
    assert "LLMOPS_ROUTER_REDIS_HOST" not in env
    assert "kept per pod" in production.result.files[helm_export.LITELLM_VALUES]


def test_several_pods_without_redis_are_refused(tmp_path: Path) -> None:
    values = settings.load(write_env(tmp_path / ".env", LLMOPS_PROXY_REPLICAS="2"), environ={})

    with pytest.raises(ConfigError, match="LLMOPS_LEDGER_URL is empty") as raised:
        helm_export.build(values)

    assert "LLMOPS_LEDGER_URL" in raised.value.fix


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("rediss://:p%40ss-0123456789@redis.example:6379/0", "scheme"),
        ("redis://:p%40ss-0123456789@redis.example:6380/0", "port 6379"),
        ("redis://:p%40ss-0123456789@:6379/0", "port 6379"),
    ],
)
def test_a_redis_the_router_cannot_follow_is_refused_without_its_password(
    tmp_path: Path, url: str, reason: str
) -> None:
    env_file = write_env(tmp_path / ".env", LLMOPS_PROXY_REPLICAS="2", LLMOPS_LEDGER_URL=url)

    with pytest.raises(ConfigError, match=reason) as raised:
        helm_export.build(settings.load(env_file, environ={}))

    assert "p@ss" not in str(raised.value) and "p%40ss" not in str(raised.value)
