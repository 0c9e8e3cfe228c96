"""The import rules between sub-packages, held by importing in a fresh interpreter and
looking at ``sys.modules``: the market core and the agents' logic never load ZeroMQ (only
``voisin.transport`` does), re-clearing never loads the ledger or sqlite3, and the agents
never load the ledger."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import pytest

import voisin.agents
import voisin.market


def _submodules(package: object) -> list[str]:
    return sorted(
        f"{package.__name__}.{m.name}"  # type: ignore[attr-defined]
        for m in pkgutil.iter_modules(package.__path__)  # type: ignore[attr-defined]
    )


def _loaded_by(*modules: str) -> set[str]:
    """Every module a fresh interpreter holds after importing ``modules`` (together: if
    their union stays clear of a package, so does each of them)."""
    code = f"import sys, json, {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    # without coverage's subprocess measurement, which itself loads sqlite3
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    return set(json.loads(out))


def _under(loaded: set[str], package: str) -> set[str]:
    return {m for m in loaded if m == package or m.startswith(package + ".")}


MARKET_CORE = _submodules(voisin.market)
AGENTS = _submodules(voisin.agents)

pytestmark = pytest.mark.slow  # fresh interpreters importing the whole market


def test_the_probe_sees_what_it_looks_for() -> None:
    """The rules cover real modules, and the probe does see zmq and the ledger where
    they are imported."""
    assert {"voisin.market.clearing", "voisin.market.intake"} <= set(MARKET_CORE)
    assert "voisin.agents.checks" in AGENTS
    loaded = _loaded_by("voisin.transport.service")
    assert _under(loaded, "zmq")
    assert _under(loaded, "voisin.ledger")


def test_market_core_and_agents_never_load_zmq() -> None:
    assert not _under(_loaded_by("voisin.market", *MARKET_CORE, "voisin.agents", *AGENTS), "zmq")


def test_agents_never_load_the_ledger() -> None:
    assert not _under(_loaded_by("voisin.agents", *AGENTS), "voisin.ledger")


def test_reclearing_loads_neither_ledger_nor_sqlite() -> None:
    loaded = _loaded_by("voisin.market.clearing")
    assert not _under(loaded, "voisin.ledger")
    assert not _under(loaded, "sqlite3")
    assert not _under(loaded, "voisin.agents")


SIMULATION_ONLY = ("pyomo", "mesa", "pvlib", "pandas", "demandlib")
"""Libraries only a simulated home or the readable Pyomo model needs."""


def test_the_operator_process_loads_no_simulation_library() -> None:
    """The operator is started once per run and restart (and hundreds of times by the
    fault suite): it clears on highspy and never simulates a home."""
    loaded = _loaded_by("voisin.transport.service", "voisin.cli.main", "voisin.cli.live")
    assert not set().union(*(_under(loaded, name) for name in SIMULATION_ONLY))
    assert _under(_loaded_by("voisin.agents.model"), "mesa")  # the probe sees them where used
