"""PV output: pvlib clear sky on a tilted plane, dimmed by a seeded cloud model.

Irradiance is sampled at several instants inside each interval (UTC) and averaged, so
the energy is right for 15-minute and hourly intervals alike. Clouds are one weather
field shared by the whole neighbourhood (the houses are a few hundred metres apart):
a day-level clearness drawn per calendar day and a smooth AR(1) wiggle on a 15-minute
grid, both from ``numpy.random.default_rng((seed, day))``. A day's weather therefore
does not depend on which other days a run covers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pvlib

from voisin.meters.site import LYON, Site, per_interval_mean, sample_times
from voisin.protocol import Interval

SAMPLE_MINUTES = 5
"""Irradiance is averaged over samples this far apart."""

_STEP_MINUTES = 15
_STEPS_PER_DAY = 1440 // _STEP_MINUTES


def clear_sky_pv_kwh_per_kwp(intervals: Sequence[Interval], site: Site = LYON) -> np.ndarray:
    """kWh per kWp per interval under a clear sky (Ineichen clear sky, isotropic sky POA).

    1 kW/m2 on the plane of array yields the panel's rated kWp before losses, so
    AC power per kWp = POA / 1000 * performance ratio.
    """
    if not intervals:
        return np.zeros(0)
    times, owner = sample_times(intervals, SAMPLE_MINUTES)
    location = pvlib.location.Location(
        site.latitude, site.longitude, tz="UTC", altitude=site.altitude_m
    )
    sky = location.get_clearsky(times)
    sun = location.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(
        surface_tilt=site.tilt_deg,
        surface_azimuth=site.azimuth_deg,
        solar_zenith=sun["apparent_zenith"],
        solar_azimuth=sun["azimuth"],
        dni=sky["dni"],
        ghi=sky["ghi"],
        dhi=sky["dhi"],
        model="isotropic",
    )["poa_global"]
    kw_per_kwp = np.nan_to_num(poa.to_numpy(), nan=0.0).clip(min=0.0) / 1000.0
    kw_per_kwp *= site.performance_ratio
    hours = np.array([iv.hours for iv in intervals])
    return per_interval_mean(kw_per_kwp, owner, len(intervals)) * hours


def _day_weather(seed: int, ordinal: int) -> np.ndarray:
    """Cloud factor (0.05-1) on the 15-minute grid of one UTC day, plus the next midnight."""
    rng = np.random.default_rng((seed, ordinal))
    kind = rng.choice(3, p=(0.45, 0.35, 0.20))  # clear, broken clouds, overcast
    low, high, wiggle = ((0.85, 1.0, 0.04), (0.45, 0.85, 0.22), (0.12, 0.45, 0.08))[kind]
    clearness = rng.uniform(low, high)
    phi = 0.85  # correlation between neighbouring quarter-hours
    shocks = rng.standard_normal(_STEPS_PER_DAY + 1)
    path = np.empty(_STEPS_PER_DAY + 1)
    path[0] = shocks[0]
    for t in range(1, path.size):
        path[t] = phi * path[t - 1] + np.sqrt(1 - phi**2) * shocks[t]
    return np.clip(clearness + wiggle * path, 0.05, 1.0)


def cloud_factors(intervals: Sequence[Interval], seed: int) -> np.ndarray:
    """Share of clear-sky output that gets through the clouds, per interval (0.05-1)."""
    if not intervals:
        return np.zeros(0)
    times, owner = sample_times(intervals, SAMPLE_MINUTES)
    days = times.normalize()
    factors = np.empty(len(times))
    minute = (times - days).total_seconds().to_numpy() / 60.0
    ordinals = np.array([d.toordinal() for d in days.date])
    grid = np.arange(_STEPS_PER_DAY + 1) * _STEP_MINUTES
    for ordinal in np.unique(ordinals):
        mask = ordinals == ordinal
        factors[mask] = np.interp(minute[mask], grid, _day_weather(seed, int(ordinal)))
    return per_interval_mean(factors, owner, len(intervals))


def pv_kwh_per_kwp(intervals: Sequence[Interval], seed: int, site: Site = LYON) -> np.ndarray:
    """Actual kWh per kWp per interval: clear sky times the seeded cloud factor."""
    return clear_sky_pv_kwh_per_kwp(intervals, site) * cloud_factors(intervals, seed)
