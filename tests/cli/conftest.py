"""A recorded ledger several cli tests share: a small simulated day, fixed seed."""

from __future__ import annotations

from datetime import date

import pytest

from voisin.cli.simulation import SimulationConfig, SimulationReport, run_simulation


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationReport:
    """Five homes and the school, hourly, on 2026-06-22 (seed 7): byte-identical every run."""
    out = tmp_path_factory.mktemp("recorded")
    return run_simulation(
        SimulationConfig(
            out=out, households=5, minutes=60, start=date(2026, 6, 22), grid_check=False
        )
    )
