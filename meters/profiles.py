"""Energy per interval (kWh, numpy arrays aligned with a list of ``Interval``s).

Standard loads from the BDEW profiles of :mod:`voisin.meters.bdew` read on the local clock:
a UTC interval is cut into minutes, each minute takes 1/15 of the energy of the local
quarter-hour it falls in, so any interval length (5, 15, 60 minutes) adds up, and
summer time shifts the household evening peak as it does in real life.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voisin.errors import InvalidInput
from voisin.meters.bdew import SLOTS_PER_DAY, bdew_year_profile
from voisin.meters.site import LYON, Site, per_interval_mean, sample_times
from voisin.protocol import Interval

__all__ = ["load_kwh", "load_share"]


def load_share(intervals: Sequence[Interval], profile: str, site: Site = LYON) -> np.ndarray:
    """Share of the annual consumption that falls in each interval (BDEW ``profile``)."""
    if not intervals:
        return np.zeros(0)
    times, owner = sample_times(intervals, 1.0)
    local = times.tz_convert(site.timezone).tz_localize(None)
    years = local.year.to_numpy()
    slots = (
        (local.day_of_year.to_numpy() - 1) * SLOTS_PER_DAY
        + local.hour.to_numpy() * 4
        + local.minute.to_numpy() // 15
    )
    per_minute = np.empty(len(times))
    for year in np.unique(years):
        mask = years == year
        per_minute[mask] = (
            bdew_year_profile(int(year), profile, site.country, site.subdivision)[slots[mask]]
            / 15.0
        )
    minutes = np.array([iv.minutes for iv in intervals], dtype=float)
    return np.asarray(per_interval_mean(per_minute, owner, len(intervals)) * minutes)


def load_kwh(
    intervals: Sequence[Interval], annual_kwh: float, profile: str = "h0", site: Site = LYON
) -> np.ndarray:
    """kWh per interval for a consumer of ``annual_kwh`` per year on a BDEW profile."""
    if not np.isfinite(annual_kwh) or annual_kwh < 0:
        raise InvalidInput(f"annual consumption must be a non-negative number, got {annual_kwh}")
    return annual_kwh * load_share(intervals, profile, site)
