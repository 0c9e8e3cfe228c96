"""The predicted feeder state of a cleared interval, read off the LP's physical columns.

Voltages are the square roots of the LP's squared voltages; line loading is the
apparent power over the rating at the lower of the two end voltages (sqrt(3) V I_max),
which is what an AC power flow's current-based loading measures; losses are the
quadratic r (P^2 + Q^2) / V^2 of the final flows (the LP itself only saw their
linearisation). ``binding`` lists every limit the optimum sits on.
"""

from __future__ import annotations

import math

import numpy as np

from voisin.market.engine import Outcome
from voisin.market.formulation import Conditions, position_buses
from voisin.market.network import SQRT3, Network
from voisin.protocol import Grid
from voisin.protocol.physics import GridState

BINDING_TOL = 1e-6
"""Within this (kWh, pu^2) of a limit, the limit binds."""


def _injections(
    grid: Grid, net: Network, outcome: Outcome, cond: Conditions
) -> tuple[np.ndarray, np.ndarray]:
    """Net P and Q (kWh, kvarh) into each bus from everything connected there."""
    program = outcome.program
    physics = net.physics
    assert physics is not None
    q = outcome.values("q")
    term = program.constraint("balance").terms[0]
    p = np.bincount(term.row, term.coef * q[term.col], minlength=net.bus_count)
    reactive = program.constraint("balance_q").terms[0]
    qv = np.bincount(reactive.row, reactive.coef * q[reactive.col], minlength=net.bus_count)
    sell_buses, buy_buses = position_buses(outcome.book, net)
    sell_rest, buy_rest = outcome.values("sell_rest"), outcome.values("buy_rest")
    np.add.at(p, sell_buses, sell_rest)
    np.add.at(p, buy_buses, -buy_rest)
    np.add.at(qv, sell_buses, -physics.pv_tan_phi * sell_rest)
    np.add.at(qv, buy_buses, -physics.load_tan_phi * buy_rest)
    if cond.base_p_kwh is not None:
        p = p + cond.base_p_kwh
    if cond.base_q_kvarh is not None:
        qv = qv + cond.base_q_kvarh
    return p, qv


def grid_state(grid: Grid, net: Network, outcome: Outcome, cond: Conditions) -> GridState | None:
    """The ``GridState`` of a physical grid's clearing; None on a transport grid."""
    physics = net.physics
    if physics is None:
        return None
    h = cond.hours
    voltage = np.sqrt(np.maximum(outcome.values("voltage"), 0.0))
    p_kw = outcome.values("flow") / h
    q_kvar = outcome.values("flow_q") / h
    s_kva = np.hypot(p_kw, q_kvar)
    end_v = np.minimum(voltage[net.line_from], voltage[net.line_to])
    rated = np.array([line.rated_i_ka for line in grid.lines])
    line_loading = 100.0 * s_kva / (SQRT3 * physics.vn_kv * end_v * rated * 1000.0)
    t_p = float(outcome.values("trafo")[0]) / h
    t_q = float(outcome.values("trafo_q")[0]) / h
    t_load = 0.0
    if math.isfinite(physics.transformer_s_max_kva):
        t_load = 100.0 * math.hypot(t_p, t_q) / physics.transformer_s_max_kva
    losses = float(physics.line_r_ohm @ (s_kva**2)) + physics.transformer_r_ohm * (t_p**2 + t_q**2)
    losses /= 1000.0 * physics.vn_kv**2
    p, q = _injections(grid, net, outcome, cond)
    return GridState(
        voltage_pu=_named(grid.buses, voltage, 9),
        injection_kw=_named(grid.buses, p / h, 6),
        injection_kvar=_named(grid.buses, q / h, 6),
        line_p_kw=tuple(np.round(p_kw, 6).tolist()),
        line_q_kvar=tuple(np.round(q_kvar, 6).tolist()),
        line_loading_pct=tuple(np.round(line_loading, 4).tolist()),
        transformer_p_kw=round(t_p, 6),
        transformer_q_kvar=round(t_q, 6),
        transformer_loading_pct=round(t_load, 4),
        losses_kw=round(losses, 6),
        binding=_binding(grid, net, outcome),
    )


def _named(buses: tuple[str, ...], values: np.ndarray, digits: int) -> dict[str, float]:
    return {bus: round(float(v), digits) + 0.0 for bus, v in zip(buses, values, strict=True)}


def _binding(grid: Grid, net: Network, outcome: Outcome) -> tuple[str, ...]:
    program = outcome.program
    found: list[str] = []
    u = outcome.values("voltage")
    family = program.variable("voltage")
    for bus, value, low, high in zip(grid.buses, u, family.lower, family.upper, strict=True):
        if value >= high - BINDING_TOL:
            found.append(f"voltage max {bus}")
        elif value <= low + BINDING_TOL:
            found.append(f"voltage min {bus}")
    activity = _activity(outcome)
    thermal = program.constraint("thermal")
    at_limit = activity[program.rows("thermal")] >= thermal.upper - BINDING_TOL
    for j in np.unique(thermal.terms[0].col[at_limit]).tolist():
        line = grid.lines[j]
        found.append(f"thermal {line.from_bus}-{line.to_bus}")
    if program.has("trafo_limit"):
        rows = program.rows("trafo_limit")
        if np.any(activity[rows] >= program.constraint("trafo_limit").upper - BINDING_TOL):
            found.append("transformer")
    return tuple(found)


def _activity(outcome: Outcome) -> np.ndarray:
    start, index, value = outcome.program.csc()
    column = np.repeat(np.arange(len(start) - 1), np.diff(start))
    activity = np.zeros(outcome.program.num_row)
    np.add.at(activity, index, value * outcome.solution.x[column])
    return activity
