"""The only place that talks to HiGHS: solve a built model, return plain numbers.

Uses Pyomo's ``pyomo.contrib.solver`` HiGHS interface (highspy in process, no files),
which hands back duals through its solution loader. The dual simplex is asked for by
name so results are vertex solutions and do not depend on HiGHS's choice of method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import pyomo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from voisin.errors import ClearingError
from voisin.market.model import ClearingModel

SOLVER_OPTIONS = {"solver": "simplex", "simplex_strategy": 1, "threads": 1}
"""Dual simplex on one thread: deterministic and quickest for these small LPs."""


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    FAILED = "failed"


@dataclass(frozen=True)
class SolveOutcome:
    """What the solver found, as floats. Values are empty unless ``status`` is OPTIMAL.

    ``balance_duals`` are in the solver's sign convention (EUR/kWh per unit of the
    balance right-hand side); ``pricing`` turns them into nodal prices. ``flow_kwh`` is
    each line's net flow (forward minus backward part on lines with a wheeling fee).
    """

    status: SolveStatus
    segment_kwh: tuple[float, ...]
    flow_kwh: tuple[float, ...]
    import_kwh: float
    export_kwh: float
    balance_duals: dict[str, float]
    objective_eur: float
    solver: str
    green_dual: float = 0.0
    """Dual of the green row (EUR/kWh, >= 0): the green premium at this dual vertex."""


@cache
def solver_version() -> str:
    """Solver and modelling layer versions, recorded in each clearing result."""
    major, minor, patch = Highs().version()
    return f"highs-{major}.{minor}.{patch}/pyomo-{pyomo.version.version}"


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


def solve(built: ClearingModel) -> SolveOutcome:
    """Solve ``built`` with HiGHS. Never raises for a non-optimal LP; reports the status."""
    solver = Highs()
    if not solver.available():
        raise ClearingError("HiGHS (highspy) is not available", code="no-solver")
    m = built.model
    results = solver.solve(
        m,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        solver_options=dict(SOLVER_OPTIONS),
    )
    status = _status(results.termination_condition, results.solution_status)
    if status is not SolveStatus.OPTIMAL:
        return SolveOutcome(status, (), (), 0.0, 0.0, {}, math.nan, solver_version())
    loader = results.solution_loader
    loader.load_vars()
    rows = list(m.balance.values()) + ([m.green] if built.has_green else [])
    duals = loader.get_duals(cons_to_load=rows)
    return SolveOutcome(
        status=status,
        segment_kwh=tuple(float(m.q[i].value or 0.0) for i in m.segment),
        flow_kwh=tuple(
            float(m.f[j].value or 0.0) - (float(m.fb[j].value or 0.0) if j in m.fee_line else 0.0)
            for j in m.line
        ),
        import_kwh=float(m.imp.value or 0.0),
        export_kwh=float(m.exp.value or 0.0),
        balance_duals={str(con.index()): float(duals[con]) for con in m.balance.values()},
        objective_eur=float(results.incumbent_objective),
        solver=solver_version(),
        green_dual=float(duals[m.green]) if built.has_green else 0.0,
    )
