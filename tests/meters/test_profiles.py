"""BDEW standard load profiles on the local clock: shapes and energies."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from voisin.errors import InvalidInput
from voisin.meters import load_kwh
from voisin.protocol import Interval, day_intervals

MIDSUMMER = date(2026, 6, 21)


@pytest.mark.parametrize("day", [date(2026, 1, 14), date(2026, 4, 8), date(2026, 7, 1)])
def test_h0_daily_energy_is_about_annual_over_365(day: date) -> None:
    daily = load_kwh(day_intervals(day), 3650.0, "h0").sum()
    assert 0.6 * 10.0 < daily < 1.6 * 10.0


def test_h0_year_adds_up_to_the_annual_consumption() -> None:
    year = day_intervals(date(2026, 1, 1), days=365)
    assert load_kwh(year, 3500.0).sum() == pytest.approx(3500.0, rel=0.002)


def test_load_energy_does_not_depend_on_interval_length() -> None:
    quarter = load_kwh(day_intervals(MIDSUMMER), 4000.0)
    hourly = load_kwh(day_intervals(MIDSUMMER, minutes=60), 4000.0)
    assert hourly == pytest.approx(quarter.reshape(24, 4).sum(axis=1))


def test_households_peak_in_the_evening_local_time() -> None:
    intervals = day_intervals(date(2026, 1, 14))  # a Wednesday, UTC+1
    energy = load_kwh(intervals, 3500.0)
    peak = intervals[int(np.argmax(energy))]
    assert 16 <= peak.start.hour <= 20


def test_school_g1_works_weekdays_and_rests_on_sundays_and_holidays() -> None:
    tuesday = load_kwh(day_intervals(date(2026, 7, 7)), 45_000.0, "g1").sum()
    sunday = load_kwh(day_intervals(date(2026, 7, 12)), 45_000.0, "g1").sum()
    bastille_day = load_kwh(day_intervals(date(2026, 7, 14)), 45_000.0, "g1").sum()
    assert tuesday > 2 * sunday
    assert bastille_day == pytest.approx(sunday, rel=1e-9)


def test_unknown_profile_and_bad_consumption_are_rejected() -> None:
    intervals = day_intervals(MIDSUMMER)
    with pytest.raises(InvalidInput, match="unknown load profile"):
        load_kwh(intervals, 3000.0, "x9")
    with pytest.raises(InvalidInput):
        load_kwh(intervals, float("nan"))


def test_an_empty_list_of_intervals_gives_empty_profiles() -> None:
    assert load_kwh([], 3000.0).size == 0


def test_short_intervals_take_their_share_of_the_quarter_hour() -> None:
    start = datetime(2026, 6, 21, 18, 0, tzinfo=UTC)
    quarter = load_kwh([Interval(start=start, minutes=15)], 3000.0)[0]
    fives = [Interval(start=start.replace(minute=m), minutes=5) for m in (0, 5, 10)]
    assert load_kwh(fives, 3000.0) == pytest.approx([quarter / 3] * 3)
