"""Check litellm_config.yml before the proxy runs it: what LiteLLM itself does not check.

LiteLLM starts happily with a route the inference-profile prefix does not offer, a route its
cost map cannot price (every trace then costs 0), or a fallback naming a group that does not
exist; the first developer request finds out. `validate_config` finds out first and raises
ConfigError naming the problem and the fix. `start`, `update-config` and `doctor` call it.

The config is rendered as the proxy will see it (`${NAME}` from the settings, as
callbacks/proxy_entrypoint.py does), then loaded with LiteLLM's own Router, and checked
against the pinned LiteLLM's cost map.
"""

from __future__ import annotations

import copy
import datetime
import importlib.util
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from .errors import ConfigError
from .settings import REPO_ROOT
from .textfiles import read_text_file

CALLBACKS_DIR = REPO_ROOT / "callbacks"
CONVERSE_ROUTE = "bedrock/converse/"
ENV_REFERENCE = "os.environ/"
CREDENTIAL_PARAMS = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_bearer_token",
        "api_key",
    }
)
FALLBACK_SETTINGS = ("fallbacks", "context_window_fallbacks")


# Inference-profile prefix -> the source regions it is called from, in words.
PROFILE_REGIONS: dict[str, str] = {
    "us": "us-* (e.g. us-east-1, us-west-2)",
    "eu": "eu-* (e.g. eu-central-1, eu-west-1)",
    "apac": "ap-* (e.g. ap-southeast-1, ap-south-1)",
    "jp": "ap-northeast-1 or ap-northeast-3",
    "au": "ap-southeast-2 or ap-southeast-4",
    "global": "any commercial region",
}
_NOT_COMMERCIAL = ("us-gov-", "cn-")


def prefix_serves(prefix: str, region: str) -> bool:
    """Whether a cross-region inference profile with `prefix` can be called from `region`."""
    match prefix:
        case "us":
            return region.startswith("us-") and not region.startswith(_NOT_COMMERCIAL)
        case "eu":
            return region.startswith("eu-")
        case "apac":
            return region.startswith("ap-")
        case "jp":
            return region in {"ap-northeast-1", "ap-northeast-3"}
        case "au":
            return region in {"ap-southeast-2", "ap-southeast-4"}
        case "global":
            return not region.startswith(_NOT_COMMERCIAL)
    return False


@dataclass(frozen=True)
class Route:
    """One model group as the proxy will run it."""

    group: str
    model_id: str
    max_input_tokens: int
    max_output_tokens: int


@dataclass(frozen=True)
class ValidatedConfig:
    """A config that passed every check, summarised for `start`, `update-config` and `doctor`."""

    path: Path
    routes: tuple[Route, ...]
    fallbacks: Mapping[str, tuple[str, ...]]
    developer_keys: int
    warnings: tuple[str, ...] = field(default_factory=tuple)
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def model_groups(self) -> tuple[str, ...]:
        """The names clients pick, in config order."""
        return tuple(route.group for route in self.routes)


@cache
def callbacks_module(name: str) -> ModuleType:
    """Load callbacks/<name>.py by file path, the way LiteLLM loads it (no package)."""
    path = CALLBACKS_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"llmops_callbacks_{name}", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {path}", fix="Restore callbacks/ from the repository.")
    module = importlib.util.module_from_spec(spec)
    _use_local_cost_map()  # the module may import litellm
    spec.loader.exec_module(module)
    return module


def _use_local_cost_map() -> None:
    """LiteLLM fetches its cost map from GitHub at import unless told otherwise; the kit
    checks against the pinned package's own map, and never waits on the network for it."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _litellm() -> ModuleType:
    _use_local_cost_map()
    import litellm

    return litellm


@cache
def cost_map() -> Mapping[str, Any]:
    """The pinned LiteLLM's cost map as shipped: model id -> limits, prices, capabilities.

    A copy taken before any Router is built here: LiteLLM's Router writes each deployment's
    model_info into its global map, which would make a config's own claims look like facts.
    """
    return copy.deepcopy(_litellm().model_cost)


def load_rendered(path: Path, settings: Mapping[str, str]) -> dict[str, Any]:
    """The config as the proxy will read it: `${NAME}` replaced from the settings, parsed."""
    text = read_text_file(path, fix="Pass the path of litellm_config.yml.")
    entrypoint = callbacks_module("proxy_entrypoint")
    try:
        rendered = entrypoint.render(text, settings)
    except entrypoint.UnsetVariableError as error:
        raise ConfigError(str(error), fix="Set it in .env, then run the command again.") from None
    try:  # the routes the entrypoint adds for a local model server, if configured
        entrypoint.local_routes.local_routes(settings)
    except entrypoint.local_routes.LocalRoutesError as error:
        raise ConfigError(str(error), fix="Correct it in .env (README: Local models).") from None
    try:
        document = yaml.safe_load(rendered)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path} is not valid YAML{line}", fix="Correct the indentation or quoting there."
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("model_list"), list):
        raise ConfigError(f"{path} has no model_list", fix="Start from the repository's file.")
    return document


def _resolve_references(value: Any, settings: Mapping[str, str], path: Path) -> Any:
    """Replace LiteLLM's `os.environ/NAME` values with the settings' values."""
    if isinstance(value, dict):
        return {k: _resolve_references(v, settings, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_references(v, settings, path) for v in value]
    if isinstance(value, str) and value.startswith(ENV_REFERENCE):
        name = value[len(ENV_REFERENCE) :]
        if not settings.get(name):
            raise ConfigError(
                f"{path} uses {value} but {name} is not set",
                fix=f"Set {name} in .env.",
            )
        return settings[name]
    return value


def _deployments(document: Mapping[str, Any], path: Path) -> list[dict[str, Any]]:
    deployments = document["model_list"]
    for number, deployment in enumerate(deployments, start=1):
        params = deployment.get("litellm_params") if isinstance(deployment, dict) else None
        if not isinstance(params, dict) or not deployment.get("model_name"):
            raise ConfigError(
                f"{path}: model_list entry {number} needs model_name and litellm_params.model",
                fix="Copy the shape of an existing entry.",
            )
        literal = sorted(
            k
            for k, v in params.items()
            if k in CREDENTIAL_PARAMS and not str(v).startswith(ENV_REFERENCE)
        )
        if literal:
            raise ConfigError(
                f"{path}: {deployment['model_name']} has credentials in the config "
                f"({', '.join(literal)})",
                fix="Delete them; set AWS credentials in .env or use an AWS profile or role.",
            )
    return deployments


def offline_router_settings(document: Mapping[str, Any]) -> dict[str, Any]:
    """router_settings without the shared Redis (redis_*): that is the running proxies'
    business (with several replicas), so a check builds its Router connecting to nothing."""
    return {
        name: value
        for name, value in (document.get("router_settings") or {}).items()
        if not name.startswith("redis_")
    }


def _load_with_litellm(document: Mapping[str, Any], deployments: list[dict], path: Path) -> None:
    """Build LiteLLM's Router from the config: its own checks of routes and router settings."""
    router_settings = offline_router_settings(document)
    try:
        # A copy: the Router fills in the deployments it is given.
        _litellm().Router(model_list=copy.deepcopy(deployments), **router_settings)
    except Exception as error:  # LiteLLM raises plain exceptions of many kinds here
        raise ConfigError(
            f"LiteLLM rejects {path}: {type(error).__name__}: {str(error)[:300]}",
            fix="Correct model_list or router_settings; compare with the repository's file.",
        ) from None


def _check_fallback_targets(
    router_settings: Mapping[str, Any], groups: set[str], path: Path, aliases: Mapping[str, str]
) -> None:
    """Every name in a chain is a group; a chain may also start at an alias."""
    for setting in FALLBACK_SETTINGS:
        for entry in router_settings.get(setting) or []:
            if not isinstance(entry, Mapping) or not all(
                isinstance(targets, list) for targets in entry.values()
            ):
                raise ConfigError(
                    f"{path}: router_settings.{setting} has an entry {entry!r}",
                    fix="Write each entry as `- group: [fallback, ...]`.",
                )
            for source, targets in entry.items():
                sources = groups | set(aliases) if setting == "fallbacks" else groups
                for name, known in ((source, sources), *((t, groups) for t in targets)):
                    if name not in known:
                        raise ConfigError(
                            f"{path}: router_settings.{setting} names {name!r}, which is not a "
                            "model group",
                            fix=f"Use one of {', '.join(sorted(groups))}, or add that group.",
                        )


def _aliases(router_settings: Mapping[str, Any], groups: set[str], path: Path) -> dict[str, str]:
    """`model_group_alias` as name -> group; LiteLLM accepts an alias to nothing and lets the
    first request fail, and an alias named like a group silently takes its requests."""
    aliases = router_settings.get("model_group_alias") or {}
    if not isinstance(aliases, Mapping):
        raise ConfigError(
            f"{path}: router_settings.model_group_alias is not a mapping",
            fix="Write each alias as `name: {model: group, hidden: true}`.",
        )
    resolved = {}
    for alias, target in aliases.items():
        group = target.get("model") if isinstance(target, Mapping) else target
        if group not in groups:
            raise ConfigError(
                f"{path}: router_settings.model_group_alias sends {alias!r} to {group!r}, "
                "which is not a model group",
                fix=f"Use one of {', '.join(sorted(groups))}.",
            )
        if alias in groups:
            raise ConfigError(
                f"{path}: router_settings.model_group_alias {alias!r} is also a model group",
                fix=f"Rename the alias or the group {alias!r}.",
            )
        resolved[str(alias)] = str(group)
    return resolved


def _check_alias_chains(
    fallbacks: Mapping[str, tuple[str, ...]], aliases: Mapping[str, str], path: Path
) -> None:
    """LiteLLM looks a chain up by the name asked for: an alias without its group's chain
    would never fall back, and one with another chain would surprise."""
    for alias, group in aliases.items():
        wanted = fallbacks.get(group, ())
        if fallbacks.get(alias, ()) != wanted:
            raise ConfigError(
                f"{path}: {alias!r} leads to {group}, but its fallbacks "
                f"{list(fallbacks.get(alias, ()))} are not {group}'s {list(wanted)}",
                fix=f"Under router_settings.fallbacks write `- {alias}: [{', '.join(wanted)}]`.",
            )


def _fitting_prefixes(base_id: str, region: str, prices: Mapping[str, Any]) -> list[str]:
    """The prefixes that offer `base_id` and can be called from `region`."""
    return [p for p in PROFILE_REGIONS if f"{p}.{base_id}" in prices and prefix_serves(p, region)]


def _route(
    deployment: Mapping[str, Any],
    profile: tuple[str, str],
    prices: Mapping[str, Any],
    path: Path,
) -> Route:
    """Check one deployment against the cost map; `profile` is (prefix, region)."""
    prefix, region = profile
    group = deployment["model_name"]
    model = str(deployment["litellm_params"].get("model", ""))
    if not model.startswith(CONVERSE_ROUTE):
        raise ConfigError(
            f"{path}: {group} routes to {model!r}, not through {CONVERSE_ROUTE}",
            fix=f"Use {CONVERSE_ROUTE}<profile id>: other Bedrock routes report cost 0.",
        )
    model_id = model[len(CONVERSE_ROUTE) :]
    entry = prices.get(model_id)
    if entry is None:
        base_id = model_id.split(".", 1)[1] if model_id.startswith(f"{prefix}.") else model_id
        fitting = _fitting_prefixes(base_id, region, prices)
        instead = f"set BEDROCK_PROFILE_PREFIX={' or '.join(fitting)}, or " if fitting else ""
        fix = (
            f"For {region}, {instead}delete the {group} group (and the fallbacks naming it) "
            f"from {path.name}."
        )
        raise ConfigError(
            f"BEDROCK_PROFILE_PREFIX={prefix} does not offer {group}: {model_id} is not in "
            "the pinned LiteLLM's cost map",
            fix=fix,
        )
    return _checked_route(group, model_id, entry, deployment.get("model_info") or {}, path)


def _checked_route(
    group: str, model_id: str, entry: Mapping[str, Any], model_info: Mapping[str, Any], path: Path
) -> Route:
    input_cost, output_cost = _litellm().cost_per_token(
        model=f"{CONVERSE_ROUTE}{model_id}", prompt_tokens=1_000_000, completion_tokens=1_000_000
    )
    if not (input_cost > 0 and output_cost > 0):
        raise ConfigError(
            f"{group} ({model_id}) has no price in LiteLLM's cost map: its traces would cost 0",
            fix="Use a model id that the pinned LiteLLM prices.",
        )
    limits = {}
    for name in ("max_input_tokens", "max_output_tokens"):
        enforced = int(entry.get(name) or 0)
        configured = int(model_info.get(name) or enforced)
        if configured > enforced:
            raise ConfigError(
                f"{path}: {group} sets {name}: {configured}, but Bedrock enforces {enforced} "
                f"for {model_id}; clients would overfill it",
                fix=f"Set model_info.{name} to {enforced} or less.",
            )
        limits[name] = configured
    return Route(group=group, model_id=model_id, **limits)


def _check_region(prefix: str, region: str) -> None:
    if prefix not in PROFILE_REGIONS:
        raise ConfigError(
            f"BEDROCK_PROFILE_PREFIX={prefix!r} is not a Bedrock inference profile prefix",
            fix=f"Use one of {', '.join(PROFILE_REGIONS)}.",
        )
    if not prefix_serves(prefix, region):
        fitting = [p for p in PROFILE_REGIONS if prefix_serves(p, region)]
        raise ConfigError(
            f"BEDROCK_PROFILE_PREFIX={prefix} serves {PROFILE_REGIONS[prefix]}, "
            f"but AWS_REGION={region}",
            fix=f"For {region} use BEDROCK_PROFILE_PREFIX={' or '.join(fitting) or 'global'}, "
            "or change AWS_REGION.",
        )


def _check_context_windows(
    router_settings: Mapping[str, Any], routes: Mapping[str, Route], path: Path
) -> None:
    """A context-window fallback must lead to a larger window, or it cannot help."""
    for entry in router_settings.get("context_window_fallbacks") or []:
        for source, targets in dict(entry).items():
            for target in targets:
                if routes[target].max_input_tokens <= routes[source].max_input_tokens:
                    raise ConfigError(
                        f"{path}: context_window_fallbacks sends {source} "
                        f"({routes[source].max_input_tokens} tokens) to {target}, whose window "
                        f"is not larger ({routes[target].max_input_tokens})",
                        fix=f"Remove {target} from that list.",
                    )


def _deprecation_warnings(routes: Sequence[Route], prices: Mapping[str, Any]) -> list[str]:
    today = datetime.date.today().isoformat()
    warnings = []
    for route in routes:
        date = prices[route.model_id].get("deprecation_date")
        if date and str(date) <= today:
            warnings.append(
                f"{route.group}: {route.model_id} reached its deprecation date {date} in "
                "LiteLLM's cost map; Bedrock may refuse it"
            )
    return warnings


def _check_callback_files(document: Mapping[str, Any], path: Path) -> None:
    """Every `callbacks.<module>.<name>` the config loads must exist in callbacks/."""
    general = document.get("general_settings") or {}
    callbacks = (document.get("litellm_settings") or {}).get("callbacks") or []
    names = [general.get("custom_auth"), *callbacks]
    for name in names:
        if isinstance(name, str) and name.startswith("callbacks."):
            module = name.split(".")[1]
            if not (CALLBACKS_DIR / f"{module}.py").is_file():
                raise ConfigError(
                    f"{path} loads {name}, but {CALLBACKS_DIR / module}.py does not exist",
                    fix="Restore callbacks/ from the repository, or remove that line.",
                )


def count_developer_keys(settings: Mapping[str, str]) -> int:
    """Parse the keys file (LLMOPS_KEYS_FILE) as the proxy will; 0 when none is configured."""
    name = settings.get("LLMOPS_KEYS_FILE", "")
    if not name:
        return 0
    # Relative to the .env file's directory, as compose resolves it (Settings.root).
    keys_path = Path(getattr(settings, "root", Path.cwd())) / name
    auth = callbacks_module("auth")
    try:
        text = keys_path.read_text(encoding="utf-8")
        entries = auth.parse_keys(
            text, source=str(keys_path), master_key=settings.get("LITELLM_MASTER_KEY", "")
        )
    except OSError as error:
        raise ConfigError(
            f"LLMOPS_KEYS_FILE={name} cannot be read: {error.strerror}",
            fix="Create it from keys.example.yml, or empty LLMOPS_KEYS_FILE in .env.",
        ) from None
    except auth.KeysFileError as error:
        raise ConfigError(str(error), fix="Correct that entry; see keys.example.yml.") from None
    return len(entries)


def validate_config(path: Path, settings: Mapping[str, str]) -> ValidatedConfig:
    """Load and check `path` with `settings`; raise ConfigError naming the problem and fix."""
    profile = settings.get("BEDROCK_PROFILE_PREFIX", ""), settings.get("AWS_REGION", "")
    _check_region(*profile)
    document = load_rendered(path, settings)
    deployments = _resolve_references(_deployments(document, path), settings, path)
    router_settings = document.get("router_settings") or {}
    groups = [d["model_name"] for d in deployments]
    aliases = _aliases(router_settings, set(groups), path)
    _check_fallback_targets(router_settings, set(groups), path, aliases)
    _check_callback_files(document, path)
    prices = cost_map()
    _load_with_litellm(document, deployments, path)
    routes = {d["model_name"]: _route(d, profile, prices, path) for d in deployments}
    _check_context_windows(router_settings, routes, path)
    fallbacks = {
        source: tuple(targets)
        for entry in router_settings.get("fallbacks") or []
        for source, targets in dict(entry).items()
    }
    _check_alias_chains(fallbacks, aliases, path)
    return ValidatedConfig(
        path=path,
        routes=tuple(routes.values()),
        fallbacks=fallbacks,
        developer_keys=count_developer_keys(settings),
        warnings=tuple(_deprecation_warnings(list(routes.values()), prices)),
        aliases=aliases,
    )
