"""Plain Kubernetes objects the kit writes beside the values files, and how they are rendered.

Secrets are built here so that their values come from `.env` and never pass through a values
file (Helm stores values in its release record, readable by anyone who can read the release).
Rendering is PyYAML's safe dumper with block style and no key sorting, so a file reads in the
order it was built and diffs stay small between two exports.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

LABELS = {"app.kubernetes.io/part-of": "llmops-kit", "app.kubernetes.io/managed-by": "llmops-kit"}
# ConfigMap data keys: what the API server accepts (a file name, no path separators).
CONFIGMAP_KEY_PATTERN = r"[-._a-zA-Z0-9]+"
# The API server refuses a ConfigMap whose data is larger than this.
CONFIGMAP_MAX_BYTES = 1024 * 1024


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(LABELS)}


def secret(name: str, namespace: str, data: Mapping[str, str]) -> dict[str, Any]:
    """An Opaque Secret; values base64-encoded as the API stores them."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, namespace),
        "type": "Opaque",
        "data": {
            key: base64.b64encode(value.encode("utf-8")).decode("ascii")
            for key, value in data.items()
        },
    }


def config_map(name: str, namespace: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(name, namespace),
        "data": dict(data),
    }


def volume_claim(name: str, namespace: str, size: str) -> dict[str, Any]:
    """A ReadWriteOnce claim on the cluster's default storage class."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(name, namespace),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def secret_ref(secret_name: str, key: str) -> dict[str, Any]:
    """An EnvVar source reading one key of a Secret."""
    return {"secretKeyRef": {"name": secret_name, "key": key}}


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings (configs, code) as literal blocks a human can read."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and _literal_safe(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _literal_safe(value: str) -> bool:
    """A literal block keeps a string exactly only without trailing spaces or tabs."""
    return not any(line != line.rstrip(" \t") for line in value.split("\n")) and "\t" not in value


_Dumper.add_representer(str, _represent_str)


def render(documents: Iterable[Mapping[str, Any]], header: str) -> str:
    """YAML for one or more documents, after a comment header saying what the file is."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    body = yaml.dump_all(
        [dict(document) for document in documents],
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        explicit_start=True,
        width=100,
    )
    return comment + body
