"""What every planning device shares: its horizon and one HiGHS solve of a small LP.

Batteries (``battery_plan``) and heat pumps (``heat_plan``) plan at every gate over the
same rolling horizon, from the interval being bid to the end of the run, at most a day
ahead, and build their LPs as sparse entries handed to ``solve``.
"""

from __future__ import annotations

from collections.abc import Sequence

import highspy
import numpy as np

from voisin.market.lp_highs import highs_lp, new_highs


def horizon_end(index: int, count: int, hours: float) -> int:
    """One past the last interval a plan made at ``index`` covers: a day of intervals of
    ``hours`` (at least one), never past the run's ``count``."""
    return min(count, index + max(1, round(24 / hours)))


def solve(
    cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    entries: Sequence[tuple[int, int, float]],
    row_lower: np.ndarray,
    row_upper: np.ndarray,
) -> np.ndarray | None:
    """Minimise ``cost . x`` within the column bounds and ``row_lower <= A x <=
    row_upper``, ``A`` given as (row, column, value) entries; the optimal ``x``, or None
    if HiGHS does not find one."""
    n = len(cost)
    ordered = sorted(entries, key=lambda r: (r[1], r[0]))
    index = np.array([r[0] for r in ordered], dtype=np.int32)
    value = np.array([r[2] for r in ordered], dtype=float)
    start = np.searchsorted([r[1] for r in ordered], np.arange(n + 1)).astype(np.int32)
    lp = highs_lp(
        cost, col_lower, col_upper, row_lower, row_upper, (start, index, value), maximise=False
    )
    highs = new_highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    highs.passModel(lp)
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(highs.getSolution().col_value, dtype=float)
