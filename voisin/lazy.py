"""Names a package exports, imported when first used (PEP 562).

A child process that needs a package's scenario types should not pay for the simulation
libraries behind its other names: Mesa, pvlib, pandas and demandlib take about a second
to import, and the operator, started hundreds of times by the fault suite and once per
restart in production, uses none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module of ``package``)
    the first time ``package.name`` is asked for, and keeps it in the package; a name
    mapped to itself is that sub-module."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        found = importlib.import_module(f"{package}.{module}")
        value = found if module == name else getattr(found, name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
