"""`voisin simulate` on physical feeders: the default day's voltage limit binds and is
held in AC; a SimBench grid runs end to end with its own households."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from voisin.cli.simulation import SimulationConfig, SimulationReport, run_simulation
from voisin.cli.summary import render_summary


@pytest.mark.slow
def test_the_default_day_curtails_a_little_and_stays_in_band_in_ac(
    default_day: SimulationReport,
) -> None:
    report = default_day
    grid = report.grid
    assert grid.physical
    assert grid.binding_intervals > 0, "the estate's voltage should reach its band"
    assert 0 < grid.curtailed_kwh < 5
    assert grid.max_vm_pu <= 1.05 - 0.0005 + 1e-9  # the band less the rules' margin
    assert grid.scheduled is not None
    assert grid.metered is not None
    assert grid.scheduled.violation_count == 0
    assert grid.scheduled.max_vm_pu <= 1.05
    assert grid.scheduled.max_voltage_error_pu < 0.005
    assert grid.transformer_import_kwh > 0
    assert grid.transformer_export_kwh > 0
    console = Console(record=True, width=120)
    render_summary(report, console)
    text = console.export_text()
    assert "The feeder (physical, not settlement)" in text
    assert "transformer import (kWh flowing in)" in text


@pytest.mark.slow
def test_a_simbench_grid_runs_with_its_own_households(tmp_path: Path) -> None:
    report = run_simulation(
        SimulationConfig(out=tmp_path, grid="simbench:1-LV-rural1--0-sw", minutes=60)
    )
    assert report.verified
    assert report.grid.physical
    assert report.grid.scheduled is not None
    assert report.grid.scheduled.violation_count == 0
    assert len(report.accounts.bills) == 13  # rural1: 13 loads, its 4 PV on their roofs
    assert report.accounts.metered["pv"] > 0
    console = Console(record=True, width=120)
    render_summary(report, console)
    assert "SimBench's feeder and households" in console.export_text()


def test_an_unknown_simbench_code_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    from voisin.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown SimBench code"):
        run_simulation(SimulationConfig(out=tmp_path / "x", grid="simbench:nope"))
    assert not (tmp_path / "x").exists()
