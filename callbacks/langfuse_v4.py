"""The file LiteLLM loads: `litellm_settings.callbacks: ["callbacks.langfuse_v4.handler"]`.

LiteLLM imports it by path (`spec_from_file_location("callbacks.langfuse_v4", ...)`, relative
to the config file) without importing its package, so relative imports cannot work here.
This file imports its own directory as a package under a private name, unique per directory
and registered once in sys.modules, and exposes that package's one handler per process. The
rest of the package uses ordinary relative imports.

`handler` is built when first read (LiteLLM reads it right after loading this file), not on
import: the delivery process (delivery.py) imports this file only for `load_package`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_DIRECTORY = Path(__file__).resolve().parent
_PACKAGE = "_llmops_callbacks_" + hashlib.sha256(str(_DIRECTORY).encode()).hexdigest()[:12]


def load_package() -> ModuleType:
    """This directory as a package under its private name, imported once per process."""
    loaded = sys.modules.get(_PACKAGE)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(
        _PACKAGE, _DIRECTORY / "__init__.py", submodule_search_locations=[str(_DIRECTORY)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the llmops callbacks package from {_DIRECTORY}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[_PACKAGE] = package
    spec.loader.exec_module(package)
    return package


def __getattr__(name: str) -> object:
    """`handler`: the process's one LiteLLM logger; building it starts the delivery process."""
    if name == "handler":
        return importlib.import_module(f"{load_package().__name__}.runtime").handler()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
