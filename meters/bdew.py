"""BDEW standard load profiles (H0 households, G1 weekday businesses such as a school).

demandlib ships the BDEW table (``selp_series.csv``: 3 seasons x 7 day types x 96
quarter-hours) and the H0 dynamisation polynomial. Its ``ElecSlp`` class builds all
eleven profiles with pandas merges and calls ``warnings.simplefilter("error")``, which
turns every warning into an error for the rest of the process (under pandas 3 it then
fails on a pandas deprecation warning; under pandas 2.3 it runs but leaves the filter
set). So we read demandlib's table and apply the BDEW rules ourselves with numpy:
the same seasons, holidays counted as Sundays, each profile normalised to one over the
year. The result is cached per (year, profile) because a year is 35,040 slots.

Slots are quarter-hours of *local* standard wall time (people cook by the clock), so
callers map UTC instants to local time before indexing.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from functools import lru_cache
from importlib.resources import files

import holidays
import numpy as np

from voisin.errors import InvalidInput

PROFILES = ("h0", "g1")
SLOTS_PER_DAY = 96

# Season of each (month, day), as in demandlib's ElecSlp defaults:
# summer 15.05-14.09, transition 21.03-14.05 and 15.09-31.10, winter otherwise.
_SEASONS = ("winter", "transition", "summer")


def _season(day: date) -> int:
    md = (day.month, day.day)
    if (5, 15) <= md <= (9, 14):
        return 2
    if (3, 21) <= md <= (5, 14) or (9, 15) <= md <= (10, 31):
        return 1
    return 0


@lru_cache(maxsize=256)
def public_holidays(
    year: int, country: str = "FR", subdivision: str | None = None
) -> tuple[date, ...]:
    """Public holidays of ``country`` (ISO 3166 code; ``subdivision`` for regional ones)
    in ``year``, from the ``holidays`` package's offline rules."""
    try:
        days = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        raise InvalidInput(
            f"no holiday calendar for country {country!r}"
            + (f" / {subdivision!r}" if subdivision else ""),
            code="bad-country",
        ) from None
    return tuple(sorted(days))


@lru_cache(maxsize=1)
def _table() -> dict[str, np.ndarray]:
    """demandlib's BDEW table as arrays indexed [season, day type (0=Mon..6=Sun), slot]."""
    path = files("demandlib.bdew") / "bdew_data" / "selp_series.csv"
    out = {p: np.zeros((3, 7, SLOTS_PER_DAY)) for p in PROFILES}
    counts = np.zeros((3, 7), dtype=int)
    with path.open(newline="") as handle:  # type: ignore[call-overload]  # a real Path: takes newline
        for row in csv.DictReader(handle):
            s, wd = _SEASONS.index(row["period"]), int(row["weekday"]) - 1
            slot = counts[s, wd]
            for p in PROFILES:
                out[p][s, wd, slot] = float(row[p])
            counts[s, wd] += 1
    if not (counts == SLOTS_PER_DAY).all():
        raise InvalidInput("demandlib BDEW table is not 3 seasons x 7 days x 96 slots")
    return out


@lru_cache(maxsize=32)
def bdew_year_profile(
    year: int, profile: str, country: str = "FR", subdivision: str | None = None
) -> np.ndarray:
    """Fraction of the annual energy in each local quarter-hour of ``year`` (sums to 1).

    H0 carries BDEW's dynamisation (more in winter, less in summer); public holidays of
    ``country`` count as Sundays. The array is read-only because it is shared by the cache.
    """
    if profile not in PROFILES:
        raise InvalidInput(f"unknown load profile {profile!r}; use one of {', '.join(PROFILES)}")
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    holidays = set(public_holidays(year, country, subdivision))
    seasons = np.empty(days, dtype=int)
    daytypes = np.empty(days, dtype=int)
    for n in range(days):
        day = first + timedelta(days=n)
        seasons[n] = _season(day)
        daytypes[n] = 6 if day in holidays else day.weekday()
    values = _table()[profile][seasons, daytypes].reshape(-1)
    values = values / values.sum()
    if profile == "h0":
        from demandlib.bdew.elec_slp import dynamisation_function  # imported when used
        from pandas import date_range

        index = date_range(first, periods=values.size, freq="15min")
        values = values * dynamisation_function(index).to_numpy()
        values = values / values.sum()
    values.setflags(write=False)
    return np.asarray(values)
