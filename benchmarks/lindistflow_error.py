"""LinDistFlow against AC on SimBench LV grids: how wrong is the linear model, and which
limit binds first.

    python benchmarks/lindistflow_error.py [--codes 1-LV-rural1--0-sw,...]

A measurement, not a test. For each grid, the LinDistFlow voltages (voisin.grid's
reference, the clearing LP's model) are compared with pandapower's AC power flow on:

* the idle feeder; every quarter hour of a sunny May day and of a winter weekday (SimBench
  profiles, loads with their reactive power); the sunniest quarter hour; the winter
  evening peak;
* stressed states: the sunniest quarter hour with ``k`` kW of unity-pf PV added to every
  household (SimBench load), ``k`` raised (bisection on the AC result) until the first of
  1.05 pu, 100 % line loading or 100 % transformer loading is reached; and the winter
  peak with ``k`` kW added to every household's load (at the grid's load power factor)
  until 0.95 pu or 100 % loading.

Printed: per state, AC min/max voltage, max line and transformer loading (AC: current
against the rating; in brackets LinDistFlow's |S| against the rating at nominal voltage,
which is what a limit on apparent power at vn sees), losses, and the
LinDistFlow error LDF - AC over the buses (largest magnitude, smallest and largest signed
value: a negative minimum means LinDistFlow was below AC somewhere); then per
grid, the added kW per household at which each limit is reached and which binds first.
The tables go into docs/grid.md.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from voisin.errors import InvalidInput
from voisin.grid import AcCheck, AcModel, SimbenchFeeder, lindistflow, simbench_feeder
from voisin.market.network import SQRT3, tan_phi

CODES = "1-LV-rural1--0-sw,1-LV-rural2--0-sw,1-LV-semiurb4--0-sw,1-LV-urban6--0-sw"
SUNNY_DAY = date(2026, 5, 28)  # reads 2016-05-26, among SimBench's sunniest days
WINTER_DAY = date(2026, 1, 14)  # a Wednesday; reads Wednesday 2016-01-13
V_HIGH, V_LOW, LOADING = 1.05, 0.95, 100.0
State = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Checked:
    """The AC check of a state, and LinDistFlow's loadings of it taken as |S| at the
    nominal voltage (what an LP limiting apparent power at vn sees)."""

    ac: AcCheck
    ldf_line_percent: float
    ldf_trafo_percent: float


def check(model: AcModel, state: State) -> Checked:
    grid = model.grid
    flow = lindistflow(grid, state)
    rated_kva = [SQRT3 * grid.vn_kv * ln.rated_i_ka * 1000.0 for ln in grid.lines]
    line = max(
        (
            100.0 * math.hypot(p, q) / s
            for p, q, s in zip(flow.line_p_kw, flow.line_q_kvar, rated_kva, strict=True)
        ),
        default=0.0,
    )
    trafo = 0.0
    if grid.transformer is not None:
        trafo = (
            100.0
            * math.hypot(flow.import_p_kw, flow.import_q_kvar)
            / (grid.transformer.rated("sn_kva"))
        )
    return Checked(model.check(state, flow.vm_pu), line, trafo)


def row(grid: str, name: str, checked: Checked) -> str:
    result = checked.ac
    err = result.voltage_error
    assert err is not None
    trafo = result.transformer_loading_percent or 0.0
    return (
        f"| {grid} | {name} | {result.min_vm_pu:.4f} | {result.max_vm_pu:.4f} | "
        f"{result.max_line_loading_percent:.1f} ({checked.ldf_line_percent:.1f}) | "
        f"{trafo:.1f} ({checked.ldf_trafo_percent:.1f}) | {result.losses_kw:.2f} | "
        f"{err.max_abs_pu:.5f} | {-err.below_pu:+.5f} | {err.above_pu:+.5f} |"
    )


def worst(results: list[Checked]) -> Checked:
    """The state of a day with the largest LinDistFlow error."""
    return max(results, key=lambda r: r.ac.voltage_error.max_abs_pu)  # type: ignore[union-attr]


def added(state: State, feeder: SimbenchFeeder, p_kw: float, q_kvar: float) -> State:
    """``state`` with (p_kw, q_kvar) more injected at every household's bus."""
    out = dict(state)
    for unit in feeder.units:
        if unit.kind == "load":
            p, q = out.get(unit.bus, (0.0, 0.0))
            out[unit.bus] = (p + p_kw, q + q_kvar)
    return out


def reached(
    model: AcModel,
    make: Callable[[float], State],
    over: Callable[[AcCheck], bool],
    high_kw: float = 400.0,
) -> tuple[float, Checked | None]:
    """Smallest added kW per household (to 0.01 kW) at which ``over`` holds in AC;
    inf if not reached by ``high_kw`` (or the AC power flow diverges first)."""

    def exceeded(k: float) -> tuple[bool, Checked | None]:
        try:
            result = check(model, make(k))
        except InvalidInput:  # diverged: far beyond any limit
            return True, None
        return over(result.ac), result

    if not exceeded(high_kw)[0]:
        return math.inf, None
    low, high = 0.0, high_kw
    if exceeded(low)[0]:
        return 0.0, check(model, make(0.0))
    while high - low > 0.01:
        mid = (low + high) / 2
        low, high = (low, mid) if exceeded(mid)[0] else (mid, high)
    return high, exceeded(high)[1]


def trafo_over(result: AcCheck) -> bool:
    return (result.transformer_loading_percent or 0.0) >= LOADING


def stress(
    code: str, feeder: SimbenchFeeder, model: AcModel, base: State, *, pv: bool, rows: list[str]
) -> str:
    """Add PV (or load) per household until limits bind; a summary line for the limits."""
    sign = 1.0 if pv else -1.0
    tan = 0.0 if pv else tan_phi(feeder.grid.load_power_factor)

    def make(k: float) -> State:
        return added(base, feeder, sign * k, sign * k * tan)

    voltage = (lambda r: r.max_vm_pu >= V_HIGH) if pv else (lambda r: r.min_vm_pu <= V_LOW)
    limits = {
        f"{V_HIGH if pv else V_LOW} pu": reached(model, make, voltage),
        "line 100 %": reached(model, make, lambda r: r.max_line_loading_percent >= LOADING),
        "trafo 100 %": reached(model, make, trafo_over),
    }
    first = min(limits, key=lambda name: limits[name][0])
    k, result = limits[first]
    if result is not None:
        rows.append(
            row(code, f"{'+PV' if pv else '+load'} {k:.2f} kW/household ({first} binds)", result)
        )
    cells = " | ".join("-" if math.isinf(v[0]) else f"{v[0]:.2f}" for v in limits.values())
    return f"| {code} | {'added PV' if pv else 'added load'} | {cells} | {first} |"


def measure(code: str, rows: list[str], limits: list[str]) -> None:
    feeder = simbench_feeder(f"simbench:{code}", [SUNNY_DAY, WINTER_DAY])
    model = AcModel(feeder.grid)
    steps = range(len(feeder.interval_starts))
    results = [check(model, feeder.injections(k)) for k in steps]
    sunny, winter = results[:96], results[96:]
    pv = [sum(u.energy_kwh[k] for u in feeder.units if u.kind == "pv") for k in steps]
    load = [sum(u.energy_kwh[k] for u in feeder.units if u.kind == "load") for k in steps]
    noon = max(range(96), key=lambda k: pv[k])
    peak = max(range(96, 192), key=lambda k: load[k])
    rows.append(row(code, "idle", check(model, {})))
    rows.append(row(code, "sunny day, worst interval", worst(sunny)))
    rows.append(row(code, "winter day, worst interval", worst(winter)))
    rows.append(
        row(code, f"sunniest quarter hour ({feeder.interval_starts[noon]:%H:%M}Z)", results[noon])
    )
    rows.append(row(code, f"winter peak ({feeder.interval_starts[peak]:%H:%M}Z)", results[peak]))
    limits.append(stress(code, feeder, model, feeder.injections(noon), pv=True, rows=rows))
    limits.append(stress(code, feeder, model, feeder.injections(peak), pv=False, rows=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", default=CODES, help=f"SimBench codes (default {CODES})")
    args = parser.parse_args()
    rows: list[str] = []
    limits: list[str] = []
    for code in args.codes.split(","):
        measure(code, rows, limits)
    print(
        "| grid | state | AC min pu | AC max pu | max line % (LDF) | trafo % (LDF) | losses kW | "
        "max abs LDF-AC pu | min LDF-AC | max LDF-AC |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print(
        "| grid | stress | kW/household to voltage limit | to line 100 % | to trafo 100 % "
        "| binds first |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(limits))


if __name__ == "__main__":
    main()
