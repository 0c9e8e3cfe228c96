"""Which solver each path runs, and how: recorded in every clearing result.

Kept apart from ``lp_pyomo`` so that naming the solver does not import Pyomo (about half
a second per process): the operator and agent processes clear on the direct HiGHS path
and never build a Pyomo model.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version

import highspy

SOLVER_OPTIONS = {"solver": "simplex", "simplex_strategy": 1, "threads": 1}
"""Dual simplex on one thread: deterministic and quickest for these small LPs."""


def highs_version() -> str:
    """The HiGHS library highspy loads, e.g. ``1.16.0`` (the one Pyomo drives too)."""
    return (
        f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"
    )


@cache
def solver_version() -> str:
    """Solver and modelling layer versions, e.g. ``highs-1.16.0/pyomo-6.10.1``; Pyomo's
    version is its distribution's."""
    return f"highs-{highs_version()}/pyomo-{version('pyomo')}"


def direct_solver_version() -> str:
    """Recorded in each result the matrix path clears, e.g. ``highspy-1.16.0``."""
    return f"highspy-{highs_version()}"
