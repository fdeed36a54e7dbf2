"""The redaction package: one job per module, each with an explicit public API."""

from __future__ import annotations

import importlib
import pkgutil

import callbacks.redaction as redaction


def test_every_module_of_the_package_declares_what_it_exports_and_has_it() -> None:
    for module_info in pkgutil.iter_modules(redaction.__path__):
        module = importlib.import_module(f"{redaction.__name__}.{module_info.name}")

        assert hasattr(module, "__all__"), module.__name__
        assert [name for name in module.__all__ if not hasattr(module, name)] == []


def test_the_package_exports_the_redactor_and_its_settings_only() -> None:
    public = {name for name in dir(redaction) if not name.startswith("_")}
    modules = {info.name for info in pkgutil.iter_modules(redaction.__path__)}

    assert public - modules - {"annotations"} == set(redaction.__all__)
    assert {"Redactor", "RedactionConfigError", "placeholder"} <= set(redaction.__all__)
