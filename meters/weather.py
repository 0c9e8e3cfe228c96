"""Seeded weather: days of a reference year resampled, so each month keeps its statistics.

Each simulated day borrows the hourly clear-sky index, temperature and wind of one day of
the climate's reference year (:mod:`voisin.meters.climate`). Days are chosen by a
k-nearest-neighbour bootstrap (Lall and Sharma 1996; Rajagopalan and Lall 1999): among
the reference days within ``WINDOW_DAYS`` of the calendar day and in its month, take the
``K`` whose predecessor's daily index is closest to yesterday's, and pick one with weight
1/rank. So the distribution of each month and the persistence from one day to the next
come from the source, and the sequence is new for every seed.

The chain runs from the 1st of January of each year with ``default_rng((seed, year))``,
so a day's weather never depends on which other days a run covers. Within an hour the
index is interpolated between solar-hour midpoints and given a sub-hourly AR(1) wiggle
(5-minute steps, correlation 0.7) whose spread ``0.6 k (1 - k)`` vanishes under clear
and overcast skies and peaks at broken cloud (k = 0.5): our choice, since the reference
year is hourly.

A day-ahead forecast is issued at 12:00 UTC the day before, as a day-ahead market needs
it. It sees the hourly index (not the sub-hourly wiggle) plus an error whose spread
grows with lead time, ``0.10 + 0.10 (lead - 12 h) / 24 h`` (0.10 at the first hour, 0.20
at 36 h), smooth in time (AR(1), correlation 0.9 per hour): our model, of the size that
day-ahead irradiance forecasts in central Europe show (hourly RMSE of 20-40 % of the
mean, Lorenz et al. 2009).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from voisin.meters.climate import DAYS, MAX_INDEX, Climate, climate

WINDOW_DAYS = 10
K = 5
STEP_MINUTES = 5
WIGGLE_PHI = 0.7
FORECAST_ISSUE_HOUR = 12
FORECAST_PHI_PER_HOUR = 0.9


def forecast_sigma(lead_h: np.ndarray) -> np.ndarray:
    """Spread of the day-ahead forecast's clear-sky index error at ``lead_h`` hours."""
    return 0.10 + 0.10 * np.clip(lead_h - 12.0, 0.0, None) / 24.0


@lru_cache(maxsize=64)
def _year_days(name: str, seed: int, year: int) -> np.ndarray:
    """Reference day (0-364) borrowed by each day of ``year``, read-only."""
    source = climate(name)
    days = (pd.Timestamp(year + 1, 1, 1) - pd.Timestamp(year, 1, 1)).days
    rng = np.random.default_rng((seed, year, 0x57EA))
    daily = source.daily_index
    months = pd.date_range("2010-01-01", periods=DAYS, freq="D").month.to_numpy()
    picks = np.empty(days, dtype=int)
    weights = 1.0 / np.arange(1, K + 1)
    offsets = np.arange(-WINDOW_DAYS, WINDOW_DAYS + 1)
    for d in range(days):
        calendar = min(d * DAYS // days, DAYS - 1)  # leap years stretch the calendar
        successors = (calendar + offsets) % DAYS
        successors = successors[months[successors] == months[calendar]]
        if d == 0:
            picks[d] = successors[rng.integers(successors.size)]
            continue
        today = daily[(successors - 1) % DAYS]
        ranked = successors[np.argsort(np.abs(today - daily[picks[d - 1]]), kind="stable")[:K]]
        p = weights[: ranked.size] / weights[: ranked.size].sum()
        picks[d] = ranked[rng.choice(ranked.size, p=p)]
    picks.setflags(write=False)
    return picks


def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A unit-variance AR(1) path of ``n`` steps."""
    shocks = rng.standard_normal(n)
    path = np.empty(n)
    path[0] = shocks[0]
    scale = np.sqrt(1 - phi**2)
    for t in range(1, n):
        path[t] = phi * path[t - 1] + scale * shocks[t]
    return path


class Weather:
    """The seeded weather of one climate at a place (longitude for solar time)."""

    def __init__(self, climate_name: str, seed: int, longitude: float) -> None:
        self.source: Climate = climate(climate_name)
        self.name = climate_name
        self.seed = seed
        self.longitude = longitude

    def reference_days(self, times: pd.DatetimeIndex) -> np.ndarray:
        """The reference day each instant's (UTC) day borrows."""
        years = times.year.to_numpy()
        doy = times.dayofyear.to_numpy() - 1
        out = np.empty(len(times), dtype=int)
        for year in np.unique(years):
            mask = years == year
            out[mask] = _year_days(self.name, self.seed, int(year))[doy[mask]]
        return out

    def _solar_hour(self, times: pd.DatetimeIndex) -> np.ndarray:
        from voisin.meters.climate import _equation_of_time_min

        clock = (times - times.normalize()).total_seconds().to_numpy() / 3600.0
        eot = _equation_of_time_min(times.dayofyear.to_numpy())
        return np.asarray(clock + self.longitude / 15.0 + eot / 60.0)

    def _solar_hourly(self, times: pd.DatetimeIndex, table: np.ndarray) -> np.ndarray:
        """A value given per solar hour of the borrowed day, interpolated between midpoints."""
        days = self.reference_days(times)
        solar = np.clip(self._solar_hour(times) - 0.5, 0.0, 23.0)
        low = np.floor(solar).astype(int)
        high = np.minimum(low + 1, 23)
        frac = solar - low
        return np.asarray(table[days, low] * (1 - frac) + table[days, high] * frac)

    def hourly_index(self, times: pd.DatetimeIndex) -> np.ndarray:
        """The borrowed day's index interpolated between solar-hour midpoints."""
        return self._solar_hourly(times, self.source.index)

    def diffuse_fraction(self, times: pd.DatetimeIndex) -> np.ndarray:
        """The borrowed hour's measured diffuse share of global irradiance."""
        return self._solar_hourly(times, self.source.diffuse_fraction)

    def _per_day_path(
        self, times: pd.DatetimeIndex, tag: int, phi: float, step_minutes: float
    ) -> np.ndarray:
        """A unit AR(1) path per UTC day on a ``step_minutes`` grid, read at ``times``."""
        day_start = times.normalize()
        ordinals: np.ndarray | list[int] = (
            np.array([d.toordinal() for d in day_start.date]) if len(times) else []
        )
        minute = (times - day_start).total_seconds().to_numpy() / 60.0
        steps = int(1440 // step_minutes) + 1
        grid = np.arange(steps) * step_minutes
        out = np.empty(len(times))
        for ordinal in np.unique(ordinals):
            mask = ordinals == ordinal
            rng = np.random.default_rng((self.seed, int(ordinal), tag))
            out[mask] = np.interp(minute[mask], grid, _ar1(rng, steps, phi))
        return out

    def clear_sky_index(self, times: pd.DatetimeIndex) -> np.ndarray:
        """What the sky lets through, as a share of the clear sky (0-1.2)."""
        k = self.hourly_index(times)
        wiggle = self._per_day_path(times, 1, WIGGLE_PHI, STEP_MINUTES)
        return np.asarray(np.clip(k + 0.6 * k * (1 - k) * wiggle, 0.0, MAX_INDEX))

    def forecast_index(self, times: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """The day-ahead forecast of the clear-sky index at ``times`` and its lead (hours)."""
        issued = times.normalize() - pd.Timedelta(hours=24 - FORECAST_ISSUE_HOUR)
        lead_h = (times - issued).total_seconds().to_numpy() / 3600.0
        error = self._per_day_path(times, 2, FORECAST_PHI_PER_HOUR ** (1 / 12), 5.0)
        k = self.hourly_index(times) + forecast_sigma(lead_h) * error
        return np.clip(k, 0.0, MAX_INDEX), lead_h

    def temperature_c(self, times: pd.DatetimeIndex) -> np.ndarray:
        return self._clock_hourly(times, self.source.temperature_c)

    def wind_m_s(self, times: pd.DatetimeIndex) -> np.ndarray:
        return self._clock_hourly(times, self.source.wind_m_s)

    def _clock_hourly(self, times: pd.DatetimeIndex, table: np.ndarray) -> np.ndarray:
        """A value given per CET clock hour (hour ending) of the borrowed day."""
        days = self.reference_days(times)
        clock_cet = (times - times.normalize()).total_seconds().to_numpy() / 3600.0 + 1.0
        pos = np.clip(clock_cet - 1.0, 0.0, 23.0)
        low = np.floor(pos).astype(int)
        high = np.minimum(low + 1, 23)
        frac = pos - low
        return np.asarray(table[days, low] * (1 - frac) + table[days, high] * frac)

    def day_index(self, day: pd.Timestamp) -> float:
        """The daily clear-sky index of the reference day ``day`` borrows."""
        index = pd.DatetimeIndex([day.tz_localize("UTC") if day.tzinfo is None else day])
        return float(self.source.daily_index[self.reference_days(index)[0]])
