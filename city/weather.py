"""A generated city's sun and standard load: pvlib under seeded weather, BDEW's H0.

Every generated home of a city sees the same sky and the same clock, as a
neighbourhood does (``agents.profiles``): the PV yield per kWp of each interval from
``meters.solar`` (pvlib's sun and transposition, the city's reference year resampled
from its seed) on a south-facing 30-degree plane, and the share of a year's use the
BDEW H0 standard load profile (the profile demandlib implements) puts in it, on the
site's local clock and holidays. Each home scales these by its own kWp and annual use,
with seeded spread for its orientation and its day. The appliance-level homes of a
neighbourhood (``meters.homes``) are not used here: their minute tables cost about a
second a home-day, and a city has ten thousand homes.

Computed once per process for a city's whole run (a Dask worker builds every feeder of
every interval it is given from the same arrays) and read by interval.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np

from voisin.meters import Weather, load_share, pv_kwh_per_kwp
from voisin.meters.site import LYON, SOUTH_30, Site
from voisin.protocol import Interval, day_intervals

SITE: Site = LYON
"""Where a generated city is (the neighbourhood's default site)."""


@lru_cache(maxsize=8)
def _run_profiles(seed: int, start: date, minutes: int, days: int) -> dict[str, np.ndarray]:
    intervals = day_intervals(start, minutes, days)
    weather = Weather(SITE.climate, seed, SITE.longitude)
    pv = pv_kwh_per_kwp(intervals, SITE, [SOUTH_30], weather)[SOUTH_30]
    ids = np.array([iv.id for iv in intervals])
    out = {"pv": pv, "h0": load_share(intervals, "h0", SITE), "ids": ids}
    for array in out.values():
        array.flags.writeable = False
    return out


def sun_and_load(
    seed: int, start: date, minutes: int, days: int, interval: Interval
) -> tuple[float, float]:
    """(kWh per kWp, share of the annual use) of ``interval`` in the city's run from
    ``start`` over ``days`` days of ``minutes``-minute intervals."""
    run = _run_profiles(seed, start, minutes, days)
    at = int(np.searchsorted(run["ids"], interval.id))
    if at >= len(run["ids"]) or run["ids"][at] != interval.id:
        raise ValueError(f"interval {interval.id} is not in the city's run")
    return float(run["pv"][at]), float(run["h0"][at])
