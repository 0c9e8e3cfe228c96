"""Solve a ``Program`` with highspy directly: its arrays go to HiGHS as they are.

The fast path for large books (no modelling layer). Options picked by measurement on
the DESIGN.md instances (docs/clearing.md, "Scale"): dual simplex, one thread, so the
solution is a vertex and the same on every run.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import highspy
import numpy as np

from voisin.market.lp import Program, SolveStatus
from voisin.market.solver_info import direct_solver_version

HIGHS_OPTIONS: dict[str, bool | int | str] = {
    "output_flag": False,
    "solver": "simplex",
    "simplex_strategy": 1,  # dual simplex
    "presolve": "off",
    "threads": 1,
}
"""One core, deterministic, a vertex solution (so duals are basic, as with Pyomo)."""
WARM_OPTIONS: dict[str, bool | int | str] = {"simplex_dual_edge_weight_strategy": 1}
"""From a basis, Devex pricing: dual steepest edge's weights cost about as much to set
up again as the hundred-odd iterations a round of added rows needs (measured at 100k
bids: 0.55 s a round with steepest edge, 0.15-0.35 s with Devex; from scratch steepest
edge stays the faster, 1.7 s against 2.2 s)."""
BASIC = highspy.HighsBasisStatus.kBasic
DEGENERATE_TOL = 1e-7
"""A basic variable within this of a bound is degenerate (as ``price_rule.TOL``)."""
MAX_DIRECTIONS = 200
"""Above this many degenerate basics, no directions are computed (the price rule then
solves over the whole dual face)."""


@dataclass(frozen=True, eq=False)
class Solution:
    """An LP's optimum as arrays, in ``Program`` order. ``row_dual[i]`` is the change of
    the optimum per unit of row ``i``'s bound (>= 0 at an upper bound, <= 0 at a lower
    one); ``col_dual`` the reduced costs ``cost - A' row_dual``."""

    status: SolveStatus
    x: np.ndarray
    row_dual: np.ndarray
    col_dual: np.ndarray
    objective: float
    iterations: int
    solver: str
    basis: tuple[list[highspy.HighsBasisStatus], list[highspy.HighsBasisStatus]] | None = None
    """HiGHS's final (column, row) basis statuses, to start a related LP from."""
    directions: np.ndarray | None = None
    """Rows x d: for each of the d basic variables sitting at a bound, the dual
    direction that frees its reduced cost and keeps every other basic one at zero
    (``B^-T e_k``); empty when the basis is non-degenerate, None when not computed."""

    def values(self, program: Program, name: str) -> np.ndarray:
        return self.x[program.cols(name)]

    def duals(self, program: Program, name: str) -> np.ndarray:
        return self.row_dual[program.rows(name)]


def new_highs() -> highspy.Highs:
    """A new HiGHS instance that prints nothing (never a shared one: an instance keeps
    its model, basis and options, so a cached one made a solve depend on whatever the
    process solved before, and a ``Session`` lose its model to the next solve).

    The library writes a copyright banner to the process's stdout (file descriptor 1,
    below Python) the first time an instance is made; `voisin market clear` prints JSON
    there, so that first construction runs with descriptor 1 pointed at /dev/null.
    """
    if _banner_shown:
        return highspy.Highs()  # type: ignore[no-untyped-call]  # unannotated
    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 1)
        highs = highspy.Highs()  # type: ignore[no-untyped-call]  # unannotated
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)
    _banner_shown.append(True)
    return highs


_banner_shown: list[bool] = []


def status_of(model_status: highspy.HighsModelStatus) -> SolveStatus:
    """The solve's status; a solve that Ctrl-C stopped raises ``KeyboardInterrupt``.

    HiGHS catches SIGINT itself and returns an interrupted status, which would otherwise
    read as a failed clearing (``clearing-failed``, exit 2) instead of the user's stop."""
    kind = highspy.HighsModelStatus
    if model_status in (kind.kInterrupt, getattr(kind, "kHighsInterrupt", kind.kInterrupt)):
        raise KeyboardInterrupt
    if model_status == kind.kOptimal:
        return SolveStatus.OPTIMAL
    if model_status == kind.kInfeasible:
        return SolveStatus.INFEASIBLE
    if model_status in (kind.kUnbounded, kind.kUnboundedOrInfeasible):
        return SolveStatus.UNBOUNDED
    return SolveStatus.FAILED


def highs_lp(
    cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    csc: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    maximise: bool = True,
) -> highspy.HighsLp:
    """A ``HighsLp`` from column-wise arrays."""
    start, index, value = csc
    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = len(row_lower)
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(col_lower, dtype=float)
    lp.col_upper_ = np.asarray(col_upper, dtype=float)
    lp.row_lower_ = np.asarray(row_lower, dtype=float)
    lp.row_upper_ = np.asarray(row_upper, dtype=float)
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kColwise
    matrix.num_col_ = len(cost)
    matrix.num_row_ = len(row_lower)
    matrix.start_ = np.asarray(start, dtype=np.int32)
    matrix.index_ = np.asarray(index, dtype=np.int32)
    matrix.value_ = np.asarray(value, dtype=float)
    return lp


class Session:
    """One HiGHS instance kept across related solves: a programme, then the same
    programme with more rows appended (``extend``), each solve starting from where the
    last one ended (HiGHS keeps its basis and factorisation; nothing is passed again)."""

    def __init__(
        self, program: Program, options: dict[str, bool | int | str] | None = None
    ) -> None:
        cost, col_lower, col_upper, row_lower, row_upper = program.bounds()
        self.highs = new_highs()
        for name, value in {**HIGHS_OPTIONS, **(options or {})}.items():
            self.highs.setOptionValue(name, value)
        self.lp = highs_lp(cost, col_lower, col_upper, row_lower, row_upper, program.csc())
        self.highs.passModel(self.lp)
        self.rows = program.num_row

    def start_from(
        self, basis: tuple[list[highspy.HighsBasisStatus], list[highspy.HighsBasisStatus]] | None
    ) -> None:
        if basis is not None:
            start = highspy.HighsBasis()
            start.col_status, start.row_status = basis
            start.valid = True
            self.highs.setBasis(start)
            self._warm()

    def _warm(self) -> None:
        for name, value in WARM_OPTIONS.items():
            self.highs.setOptionValue(name, value)

    def extend(self, program: Program) -> None:
        """Append the rows ``program`` has beyond those already passed (its earlier rows
        and all columns unchanged)."""
        row, col, val = program.triplets()
        new = row >= self.rows
        order = np.lexsort((col[new], row[new]))
        r, c, v = row[new][order] - self.rows, col[new][order], val[new][order]
        count = program.num_row - self.rows
        starts = np.searchsorted(r, np.arange(count)).astype(np.int32)
        lower, upper = program.bounds()[3][self.rows :], program.bounds()[4][self.rows :]
        self.highs.addRows(count, lower, upper, len(v), starts, c.astype(np.int32), v)
        self.lp.row_lower_ = np.concatenate([self.lp.row_lower_, lower])
        self.lp.row_upper_ = np.concatenate([self.lp.row_upper_, upper])
        self.lp.num_row_ = program.num_row
        self.rows = program.num_row
        self._warm()

    def solve(self) -> Solution:
        """Run from where the last solve ended."""
        self.highs.run()
        return _result(self.highs, self.lp)


def run(
    lp: highspy.HighsLp,
    options: dict[str, bool | int | str] | None = None,
    *,
    basis: tuple[list[highspy.HighsBasisStatus], list[highspy.HighsBasisStatus]] | None = None,
) -> Solution:
    """Solve ``lp`` (from ``basis`` if given); never raises for a non-optimal LP,
    reports the status instead."""
    highs = new_highs()
    for name, value in {**HIGHS_OPTIONS, **(options or {})}.items():
        highs.setOptionValue(name, value)
    highs.passModel(lp)
    if basis is not None:
        start = highspy.HighsBasis()
        start.col_status, start.row_status = basis
        start.valid = True
        highs.setBasis(start)
    highs.run()
    return _result(highs, lp)


def _result(highs: highspy.Highs, lp: highspy.HighsLp) -> Solution:
    """The ``Solution`` of the last run of ``highs`` on ``lp``."""
    status = status_of(highs.getModelStatus())
    iterations = int(highs.getInfo().simplex_iteration_count)
    if status is not SolveStatus.OPTIMAL:
        empty = np.zeros(0)
        return Solution(
            status, empty, empty, empty, float("nan"), iterations, direct_solver_version()
        )
    solution = highs.getSolution()
    final = highs.getBasis()
    found = _directions(highs, lp, solution) if final.valid else None
    return Solution(
        status=status,
        x=np.asarray(solution.col_value, dtype=float),
        row_dual=np.asarray(solution.row_dual, dtype=float),
        col_dual=np.asarray(solution.col_dual, dtype=float),
        objective=float(highs.getObjectiveValue()),
        iterations=iterations,
        solver=direct_solver_version(),
        basis=(list(final.col_status), list(final.row_status)) if final.valid else None,
        directions=found,
    )


def _directions(
    highs: highspy.Highs, lp: highspy.HighsLp, solution: highspy.HighsSolution
) -> np.ndarray | None:
    """``Solution.directions``: one transposed basis solve per degenerate basic."""
    _, basic = highs.getBasicVariables()  # type: ignore[attr-defined]  # not in the stubs
    basic = np.asarray(basic, dtype=np.int64)
    cols, rows = basic >= 0, basic < 0
    value = np.empty(len(basic))
    low = np.empty(len(basic))
    high = np.empty(len(basic))
    x = np.asarray(solution.col_value)
    activity = np.asarray(solution.row_value)
    c, r = basic[cols], -basic[rows] - 1
    value[cols] = x[c]
    low[cols] = np.asarray(lp.col_lower_)[c]
    high[cols] = np.asarray(lp.col_upper_)[c]
    value[rows] = activity[r]
    low[rows] = np.asarray(lp.row_lower_)[r]
    high[rows] = np.asarray(lp.row_upper_)[r]
    degenerate = np.flatnonzero((value <= low + DEGENERATE_TOL) | (value >= high - DEGENERATE_TOL))
    if len(degenerate) > MAX_DIRECTIONS:
        return None
    out = np.zeros((len(basic), len(degenerate)))
    for k, position in enumerate(degenerate.tolist()):
        unit = np.zeros(len(basic))
        unit[position] = 1.0
        solved, z = highs.getBasisTransposeSolve(unit)  # type: ignore[attr-defined]  # not in the stubs
        if solved != highspy.HighsStatus.kOk:
            return None
        out[:, k] = z
    return out


def solve_program(
    program: Program,
    options: dict[str, bool | int | str] | None = None,
    *,
    basis: tuple[list[highspy.HighsBasisStatus], list[highspy.HighsBasisStatus]] | None = None,
) -> Solution:
    """Build the HiGHS arrays of ``program`` and solve (from ``basis`` if given)."""
    cost, col_lower, col_upper, row_lower, row_upper = program.bounds()
    lp = highs_lp(cost, col_lower, col_upper, row_lower, row_upper, program.csc())
    return run(lp, options, basis=basis)
