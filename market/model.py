"""The clearing as a linear programme, written once in Pyomo for auditors to re-run.

Built from the book and the grid and nothing else::

    maximise   sum_buy p*q  -  sum_sell p*q  -  import_price*imp  +  export_price*exp
               -  sum_fee-lines fee[l] * (f[l] + fb[l])
    subject to 0 <= q[s] <= energy of segment s                      (kWh)
               -cap[l] <= f[l] <= cap[l]      flow from ``from`` to ``to`` (kWh)
               0 <= imp, exp <= transformer capacity (if set)        (kWh)
               balance[bus]:  sold - bought + inflow - outflow
                              (+ imp - exp at the root)  == 0
               green:         sum of green-only buy q  <=  sum of sell q
               kirchhoff[l]:  net flow of l == (theta[from] - theta[to]) / reactance[l]
                              (meshed grids only; theta[root] == 0)

A line with a wheeling fee carries its flow in two non-negative parts, ``f[l]`` from
``from`` to ``to`` and ``fb[l]`` back (each ``<= cap[l]``, net flow ``f - fb``), so the
fee is charged on energy moved either way; lines without a fee keep one free ``f[l]``.
On a meshed grid the bus angles ``theta`` make flows follow the linear DC model (the
same flows as ``dc_flow.ptdf`` times the injections); a radial feeder needs no angles,
its flows being fixed by the balance rows alone. The ``green`` row (only when some buy
bid is green-only) lets green-only buyers clear no
more than local sellers supply, neighbourhood-wide. A book with neither gives exactly
the LP it always did. The objective is in EUR. ``balance`` is indexed by bus name so
its duals are the nodal prices (see ``pricing``). Pyomo objects stay inside
``voisin.market``.
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
    fee_lines: tuple[int, ...] = ()
    """Lines with a wheeling fee: ``model.fb[l]`` is their backward part."""
    has_green: bool = False
    """Whether ``model.green`` (green-only bought <= sold) exists."""


def build_model(bids: Sequence[Bid], grid: Grid) -> ClearingModel:
    """The welfare-maximising LP for ``bids`` on ``grid`` (bids in ``bid_id`` order)."""
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    keys: list[SegmentKey] = []
    upper: list[float] = []
    value: list[float] = []  # EUR/kWh added to welfare per kWh cleared
    bus_of: list[str] = []
    sign: list[int] = []  # +1 injects into the bus (sell), -1 withdraws (buy)
    green: list[int] = []  # +1 green-only buy, -1 sell, 0 other buy (the green row)
    for bid in ordered:
        direction = 1 if bid.side is Side.SELL else -1
        for index, segment in enumerate(bid.segments):
            keys.append(SegmentKey(bid.bid_id, index))
            upper.append(segment.energy_kwh)
            value.append(-direction * segment.price_eur_per_kwh)
            bus_of.append(bid.bus)
            sign.append(direction)
            green.append(-1 if bid.side is Side.SELL else int(bid.green_only))

    m = pyo.ConcreteModel(name="voisin-clearing")
    m.segment = pyo.RangeSet(0, len(keys) - 1)
    m.line = pyo.RangeSet(0, len(grid.lines) - 1)
    m.bus = pyo.Set(initialize=list(grid.buses), ordered=True)
    m.q = pyo.Var(m.segment, bounds=lambda _, i: (0.0, upper[i]))
    fee = [line.wheeling_fee_eur_per_kwh for line in grid.lines]
    fee_lines = [j for j, w in enumerate(fee) if w > 0]
    cap = [line.capacity_kwh for line in grid.lines]
    m.f = pyo.Var(m.line, bounds=lambda _, j: (0.0 if fee[j] > 0 else -cap[j], cap[j]))
    limit = grid.transformer_capacity_kwh
    m.imp = pyo.Var(bounds=(0.0, limit))
    m.exp = pyo.Var(bounds=(0.0, limit))
    m.fee_line = pyo.Set(initialize=fee_lines, ordered=True)
    m.fb = pyo.Var(m.fee_line, bounds=lambda _, j: (0.0, cap[j]))

    m.welfare = pyo.Objective(
        expr=sum(value[i] * m.q[i] for i in m.segment)
        - grid.import_price_eur_per_kwh * m.imp
        + grid.export_price_eur_per_kwh * m.exp
        - sum(fee[j] * (m.f[j] + m.fb[j]) for j in m.fee_line),
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

    def carried(model: pyo.ConcreteModel, j: int) -> object:
        """Net flow on line ``j``, from ``from`` to ``to`` (kWh)."""
        return model.f[j] - model.fb[j] if fee[j] > 0 else model.f[j]

    def balance(model: pyo.ConcreteModel, bus: str) -> object:
        net = sum(sign[i] * model.q[i] for i in at_bus[bus])
        net += sum(carried(model, j) for j in inflow[bus])
        net -= sum(carried(model, j) for j in outflow[bus])
        if bus == grid.root:
            net += model.imp - model.exp
        return net == 0

    m.balance = pyo.Constraint(m.bus, rule=balance)
    has_green = any(g > 0 for g in green)
    if has_green:
        m.green = pyo.Constraint(expr=sum(green[i] * m.q[i] for i in m.segment if green[i]) <= 0)
    if grid.meshed:
        m.theta = pyo.Var(
            m.bus, bounds=lambda _, b: (0.0, 0.0) if b == grid.root else (None, None)
        )

        def kirchhoff(model: pyo.ConcreteModel, j: int) -> object:
            line = grid.lines[j]
            angle = model.theta[line.from_bus] - model.theta[line.to_bus]
            return carried(model, j) == angle / line.reactance_ohm

        m.kirchhoff = pyo.Constraint(m.line, rule=kirchhoff)
    return ClearingModel(m, tuple(keys), len(grid.lines), tuple(fee_lines), has_green)
