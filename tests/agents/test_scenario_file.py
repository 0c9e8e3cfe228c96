"""Scenario files become scenarios: listed members with their devices, grids, tariffs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from voisin.agents.profiles import neighbourhood_profiles
from voisin.agents.scenario_build import build_scenario
from voisin.agents.scenario_file import read_scenario
from voisin.agents.scenario_template import render_template
from voisin.errors import InvalidInput
from voisin.protocol import KeyPair, day_intervals
from voisin.settings import RunDefaults

MEMBERS = """
[[members]]
name = "plain"
bus = "C2"
annual_kwh = 4000

[[members]]
name = "heated"
bus = "C2"
annual_kwh = 4000
heat_pump = { annual_heat_kwh = 9000, max_power_kw = 4 }
water_heater = { power_kw = 3, kwh_per_day = 6 }
pv_kwp = 4.0
tilt_deg = 35
azimuth_deg = 90
forecast = "persistence"
preferred = ["school", "plain"]
battery = { capacity_kwh = 8, power_kw = 4 }
"""


def _write(tmp_path: Path, body: str, **run: object) -> Path:
    file = tmp_path / "s.toml"
    file.write_text(render_template(RunDefaults(**{"households": 4, **run})) + body)
    return file


def test_listed_members_join_the_generated_ones_with_their_devices(tmp_path: Path) -> None:
    scenario = build_scenario(read_scenario(_write(tmp_path, MEMBERS)))
    assert len(scenario.members) == 4 + 1 + 2
    heated = scenario.member(KeyPair.derive("seed", 7, "member", "heated").public_hex)
    plain = scenario.member(KeyPair.derive("seed", 7, "member", "plain").public_hex)
    school = next(m for m in scenario.members if m.participant.group == "school")
    assert heated.preferred == (school.id, plain.id)
    assert heated.participant.group == "pv+battery"
    assert (heated.orientation.tilt_deg, heated.orientation.azimuth_deg) == (35, 90)
    assert heated.heat_pump.max_power_kw == 4
    assert heated.forecast == "persistence"
    assert scenario.site.name == "Lyon"


def test_a_heat_pump_and_a_water_heater_add_winter_load(tmp_path: Path) -> None:
    scenario = build_scenario(read_scenario(_write(tmp_path, MEMBERS)))
    intervals = day_intervals(date(2026, 1, 14))
    _, profiles = neighbourhood_profiles(scenario, intervals, 7)
    plain = profiles[KeyPair.derive("seed", 7, "member", "plain").public_hex]
    heated = profiles[KeyPair.derive("seed", 7, "member", "heated").public_hex]
    extra = heated.load_kwh.sum() - plain.load_kwh.sum()
    assert extra > 6.0 + 10.0  # the tank's 6 kWh and a January day of heating
    night = [i for i, iv in enumerate(intervals) if 21 <= iv.start.hour < 23]
    assert np.all(heated.load_kwh[night] >= 0.75 - 1e-9)  # 3 kW for 15 min from 22:00 local
    assert heated.pv_kwh.sum() > 0


def test_a_custom_grid_and_unknown_names_are_checked(tmp_path: Path) -> None:
    file = tmp_path / "custom.toml"
    file.write_text("""
generated = false

[grid.custom]
root = "T"
buses = ["T", "H"]
lines = [{ from = "T", to = "H", capacity_kwh = 5.0 }]
import_price_eur_per_kwh = 0.3
export_price_eur_per_kwh = 0.05

[[members]]
name = "only"
bus = "H"
""")
    scenario = build_scenario(read_scenario(file))
    assert scenario.grid.buses == ("T", "H")
    assert [m.bus for m in scenario.members] == ["H"]
    file.write_text('[grid]\npreset = "none"\n')
    with pytest.raises(InvalidInput, match="not available"):
        build_scenario(read_scenario(file))
    stray = MEMBERS.replace('preferred = ["school", "plain"]', 'preferred = ["nobody"]')
    with pytest.raises(InvalidInput, match="nobody"):
        build_scenario(read_scenario(_write(tmp_path, stray)))
    wrong_bus = MEMBERS.replace('bus = "C2"', 'bus = "Z9"', 1)
    with pytest.raises(InvalidInput, match="unknown bus"):
        build_scenario(read_scenario(_write(tmp_path, wrong_bus)))


def test_strategies_are_chosen_per_group_and_per_member(tmp_path: Path) -> None:
    file = tmp_path / "s.toml"
    text = render_template(RunDefaults(households=4)).replace(
        'strategy = "zi-c"', 'strategy = "zi-c"\nstrategy_by_group = { pv = "zip" }', 1
    )
    file.write_text(text + '\n[[members]]\nname = "honest"\nbus = "C2"\nstrategy = "truthful"\n')
    scenario = build_scenario(read_scenario(file))
    chosen = {m.participant.group: set() for m in scenario.members}
    for m in scenario.members:
        chosen[m.participant.group].add(m.strategy)
    assert chosen["pv"] == {"zip"}
    assert chosen["consumer"] == {None, "truthful"}  # the run's, and the listed member's
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('pv = "zip"', 'pv = "clever"'))
    with pytest.raises(InvalidInput, match="strategy_by_group"):
        read_scenario(bad)


def test_network_presets_set_the_grid_charge_and_figures_override_them(tmp_path: Path) -> None:
    """German energy sharing needs German retail prices: its 0.206 EUR/kWh of network
    charges and levies must fit between feed-in and retail."""
    text = render_template(RunDefaults(households=4)).replace(
        'preset = "none"', 'preset = "de-sharing"\nfixed_eur_per_day = 0.5', 1
    )
    text = text.replace("import_eur_per_kwh = 0.28", "import_eur_per_kwh = 0.40", 1)
    file = tmp_path / "de.toml"
    file.write_text(text + MEMBERS)
    scenario = build_scenario(read_scenario(file))
    assert scenario.grid.local_charge_eur_per_kwh == pytest.approx(0.206)
    assert scenario.grid.import_price_eur_per_kwh == 0.40  # the household tariff's
    assert scenario.charges.fixed_eur_per_day == 0.5  # the override
    assert scenario.charges.levies_eur_per_kwh == 0.075  # the preset's
