"""Electric vehicles that plan: sessions by local time, the LP's optimum by hand, limits
and deadlines that hold, and a car plugged in by day charging into the PV peak."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.agents.battery_plan import expected_prices
from voisin.agents.flex_plan import ElectricVehicle, charge_plan, ev_load_kwh, sessions
from voisin.protocol import Tariff

START = datetime(2026, 6, 22, tzinfo=UTC)
HOURLY = [START + timedelta(hours=h) for h in range(24)]


def test_sessions_follow_the_local_clock() -> None:
    # Paris is UTC+2 in June: 08:00-17:00 local is 06:00-15:00 UTC.
    (day,) = sessions(HOURLY, "Europe/Paris", ElectricVehicle(arrival_hour=8, deadline_hour=17))
    assert day.tolist() == list(range(6, 15))
    # Overnight 18:00-07:00: the end of yesterday's session (02:00-06:00 local), then
    # tonight's from 18:00 local (16:00 UTC) to the run's end.
    night = sessions(HOURLY, "Europe/Paris", ElectricVehicle())
    assert [w.tolist() for w in night] == [list(range(0, 5)), list(range(16, 24))]


def test_the_cheapest_hours_fill_first() -> None:
    """5 kWh at 3 kW over four hours priced 0.28, 0.10, 0.08, 0.20: 3 kWh in the
    cheapest hour, 2 in the next, none at 0.28 or 0.20 (the LP's optimum, 0.44 EUR)."""
    prices = np.array([0.28, 0.10, 0.08, 0.20])
    plan = charge_plan(np.arange(4), prices, 5.0, 3.0, 1.0)
    assert plan.tolist() == [0.0, 2.0, 3.0, 0.0]
    assert float(plan @ prices) == pytest.approx(0.44)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 0.4), min_size=1, max_size=30),
    st.floats(0.1, 40.0),
    st.floats(0.5, 11.0),
)
def test_a_plan_keeps_the_power_and_meets_what_the_window_allows(
    prices: list[float], kwh: float, power: float
) -> None:
    window = np.arange(len(prices))
    plan = charge_plan(window, np.array(prices), kwh, power, 0.25)
    assert np.all(plan >= 0)
    assert np.all(plan <= power * 0.25 + 1e-12)
    assert plan.sum() == pytest.approx(min(kwh, power * 0.25 * len(prices)))


def test_a_car_plugged_in_by_day_charges_into_the_pv_peak() -> None:
    sun = np.clip(np.sin((np.arange(24) - 6) / 14 * np.pi), 0, None)  # peak at 13:00 UTC
    prices = expected_prices(sun, Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08), 0.0)
    ev = ElectricVehicle(kwh=14.8, power_kw=7.4, arrival_hour=8, deadline_hour=17)
    planned = ev_load_kwh(
        HOURLY,
        "Europe/Paris",
        ev.__class__(**{**ev.__dict__, "planning": True}),
        prices.buy_eur_per_kwh,
        1.0,
    )
    naive = ev_load_kwh(HOURLY, "Europe/Paris", ev, prices.buy_eur_per_kwh, 1.0)
    assert np.flatnonzero(naive).tolist() == [6, 7]  # full power from 08:00 local
    assert np.flatnonzero(planned).tolist() == [12, 13]  # the sunniest hours
    assert planned.sum() == naive.sum() == pytest.approx(14.8)
    assert float(planned @ prices.buy_eur_per_kwh) < float(naive @ prices.buy_eur_per_kwh)
