"""One interval through the LP: build, solve (with loss passes), prices, their parts.

Shared by ``clear`` (``Bid`` objects) and ``clear_arrays`` (arrays), so both read the
same numbers off the same programme. Losses on a physical grid are a sequence of LPs:
the first is lossless LinDistFlow, each next one linearises the losses around the
flows the previous one found (``Conditions.loss_passes`` in all, two by default).
docs/clearing.md gives the error this leaves against the AC power flow.

Each LP starts with no line polygon side as a row (every line's P and Q only boxed
outside its circle) and gets the sides its optimum crossed, until none is crossed:
the sides that stay out cannot bind, so the optimum is that of the LP with all of them
(a cutting-plane loop; on the highspy path one HiGHS instance takes each round's rows
and goes on from its basis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import highspy
import numpy as np

from voisin.errors import ClearingError
from voisin.market.dlmp import Decomposition, decompose
from voisin.market.formulation import Conditions, LossPoint, build_program, crossed_sides
from voisin.market.lp import Program, SolveStatus
from voisin.market.lp_highs import Session, Solution, solve_program
from voisin.market.network import Network
from voisin.market.price_rule import Prices, choose_prices
from voisin.market.segments import SegmentBook

Backend = Literal["pyomo", "highs"]
Basis = tuple[list[highspy.HighsBasisStatus], list[highspy.HighsBasisStatus]]
MAX_CUT_ROUNDS = 25
"""Rounds of added polygon sides before giving up (each adds every side crossed)."""


@dataclass(frozen=True, eq=False)
class Outcome:
    """The solved programme with its prices and their parts."""

    book: SegmentBook
    program: Program
    solution: Solution
    prices: Prices
    parts: Decomposition
    conditions: Conditions

    def values(self, name: str) -> np.ndarray:
        """A variable family's optimal values (empty if the family is absent)."""
        if not self.program.has(name):
            return np.zeros(0)
        return self.solution.values(self.program, name)


def _solve(program: Program, backend: Backend) -> Solution:
    if backend == "pyomo":
        from voisin.market.lp_pyomo import solve_pyomo  # Pyomo only for who asks for it

        return solve_pyomo(program)
    return solve_program(program)


def _cut(
    book: SegmentBook, net: Network, cond: Conditions, backend: Backend, basis: Basis | None
) -> tuple[Program, Solution, Conditions]:
    """Solve, adding the polygon sides the optimum crosses until it crosses none. On the
    highspy path one HiGHS instance takes the added rows and goes on from its basis."""
    program = build_program(book, net, cond)
    session = None
    if backend == "highs":
        session = Session(program)
        session.start_from(basis)
    for _ in range(MAX_CUT_ROUNDS):
        solution = session.solve() if session is not None else _solve(program, backend)
        if solution.status is not SolveStatus.OPTIMAL:
            raise ClearingError(f"HiGHS ended {solution.status.value}", code="clearing-failed")
        if net.physics is None or cond.thermal_sides is None:
            return program, solution, cond
        crossed = crossed_sides(
            net, cond, solution.values(program, "flow"), solution.values(program, "flow_q")
        )
        added = np.setdiff1d(crossed, cond.thermal_sides)
        if not len(added):
            return program, solution, cond
        # Appended, not merged: the programme's earlier rows keep their places.
        cond = replace(cond, thermal_sides=np.concatenate([cond.thermal_sides, added]))
        program = build_program(book, net, cond)
        if session is not None:
            session.extend(program)
    raise ClearingError("the thermal limits did not settle", code="clearing-failed")


def loss_point(program: Program, solution: Solution) -> LossPoint:
    """The flows of ``solution`` as the point the next pass linearises its losses at."""
    trafo = solution.values(program, "trafo")
    trafo_q = solution.values(program, "trafo_q")
    return LossPoint(
        solution.values(program, "flow").copy(),
        solution.values(program, "flow_q").copy(),
        float(trafo[0]),
        float(trafo_q[0]),
    )


def run_interval(
    book: SegmentBook,
    net: Network,
    conditions: Conditions | None = None,
    *,
    backend: Backend = "highs",
) -> Outcome:
    """Clear ``book`` on ``net``: the optimum, the rule's prices and their parts."""
    cond = conditions or Conditions()
    if not math.isfinite(cond.curtailment_eur_per_kwh):
        raise ClearingError("curtailment price must be finite", code="bad-rules")
    if net.physics is not None and cond.thermal_sides is None:
        cond = replace(cond, thermal_sides=np.zeros(0, dtype=np.int64))
    program, solution, cond = _cut(book, net, cond, backend, None)
    if net.physics is not None:
        for _ in range(cond.loss_passes - 1):
            cond = replace(cond, losses=loss_point(program, solution))
            program, solution, cond = _cut(book, net, cond, backend, solution.basis)
    prices = choose_prices(
        program,
        solution,
        import_price=net.import_price_eur_per_kwh,
        export_price=net.export_price_eur_per_kwh
        + book.local_charges(net.local_charge_eur_per_kwh)[0],
    )
    parts = decompose(program, net, prices.dual, prices.bus_eur_per_kwh)
    return Outcome(book, program, solution, prices, parts, cond)
