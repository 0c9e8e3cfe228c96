"""A recorded ledger several cli tests share: a small simulated day, fixed seed."""

from __future__ import annotations

import os
import subprocess
import sys
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


def run_voisin(
    *args: str, crash_at: str = "", timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """``voisin ARGS`` in a process of its own, its output captured; ``crash_at`` names
    the crash point it dies at (``voisin.faults``), none otherwise."""
    env = {k: v for k, v in os.environ.items() if k != "VOISIN_CRASH_AT"}
    if crash_at:
        env["VOISIN_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "voisin.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=env,
    )
