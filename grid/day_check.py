"""The AC check of a run of scheduled states: per interval and over the day.

A state is what the market scheduled for one interval: the grid, each bus's net
injection (kW, kvar) and, when the clearing published them, the voltages its LinDistFlow
rows predicted. Without published voltages the check predicts them itself with
``lindistflow`` on the same injections, so the error reported is still the linearisation
error of that schedule. ``voisin grid check`` prints the result; ``voisin simulate`` can
put the same figures in its summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from voisin.errors import InvalidInput
from voisin.grid.ac_check import AcCheck, AcModel, VoltageError
from voisin.grid.injections import Injections
from voisin.grid.lindistflow import lindistflow
from voisin.protocol import Grid, Interval

ScheduledState = tuple[str, Grid, Injections, Mapping[str, float] | None]
"""(interval id, grid, bus -> (p_kw, q_kvar), predicted bus -> vm_pu or None)."""


@dataclass(frozen=True)
class IntervalCheck:
    """The AC check of one interval; ``predicted_by`` says whose voltages were compared:
    ``clearing`` (published by the market) or ``lindistflow`` (computed here)."""

    interval: str
    ac: AcCheck
    predicted_by: str


@dataclass(frozen=True)
class DayCheck:
    """Every interval checked, and the day's extremes. ``minutes`` is the interval length
    (turns each interval's losses in kW into kWh)."""

    intervals: tuple[IntervalCheck, ...]
    minutes: int

    def _over(self, attr: str) -> list[float]:
        return [getattr(c.ac, attr) for c in self.intervals]

    def _errors(self) -> list[VoltageError]:
        return [c.ac.voltage_error for c in self.intervals if c.ac.voltage_error is not None]

    @property
    def min_vm_pu(self) -> float:
        return min(self._over("min_vm_pu"))

    @property
    def max_vm_pu(self) -> float:
        return max(self._over("max_vm_pu"))

    @property
    def max_line_loading_percent(self) -> float:
        return max(self._over("max_line_loading_percent"))

    @property
    def max_transformer_loading_percent(self) -> float | None:
        values = [v for v in self._over("transformer_loading_percent") if v is not None]
        return max(values) if values else None

    @property
    def violation_count(self) -> int:
        return sum(len(c.ac.violations) for c in self.intervals)

    @property
    def intervals_with_violations(self) -> int:
        return sum(1 for c in self.intervals if c.ac.violations)

    @property
    def losses_kwh(self) -> float:
        return sum(self._over("losses_kw")) * self.minutes / 60.0

    @property
    def max_voltage_error_pu(self) -> float:
        return max(e.max_abs_pu for e in self._errors())

    @property
    def max_below_ac_pu(self) -> float:
        """Largest AC - LinDistFlow anywhere (> 0: LinDistFlow was below AC somewhere)."""
        return max(e.below_pu for e in self._errors())


def check_interval(
    model: AcModel,
    interval: str,
    injections: Injections,
    predicted_vm_pu: Mapping[str, float] | None = None,
) -> IntervalCheck:
    """The AC check of one scheduled state on ``model``'s grid."""
    if predicted_vm_pu is None:
        return IntervalCheck(
            interval,
            model.check(injections, lindistflow(model.grid, injections).vm_pu),
            "lindistflow",
        )
    return IntervalCheck(interval, model.check(injections, predicted_vm_pu), "clearing")


def interval_minutes(intervals: Iterable[str], default: int = 15) -> int:
    """The interval length of a run, from the spacing of its interval ids."""
    starts = sorted({Interval.parse(i).start for i in intervals})
    gaps = [int((b - a).total_seconds() // 60) for a, b in zip(starts, starts[1:], strict=False)]
    return min(gaps) if gaps else default


def check_day(states: Iterable[ScheduledState]) -> DayCheck:
    """Check every state, reusing one pandapower network while the grid stays the same."""
    return check_days(states)[0]


def check_days(*runs: Iterable[ScheduledState]) -> list[DayCheck]:
    """``check_day`` of each run (the schedule, then the meters), one pandapower network
    carried from run to run while the grid stays the same: a reused network gives each
    state exactly a fresh one's result (``AcModel``), and building one costs about as
    much as a dozen states."""
    model: AcModel | None = None
    days = []
    for states in runs:
        checks: list[IntervalCheck] = []
        for interval, grid, injections, predicted in states:
            if model is None or (grid is not model.grid and grid != model.grid):
                model = AcModel(grid)
            checks.append(check_interval(model, interval, injections, predicted))
        if not checks:
            raise InvalidInput("no cleared interval to check", code="nothing-to-check")
        days.append(DayCheck(tuple(checks), interval_minutes(c.interval for c in checks)))
    return days
