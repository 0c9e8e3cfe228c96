"""Nodal prices taken apart: energy, losses, congestion and voltage, per bus.

Every flow column of the clearing LP (a line's P, the transformer's P) satisfies the
dual's stationarity condition ``cost = sum over rows of y_r a_r + reduced cost``. The
two balance rows it enters are the prices at its ends, so the condition says how the
price changes across the branch, and every other row it enters (a voltage-drop row, a
thermal polygon side, the reactive balance of a loss factor) names a reason. Walking
the tree from the upstream node, where the price is the **energy** component, and
adding each branch's reasons gives a decomposition of every bus price that adds up to
it exactly (Bai et al. 2018, cited in ``formulation``; Papavasiliou 2018, "Analysis of
distribution locational marginal prices", IEEE Trans. Smart Grid 9(5), for the same
split from the dual of a linearised branch flow model):

* **loss**: the balance rows' coefficients differ from +-1 by the loss factors; what
  that scaling adds, and the reactive balance's share, is the loss part;
* **congestion**: thermal polygons, the transformer's rating, a transport line at its
  capacity (its reduced cost), the inflexible-position rows at a curtailed bus;
* **voltage**: the voltage-drop rows, whose duals are non-zero only when some bus
  down the tree sits at its voltage limit;
* **fee**: a transport line's wheeling fee.

On a meshed grid the walk follows a breadth-first spanning tree; the parts then depend
on that choice, their sum does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voisin.market.lp import Program
from voisin.market.network import Network
from voisin.market.pricing import PRICE_DECIMALS

COMPONENTS = ("energy", "loss", "congestion", "voltage", "fee")


@dataclass(frozen=True, eq=False)
class Decomposition:
    """Per bus (bus order), EUR/kWh; the rows of ``parts`` follow ``COMPONENTS``."""

    parts: np.ndarray

    def of(self, bus: int) -> dict[str, float]:
        return {name: float(self.parts[k, bus]) for k, name in enumerate(COMPONENTS)}


def _tree_lines(net: Network) -> np.ndarray:
    """For each bus the line joining it to its tree parent (-1 at the root)."""
    lookup: dict[tuple[int, int], int] = {}
    for j, (a, b) in enumerate(zip(net.line_from.tolist(), net.line_to.tolist(), strict=True)):
        lookup.setdefault((a, b), j)
        lookup.setdefault((b, a), j)
    up = np.full(net.bus_count, -1, dtype=np.int64)
    for bus, parent in enumerate(net.parent.tolist()):
        if parent >= 0:
            up[bus] = lookup[(parent, bus)]
    return up


def _family_of_rows(program: Program) -> list[str]:
    labels: list[str] = []
    for family in program.constraints:
        labels += [family.component] * family.size
    return labels


def decompose(
    program: Program, net: Network, dual: np.ndarray, prices: np.ndarray
) -> Decomposition:
    """The parts of ``prices`` (the rule's, bus order) read from the rule's ``dual``."""
    cost = program.bounds()[0]
    start, index, value = program.csc()
    labels = np.array(_family_of_rows(program))
    balance = program.rows("balance").start
    upstream = program.rows("upstream").start
    price = -dual  # on the balance and upstream rows
    buses = net.bus_count
    # One branch per bus: the transformer into the root, the tree line into each other.
    column = np.empty(buses, dtype=np.int64)
    parent_row = np.empty(buses, dtype=np.int64)
    column[net.root] = program.cols("trafo").start
    parent_row[net.root] = upstream
    others = np.flatnonzero(net.parent >= 0)
    column[others] = program.cols("flow").start + _tree_lines(net)[others]
    parent_row[others] = balance + net.parent[others]
    child_row = balance + np.arange(buses)
    counts = start[column + 1] - start[column]
    owner = np.repeat(np.arange(buses), counts)
    at = np.concatenate([np.arange(start[c], start[c + 1]) for c in column.tolist()])
    rows, coefs = index[at], value[at]
    is_parent = rows == parent_row[owner]
    is_child = rows == child_row[owner]
    e_parent = np.bincount(owner, np.where(is_parent, coefs, 0.0), minlength=buses)
    e_child = np.bincount(owner, np.where(is_child, coefs, 0.0), minlength=buses)
    reduced = cost[column] - np.bincount(owner, dual[rows] * coefs, minlength=buses)
    step = np.zeros((len(COMPONENTS), buses))
    other = ~is_parent & ~is_child
    contribution = np.where(other, dual[rows] * coefs, 0.0)
    for k, name in enumerate(COMPONENTS):
        chosen = labels[rows] == name
        step[k] = np.bincount(owner, np.where(chosen, contribution, 0.0), minlength=buses)
    step /= e_child
    step[1] += price[parent_row] * (-e_parent / e_child - 1.0)
    step[2] += reduced / e_child  # a column at its bound: congestion
    step[4] += -cost[column] / e_child
    step[0] = 0.0
    total = step.copy()
    total[0, :] = price[upstream]
    order, parent = net.preorder.tolist()[1:], net.parent.tolist()
    for k in range(1, len(COMPONENTS)):
        row = total[k].tolist()
        for bus in order:
            row[bus] += row[parent[bus]]
        total[k] = row
    return Decomposition(_rounded(total, prices))


def _rounded(parts: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Parts rounded like prices; what rounding leaves (a few 1e-9) goes to each bus's
    largest part, so the parts add up to the published price exactly."""
    out = np.round(parts, PRICE_DECIMALS)
    residual = np.round(prices - out.sum(axis=0), PRICE_DECIMALS)
    largest = np.argmax(np.abs(out[1:]), axis=0) + 1
    out[largest, np.arange(out.shape[1])] += residual
    return np.round(out, PRICE_DECIMALS) + 0.0
