"""Forecasts use only what is known before gate closure, and they miss."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.agents import Neighbourhood, default_neighbourhood
from voisin.agents.forecasts import PERSISTENCE_LAG, forecasts, month_index
from voisin.agents.profiles import MemberProfiles
from voisin.meters.climate import climate
from voisin.protocol import day_intervals

DAYS = day_intervals(date(2026, 6, 22), days=2)


@pytest.fixture(scope="module")
def model() -> Neighbourhood:
    return Neighbourhood(default_neighbourhood(households=8), DAYS, seed=7)


def _profiles(n: int, rng: np.random.Generator) -> MemberProfiles:
    clear = np.abs(rng.normal(0.5, 0.3, n))
    return MemberProfiles(
        pv_kwh=clear * rng.uniform(0, 1, n),
        load_kwh=rng.uniform(0, 1, n),
        pv_clear_kwh=clear,
        pv_day_ahead_kwh=rng.uniform(0, 1, n),
        load_expected_kwh=rng.uniform(0, 1, n),
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.integers(0, 47),
    method=st.sampled_from(["persistence", "profile", "day-ahead"]),
)
def test_a_forecast_never_sees_the_interval_it_forecasts(seed: int, t: int, method: str) -> None:
    """Changing what really happens at t and t - 1 (not yet read at gate closure)
    changes no forecast for t."""
    rng = np.random.default_rng(seed)
    p = _profiles(48, rng)
    climatology = month_index(DAYS[:48], climate("mannheim"))
    before = forecasts(p, method, climatology)
    pv, load = p.pv_kwh.copy(), p.load_kwh.copy()
    for k in range(max(0, t - PERSISTENCE_LAG + 1), t + 1):
        pv[k], load[k] = rng.uniform(0, 2), rng.uniform(0, 2)
    after = forecasts(replace(p, pv_kwh=pv, load_kwh=load), method, climatology)
    assert after[0][t] == before[0][t]
    assert after[1][t] == before[1][t]


def test_agents_bid_on_forecasts_so_readings_differ_from_plans(model: Neighbourhood) -> None:
    misses = []
    for interval in DAYS[40:56]:
        model.bids_for(interval)
        plans = {pid: a.plans[model.index_of(interval)] for pid, a in model.by_participant.items()}
        for reading in model.deliver(interval):
            misses.append(abs(reading.net_export_kwh - plans[reading.participant].net_kwh))
    assert np.mean(misses) > 0.01
    assert max(misses) < 10.0


def test_forecast_errors_are_reported_per_lead_time(model: Neighbourhood) -> None:
    rows = model.forecast_errors()
    persistence = [r for r in rows if r.method == "persistence"]
    assert [r.lead for r in persistence] == ["15 min", "30 min", "60 min", "120 min"]
    assert persistence[0].pv <= persistence[-1].pv
    assert {r.method for r in rows} == {"persistence", "day-ahead", "profile"}
    ahead = [r for r in rows if r.method == "day-ahead"]
    assert [r.lead for r in ahead] == ["12-18 h", "18-24 h", "24-30 h", "30-36 h"]
    for r in rows:
        assert 0 < r.load < 2
        assert 0 <= r.pv < 2
