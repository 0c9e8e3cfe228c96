"""The DC flow rows of a meshed grid, added to the matrix-form clearing LP.

``matrix.build_lp`` writes the radial LP column by column (one or two entries each);
a meshed grid adds one angle column per bus and one Kirchhoff row per line, the same
rows ``model.py`` writes in Pyomo (``kirchhoff``). Flows then equal the PTDF of
``dc_flow`` times the injections.
"""

from __future__ import annotations

import highspy
import numpy as np

from voisin.market.network import Network


def with_angles(
    lp: highspy.HighsLp,
    start: np.ndarray,
    index: np.ndarray,
    value: np.ndarray,
    net: Network,
    *,
    first_row: int,
) -> highspy.HighsLp:
    """Add the DC model of a meshed grid: one angle column per bus (the root's fixed at
    0) after all others, and per line a row ``f - fb - (theta[from] - theta[to]) / x =
    0`` after all others. Built as (column, row, value) triples sorted by column."""
    cols, lines, buses = lp.num_col_, len(net.line_from), net.bus_count
    n = cols - lines - 2 - len(net.fee_lines)
    column = np.repeat(np.arange(cols), np.diff(start))
    row = np.arange(lines) + first_row
    susceptance = 1.0 / net.line_reactance_ohm
    extra_col = np.concatenate([
        n + np.arange(lines),  # forward part
        n + lines + 2 + np.arange(len(net.fee_lines)),  # backward part
        cols + net.line_from,  # theta[from]
        cols + net.line_to,  # theta[to]
    ])
    extra_row = np.concatenate([row, row[net.fee_lines], row, row])
    extra_val = np.concatenate([
        np.ones(lines), -np.ones(len(net.fee_lines)), -susceptance, susceptance,
    ])
    column = np.concatenate([column, extra_col])
    order = np.argsort(column, kind="stable")
    all_cols = cols + buses
    new_start = np.zeros(all_cols + 1, dtype=np.int32)
    np.cumsum(np.bincount(column, minlength=all_cols), out=new_start[1:])
    theta_lower = np.full(buses, -np.inf)
    theta_upper = np.full(buses, np.inf)
    theta_lower[net.root] = theta_upper[net.root] = 0.0
    lp.num_col_ = all_cols
    lp.num_row_ = first_row + lines
    lp.col_cost_ = np.concatenate([lp.col_cost_, np.zeros(buses)])
    lp.col_lower_ = np.concatenate([lp.col_lower_, theta_lower])
    lp.col_upper_ = np.concatenate([lp.col_upper_, theta_upper])
    lp.row_lower_ = np.concatenate([lp.row_lower_, np.zeros(lines)])
    lp.row_upper_ = np.concatenate([lp.row_upper_, np.zeros(lines)])
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kColwise
    matrix.num_col_ = all_cols
    matrix.num_row_ = first_row + lines
    matrix.start_ = new_start
    matrix.index_ = np.concatenate([index, extra_row]).astype(np.int32)[order]
    matrix.value_ = np.concatenate([value, extra_val])[order]
    return lp
