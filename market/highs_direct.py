"""Solve the matrix-form clearing LP with highspy directly (no modelling layer).

The companion of ``solve.py`` for large books: same LP, same solver, no Pyomo. Options
were picked by measurement on the DESIGN.md benchmark instances (docs/clearing.md,
"Scale"): dual simplex, presolve off (HiGHS's presolve finds almost nothing to remove in
this LP and costs more than it saves), one thread, started from ``warm_basis``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache

import highspy
import numpy as np

from voisin.market.matrix import SegmentBook, build_lp, warm_basis
from voisin.market.network import Network
from voisin.market.solve import SolveStatus

HIGHS_OPTIONS: dict[str, bool | int | str] = {
    "output_flag": False,
    "solver": "simplex",
    "simplex_strategy": 1,  # dual simplex
    "presolve": "off",
    "threads": 1,
}
"""One core, deterministic, a vertex solution (so duals are basic, as with Pyomo)."""


@dataclass(frozen=True, eq=False)
class MatrixOutcome:
    """What HiGHS found, as arrays (kWh, EUR/kWh in the solver's dual sign)."""

    status: SolveStatus
    segment_kwh: np.ndarray
    flow_kwh: np.ndarray
    import_kwh: float
    export_kwh: float
    balance_duals: np.ndarray
    """Per bus, in ``Network.buses`` order; the nodal price is ``-dual``."""
    objective_eur: float
    iterations: int
    solver: str
    green_dual: float = 0.0
    """Dual of the green row (EUR/kWh, >= 0): the green premium at this dual vertex."""


@cache
def direct_solver_version() -> str:
    """Recorded in each result the matrix path clears, e.g. ``highspy-1.16.0``."""
    return (f"highspy-{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}."
            f"{highspy.HIGHS_VERSION_PATCH}")


def new_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing.

    The library writes a copyright banner to the process's stdout (file descriptor 1,
    below Python) the first time an instance is made; `voisin market clear` prints JSON
    there, so that first construction runs with descriptor 1 pointed at /dev/null.
    """
    if _banner_shown:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 1)
        highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)
    _banner_shown.append(True)
    return highs


_banner_shown: list[bool] = []


def _status(model_status: highspy.HighsModelStatus) -> SolveStatus:
    kind = highspy.HighsModelStatus
    if model_status == kind.kOptimal:
        return SolveStatus.OPTIMAL
    if model_status == kind.kInfeasible:
        return SolveStatus.INFEASIBLE
    if model_status in (kind.kUnbounded, kind.kUnboundedOrInfeasible):
        return SolveStatus.UNBOUNDED
    return SolveStatus.FAILED


def solve_matrix(
    book: SegmentBook,
    net: Network,
    *,
    warm_start: bool = True,
    options: dict[str, bool | int | str] | None = None,
) -> MatrixOutcome:
    """Build and solve; never raises for a non-optimal LP, reports the status instead.

    ``options`` override ``HIGHS_OPTIONS`` (the benchmark uses this to compare methods).
    """
    basis = warm_basis(book, net) if warm_start else None
    return solve_lp(build_lp(book, net), book, net, basis=basis, options=options)


def solve_lp(
    lp: highspy.HighsLp,
    book: SegmentBook,
    net: Network,
    *,
    basis: highspy.HighsBasis | None = None,
    options: dict[str, bool | int | str] | None = None,
) -> MatrixOutcome:
    """Solve an LP from ``build_lp(book, net)``, from ``basis`` if given."""
    highs = new_highs()
    for name, value in {**HIGHS_OPTIONS, **(options or {})}.items():
        highs.setOptionValue(name, value)
    highs.passModel(lp)
    if basis is not None:
        highs.setBasis(basis)
    highs.run()
    status = _status(highs.getModelStatus())
    iterations = int(highs.getInfo().simplex_iteration_count)
    if status is not SolveStatus.OPTIMAL:
        empty = np.zeros(0)
        return MatrixOutcome(
            status,
            empty,
            empty,
            0.0,
            0.0,
            empty,
            float("nan"),
            iterations,
            direct_solver_version(),
        )
    solution = highs.getSolution()
    x = np.asarray(solution.col_value, dtype=float)
    n, lines = book.segment_count, len(net.line_from)
    flow = x[n : n + lines].copy()
    k = len(net.fee_lines)
    flow[net.fee_lines] -= x[n + lines + 2 : n + lines + 2 + k]  # net of the backward parts
    duals = np.asarray(solution.row_dual, dtype=float)
    return MatrixOutcome(
        status=status,
        segment_kwh=x[:n],
        flow_kwh=flow,
        import_kwh=float(x[n + lines]),
        export_kwh=float(x[n + lines + 1]),
        balance_duals=duals[: net.bus_count],
        objective_eur=float(highs.getObjectiveValue()),
        iterations=iterations,
        solver=direct_solver_version(),
        green_dual=float(duals[net.bus_count]) if book.has_green else 0.0,
    )
