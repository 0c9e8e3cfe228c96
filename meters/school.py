"""The school's load: a base load always, teaching load only on school days.

A school day is a weekday that is neither a public holiday of the site's country nor in
one of the calendar's holiday periods. The base (``base_share`` of the year's energy
spread evenly over its hours: ventilation, fridges, servers, emergency lighting) runs all
the time, so on weekends and holidays the school uses its base load and nothing else.
The rest of the year's energy is spread over the school days with the shape of BDEW's G1
weekday profile above its own minimum, times a seeded day factor (log-normal, sigma
0.1, normalised over the year's school days) for the days the school is busier or
quieter.

The default holiday periods are the French academic calendar of zone A (Lyon) for
2025-2026 and 2026-2027 as the Ministry of Education published it (first and last day
without school); other places or years name their own in the scenario file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from voisin.meters.bdew import SLOTS_PER_DAY, _table, public_holidays

FRANCE_ZONE_A = (
    (date(2025, 7, 5), date(2025, 8, 31)),
    (date(2025, 10, 18), date(2025, 11, 2)),
    (date(2025, 12, 20), date(2026, 1, 4)),
    (date(2026, 2, 7), date(2026, 2, 22)),
    (date(2026, 4, 4), date(2026, 4, 19)),
    (date(2026, 5, 14), date(2026, 5, 17)),
    (date(2026, 7, 4), date(2026, 8, 31)),
    (date(2026, 10, 17), date(2026, 11, 1)),
    (date(2026, 12, 19), date(2027, 1, 3)),
    (date(2027, 2, 13), date(2027, 2, 28)),
    (date(2027, 4, 10), date(2027, 4, 25)),
    (date(2027, 5, 6), date(2027, 5, 9)),
    (date(2027, 7, 3), date(2027, 8, 31)),
)
"""School holidays, zone A, summer 2025 to summer 2027 (first and last free day)."""
DAY_SIGMA = 0.1


@dataclass(frozen=True)
class SchoolCalendar:
    country: str = "FR"
    subdivision: str | None = None
    holidays: tuple[tuple[date, date], ...] = field(default=FRANCE_ZONE_A)

    def is_school_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in public_holidays(day.year, self.country, self.subdivision):
            return False
        return not any(first <= day <= last for first, last in self.holidays)


def _g1_weekday_shape(day: date) -> np.ndarray:
    """G1's quarter-hour shape of ``day``'s season on a weekday, above its minimum,
    summing to 1."""
    from voisin.meters.bdew import _season

    g1 = _table()["g1"][_season(day), min(day.weekday(), 4)]
    above = g1 - g1.min()
    return np.asarray(above / above.sum())


@lru_cache(maxsize=64)
def _year_days(calendar: SchoolCalendar, year: int, seed: int) -> dict[date, float]:
    """Each school day of ``year`` and its share of the year's teaching energy."""
    first = date(year, 1, 1)
    days = [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]
    open_days = [d for d in days if calendar.is_school_day(d)]
    rng = np.random.default_rng((seed, year, 0x5C0))
    factors = rng.lognormal(-(DAY_SIGMA**2) / 2, DAY_SIGMA, len(open_days))
    factors /= max(factors.sum(), 1e-12)
    return dict(zip(open_days, factors.tolist(), strict=True))


@dataclass(frozen=True)
class SchoolLoad:
    annual_kwh: float
    calendar: SchoolCalendar = SchoolCalendar()
    base_share: float = 0.25
    seed: int = 0

    @property
    def base_kw(self) -> float:
        return self.base_share * self.annual_kwh / 8760.0

    def quarter_kw(self, day: date, expected: bool = False) -> np.ndarray:
        """Mean power (kW) in each of the 96 local quarter-hours of ``day``; ``expected``
        leaves out the day factor, as a forecast from the calendar would."""
        kw = np.full(SLOTS_PER_DAY, self.base_kw)
        days = _year_days(self.calendar, day.year, self.seed)
        share = days.get(day)
        if share is None:
            return kw
        if expected:
            share = 1.0 / len(days)
        teaching_kwh = (1 - self.base_share) * self.annual_kwh * share
        return kw + teaching_kwh * _g1_weekday_shape(day) * 4.0
