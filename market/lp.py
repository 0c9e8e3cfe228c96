"""A linear programme described once, as named families of variables and constraints.

The clearing's constraint set is written in ``formulation.py`` as families (``q`` the
bid segments, ``balance`` one row per bus, ``drop`` one voltage-drop row per line ...),
each built from arrays with numpy. Everything else is derived from that one
description: the sparse matrix handed to HiGHS (``lp_highs``), the readable Pyomo model
an auditor re-runs, with the same family names as Pyomo ``Var`` and ``Constraint``
components (``lp_pyomo``), and the price rule, which reads the optimal dual face off
the same matrix (``price_rule``). Adding a constraint means adding one family here,
never editing three builders (the linopy / PowerModelsDistribution habit).

Sense: maximise ``cost @ x``; rows ``lower <= A x <= upper`` (equal bounds: equality);
columns ``lower <= x <= upper``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class SolveStatus(StrEnum):
    """How a solve ended, whichever backend ran it."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    FAILED = "failed"


@dataclass(frozen=True, eq=False)
class Variables:
    """One family of columns: ``size`` variables with bounds and objective weights."""

    name: str
    lower: np.ndarray
    upper: np.ndarray
    cost: np.ndarray
    doc: str = ""

    @property
    def size(self) -> int:
        return len(self.lower)

    @classmethod
    def of(
        cls,
        name: str,
        size: int,
        *,
        lower: float | np.ndarray = -np.inf,
        upper: float | np.ndarray = np.inf,
        cost: float | np.ndarray = 0.0,
        doc: str = "",
    ) -> Variables:
        def full(value: float | np.ndarray) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=float), (size,)).copy()

        return cls(name, full(lower), full(upper), full(cost), doc)


@dataclass(frozen=True, eq=False)
class Terms:
    """Coefficients of family ``variable`` in a constraint family: entry ``k`` puts
    ``coef[k]`` at (row ``row[k]`` of the constraint family, column ``col[k]`` of the
    variable family)."""

    variable: str
    row: np.ndarray
    col: np.ndarray
    coef: np.ndarray

    @classmethod
    def of(cls, variable: str, row: object, col: object, coef: object) -> Terms:
        r = np.asarray(row, dtype=np.int64).reshape(-1)
        c = np.asarray(col, dtype=np.int64).reshape(-1)
        v = np.broadcast_to(np.asarray(coef, dtype=float), r.shape).copy()
        if c.shape != r.shape:
            raise ValueError(f"terms of {variable}: {len(r)} rows for {len(c)} columns")
        return cls(variable, r, c, v)


@dataclass(frozen=True, eq=False)
class Constraints:
    """One family of rows ``lower <= sum of terms <= upper``.

    ``component`` names the part of a nodal price this family's duals explain when a
    price is decomposed (``"energy"``, ``"congestion"``, ``"voltage"``, ``"loss"``); the
    nodal balance rows themselves carry ``"balance"``.
    """

    name: str
    lower: np.ndarray
    upper: np.ndarray
    terms: tuple[Terms, ...]
    component: str = "congestion"
    doc: str = ""

    @property
    def size(self) -> int:
        return len(self.lower)

    @classmethod
    def of(
        cls,
        name: str,
        size: int,
        terms: Sequence[Terms],
        *,
        lower: float | np.ndarray = 0.0,
        upper: float | np.ndarray = 0.0,
        component: str = "congestion",
        doc: str = "",
    ) -> Constraints:
        def full(value: float | np.ndarray) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=float), (size,)).copy()

        return cls(name, full(lower), full(upper), tuple(terms), component, doc)


@dataclass(frozen=True, eq=False)
class Program:
    """The whole LP: families in order. Column and row offsets follow that order."""

    variables: tuple[Variables, ...]
    constraints: tuple[Constraints, ...]
    _col_at: dict[str, int] = field(init=False, repr=False)
    _row_at: dict[str, int] = field(init=False, repr=False)
    _spans: dict[tuple[str, str], slice] = field(init=False, repr=False)
    """("col" or "row", family) -> its global range: read for every solve of a search."""
    _memo: dict[str, object] = field(init=False, repr=False, default_factory=dict)
    """``bounds()`` and ``csc()``, computed once: every stage of a clearing reads them."""

    def __post_init__(self) -> None:
        col_at, row_at, at = {}, {}, 0
        for family in self.variables:
            col_at[family.name] = at
            at += family.size
        at = 0
        for rows in self.constraints:
            row_at[rows.name] = at
            at += rows.size
        for rows in self.constraints:
            for term in rows.terms:
                if term.variable not in col_at:
                    raise ValueError(f"{rows.name} refers to unknown variables {term.variable}")
        object.__setattr__(self, "_col_at", col_at)
        object.__setattr__(self, "_row_at", row_at)
        spans = {
            ("col", v.name): slice(col_at[v.name], col_at[v.name] + v.size) for v in self.variables
        }
        spans |= {
            ("row", c.name): slice(row_at[c.name], row_at[c.name] + c.size)
            for c in self.constraints
        }
        object.__setattr__(self, "_spans", spans)

    @property
    def num_col(self) -> int:
        return sum(v.size for v in self.variables)

    @property
    def num_row(self) -> int:
        return sum(c.size for c in self.constraints)

    def has(self, name: str) -> bool:
        return name in self._col_at or name in self._row_at

    def variable(self, name: str) -> Variables:
        return next(v for v in self.variables if v.name == name)

    def constraint(self, name: str) -> Constraints:
        return next(c for c in self.constraints if c.name == name)

    def cols(self, name: str) -> slice:
        """Global column range of a variable family."""
        return self._spans["col", name]

    def rows(self, name: str) -> slice:
        """Global row range of a constraint family."""
        return self._spans["row", name]

    def bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cost, col_lower, col_upper, row_lower, row_upper), concatenated (read-only)."""
        if "bounds" not in self._memo:
            self._memo["bounds"] = self._bounds()
        return self._memo["bounds"]  # type: ignore[return-value]

    def _bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        def cat(arrays: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(arrays) if arrays else np.zeros(0)

        out = (
            cat([v.cost for v in self.variables]),
            cat([v.lower for v in self.variables]),
            cat([v.upper for v in self.variables]),
            cat([c.lower for c in self.constraints]),
            cat([c.upper for c in self.constraints]),
        )
        for array in out:
            array.flags.writeable = False
        return out

    def triplets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every non-zero as global (row, column, value)."""
        rows, cols, vals = [], [], []
        for family in self.constraints:
            base = self._row_at[family.name]
            for term in family.terms:
                rows.append(term.row + base)
                cols.append(term.col + self._col_at[term.variable])
                vals.append(term.coef)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)

    def csc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Column-wise (start, index, value), duplicates summed, rows sorted per column
        (read-only)."""
        if "csc" not in self._memo:
            row, col, val = self.triplets()
            out = column_wise(row, col, val, self.num_col)
            for array in out:
                array.flags.writeable = False
            self._memo["csc"] = out
        return self._memo["csc"]  # type: ignore[return-value]


def column_wise(
    row: np.ndarray, col: np.ndarray, val: np.ndarray, num_col: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, index, value) of a sparse matrix given as triplets; duplicates summed,
    explicit zeros kept out, rows sorted within each column."""
    order = np.lexsort((row, col))
    row, col, val = row[order], col[order], val[order]
    if len(row):
        new = np.ones(len(row), dtype=bool)
        new[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
        group = np.cumsum(new) - 1
        val = np.bincount(group, weights=val)
        row, col = row[new], col[new]
        keep = val != 0
        row, col, val = row[keep], col[keep], val[keep]
    start = np.zeros(num_col + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=num_col), out=start[1:])
    return start, row, val
