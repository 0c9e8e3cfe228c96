"""The check of a run of scheduled states: per-interval AC checks and the day's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voisin.errors import InvalidInput
from voisin.grid import ac_check, grid_from_branch_list, lindistflow
from voisin.grid.day_check import check_day, check_days, interval_minutes
from voisin.protocol import Grid

DISTFLOW = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "distflow"


@pytest.fixture(scope="module")
def baran_wu() -> tuple[Grid, dict[str, tuple[float, float]]]:
    return grid_from_branch_list(json.loads((DISTFLOW / "baran-wu-33.json").read_text()))


def _scaled(state: dict[str, tuple[float, float]], factor: float):
    return {bus: (p * factor, q * factor) for bus, (p, q) in state.items()}


def test_day_figures_are_the_extremes_and_sums_of_its_intervals(baran_wu) -> None:
    grid, full = baran_wu
    half = _scaled(full, 0.5)
    day = check_day(
        [("2026-06-22T12:00Z", grid, full, None), ("2026-06-22T12:15Z", grid, half, None)]
    )
    alone = [ac_check(grid, s, lindistflow(grid, s).vm_pu) for s in (full, half)]
    assert day.minutes == 15
    assert [c.predicted_by for c in day.intervals] == ["lindistflow", "lindistflow"]
    assert day.min_vm_pu == pytest.approx(0.91309, abs=1e-4)  # the full-load far end
    assert day.max_vm_pu == 1.0  # the slack
    assert day.losses_kwh == pytest.approx((alone[0].losses_kw + alone[1].losses_kw) / 4)
    assert day.losses_kwh == pytest.approx((202.677 + alone[1].losses_kw) / 4, abs=0.03)
    assert day.violation_count == len(alone[0].violations) + len(alone[1].violations)
    assert day.intervals_with_violations == 1  # at half load every bus is above 0.95 pu
    assert day.max_voltage_error_pu == pytest.approx(0.0028, abs=1e-4)
    assert day.max_below_ac_pu <= 0.0  # LinDistFlow above AC on a loaded feeder
    assert day.max_transformer_loading_percent is None


def test_published_voltages_are_compared_as_given(baran_wu) -> None:
    grid, full = baran_wu
    flat = dict.fromkeys(grid.buses, 1.0)
    day = check_day([("2026-06-22T12:00Z", grid, full, flat)])
    (only,) = day.intervals
    assert only.predicted_by == "clearing"
    assert only.ac.voltage_error is not None
    assert only.ac.voltage_error.max_abs_pu == pytest.approx(1.0 - only.ac.min_vm_pu)


def test_the_grid_may_change_between_intervals(baran_wu) -> None:
    grid, full = baran_wu
    stiffer = grid.model_copy(update={"slack_vm_pu": 1.03})
    day = check_day(
        [("2026-06-22T12:00Z", grid, full, None), ("2026-06-22T13:00Z", stiffer, full, None)]
    )
    assert day.minutes == 60
    first, second = day.intervals
    assert second.ac.max_vm_pu == pytest.approx(1.03)
    assert second.ac.min_vm_pu > first.ac.min_vm_pu


def test_interval_length_and_empty_runs() -> None:
    assert interval_minutes(["2026-06-22T12:00Z"]) == 15
    assert interval_minutes(["2026-06-22T12:30Z", "2026-06-22T12:00Z", "2026-06-22T13:30Z"]) == 30
    with pytest.raises(InvalidInput, match="no cleared interval"):
        check_day([])


def test_runs_checked_together_are_each_as_checked_alone(baran_wu) -> None:
    """``check_days`` carries one network from the schedule to the meters: each day is
    exactly the day checked on its own network (33 buses, a stiffer slack between)."""
    grid, full = baran_wu
    stiffer = grid.model_copy(update={"slack_vm_pu": 1.03})
    schedule = [
        ("2026-06-22T12:00Z", grid, full, None),
        ("2026-06-22T12:15Z", grid, _scaled(full, 0.5), None),
    ]
    meters = [
        ("2026-06-22T12:00Z", grid, _scaled(full, 0.8), None),
        ("2026-06-22T12:15Z", stiffer, _scaled(full, 0.3), None),
        ("2026-06-22T12:30Z", stiffer, _scaled(full, -0.2), None),
    ]
    assert check_days(schedule, meters) == [check_day(schedule), check_day(meters)]
