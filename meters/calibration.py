"""The weather model against its source: monthly PV yields, side by side.

The reference is pvlib's ModelChain run on the reference year's own hourly irradiance,
temperature and wind at its station; the model is the same ModelChain on the seeded
weather at the same place, averaged over several seeds (each seed is one possible year).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from voisin.meters.climate import climate, hourly_frame
from voisin.meters.site import SOUTH_30, Orientation, Site
from voisin.meters.solar import model_chain, pv_kwh_per_kwp
from voisin.meters.weather import Weather
from voisin.protocol import day_intervals


@dataclass(frozen=True)
class SeasonalYields:
    """kWh per kWp by month (12 values): the source, and the model per seed."""

    source_kwh_per_kwp: np.ndarray
    model_kwh_per_kwp: np.ndarray
    """[seed, month]"""

    @property
    def model_mean(self) -> np.ndarray:
        return np.asarray(self.model_kwh_per_kwp.mean(axis=0))


def station_site(name: str) -> Site:
    source = climate(name)
    return Site(
        name=name,
        latitude=source.latitude,
        longitude=source.longitude,
        altitude_m=source.altitude_m,
        climate=name,
    )


def seasonal_yields(
    name: str,
    seeds: Sequence[int],
    year: int = 2026,
    orientation: Orientation = SOUTH_30,
    site: Site | None = None,
) -> SeasonalYields:
    """Monthly yields of ``orientation`` at ``site`` (default: the climate's station)."""
    site = site or station_site(name)
    chain = model_chain(station_site(name), orientation)
    chain.run_model(hourly_frame(name))
    ac = chain.results.ac.clip(lower=0) / 1000.0
    source = ac.groupby(ac.index.month).sum().to_numpy()
    intervals = day_intervals(date(year, 1, 1), 60, (date(year + 1, 1, 1) - date(year, 1, 1)).days)
    months = np.array([iv.start.month for iv in intervals])
    model = []
    for seed in seeds:
        weather = Weather(name, seed, site.longitude)
        kwh = pv_kwh_per_kwp(intervals, site, [orientation], weather)[orientation]
        model.append(np.bincount(months, weights=kwh, minlength=13)[1:])
    return SeasonalYields(source, np.array(model))
