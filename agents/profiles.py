"""What each member's meter will measure over a run, and what it can know in advance.

For every member and interval (kWh): the real PV and load, and the inputs of the
forecasts an agent may use before gate closure: its PV under a clear sky, its PV under
the day-ahead weather forecast, and its expected load (its standard profile, or its
school calendar). Weather is one field for the whole neighbourhood; loads are drawn per
member from streams keyed by the member's id, so adding a member changes nobody else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from voisin.meters import Orientation, Weather, load_share, pv_kwh_per_kwp
from voisin.meters.homes import Home
from voisin.meters.school import SchoolLoad
from voisin.meters.site import Site, per_interval_mean, sample_times
from voisin.meters.solar import solar_geometry
from voisin.protocol import Interval

if TYPE_CHECKING:
    from voisin.agents.scenario import Member, Scenario


@dataclass(frozen=True)
class MemberProfiles:
    """Per-interval kWh of one member (arrays aligned with the run's intervals)."""

    pv_kwh: np.ndarray
    load_kwh: np.ndarray
    pv_clear_kwh: np.ndarray
    pv_day_ahead_kwh: np.ndarray
    load_expected_kwh: np.ndarray


class LocalMinutes:
    """The run's 1-minute samples on the site's local clock, grouped by local day."""

    def __init__(self, intervals: Sequence[Interval], site: Site) -> None:
        times, self.owner = sample_times(intervals, 1.0)
        self.count = len(intervals)
        self.hours = np.array([iv.hours for iv in intervals])
        self.utc = times
        local = times.tz_convert(site.timezone).tz_localize(None)
        self.minute = local.hour.to_numpy() * 60 + local.minute.to_numpy()
        days = local.normalize()
        self.days: list[date] = sorted({d.date() for d in pd.DatetimeIndex(days.unique())})
        ordinal = np.array([d.toordinal() for d in self.days])
        self.day_index = np.searchsorted(ordinal, days.map(pd.Timestamp.toordinal).to_numpy())

    def energy_kwh(self, kw_by_day: np.ndarray) -> np.ndarray:
        """kWh per interval from a [local day, minute of day] table of kW."""
        kw = kw_by_day[self.day_index, self.minute]
        return np.asarray(per_interval_mean(kw, self.owner, self.count) * self.hours)

    def energy_from_samples_kwh(self, kw: np.ndarray) -> np.ndarray:
        return np.asarray(per_interval_mean(kw, self.owner, self.count) * self.hours)


def _home_kwh(
    member: Member,
    seed: int,
    site: Site,
    clock: LocalMinutes,
    weather: Weather,
    h0_share: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Real and expected load of a home: appliances, water heater, heat pump."""
    home = Home(member.annual_kwh, seed, member.stream, site.country, site.subdivision)
    table = np.vstack([home.minute_kw(day) for day in clock.days])
    extra = np.zeros(table.shape[1])
    if member.water_heater is not None:
        extra = member.water_heater.minute_kw()
    real = clock.energy_kwh(table + extra)
    expected = member.annual_kwh * h0_share + clock.energy_kwh(np.broadcast_to(extra, table.shape))
    if member.heat_pump is not None and not member.heat_pump.plan:
        # Temperature forecasts are far better than irradiance ones; taken as exact.
        # A pump that plans is run by its agent (agents.heat_plan), not profiled here.
        pump = clock.energy_from_samples_kwh(
            member.heat_pump.electric_kw(weather.temperature_c(clock.utc), site.climate)
        )
        real, expected = real + pump, expected + pump
    return real, expected


def outdoor_temperature_c(
    intervals: Sequence[Interval], site: Site, weather: Weather
) -> np.ndarray:
    """The mean outdoor air temperature of each interval (°C), as the heat pumps see it
    (forecast taken as exact, as for the thermostat's load above)."""
    clock = LocalMinutes(intervals, site)
    samples = np.asarray(weather.temperature_c(clock.utc), dtype=float)
    return np.asarray(per_interval_mean(samples, clock.owner, clock.count))


def _school_kwh(
    member: Member, scenario: Scenario, seed: int, clock: LocalMinutes
) -> tuple[np.ndarray, np.ndarray]:
    school = SchoolLoad(member.annual_kwh, scenario.school_calendar, member.base_share, seed)
    real = np.vstack([np.repeat(school.quarter_kw(d), 15) for d in clock.days])
    expected = np.vstack([np.repeat(school.quarter_kw(d, expected=True), 15) for d in clock.days])
    return clock.energy_kwh(real), clock.energy_kwh(expected)


def neighbourhood_profiles(
    scenario: Scenario, intervals: Sequence[Interval], seed: int
) -> tuple[Weather, dict[str, MemberProfiles]]:
    """The weather of the run and every member's profiles, by participant id."""
    site = scenario.site
    weather = Weather(site.climate, seed, site.longitude)
    orientations = sorted(
        {m.orientation for m in scenario.members if m.pv_kwp > 0},
        key=lambda o: (o.tilt_deg, o.azimuth_deg),
    ) or [Orientation()]
    geometry = solar_geometry(intervals, site)
    actual = pv_kwh_per_kwp(intervals, site, orientations, weather, geometry=geometry)
    clear = pv_kwh_per_kwp(intervals, site, orientations, geometry=geometry)
    ahead = pv_kwh_per_kwp(intervals, site, orientations, weather, forecast=True, geometry=geometry)
    clock = LocalMinutes(intervals, site)
    h0_share = load_share(intervals, "h0", site)
    out: dict[str, MemberProfiles] = {}
    for member in scenario.members:
        if member.load_profile == "g1":
            load, expected = _school_kwh(member, scenario, seed, clock)
        else:
            load, expected = _home_kwh(member, seed, site, clock, weather, h0_share)
        o, kwp = member.orientation, member.pv_kwp
        zero = np.zeros(len(intervals))
        out[member.id] = MemberProfiles(
            pv_kwh=kwp * actual[o] if kwp else zero,
            load_kwh=load,
            pv_clear_kwh=kwp * clear[o] if kwp else zero,
            pv_day_ahead_kwh=kwp * ahead[o] if kwp else zero,
            load_expected_kwh=expected,
        )
    return weather, out
