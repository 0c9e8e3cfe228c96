"""A generated city's homes under its sky and clock (``city.weather``)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from voisin.city.scenario import DAYS_PER_YEAR, CitySpec, _households, feeder
from voisin.city.weather import SITE, sun_and_load
from voisin.meters import load_share, pv_kwh_per_kwp
from voisin.meters.site import SOUTH_30
from voisin.protocol import day_intervals

SPEC = CitySpec(name="sky", feeders=2, households_per_feeder=40, seed=3, start=date(2026, 6, 22))


def test_the_sun_is_pvlib_under_clouds_and_the_load_is_h0() -> None:
    """Each interval's yield is (all but) 0 where the clear sky's on the same plane is,
    the day's within the clear sky's (clouds take, a cool panel gives back a little),
    and another seed gives another day; its load share is the H0 profile's for that
    interval, a day's about a 365th of a year's."""
    intervals = day_intervals(SPEC.start, SPEC.minutes, 1)
    clear = pv_kwh_per_kwp(intervals, SITE, [SOUTH_30])[SOUTH_30]
    share = load_share(intervals, "h0", SITE)
    sun, load = zip(
        *(sun_and_load(SPEC.seed, SPEC.start, SPEC.minutes, 1, iv) for iv in intervals),
        strict=True,
    )
    sun_kwh = np.array(sun)
    assert np.all(sun_kwh[clear == 0] < 1e-3)
    assert sun_kwh[0] == 0.0  # midnight UTC: night in Lyon
    assert 0 < sun_kwh.sum() <= 1.1 * clear.sum()
    other = [sun_and_load(SPEC.seed + 1, SPEC.start, SPEC.minutes, 1, iv)[0] for iv in intervals]
    assert not np.allclose(other, sun_kwh)
    assert np.allclose(load, share)
    assert 0.7 / DAYS_PER_YEAR < sum(load) < 1.1 / DAYS_PER_YEAR


def test_a_feeder_follows_the_sky_with_each_homes_spread() -> None:
    """At noon every home's PV is its kWp times the interval's yield times 0.7-1.0,
    its load its annual use's share times 0.8-1.2; a home without PV has none."""
    interval = SPEC.interval_list()[48]
    sun, share = sun_and_load(SPEC.seed, SPEC.start, SPEC.minutes, SPEC.days, interval)
    kwp, daily_kwh, *_ = _households(SPEC, 1)
    built = feeder(SPEC, 1, interval)
    pv, load = np.array(list(built.forecast_kwh.values())).T  # in household order
    assert len(pv) == SPEC.households_per_feeder
    ratio_pv = pv / np.where(kwp > 0, kwp * sun, 1.0)
    assert np.all((kwp == 0) <= (pv == 0))
    assert np.all((ratio_pv[kwp > 0] >= 0.7 - 1e-9) & (ratio_pv[kwp > 0] <= 1.0 + 1e-9))
    ratio_load = load / (daily_kwh * DAYS_PER_YEAR * share)
    assert np.all((ratio_load >= 0.8 - 1e-9) & (ratio_load <= 1.2 + 1e-9))


def test_an_interval_outside_the_run_is_refused() -> None:
    other = day_intervals(date(2026, 6, 23), 15, 1)[0]
    with pytest.raises(ValueError, match="not in the city's run"):
        sun_and_load(SPEC.seed, SPEC.start, SPEC.minutes, 1, other)
