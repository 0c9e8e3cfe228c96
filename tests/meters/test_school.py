"""The school: base load only on weekends and holidays, its year adds up."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from voisin.meters.school import SchoolCalendar, SchoolLoad

SCHOOL = SchoolLoad(45_000.0, SchoolCalendar(), base_share=0.25, seed=7)


def test_calendar_closes_on_weekends_public_and_school_holidays() -> None:
    cal = SchoolCalendar()
    assert cal.is_school_day(date(2026, 6, 22))  # a Monday in June
    assert not cal.is_school_day(date(2026, 6, 21))  # Sunday
    assert not cal.is_school_day(date(2026, 7, 14))  # Bastille Day
    assert not cal.is_school_day(date(2026, 7, 22))  # summer holidays, a Wednesday
    assert not cal.is_school_day(date(2026, 2, 10))  # winter holidays, zone A
    assert cal.is_school_day(date(2026, 9, 1))  # la rentree
    other = SchoolCalendar(country="DE", subdivision="BW", holidays=())
    assert other.is_school_day(date(2026, 7, 22))
    assert not other.is_school_day(date(2026, 1, 6))


@pytest.mark.parametrize(
    "day", [date(2026, 7, 20), date(2026, 8, 12), date(2026, 6, 27), date(2026, 12, 25)]
)
def test_holiday_consumption_is_the_base_load_only(day: date) -> None:
    kw = SCHOOL.quarter_kw(day)
    assert np.all(kw == SCHOOL.base_kw)
    assert kw.sum() / 4 == pytest.approx(0.25 * 45_000 / 365, rel=0.01)


def test_school_days_add_teaching_load_and_the_year_adds_up() -> None:
    open_day = SCHOOL.quarter_kw(date(2026, 6, 22))
    assert open_day.max() > 5 * SCHOOL.base_kw
    assert open_day.min() == pytest.approx(SCHOOL.base_kw)
    year = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    total = sum(SCHOOL.quarter_kw(d).sum() / 4 for d in year)
    assert total == pytest.approx(45_000.0, rel=0.01)
    summer = sum(SCHOOL.quarter_kw(d).sum() / 4 for d in year if d.month in (7, 8))
    assert summer / total < 0.10  # was 14 % with BDEW G1 on every weekday
    expected = SCHOOL.quarter_kw(date(2026, 6, 22), expected=True)
    assert not np.array_equal(expected, open_day)
