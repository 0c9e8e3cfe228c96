"""The planning battery: hand-worked plans, limits that always hold, expected prices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.agents.battery_plan import Prices, expected_prices, plan_dispatch
from voisin.meters import Battery
from voisin.protocol import Tariff

TARIFF = Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08)


def test_it_charges_into_the_pv_peak_when_prices_say_so() -> None:
    """Morning surplus 1 kWh sells at 0.20, the noon surplus of 2 kWh only at 0.08 (the
    PV peak), the evening needs 3 kWh at 0.28; a lossless 2 kWh battery. The naive one
    stores the morning's kWh and one of noon's, exports the other at 0.08 and buys 1
    kWh in the evening: 0.28 - 0.08 = 0.20 EUR. The plan sells the morning kWh, stores
    noon's two and discharges them in the evening: 0.28 - 0.20 = 0.08 EUR."""
    need = np.array([-1.0, -2.0, 3.0])
    prices = Prices(np.array([0.28, 0.28, 0.28]), np.array([0.20, 0.08, 0.08]))
    plan = plan_dispatch(need, 0.0, 2.0, 3.0, 1.0, 1.0, prices)
    assert plan is not None
    assert plan.tolist() == pytest.approx([0.0, -2.0, 2.0], abs=1e-9)


def test_with_flat_prices_it_stores_for_the_evening() -> None:
    """Feed-in 0.08 all day: storing any surplus for the evening's retail need is worth
    it, up to the capacity (losses of a 0.81 round trip still leave 0.28 x 0.81 > 0.08)."""
    need = np.array([-3.0, 2.0])
    prices = Prices(np.full(2, 0.28), np.full(2, 0.08))
    plan = plan_dispatch(need, 0.0, 2.0, 5.0, 0.81, 1.0, prices)
    assert plan is not None
    assert plan[0] == pytest.approx(-2.0 / 0.9)  # AC energy that fills 2 kWh of cells
    assert plan[1] == pytest.approx(2.0 * 0.9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-3, 3), min_size=1, max_size=24),
    st.floats(0, 1),
    st.floats(0.5, 10),
    st.floats(0.5, 5),
    st.floats(0.6, 1.0),
    st.lists(st.floats(0.0, 0.3), min_size=24, max_size=24),
)
def test_a_plan_never_breaks_the_battery_limits(
    need: list[float],
    soc_share: float,
    capacity: float,
    power: float,
    efficiency: float,
    sell: list[float],
) -> None:
    sell_p = np.array(sell[: len(need)])
    buy_p = sell_p + 0.05
    soc = soc_share * capacity
    plan = plan_dispatch(
        np.array(need), soc, capacity, power, efficiency, 0.25, Prices(buy_p, sell_p)
    )
    assert plan is not None
    battery = Battery(capacity, power, efficiency, soc)
    for kwh in plan.tolist():
        assert abs(kwh) <= power * 0.25 + 1e-7
        # The battery model carries the plan out (within solver tolerance).
        assert battery.dispatch(kwh, 0.25) == pytest.approx(kwh, abs=1e-6)
        assert -1e-9 <= battery.soc_kwh <= capacity + 1e-9


def test_expected_prices_follow_the_sun() -> None:
    pv = np.array([0.0, 1.0, 2.0, 1.0, 0.0])
    prices = expected_prices(pv, TARIFF, 0.05)
    assert prices.buy_eur_per_kwh.tolist() == pytest.approx([0.28, 0.18, 0.08, 0.18, 0.28])
    assert prices.sell_eur_per_kwh.tolist() == pytest.approx([0.23, 0.13, 0.08, 0.13, 0.23])
    assert np.all(prices.buy_eur_per_kwh >= prices.sell_eur_per_kwh)
