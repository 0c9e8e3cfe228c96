"""`voisin grid check LEDGER [--grid FILE]`: pandapower's AC power flow on every cleared
interval, and what a DSO would look at.

Per interval and for the day: min/max voltage (pu), max line and transformer loading (%),
limit violations, losses, and the LinDistFlow voltage error against AC (LDF - AC: a
negative minimum means LinDistFlow was below AC somewhere, an over-voltage the market
could not see). The states come from ``grid_states``: the schedule the market cleared, or
with ``--metered`` what the meters measured.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from voisin.cli.ledger_proof import existing_ledger
from voisin.grid.day_check import DayCheck, IntervalCheck, ScheduledState, check_day
from voisin.protocol import Grid, parse


def load_grid(source: str) -> Grid:
    """A grid file (JSON, the format of docs/grid.md) or ``simbench:CODE``."""
    from voisin.grid.simbench_grids import SIMBENCH_PREFIX, simbench_feeder

    if source.startswith(SIMBENCH_PREFIX):
        return simbench_feeder(source).grid
    from voisin.protocol.validation import read_json_file

    return parse(Grid, read_json_file(Path(source), "grid file", "bad-json"), f"grid {source}")


def _violations(check: IntervalCheck) -> str:
    found = check.ac.violations
    if not found:
        return "-"
    kinds = sorted({v.kind for v in found})
    return f"{len(found)}: {', '.join(kinds)}"


def _trafo(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def forecast_errors(
    metered: Iterable[ScheduledState], scheduled: Iterable[ScheduledState]
) -> dict[str, tuple[str, float]]:
    """Per interval, the bus whose metered injection strayed furthest from the schedule
    and by how much (kW, metered - scheduled): the forecast error behind a metered
    violation the schedule did not have."""
    planned = {interval: injections for interval, _, injections, _ in scheduled}
    out: dict[str, tuple[str, float]] = {}
    for interval, grid, injections, _ in metered:
        plan = planned.get(interval, {})
        gaps = {
            bus: injections.get(bus, (0.0, 0.0))[0] - plan.get(bus, (0.0, 0.0))[0]
            for bus in grid.buses
        }
        bus = max(sorted(gaps), key=lambda b: abs(gaps[b]))
        out[interval] = (bus, gaps[bus])
    return out


def day_table(
    day: DayCheck, title: str, forecast: dict[str, tuple[str, float]] | None = None
) -> Table:
    """One row per interval and a last row for the day; with ``forecast`` (metered
    checks) the largest forecast error of each interval too."""
    table = Table(title=title)
    names = [
        "interval",
        "min pu",
        "max pu",
        "line %",
        "trafo %",
        "losses kW",
        "LDF-AC min",
        "LDF-AC max",
        "violations",
    ]
    if forecast is not None:
        names.append("forecast error")
    for name in names:
        table.add_column(
            name,
            justify="left" if name in ("interval", "violations", "forecast error") else "right",
        )
    for check in day.intervals:
        ac, err = check.ac, check.ac.voltage_error
        assert err is not None
        row = [
            check.interval,
            f"{ac.min_vm_pu:.4f}",
            f"{ac.max_vm_pu:.4f}",
            f"{ac.max_line_loading_percent:.1f}",
            _trafo(ac.transformer_loading_percent),
            f"{ac.losses_kw:.2f}",
            f"{-err.below_pu:+.5f}",
            f"{err.above_pu:+.5f}",
            _violations(check),
        ]
        if forecast is not None:
            bus, gap = forecast.get(check.interval, ("-", 0.0))
            row.append(f"{gap:+.2f} kW at {bus}")
        table.add_row(*row)
    errors = [c.ac.voltage_error for c in day.intervals if c.ac.voltage_error is not None]
    table.add_section()
    table.add_row(
        "day",
        f"{day.min_vm_pu:.4f}",
        f"{day.max_vm_pu:.4f}",
        f"{day.max_line_loading_percent:.1f}",
        _trafo(day.max_transformer_loading_percent),
        f"{day.losses_kwh:.2f} kWh",
        f"{-day.max_below_ac_pu:+.5f}",
        f"{max(e.above_pu for e in errors):+.5f}",
        f"{day.violation_count} in {day.intervals_with_violations} intervals"
        if day.violation_count
        else "-",
        *([""] if forecast is not None else []),
        style="bold",
    )
    return table


def run_grid_check(
    ledger: Path, grid_source: str | None, console: Console, *, metered: bool = False
) -> int:
    """Check the schedule (or, with ``metered``, the meter readings) of every interval."""
    from voisin.cli.grid_states import (
        ledger_grid_hashes,
        metered_states,
        scheduled_states,
        simulated_feeder,
    )
    from voisin.market import grid_hash

    ledger = Path(existing_ledger(ledger))
    grid = load_grid(grid_source) if grid_source is not None else simulated_feeder(ledger)
    if grid_source is None and grid is not None:
        console.print(
            "grid: the default neighbourhood's feeder (the one this ledger was cleared on)",
            markup=False,
            highlight=False,
        )
    day = check_day((metered_states if metered else scheduled_states)(ledger, grid))
    forecast = None
    if metered:
        forecast = forecast_errors(metered_states(ledger, grid), scheduled_states(ledger, grid))
    recorded = ledger_grid_hashes(ledger)
    if grid is not None and recorded and grid_hash(grid) not in recorded:
        console.print(
            "note: the grid given is not the one the ledger was cleared on "
            f"(grid hash {grid_hash(grid)[:12]}, ledger {sorted(recorded)[0][:12]})",
            markup=False,
            highlight=False,
        )
    predicted = {c.predicted_by for c in day.intervals}
    what = "metered" if metered else "scheduled"
    console.print(
        day_table(
            day,
            f"AC check, {what}: {len(day.intervals)} intervals, voltages "
            f"predicted by {', '.join(sorted(predicted))}",
            forecast,
        )
    )
    return 0
