"""Battery limits: power, state of charge, losses."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.meters import Battery, BatterySpec

EPS = 1e-9


def test_round_trip_returns_efficiency_share() -> None:
    battery = Battery(capacity_kwh=10.0, power_kw=5.0, efficiency=0.9)
    assert battery.dispatch(-1.0, 1.0) == -1.0
    assert battery.soc_kwh == pytest.approx(math.sqrt(0.9))
    assert battery.dispatch(5.0, 1.0) == pytest.approx(0.9)
    assert battery.soc_kwh == pytest.approx(0.0)


def test_power_limit_scales_with_interval_length() -> None:
    battery = Battery(capacity_kwh=10.0, power_kw=4.0, soc_kwh=10.0)
    assert battery.dispatch(5.0, 0.25) == pytest.approx(1.0)


def test_full_battery_takes_nothing_and_empty_gives_nothing() -> None:
    assert Battery(5.0, 3.0, soc_kwh=5.0).dispatch(-1.0, 0.25) == 0.0
    assert Battery(5.0, 3.0, soc_kwh=0.0).dispatch(1.0, 0.25) == 0.0


def test_feasible_does_not_change_the_state() -> None:
    battery = Battery(5.0, 3.0, soc_kwh=2.0)
    assert battery.feasible(0.5, 0.25) == 0.5
    assert battery.soc_kwh == 2.0


def test_from_spec_and_invalid_batteries() -> None:
    assert Battery.from_spec(BatterySpec(8.0, 4.0, 0.92, 2.0)).soc_kwh == 2.0
    for args in [(-1.0, 1.0), (5.0, float("nan")), (5.0, 1.0, 0.0), (5.0, 1.0, 0.9, 6.0)]:
        with pytest.raises(InvalidInput):
            Battery(*args)
    with pytest.raises(InvalidInput):
        Battery(5.0, 1.0).dispatch(1.0, 0.0)


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.floats(0.0, 20.0),
    power=st.floats(0.0, 10.0),
    efficiency=st.floats(0.5, 1.0),
    start=st.floats(0.0, 1.0),
    steps=st.lists(
        st.tuples(st.floats(-20.0, 20.0), st.sampled_from([0.25, 0.5, 1.0])), max_size=30
    ),
)
def test_battery_never_breaks_its_limits(
    capacity: float,
    power: float,
    efficiency: float,
    start: float,
    steps: list[tuple[float, float]],
) -> None:
    battery = Battery(capacity, power, efficiency, soc_kwh=start * capacity)
    for request, hours in steps:
        before = battery.soc_kwh
        actual = battery.dispatch(request, hours)
        assert abs(actual) <= power * hours + EPS
        assert abs(actual) <= abs(request) + EPS
        assert actual == 0 or math.copysign(1, actual) == math.copysign(1, request)
        assert -EPS <= battery.soc_kwh <= capacity + EPS
        if actual > 0:  # cells lose more than the house gets
            assert before - battery.soc_kwh >= actual - EPS
        elif actual < 0:  # cells store less than the house gave
            assert battery.soc_kwh - before <= -actual + EPS
