"""Stochastic homes: the configured energy, realistic peaks, options that add load."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from voisin.meters.appliances import appliance_table
from voisin.meters.heating import HeatPump, WaterHeater, cop_air_source
from voisin.meters.homes import Home

YEAR = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]


@pytest.fixture(scope="module")
def years() -> dict[float, np.ndarray]:
    """A year of minute loads for homes of 2,000 to 6,000 kWh."""
    return {
        kwh: np.concatenate([Home(kwh, seed=7, home=i).minute_kw(d) for d in YEAR])
        for i, kwh in enumerate((2000.0, 3000.0, 4000.0, 5000.0, 6000.0))
    }


def test_a_year_uses_the_configured_energy_within_one_percent(years) -> None:
    for kwh, minute_kw in years.items():
        assert minute_kw.sum() / 60 == pytest.approx(kwh, rel=0.01)


def test_peaks_are_those_of_real_homes(years) -> None:
    """Annual 15-minute peaks of 3-8 kW: appliances overlap, BDEW alone peaks near 1 kW."""
    peaks = [m.reshape(-1, 15).mean(axis=1).max() for m in years.values()]
    assert all(2.5 <= p <= 9.0 for p in peaks)
    assert 3.0 <= float(np.median(peaks)) <= 8.0
    assert peaks[-1] > peaks[0]  # bigger consumers, bigger peaks


def test_days_differ_and_do_not_depend_on_the_run() -> None:
    home = Home(3500.0, seed=1, home=4)
    monday, tuesday = home.minute_kw(date(2026, 3, 2)), home.minute_kw(date(2026, 3, 3))
    assert not np.array_equal(monday, tuesday)
    assert np.array_equal(Home(3500.0, seed=1, home=4).minute_kw(date(2026, 3, 3)), tuesday)
    assert not np.array_equal(Home(3500.0, seed=1, home=5).minute_kw(date(2026, 3, 3)), tuesday)
    assert np.all(monday >= 0)


def test_the_appliance_table_is_richardsons() -> None:
    by_name = {a.name: a for a in appliance_table()}
    assert by_name["Kettle"].power_kw == pytest.approx(2.0)
    assert by_name["Fridge freezer"].cold
    assert "Electric shower" not in by_name  # water heating is its own device


def test_water_heater_reheats_the_day_at_night() -> None:
    tank = WaterHeater(power_kw=3.0, kwh_per_day=6.0, start_hour=22.0)
    kw = tank.minute_kw()
    assert kw.sum() / 60 == pytest.approx(6.0)
    assert kw.max() == 3.0
    assert kw[22 * 60] == 3.0
    assert kw[23 * 60 + 59] == 3.0 and kw[12 * 60] == 0.0  # noqa: PT018


def test_heat_pump_cop_and_winter_load() -> None:
    assert cop_air_source(np.array([0.0]), 35.0)[0] == pytest.approx(
        6.08 - 0.09 * 35 + 0.0005 * 35**2
    )
    pump = HeatPump(annual_heat_kwh=8000.0, max_power_kw=3.0)
    cold, mild, warm = pump.electric_kw(np.array([-5.0, 10.0, 20.0]), "mannheim")
    assert cold > mild > warm == 0.0
    assert cold <= 3.0 + pump.heat_kw_per_kelvin("mannheim") * 20  # pump plus back-up
