"""PV from our pipeline against pvlib's own ModelChain, and its shape in time."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pvlib
import pytest

from voisin.errors import InvalidInput
from voisin.meters import LYON, Orientation, clear_sky_pv_kwh_per_kwp
from voisin.meters.solar import INVERTER_EFFICIENCY, TEMPERATURE_MODEL
from voisin.protocol import day_intervals

MIDSUMMER = date(2026, 6, 21)


def _reference_day_kwh(day: date, orientation: Orientation) -> float:
    """pvlib's ModelChain alone, every minute, under pvlib's own clear sky lookup."""
    times = pd.date_range(
        datetime(day.year, day.month, day.day, tzinfo=UTC), periods=1440, freq="1min"
    ) + pd.Timedelta(seconds=30)
    location = pvlib.location.Location(
        LYON.latitude, LYON.longitude, tz="UTC", altitude=LYON.altitude_m
    )
    weather = location.get_clearsky(times)
    weather["temp_air"], weather["wind_speed"] = 20.0, 1.0
    system = pvlib.pvsystem.PVSystem(
        surface_tilt=orientation.tilt_deg,
        surface_azimuth=orientation.azimuth_deg,
        module_parameters={"pdc0": 6000.0, "gamma_pdc": -0.0037},
        inverter_parameters={"pdc0": 6000.0, "eta_inv_nom": INVERTER_EFFICIENCY},
        temperature_model_parameters=TEMPERATURE_MODEL,
    )
    chain = pvlib.modelchain.ModelChain(
        system,
        location,
        aoi_model="physical",
        spectral_model="no_loss",
        transposition_model="perez",
        losses_model="pvwatts",
    )
    chain.run_model(weather)
    return float(chain.results.ac.clip(lower=0).sum() / 60 / 1000)


@pytest.mark.parametrize(
    ("day", "orientation"),
    [
        (MIDSUMMER, Orientation(30, 180)),
        (MIDSUMMER, Orientation(40, 225)),
        (date(2026, 12, 21), Orientation(20, 135)),
        (date(2026, 3, 20), Orientation(35, 90)),
    ],
)
def test_a_clear_day_is_within_three_percent_of_pvlib(day: date, orientation: Orientation) -> None:
    """The same 6 kWp system through our sampling, sky and interval sums, against a
    one-minute ModelChain run of pvlib alone."""
    ours = 6.0 * clear_sky_pv_kwh_per_kwp(day_intervals(day), LYON, orientation).sum()
    assert ours == pytest.approx(_reference_day_kwh(day, orientation), rel=0.03)


def test_pv_is_zero_at_night_and_peaks_near_solar_noon() -> None:
    intervals = day_intervals(MIDSUMMER)
    energy = clear_sky_pv_kwh_per_kwp(intervals, LYON)
    hours = np.array([iv.start.hour + iv.start.minute / 60 for iv in intervals])
    assert np.all(energy[(hours < 3) | (hours >= 20)] == 0)
    peak = intervals[int(np.argmax(energy))]
    solar_noon = datetime(2026, 6, 21, 11, 45, tzinfo=UTC)  # 4.84 deg E, equation of time
    assert abs((peak.start + (peak.end - peak.start) / 2 - solar_noon).total_seconds()) <= 1800
    assert 5.0 <= energy.sum() <= 7.0


def test_east_roofs_make_their_energy_before_west_roofs() -> None:
    intervals = day_intervals(MIDSUMMER)
    east = clear_sky_pv_kwh_per_kwp(intervals, LYON, Orientation(35, 90))
    west = clear_sky_pv_kwh_per_kwp(intervals, LYON, Orientation(35, 270))
    minutes = np.arange(len(intervals))
    assert (east * minutes).sum() / east.sum() < (west * minutes).sum() / west.sum()


def test_winter_yields_less_and_interval_length_does_not_matter() -> None:
    summer = clear_sky_pv_kwh_per_kwp(day_intervals(MIDSUMMER), LYON).sum()
    winter = clear_sky_pv_kwh_per_kwp(day_intervals(date(2026, 12, 21)), LYON).sum()
    assert 0.5 < winter < summer
    hourly = clear_sky_pv_kwh_per_kwp(day_intervals(MIDSUMMER, minutes=60), LYON).sum()
    assert hourly == pytest.approx(summer, rel=0.01)


def test_orientation_is_validated() -> None:
    with pytest.raises(InvalidInput):
        Orientation(95, 180)
    with pytest.raises(InvalidInput):
        Orientation(30, 360)
    assert clear_sky_pv_kwh_per_kwp([], LYON).size == 0
