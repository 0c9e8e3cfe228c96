"""The same ``Program`` as a Pyomo model: the readable form an auditor re-runs.

Each variable family becomes an indexed ``Var`` and each constraint family an indexed
``Constraint`` of the same name (``m.q[i]``, ``m.balance[b]``, ``m.drop[l]`` ...), so
``m.pprint()`` shows the clearing LP written out term by term. Solved with HiGHS
through ``pyomo.contrib.solver`` (highspy in process, no files); the dual simplex is
asked for by name so results are vertex solutions, as on the direct path. Pyomo
objects never leave ``voisin.market``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from voisin.errors import ClearingError
from voisin.market.lp import Program, SolveStatus
from voisin.market.lp_highs import Solution
from voisin.market.solver_info import SOLVER_OPTIONS, solver_version


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def build_pyomo(program: Program) -> pyo.ConcreteModel:
    """A Pyomo model with one component per family of ``program``."""
    m = pyo.ConcreteModel(name="voisin-clearing")
    for family in program.variables:
        lower, upper = family.lower, family.upper
        var = pyo.Var(
            range(family.size),
            bounds=lambda _, i, lo=lower, hi=upper: (_finite(lo[i]), _finite(hi[i])),
            doc=family.doc,
        )
        m.add_component(family.name, var)
    objective = sum(
        float(c) * getattr(m, family.name)[i]
        for family in program.variables
        for i, c in enumerate(family.cost)
        if c != 0
    )
    m.welfare = pyo.Objective(expr=objective, sense=pyo.maximize)
    for rows_family in program.constraints:
        rows: list[list[tuple[float, Any]]] = [[] for _ in range(rows_family.size)]
        for term in rows_family.terms:
            var = getattr(m, term.variable)
            for r, c, v in zip(
                term.row.tolist(), term.col.tolist(), term.coef.tolist(), strict=True
            ):
                if v != 0:
                    rows[r].append((v, var[c]))

        def rule(
            _: pyo.ConcreteModel,
            i: int,
            rows: list[list[tuple[float, Any]]] = rows,
            lower: np.ndarray = rows_family.lower,
            upper: np.ndarray = rows_family.upper,
        ) -> object:
            expr = sum(v * x for v, x in rows[i]) if rows[i] else 0.0
            lo, hi = _finite(lower[i]), _finite(upper[i])
            if not rows[i]:
                return pyo.Constraint.Feasible
            if lo is not None and lo == hi:
                return expr == lo
            return (lo, expr, hi)

        m.add_component(
            rows_family.name,
            pyo.Constraint(range(rows_family.size), rule=rule, doc=rows_family.doc),
        )
    return m


def _status(termination: TerminationCondition, solution: SolutionStatus) -> SolveStatus:
    if termination is TerminationCondition.convergenceCriteriaSatisfied and (
        solution is SolutionStatus.optimal
    ):
        return SolveStatus.OPTIMAL
    if termination in (
        TerminationCondition.provenInfeasible,
        TerminationCondition.locallyInfeasible,
    ):
        return SolveStatus.INFEASIBLE
    if termination in (TerminationCondition.unbounded, TerminationCondition.infeasibleOrUnbounded):
        return SolveStatus.UNBOUNDED
    return SolveStatus.FAILED


def solve_pyomo(program: Program) -> Solution:
    """Build the Pyomo model of ``program`` and solve it with HiGHS."""
    solver = Highs()
    if not solver.available():
        raise ClearingError("HiGHS (highspy) is not available", code="no-solver")
    m = build_pyomo(program)
    results = solver.solve(
        m,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        solver_options=dict(SOLVER_OPTIONS),
    )
    status = _status(results.termination_condition, results.solution_status)
    empty = np.zeros(0)
    if status is not SolveStatus.OPTIMAL:
        return Solution(status, empty, empty, empty, float("nan"), 0, solver_version())
    loader = results.solution_loader
    loader.load_vars()
    x = (
        np.concatenate(
            [
                np.array([float(getattr(m, f.name)[i].value or 0.0) for i in range(f.size)])
                for f in program.variables
            ]
        )
        if program.variables
        else empty
    )
    cons = [getattr(m, f.name)[i] for f in program.constraints for i in range(f.size)]
    active = [c for c in cons if c.active]
    duals = loader.get_duals(cons_to_load=active) if active else {}
    row_dual = np.array([float(duals.get(c, 0.0)) for c in cons])
    cost = program.bounds()[0]
    start, index, value = program.csc()
    col_dual = cost - _transpose_times(start, index, value, row_dual)
    return Solution(
        status, x, row_dual, col_dual, float(results.incumbent_objective), 0, solver_version()
    )


def _transpose_times(
    start: np.ndarray, index: np.ndarray, value: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """A' y for A in column-wise form."""
    column = np.repeat(np.arange(len(start) - 1), np.diff(start))
    return np.bincount(column, value * y[index], minlength=len(start) - 1)
