"""Forecasts an agent can make before gate closure, and how wrong they turn out.

The gate for interval ``t`` closes a quarter of an interval before ``t`` starts, while
``t - 1`` is still being delivered, so the newest reading an agent has is that of
``t - PERSISTENCE_LAG`` (2). Three methods, each using only what is known then:

- ``persistence``: the last reading's load; for PV the last reading's share of its
  clear-sky output, applied to the clear sky of ``t`` ("smart persistence");
- ``profile``: the member's expected load (its standard profile, its school calendar),
  and PV as its clear sky times the climate's mean clear-sky index for the month;
- ``day-ahead``: PV from the weather forecast issued at 12:00 UTC the day before
  (:mod:`voisin.meters.weather`), load from the profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voisin.agents.profiles import MemberProfiles
from voisin.meters.climate import Climate
from voisin.meters.weather import FORECAST_ISSUE_HOUR
from voisin.protocol import Interval

PERSISTENCE_LAG = 2
MIN_CLEAR_KWH = 1e-4
"""Below this clear-sky energy the sun is too low for a persistence ratio."""


def month_index(intervals: Sequence[Interval], source: Climate) -> np.ndarray:
    monthly = source.monthly_index()
    return np.array([monthly[iv.start.month - 1] for iv in intervals])


def persistence_pv(p: MemberProfiles, lag: int, climatology: np.ndarray) -> np.ndarray:
    """Smart persistence ``lag`` intervals back; climatology where no reading exists yet
    or the sun was too low to tell."""
    ratio = climatology.copy()
    if lag < len(ratio):
        past_clear = p.pv_clear_kwh[:-lag]
        seen = past_clear > MIN_CLEAR_KWH
        past = np.where(
            seen, p.pv_kwh[:-lag] / np.maximum(past_clear, MIN_CLEAR_KWH), climatology[lag:]
        )
        ratio[lag:] = past
    return np.asarray(p.pv_clear_kwh * ratio)


def persistence_load(p: MemberProfiles, lag: int) -> np.ndarray:
    out = p.load_expected_kwh.copy()
    out[lag:] = p.load_kwh[:-lag] if lag < len(out) else out[lag:]
    return out


def forecasts(
    p: MemberProfiles, method: str, climatology: np.ndarray, lag: int = PERSISTENCE_LAG
) -> tuple[np.ndarray, np.ndarray]:
    """PV and load forecasts (kWh per interval) of ``method`` for every interval."""
    if method == "persistence":
        return persistence_pv(p, lag, climatology), persistence_load(p, lag)
    if method == "profile":
        return p.pv_clear_kwh * climatology, p.load_expected_kwh
    return p.pv_day_ahead_kwh, p.load_expected_kwh


def day_ahead_lead_h(intervals: Sequence[Interval]) -> np.ndarray:
    """Hours from the day-ahead forecast's issue to each interval's start."""
    return np.array(
        [(iv.start.hour + iv.start.minute / 60) + 24 - FORECAST_ISSUE_HOUR for iv in intervals]
    )


@dataclass(frozen=True)
class ForecastError:
    """Normalised mean absolute error: sum |forecast - actual| / sum actual, over the
    neighbourhood (PV over its PV owners)."""

    method: str
    lead: str
    pv: float
    load: float


def _nmae(forecast: np.ndarray, actual: np.ndarray, mask: np.ndarray) -> float:
    total = actual[:, mask].sum()
    return float(np.abs(forecast[:, mask] - actual[:, mask]).sum() / total) if total else 0.0


def forecast_errors(
    profiles: Sequence[MemberProfiles], intervals: Sequence[Interval], source: Climate
) -> list[ForecastError]:
    """The error of each method by lead time over the run (persistence at 1, 2, 4 and 8
    intervals; the day-ahead forecast by hours since issue; the profile at any lead)."""
    climatology = month_index(intervals, source)
    pv = np.vstack([p.pv_kwh for p in profiles])
    load = np.vstack([p.load_kwh for p in profiles])
    every = np.ones(len(intervals), dtype=bool)
    minutes = intervals[0].minutes if intervals else 15
    rows = []
    for lag in (1, 2, 4, 8):
        f = [forecasts(p, "persistence", climatology, lag) for p in profiles]
        rows.append(
            ForecastError(
                "persistence",
                f"{lag * minutes} min",
                _nmae(np.vstack([x[0] for x in f]), pv, every),
                _nmae(np.vstack([x[1] for x in f]), load, every),
            )
        )
    ahead = np.vstack([p.pv_day_ahead_kwh for p in profiles])
    lead = day_ahead_lead_h(intervals)
    expected = np.vstack([p.load_expected_kwh for p in profiles])
    for low in (12, 18, 24, 30):
        mask = (lead >= low) & (lead < low + 6)
        if mask.any():
            rows.append(
                ForecastError(
                    "day-ahead",
                    f"{low}-{low + 6} h",
                    _nmae(ahead, pv, mask),
                    _nmae(expected, load, mask),
                )
            )
    profile = np.vstack([p.pv_clear_kwh for p in profiles]) * climatology
    rows.append(
        ForecastError("profile", "any", _nmae(profile, pv, every), _nmae(expected, load, every))
    )
    return rows
