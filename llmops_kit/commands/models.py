"""`models list|check|add`: the configured Claude groups against the cost map and the account.

`list` shows each group's Bedrock id, price, context window, fallbacks and whether the
account can call it; `check` names newer Claude models of the configured tiers (exit 1 when
there are some, for scripts); `add` writes a group from the cost map, with its fallbacks and,
for the newest of a tier, the tier name, and validates the result with LiteLLM before it
replaces the file. The account is asked through the Bedrock control plane (free, read-only);
`--offline` uses the pinned cost map alone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .. import console, settings
from ..bedrock_models import Availability, BedrockModels
from ..compose import proxy_config_file
from ..errors import BedrockError, ConfigError, KitError
from ..litellm_config import ValidatedConfig, cost_map, validate_config
from ..model_catalog import (
    configured_models,
    fallbacks_for,
    find,
    newer_models,
    newest_by_tier,
    parse_base_id,
    price,
    unpriced_newer,
)
from ..route_writer import add_route
from . import shown_path

UNCHECKED = "not checked"


def _load(env_file: Path, config: Path | None) -> tuple[settings.Settings, Path, ValidatedConfig]:
    resolved = settings.load(env_file, validate=False)
    path = config or proxy_config_file(resolved)
    return resolved, path, validate_config(path, resolved)


def _account(resolved: Mapping[str, str], offline: bool) -> BedrockModels | None:
    """The control-plane client, or None (offline, or it cannot be asked: said once)."""
    if offline:
        return None
    try:
        account = BedrockModels(resolved)
        account.profiles()
    except BedrockError as error:
        console.warn(f"account {UNCHECKED}: {error.message}")
        return None
    return account


def _availability(account: BedrockModels | None, model_id: str) -> Availability | None:
    model = parse_base_id(model_id)
    if account is None or model is None:
        return None
    try:
        return account.availability(model_id, model.base_id)
    except BedrockError as error:
        console.warn(f"{model_id}: account {UNCHECKED}: {error.message}")
        return None


def _usable_text(availability: Availability | None) -> str:
    if availability is None:
        return UNCHECKED
    return "yes" if availability.usable else f"no: {availability.reason}"


def run_list(env_file: Path, config: Path | None, *, offline: bool) -> int:
    resolved, path, validated = _load(env_file, config)
    prices = cost_map()
    account = _account(resolved, offline)
    aliases: dict[str, list[str]] = {}
    for alias, group in validated.aliases.items():
        aliases.setdefault(group, []).append(alias)
    console.info(f"Model groups in {shown_path(path)}:")
    for route in validated.routes:
        known = price(route.model_id, prices)
        names = ", ".join(aliases.get(route.group, []))
        fields = (
            ("Bedrock id", route.model_id),
            ("price", f"{known} per million input / output tokens" if known else "unpriced"),
            (
                "context",
                f"{route.max_input_tokens:,} input / {route.max_output_tokens:,} output tokens",
            ),
            ("fallbacks", " -> ".join(validated.fallbacks.get(route.group, ())) or "none"),
            ("account", _usable_text(_availability(account, route.model_id))),
        )
        lines = [route.group + (f" (also: {names})" if names else "")]
        lines += [f"  {label:<12}{value}" for label, value in fields]
        console.out.print("\n".join(lines), markup=False)
    return console.EXIT_OK


def run_check(env_file: Path, config: Path | None, *, offline: bool) -> int:
    resolved, path, validated = _load(env_file, config)
    prefix = resolved.get("BEDROCK_PROFILE_PREFIX", "")
    found = newer_models([r.model_id for r in validated.routes], cost_map(), prefix)
    account = _account(resolved, offline)
    missing = []
    for newer in found:
        availability = _availability(account, newer.model.profile_id(prefix))
        if availability is not None and not availability.usable:
            console.info(
                f"{newer.model.group} is newer but this account cannot use it "
                f"({availability.reason})"
            )
            continue
        missing.append(newer)
        where = "in the account" if availability is not None else "in the cost map"
        console.out.print(
            f"{newer.model.group} ({newer.model.label}, {where}) is newer than "
            f"{newer.configured.group}: python manage_langfuse.py models add {newer.model.group}",
            markup=False,
        )
    if account is not None:
        model_ids = [r.model_id for r in validated.routes]
        for newer in unpriced_newer(account.profiles(), model_ids, cost_map(), prefix):
            missing.append(newer)
            console.out.print(
                f"{newer.model.group} ({newer.model.label}, in the account) is newer than "
                f"{newer.configured.group}, but the pinned LiteLLM's cost map does not know it: "
                "upgrade LiteLLM to route and price it",
                markup=False,
            )
    if missing:
        return console.EXIT_FAILED
    console.success(f"{shown_path(path)} has the newest Claude model of each tier it uses")
    return console.EXIT_OK


def run_add(env_file: Path, config: Path | None, name: str, *, offline: bool) -> int:
    resolved, path, validated = _load(env_file, config)
    prices = cost_map()
    model = find(name, prices)
    prefix = resolved.get("BEDROCK_PROFILE_PREFIX", "")
    if model.group in validated.model_groups:
        raise KitError(f"{model.group} is already a model group in {shown_path(path)}")
    limits = prices.get(model.profile_id(prefix))
    if limits is None:
        raise ConfigError(
            f"BEDROCK_PROFILE_PREFIX={prefix} does not offer {model.group}: "
            f"{model.profile_id(prefix)} is not in the pinned LiteLLM's cost map",
            fix="Pick another model, or another BEDROCK_PROFILE_PREFIX (global offers most).",
        )
    availability = _availability(_account(resolved, offline), model.profile_id(prefix))
    if availability is not None and not availability.usable:
        raise KitError(
            f"this account cannot use {model.profile_id(prefix)} ({availability.reason})",
            fix="Request access to the model in the Bedrock console, or run with --offline "
            "to add it anyway.",
        )
    configured = configured_models(r.model_id for r in validated.routes)
    group_of = {
        configured[r.model_id]: r.group for r in validated.routes if r.model_id in configured
    }
    chain = [group_of[m] for m in fallbacks_for(model, configured.values())]
    current = newest_by_tier(configured.values()).get(model.tier)
    newest = current is None or model.newer_than(current)
    text = add_route(path.read_text(encoding="utf-8"), model, limits, chain, newest_of_tier=newest)
    _replace_validated(path, text, resolved)
    profile = model.profile_id(prefix)
    console.success(
        f"added {model.group} ({profile}, {price(profile, prices)} per million tokens) "
        f"to {shown_path(path)}"
        + (f", falling back to {' -> '.join(chain)}" if chain else "")
        + (f"; {model.tier!r} now names it" if newest else "")
    )
    console.info("Apply it: python manage_langfuse.py update-config (or restart the native proxy)")
    return console.EXIT_OK


def _replace_validated(path: Path, text: str, resolved: Mapping[str, str]) -> None:
    """Write `text` beside `path`, validate it as the proxy would load it, then swap it in."""
    handle, name = tempfile.mkstemp(prefix=".litellm_config.", suffix=".yml", dir=path.parent)
    candidate = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        validate_config(candidate, resolved)
        os.chmod(candidate, path.stat().st_mode & 0o777)
        os.replace(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
