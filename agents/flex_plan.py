"""Flexible loads that plan: an electric vehicle charged by its deadline, at the cheapest
expected hours.

A charging session is plugged in at ``arrival_hour`` (local time) and must have taken
``kwh`` by ``deadline_hour`` (the next day when it is not later than the arrival), at
most ``power_kw``. The naive charger starts at full power on arrival. The planned one
solves, day ahead, the LP

    minimise  sum_t price_t x_t   s.t.  sum_t x_t = kwh,  0 <= x_t <= power x hours

over the session's intervals, whose optimum fills the cheapest intervals first (a
fractional knapsack: ties go to the earliest), against the prices the neighbourhood
expects from its PV forecast (``battery_plan.expected_prices``): so a car plugged in
during the day charges into the PV peak. A session longer than the run, or one that
cannot take ``kwh`` in its window, takes what it can.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np


@dataclass(frozen=True)
class ElectricVehicle:
    """One charging session a day: plug-in hour, deadline hour (local), energy, power."""

    kwh: float = 10.0
    power_kw: float = 7.4
    arrival_hour: float = 18.0
    deadline_hour: float = 7.0
    planning: bool = False


def sessions(starts: Sequence[datetime], timezone: str, ev: ElectricVehicle) -> list[np.ndarray]:
    """The interval indices of each session in the run: from the first interval that
    starts at or after the arrival hour (local) up to, not including, the deadline."""
    zone = ZoneInfo(timezone)
    hours = np.array(
        [
            (s.astimezone(zone).hour + s.astimezone(zone).minute / 60.0)
            + 24.0 * (s.astimezone(zone).date() - starts[0].astimezone(zone).date()).days
            for s in starts
        ]
    )
    length = (ev.deadline_hour - ev.arrival_hour) % 24.0 or 24.0
    out = []
    first_day = int(hours[0] // 24) - 1
    last_day = int(hours[-1] // 24)
    for day in range(first_day, last_day + 1):
        begin = 24.0 * day + ev.arrival_hour
        chosen = np.flatnonzero((hours >= begin) & (hours < begin + length))
        if len(chosen):
            out.append(chosen)
    return out


def charge_plan(
    window: np.ndarray, price_eur_per_kwh: np.ndarray, kwh: float, power_kw: float, hours: float
) -> np.ndarray:
    """kWh per interval of ``window`` (indices into ``price_eur_per_kwh``): the LP's
    optimum, cheapest intervals first, earliest first among equals."""
    limit = power_kw * hours
    out = np.zeros(len(window))
    left = kwh
    for k in np.lexsort((window, price_eur_per_kwh[window])).tolist():
        if left <= 0:
            break
        out[k] = min(limit, left)
        left -= out[k]
    return out


def naive_plan(window: np.ndarray, kwh: float, power_kw: float, hours: float) -> np.ndarray:
    """Full power from the plug-in until the energy is in."""
    limit = power_kw * hours
    out = np.zeros(len(window))
    left = kwh
    for k in range(len(window)):
        out[k] = min(limit, max(left, 0.0))
        left -= out[k]
    return out


def ev_load_kwh(
    starts: Sequence[datetime],
    timezone: str,
    ev: ElectricVehicle,
    price_eur_per_kwh: np.ndarray,
    hours: float,
) -> np.ndarray:
    """The car's charging energy per interval of the run."""
    load = np.zeros(len(starts))
    for window in sessions(starts, timezone, ev):
        plan = (
            charge_plan(window, price_eur_per_kwh, ev.kwh, ev.power_kw, hours)
            if ev.planning
            else naive_plan(window, ev.kwh, ev.power_kw, hours)
        )
        load[window] += plan
    return np.round(load, 6)
