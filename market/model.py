"""The clearing as a linear programme, written once in Pyomo for auditors to re-run.

Built from the book and the grid and nothing else::

    maximise   sum_buy p*q  -  sum_sell p*q  -  import_price*imp  +  export_price*exp
    subject to 0 <= q[s] <= energy of segment s                      (kWh)
               -cap[l] <= f[l] <= cap[l]      flow from ``from`` to ``to`` (kWh)
               0 <= imp, exp <= transformer capacity (if set)        (kWh)
               balance[bus]:  sold - bought + inflow - outflow
                              (+ imp - exp at the root)  == 0

The objective is in EUR. ``balance`` is indexed by bus name so its duals are the nodal
prices (see ``pricing``). Pyomo objects stay inside ``voisin.market``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyomo.environ as pyo

from voisin.protocol import Bid, Grid, Side


@dataclass(frozen=True)
class SegmentKey:
    """One decision variable: segment ``index`` of bid ``bid_id``."""

    bid_id: str
    index: int


@dataclass(frozen=True)
class ClearingModel:
    """The built Pyomo model with the index maps needed to read it back."""

    model: pyo.ConcreteModel
    segments: tuple[SegmentKey, ...]
    """Variable order: ``model.q[i]`` is ``segments[i]``."""
    line_count: int


def build_model(bids: Sequence[Bid], grid: Grid) -> ClearingModel:
    """The welfare-maximising LP for ``bids`` on ``grid`` (bids in ``bid_id`` order)."""
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    keys: list[SegmentKey] = []
    upper: list[float] = []
    value: list[float] = []  # EUR/kWh added to welfare per kWh cleared
    bus_of: list[str] = []
    sign: list[int] = []  # +1 injects into the bus (sell), -1 withdraws (buy)
    for bid in ordered:
        direction = 1 if bid.side is Side.SELL else -1
        for index, segment in enumerate(bid.segments):
            keys.append(SegmentKey(bid.bid_id, index))
            upper.append(segment.energy_kwh)
            value.append(-direction * segment.price_eur_per_kwh)
            bus_of.append(bid.bus)
            sign.append(direction)

    m = pyo.ConcreteModel(name="voisin-clearing")
    m.segment = pyo.RangeSet(0, len(keys) - 1)
    m.line = pyo.RangeSet(0, len(grid.lines) - 1)
    m.bus = pyo.Set(initialize=list(grid.buses), ordered=True)
    m.q = pyo.Var(m.segment, bounds=lambda _, i: (0.0, upper[i]))
    m.f = pyo.Var(
        m.line, bounds=lambda _, j: (-grid.lines[j].capacity_kwh, grid.lines[j].capacity_kwh)
    )
    limit = grid.transformer_capacity_kwh
    m.imp = pyo.Var(bounds=(0.0, limit))
    m.exp = pyo.Var(bounds=(0.0, limit))

    m.welfare = pyo.Objective(
        expr=sum(value[i] * m.q[i] for i in m.segment)
        - grid.import_price_eur_per_kwh * m.imp
        + grid.export_price_eur_per_kwh * m.exp,
        sense=pyo.maximize,
    )

    at_bus: dict[str, list[int]] = {bus: [] for bus in grid.buses}
    for i, bus in enumerate(bus_of):
        at_bus[bus].append(i)
    inflow: dict[str, list[int]] = {bus: [] for bus in grid.buses}
    outflow: dict[str, list[int]] = {bus: [] for bus in grid.buses}
    for j, line in enumerate(grid.lines):
        outflow[line.from_bus].append(j)
        inflow[line.to_bus].append(j)

    def balance(model: pyo.ConcreteModel, bus: str) -> object:
        net = sum(sign[i] * model.q[i] for i in at_bus[bus])
        net += sum(model.f[j] for j in inflow[bus]) - sum(model.f[j] for j in outflow[bus])
        if bus == grid.root:
            net += model.imp - model.exp
        return net == 0

    m.balance = pyo.Constraint(m.bus, rule=balance)
    return ClearingModel(m, tuple(keys), len(grid.lines))
