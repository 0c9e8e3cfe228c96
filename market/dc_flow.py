"""Linear (DC) power flow for meshed grids: flows = PTDF x injections.

On a radial feeder the flows follow from the injections alone; once lines form loops,
energy splits between parallel paths in inverse proportion to their reactance. The DC
approximation (lossless lines, flat voltages, small angle differences) makes that split
linear: with bus angles ``theta`` (the root's fixed at 0) a line from ``a`` to ``c``
carries ``(theta[a] - theta[c]) / x`` and each bus's injection equals what its lines
carry away. Solving those equations for unit injections (withdrawn at the root) gives
the power transfer distribution factors (PTDF), one row per line, one column per bus.

The clearing LP (``model.py``, ``matrix.py``) writes the same physics with angle
variables; this module is the independent reference the tests and the fee accounting
use. Units: kWh per interval (energy over the interval, as everywhere in the market);
reactances only matter as ratios.
"""

from __future__ import annotations

import numpy as np

from voisin.market.network import Network
from voisin.protocol import Grid


def susceptance_matrix(grid: Grid) -> np.ndarray:
    """The bus susceptance matrix (buses x buses, ``grid.buses`` order): ``B[a, a]`` sums
    ``1/x`` over the lines at ``a``, ``B[a, c]`` is minus that over lines joining them."""
    index = {bus: i for i, bus in enumerate(grid.buses)}
    b = np.zeros((len(grid.buses), len(grid.buses)))
    for line in grid.lines:
        a, c, y = index[line.from_bus], index[line.to_bus], 1.0 / line.reactance_ohm
        b[a, a] += y
        b[c, c] += y
        b[a, c] -= y
        b[c, a] -= y
    return b


def ptdf(grid: Grid) -> np.ndarray:
    """Lines x buses: the flow on each line (``from`` -> ``to``, kWh) per kWh injected at
    each bus and withdrawn at the root. The root's column is zero."""
    index = {bus: i for i, bus in enumerate(grid.buses)}
    root = index[grid.root]
    keep = [i for i in range(len(grid.buses)) if i != root]
    b = susceptance_matrix(grid)
    theta = np.zeros((len(grid.buses), len(grid.buses)))
    if keep:
        theta[np.ix_(keep, keep)] = np.linalg.inv(b[np.ix_(keep, keep)])
    rows = []
    for line in grid.lines:
        a, c = index[line.from_bus], index[line.to_bus]
        rows.append((theta[a] - theta[c]) / line.reactance_ohm)
    return np.array(rows).reshape(len(grid.lines), len(grid.buses))


def dc_flows(grid: Grid, injection_kwh: dict[str, float]) -> list[float]:
    """Flow on each line (kWh, file orientation) for net injections per bus that sum to
    zero (the root's includes grid import - export)."""
    vector = np.array([injection_kwh.get(bus, 0.0) for bus in grid.buses])
    flows: list[float] = (ptdf(grid) @ vector).tolist()
    return flows


def ptdf_of(net: Network) -> np.ndarray:
    """``ptdf`` for a ``Network`` (lines x buses, file orientation). On a radial feeder
    it is the tree's: each line carries what the buses beyond it inject."""
    buses, root = net.bus_count, net.root
    y = 1.0 / np.asarray(net.line_reactance_ohm, dtype=float)
    b = np.zeros((buses, buses))
    np.add.at(b, (net.line_from, net.line_from), y)
    np.add.at(b, (net.line_to, net.line_to), y)
    np.add.at(b, (net.line_from, net.line_to), -y)
    np.add.at(b, (net.line_to, net.line_from), -y)
    keep = np.flatnonzero(np.arange(buses) != root)
    theta = np.zeros((buses, buses))
    if len(keep):
        theta[np.ix_(keep, keep)] = np.linalg.inv(b[np.ix_(keep, keep)])
    return np.asarray((theta[net.line_from] - theta[net.line_to]) * y[:, None])
