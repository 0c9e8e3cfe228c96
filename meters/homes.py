"""One home's load, minute by minute: standby, fridges and appliance cycles.

BDEW's H0 profile is the average of many homes, too smooth to be one of them. Here a
home owns a set of appliances (:mod:`voisin.meters.appliances`, Richardson et al. 2010)
and each day it runs them as discrete cycles at their rated power, so a kettle, a hob and
a tumble dryer can overlap into a peak of several kW. What stays from BDEW is the
energy and the timing:

- the day's energy is ``annual_kwh`` times the day's share of the H0 year (seasons,
  weekdays, public holidays), times a day factor (log-normal, sigma 0.2) normalised over
  each ISO week so that a week, and so the year, keeps its energy;
- cycles start with the day's H0 shape less 90 % of its night minimum as intensity
  (activity rather than base load), Poisson in number, their mean scaled so the
  expected energy is the day's; the cycles' lengths are then stretched or shrunk
  together so the day's energy is met exactly, keeping their power;
- fridges and freezers cycle at a fixed period from a random phase; standby is constant.

Days are local calendar days, each drawn from ``default_rng((seed, home, ordinal))``: a
day's load does not depend on the run around it. A cycle running past midnight wraps to
the same day's first minutes, so each day keeps its energy.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from voisin.meters.appliances import Appliance, owned_appliances
from voisin.meters.bdew import SLOTS_PER_DAY, bdew_year_profile

MINUTES = 1440
DAY_SIGMA = 0.2
NIGHT_SHARE_REMOVED = 0.9
MAX_STRETCH = 3.0


@lru_cache(maxsize=4096)
def _week_factors(
    seed: int, home: int, iso_year: int, iso_week: int, country: str, subdivision: str | None
) -> tuple[float, ...]:
    """Day factors of one ISO week (Mon..Sun), normalised to keep the week's H0 energy."""
    monday = date.fromisocalendar(iso_year, iso_week, 1)
    days = [monday + timedelta(days=i) for i in range(7)]
    shares = np.array([_day_share(d, country, subdivision) for d in days])
    rng = np.random.default_rng((seed, home, iso_year, iso_week, 0x3EE))
    raw = rng.lognormal(-(DAY_SIGMA**2) / 2, DAY_SIGMA, 7)
    return tuple(raw * shares.sum() / (raw * shares).sum())


def _day_slots(day: date, country: str, subdivision: str | None) -> np.ndarray:
    year = bdew_year_profile(day.year, "h0", country, subdivision)
    first = (day - date(day.year, 1, 1)).days * SLOTS_PER_DAY
    return year[first : first + SLOTS_PER_DAY]


def _day_share(day: date, country: str, subdivision: str | None) -> float:
    return float(_day_slots(day, country, subdivision).sum())


class Home:
    """A household's appliances and its stochastic minute load for any local day."""

    def __init__(
        self,
        annual_kwh: float,
        seed: int,
        home: int,
        country: str = "FR",
        subdivision: str | None = None,
    ) -> None:
        self.annual_kwh = annual_kwh
        self.seed = seed
        self.home = home
        self.country = country
        self.subdivision = subdivision
        self.appliances: tuple[Appliance, ...] = owned_appliances(
            np.random.default_rng((seed, home, 0xA99))
        )
        self.cold = [a for a in self.appliances if a.cold]
        self.cycling = [a for a in self.appliances if not a.cold and a.cycles_per_year > 0]
        self.standby_kw = sum(a.standby_kw for a in self.appliances)
        self._cycles_per_day = np.array([a.cycles_per_year / 365.0 for a in self.cycling])
        self._cycle_minutes = np.array([a.cycle_minutes for a in self.cycling])
        self._power_kw = np.array([a.power_kw for a in self.cycling])
        self._nominal_kwh_per_day = float(
            (self._cycles_per_day * self._cycle_minutes * self._power_kw).sum() / 60.0
        )

    def day_kwh(self, day: date) -> float:
        """The energy this home uses on local ``day``."""
        iso = day.isocalendar()
        factor = _week_factors(
            self.seed, self.home, iso.year, iso.week, self.country, self.subdivision
        )[iso.weekday - 1]
        return self.annual_kwh * _day_share(day, self.country, self.subdivision) * factor

    def minute_kw(self, day: date) -> np.ndarray:
        """Power (kW) in each of the 1440 local minutes of ``day``."""
        rng = np.random.default_rng((self.seed, self.home, day.toordinal()))
        target = self.day_kwh(day)
        kw = np.full(MINUTES, self.standby_kw)
        for fridge in self.cold:
            kw += _periodic(fridge, rng)
        base_kwh = kw.sum() / 60.0
        if base_kwh > 0.8 * target:  # a frugal home: its base shrinks with it
            kw *= 0.8 * target / max(base_kwh, 1e-12)
            base_kwh = 0.8 * target
        kw += self._cycles(day, target - base_kwh, rng)
        return kw

    def _cycles(self, day: date, energy_kwh: float, rng: np.random.Generator) -> np.ndarray:
        if energy_kwh <= 0 or not self.cycling:
            return np.zeros(MINUTES)
        slots = _day_slots(day, self.country, self.subdivision)
        activity = np.clip(slots - NIGHT_SHARE_REMOVED * slots.min(), 0.0, None)
        cdf = np.cumsum(np.repeat(activity, MINUTES // SLOTS_PER_DAY))
        cdf /= cdf[-1]
        scale = energy_kwh / self._nominal_kwh_per_day
        counts = rng.poisson(self._cycles_per_day * scale)
        start = np.searchsorted(cdf, rng.random(int(counts.sum())))
        length = np.repeat(self._cycle_minutes, counts)
        power = np.repeat(self._power_kw, counts)
        drawn = float((length * power).sum() / 60.0)
        if drawn <= energy_kwh / MAX_STRETCH:  # too few cycles drawn: spread the rest flat
            flat = np.full(MINUTES, (energy_kwh - drawn) * 60.0 / MINUTES)
            return np.asarray(_render(start, length, power) + flat)
        return _render(start, length * (energy_kwh / drawn), power)


def _periodic(appliance: Appliance, rng: np.random.Generator) -> np.ndarray:
    """A fridge's compressor: on for its cycle length once per period, random phase."""
    period = MINUTES * 365.0 / appliance.cycles_per_year
    phase = rng.random() * period
    starts = np.arange(phase, MINUTES, period)
    length = np.full(starts.size, appliance.cycle_minutes)
    return _render(np.floor(starts).astype(int), length, np.full(starts.size, appliance.power_kw))


def _render(start: np.ndarray, length: np.ndarray, power_kw: np.ndarray) -> np.ndarray:
    """Sum of rectangular cycles on the minute grid; a fractional last minute carries its
    share, and what runs past midnight wraps to the day's start (energy is kept)."""
    whole = np.floor(length).astype(int)
    diff = np.zeros(3 * MINUTES + 1)
    np.add.at(diff, start, power_kw)
    np.add.at(diff, start + whole, -power_kw)
    tail = np.zeros(3 * MINUTES + 1)
    np.add.at(tail, start + whole, power_kw * (length - whole))
    long = np.cumsum(diff)[:-1] + tail[:-1]
    return np.asarray(long.reshape(3, MINUTES).sum(axis=0))
