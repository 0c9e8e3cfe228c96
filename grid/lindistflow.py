"""LinDistFlow: the linearised branch-flow power flow of a radial feeder, solved directly.

The DistFlow equations of Baran and Wu (M. E. Baran, F. F. Wu, "Optimal capacitor
placement on radial distribution systems", IEEE Trans. Power Delivery 4(1), 1989,
eqs. 3-5) without their loss terms: each line carries the sum of the injections
downstream of it, and the squared voltage falls along the line by

    u_child = u_parent - 2 (r P + x Q) / vn^2

with P, Q the flow into the child (MW, Mvar), r, x the line's series impedance (ohm),
vn the nominal voltage (kV), v = sqrt(u) in per unit. The transformer is one more branch
between the upstream slack and the root, its impedance referred to the LV side and its
tap a shift of the no-load voltage.

This is no optimisation: it is the independent reference the clearing LP's voltages are
tested against, and, beside pandapower's AC power flow, the measure of the linearisation
error (docs/grid.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from voisin.errors import InvalidInput
from voisin.grid.injections import Injections, checked_injections, require_physical
from voisin.market.feeder import Feeder
from voisin.protocol import Grid


@dataclass(frozen=True)
class FlowState:
    """A power-flow solution: bus voltages and branch flows.

    Line flows are in file orientation (positive from ``from_bus`` to ``to_bus``), one
    per line in the grid's order; ``import_p_kw``/``import_q_kvar`` flow from the
    upstream grid into the root (through the transformer when there is one).
    """

    vm_pu: Mapping[str, float]
    line_p_kw: tuple[float, ...]
    line_q_kvar: tuple[float, ...]
    import_p_kw: float
    import_q_kvar: float


def source_vm_pu(grid: Grid) -> float:
    """The root's no-load voltage (pu of ``grid.vn_kv``): the upstream voltage, shifted by
    the tap and by any ratio between the transformer's rated LV voltage and the feeder's."""
    trafo = grid.transformer
    if trafo is None:
        return grid.slack_vm_pu
    ratio = trafo.rated("vn_lv_kv") / grid.vn_kv
    return grid.slack_vm_pu * ratio * (1.0 + trafo.tap_percent / 100.0)


def _drop_pu2(r_ohm: float, x_ohm: float, p_kw: float, q_kvar: float, vn_kv: float) -> float:
    """Fall of the squared voltage (pu^2) across a branch carrying (p_kw, q_kvar)."""
    return 2.0 * (r_ohm * p_kw + x_ohm * q_kvar) / (1000.0 * vn_kv * vn_kv)


def lindistflow(grid: Grid, injections: Injections) -> FlowState:
    """Voltages and flows of a radial physical ``grid`` under net bus ``injections``.

    Raises ``InvalidInput`` for a transport or meshed grid, bad injections, or loads so
    heavy that the squared voltage would fall to zero or below (no real solution).
    """
    require_physical(grid, "LinDistFlow")
    if grid.meshed:
        raise InvalidInput(
            "LinDistFlow here solves radial feeders; this grid is meshed", code="meshed-grid"
        )
    balance = checked_injections(grid, injections)
    feeder = Feeder.of(grid)
    count = len(grid.lines)
    line_p = feeder.line_flows({b: pq[0] for b, pq in balance.items()}, count)
    line_q = feeder.line_flows({b: pq[1] for b, pq in balance.items()}, count)
    import_p = -sum(pq[0] for pq in balance.values())
    import_q = -sum(pq[1] for pq in balance.values())

    u = {grid.root: source_vm_pu(grid) ** 2}
    if grid.transformer is not None:
        r_t, x_t = grid.transformer.impedance_ohm()
        u[grid.root] -= _drop_pu2(r_t, x_t, import_p, import_q, grid.vn_kv)
    for bus in feeder.order[1:]:
        index, sign = feeder.parent_line[bus]
        line = grid.lines[index]
        # The flow into ``bus`` from its parent, whatever the line's file orientation.
        u[bus] = u[feeder.parent[bus]] - _drop_pu2(
            line.r_ohm, line.x_ohm, sign * line_p[index], sign * line_q[index], grid.vn_kv
        )
    collapsed = [bus for bus in feeder.order if u[bus] <= 0.0]
    if collapsed:
        raise InvalidInput(
            f"no LinDistFlow solution: the squared voltage at bus {collapsed[0]!r} falls to zero",
            code="voltage-collapse",
        )
    return FlowState(
        vm_pu={bus: math.sqrt(u[bus]) for bus in grid.buses},
        line_p_kw=tuple(line_p),
        line_q_kvar=tuple(line_q),
        import_p_kw=import_p,
        import_q_kvar=import_q,
    )
