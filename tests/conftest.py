"""Fixtures shared across test folders."""

from __future__ import annotations

import pytest

from voisin.cli.simulation import SimulationConfig, SimulationReport, run_simulation


@pytest.fixture(scope="session")
def default_day(tmp_path_factory: pytest.TempPathFactory) -> SimulationReport:
    """`voisin simulate` with its defaults (30 households and a school, 96 intervals, the
    AC check), run once per test process: the most expensive thing the suite makes, read
    by several folders' tests. Nothing may change its files: copy the ledger first."""
    return run_simulation(SimulationConfig(out=tmp_path_factory.mktemp("default-day")))
