"""SimBench's yearly profiles on voisin's calendar: which profile row a UTC instant reads.

SimBench ships one profile year, **2016** (a leap year, 366 x 96 = 35136 quarter hours).
Its time labels are German wall-clock time: the year starts at 01.01.2016 00:00 CET, the
spring hour is skipped and the autumn hour repeated, so row ``k`` is the physical quarter
hour starting ``2015-12-31T23:00Z + k * 15 min`` (the rows run on without a gap; a test
holds this against the labels). Each row is a mean power over its quarter hour.

A requested day maps onto the 2016 day **with the same weekday nearest the same calendar
day** (at most three days away), because SimBench's household and business loads differ
between weekdays and weekends while PV hardly changes in three days; the UTC time of day
is kept. So Monday 2026-06-22 reads Monday 2016-06-20. Public holidays are not aligned.
The last UTC hour of 2016-12-31 lies beyond the table and wraps to its first hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np

from voisin.errors import InvalidInput

PROFILE_YEAR = 2016
PROFILE_START = datetime(2015, 12, 31, 23, 0, tzinfo=UTC)
"""The instant of row 0: 01.01.2016 00:00 CET."""
STEP = timedelta(minutes=15)
ROWS = 35136


def profile_day(day: date) -> date:
    """The 2016 day whose profiles stand for ``day``: same weekday, nearest calendar day."""
    # 2016 is a leap year, so every (month, day) exists in it.
    base = date(PROFILE_YEAR, day.month, day.day)
    shift = (day.weekday() - base.weekday()) % 7
    if shift > 3:
        shift -= 7
    mapped = base + timedelta(days=shift)
    if mapped.year < PROFILE_YEAR:
        mapped += timedelta(days=7)
    elif mapped.year > PROFILE_YEAR:
        mapped -= timedelta(days=7)
    return mapped


def profile_row(instant: datetime) -> int:
    """The profile row that a quarter hour starting at UTC ``instant`` reads."""
    if instant.tzinfo is None:
        raise ValueError("profile instants must carry a time zone (UTC)")
    instant = instant.astimezone(UTC)
    day = profile_day(instant.date())
    mapped = datetime.combine(day, instant.time(), tzinfo=UTC)
    return ((mapped - PROFILE_START) // STEP) % ROWS


def interval_starts(days: Sequence[date], minutes: int = 15) -> tuple[datetime, ...]:
    """Start instants of every interval of the given UTC days, in order."""
    if minutes <= 0 or minutes % 15 or 1440 % minutes:
        raise InvalidInput(
            f"interval length {minutes} min must be a multiple of 15 dividing "
            "a day (SimBench profiles are quarter-hourly)",
            code="bad-interval",
        )
    step = timedelta(minutes=minutes)
    return tuple(
        datetime.combine(d, datetime.min.time(), tzinfo=UTC) + k * step
        for d in days
        for k in range(1440 // minutes)
    )


def interval_energy_kwh(
    power_mw: np.ndarray, starts: Sequence[datetime], minutes: int = 15
) -> np.ndarray:
    """Energy (kWh) per interval and element, from a rows x elements table of mean MW."""
    rows = np.array(
        [[profile_row(s + k * STEP) for k in range(minutes // 15)] for s in starts], dtype=np.int64
    ).reshape(len(starts), minutes // 15)
    table = np.asarray(power_mw, dtype=float)
    # Each quarter hour of mean MW is 250 kWh per MW.
    return np.asarray(table[rows].sum(axis=1) * 250.0)
