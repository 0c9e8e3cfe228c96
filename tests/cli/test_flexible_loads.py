"""A car plugged in by day at a PV home: planned, it charges from the sun and imports
less than the naive charger; either way the day verifies and the car gets its kWh."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from voisin.agents.scenario_template import render_template
from voisin.cli.simulation import SimulationConfig, SimulationReport, run_simulation
from voisin.protocol import KeyPair
from voisin.settings import RunDefaults

MEMBERS = """
[[members]]
name = "sunny"
bus = "C2"
pv_kwp = 6.0
ev = {{ kwh = 10, power_kw = 3.7, arrival_hour = 8, deadline_hour = 17, planning = {planning} }}

[[members]]
name = "plain"
bus = "C2"
"""


def _day(tmp: Path, name: str, day: date, members: str) -> SimulationReport:
    """An hourly day of the template with only ``members`` (not generated), verified."""
    file = tmp / f"{name}.toml"
    run = RunDefaults(households=1, minutes=60, start=day)
    text = render_template(run).replace("generated = true", "generated = false", 1)
    file.write_text(text + members)
    report = run_simulation(SimulationConfig(out=tmp / f"out-{name}", scenario=file))
    assert report.verified
    return report


def _run(tmp: Path, planning: bool) -> dict[str, float]:
    members = MEMBERS.format(planning=str(planning).lower())
    return dict(_day(tmp, f"{planning}", date(2026, 6, 22), members).accounts.metered)


@pytest.mark.slow
def test_a_planned_car_charges_from_the_sun(tmp_path: Path) -> None:
    naive = _run(tmp_path, planning=False)
    planned = _run(tmp_path, planning=True)
    # The same energy goes into the car either way (the loads differ only in timing)...
    assert planned["load"] == pytest.approx(naive["load"], abs=1e-3)
    # ...but planned it comes from the midday sun instead of the morning grid.
    assert planned["import"] < naive["import"] - 1.0


HEATED = """
[[members]]
name = "heated"
bus = "C2"
pv_kwp = 6.0
heat_pump = {{ annual_heat_kwh = 8000, max_power_kw = 3, plan = {plan} }}

[[members]]
name = "plain"
bus = "C2"
"""


def _heated_bill(tmp: Path, plan: bool) -> float:
    report = _day(tmp, f"heat-{plan}", date(2026, 1, 15), HEATED.format(plan=str(plan).lower()))
    heated = KeyPair.derive("seed", 7, "member", "heated").public_hex
    return report.accounts.bills[heated].total_eur


@pytest.mark.slow
def test_a_planned_heat_pump_lowers_its_owners_bill_in_the_market(tmp_path: Path) -> None:
    naive = _heated_bill(tmp_path, plan=False)
    planned = _heated_bill(tmp_path, plan=True)
    assert planned < naive - 1.0, (planned, naive)
