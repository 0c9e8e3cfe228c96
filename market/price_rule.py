"""The price rule: the midpoint of the extreme market-clearing prices, for any LP.

When the clearing LP is degenerate (nothing clears, a flat segment meets a tie, a
seller's limit equals a buyer's, a line or a voltage limit is exactly full) many nodal
prices support the same optimal dispatch, and the dual a solver returns is whichever
vertex it stopped at. Voisin instead publishes a point chosen from the whole set, which
depends only on the LP, not on the solver or the backend.

The set is the **optimal dual face**. Given any optimal dispatch ``x``, a dual vector
``y`` (one entry per row of ``lp.Program``) is optimal exactly when complementary
slackness holds with ``x`` (Dantzig; e.g. Bertsimas and Tsitsiklis, *Introduction to
Linear Optimization*, 1997, thm. 4.5), which reads off each column and row:

* column at its lower bound: reduced cost ``cost - a'y <= 0``; at its upper bound
  ``>= 0``; strictly between: ``= 0``; fixed: free;
* row at its upper bound: ``y >= 0``; at its lower: ``y <= 0``; strictly between:
  ``y = 0``; equality row: free.

The set is the same whichever optimal ``x`` it is read from. Its nodal prices are
``-y`` on the balance rows (the cost of serving one more kWh there). The rule solves
two small LPs over this face, the prices' sum maximised and minimised, and takes the
midpoint of the two vectors, itself an optimal dual (the face is convex). On a radial
transport feeder the face's prices form a lattice (bounds and differences along tree
edges), so the two extremes are each bus's own lowest and highest price and the rule
is each bus's range midpoint. With voltage rows the extremes are vertices of the face.

Five refinements, each an extra solve over the same face:

* **Open sides.** A bus whose price nothing bounds on one side (nothing at it or behind
  it can bind) is closed by the grid tariff on that side: first a floor
  ``min(export price, its highest price)``, then a cap ``max(import price, its lowest
  price)``, so that both extremes stay market-clearing.
* **The green premium.** The ``green`` row's dual is the premium green-only buyers pay
  and sellers receive. It is minimised first (0 whenever some optimal dual has none)
  and held at that least value while the prices are chosen.
* **The city's price.** A feeder re-cleared under a city with its exchange pinned to
  the city's allocation (the ``exchange`` row, ``market.upstream``) leaves its upstream
  node's price anywhere the pin's dual allows. It is held first at the point of that
  range nearest the city's price (the network's import price, equal to its export
  price there), so that the feeder publishes the city's price wherever its optimum
  allows it (at a breakpoint of its curve the midpoint had paid a seller 0.175 for
  what the city paid 0.10).
* **Least premiums.** An inflexible bid's price is its bus price plus its position
  row's dual, the premium. A fully matched inflexible bid leaves that dual anywhere
  between what its retailer is worth and its own limit (the same dispatch either way),
  and a midpoint there made a buyer pay halfway to its limit, a price that moved with
  its own bid. So, every other row held at the midpoint chosen above, each position
  dual is set last to the value of its range nearest 0: the premium is 0 unless the
  dispatch forces one (a curtailed bus, a partly matched bid at its own limit). With
  the other rows held, each position row enters only its own bus's columns, so each
  ranges over an interval of its own, and one pair of solves gives them all.
* **Fallback.** Should the face come out empty (numerical trouble), the solver's own
  duals are published.

When the solver's optimal basis is primal non-degenerate (no basic column or row sits
at one of its bounds), the face is a single point: the basic columns' reduced costs
must all be zero, and the basis matrix, being square and non-singular, fixes the whole
dual. The rule then publishes the solver's duals as they are. When d basics sit at a
bound, the face is the solver's dual plus combinations of d directions
(``Solution.directions``, one transposed basis solve each), and the face LPs run over
those d variables instead of one per row. The tests hold all three ways to the same
prices.

Columns that enter the same rows with the same coefficients (all bid segments at one
bus, say) are merged to their tightest condition before solving, so the face LP has
about as many rows as there are buses, whatever the size of the book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voisin.market.lp import Program, SolveStatus, column_wise
from voisin.market.lp_highs import Solution, highs_lp, run
from voisin.market.pricing import PRICE_DECIMALS

TOL = 1e-7
"""Within this (kWh, pu^2) a quantity counts as at its bound."""
BOX = 1e3
"""EUR/kWh: an extreme price this large means the side is open."""
PRICED = ("balance", "upstream")
"""Row families whose duals are prices: the buses, then the upstream node."""
ALSO_CHOSEN = {"balance_q": -1.0, "sold_out": -1.0, "bought_in": 1.0}
"""Other rows a bid's settlement price depends on (``clearing.bid_prices``), and the sign
that raises that price: reactive prices (a consumer draws Q with its P), and the
inflexible positions (a matched inflexible kWh flows anyway, so what the match is worth
is not the bus's physical marginal value). The rule pins them to the same extremes."""
POSITIONS = ("sold_out", "bought_in")
"""The inflexible-position rows, whose duals are chosen last, at their least premium."""
PREMIUM_TOL = 1e-10
"""EUR/kWh: how far the other rows may move while the position duals are chosen."""


@dataclass(frozen=True, eq=False)
class Prices:
    """What the rule publishes, and the face it was read from.

    ``bus_eur_per_kwh`` in bus order; ``low``/``high`` the two extreme price vectors;
    ``dual`` the chosen full dual vector (``Program`` row order, solver sign), whose
    balance rows are minus the prices (unrounded); ``upstream_eur_per_kwh`` the price
    at the upstream node. ``from_face`` is False when the solver's duals were used.
    """

    bus_eur_per_kwh: np.ndarray
    low: np.ndarray
    high: np.ndarray
    green_premium_eur_per_kwh: float
    dual: np.ndarray
    upstream_eur_per_kwh: float
    from_face: bool = True


@dataclass(frozen=True, eq=False)
class _Face:
    """The optimal dual face as an LP: column conditions as rows over its variables.

    Over ``y`` itself (``directions`` None), or, when the solver's basis leaves only a
    few directions free, over ``t`` with ``y = origin + directions @ t``: the face is
    then the same set, written with d variables instead of one per row.
    """

    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    y_lower: np.ndarray
    y_upper: np.ndarray
    origin: np.ndarray | None = None
    directions: np.ndarray | None = None


def _statuses(
    low: np.ndarray, high: np.ndarray, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(at lower, at upper, fixed) with tolerance ``TOL``."""
    at_low = value <= low + TOL
    at_high = value >= high - TOL
    fixed = high - low <= TOL
    return at_low, at_high, fixed


def _merge(
    start: np.ndarray,
    index: np.ndarray,
    value: np.ndarray,
    keep: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Group kept columns with the same non-zeros; each group's condition is the
    intersection of its members' ``[lower, upper]`` on ``a'y``."""
    counts = np.diff(start)
    cols = np.flatnonzero(keep)
    small = cols[counts[cols] <= 3]
    large = cols[counts[cols] > 3]
    groups_index: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    if len(small):
        width = 3
        key = np.full((len(small), 1 + 2 * width), -1.0)
        key[:, 0] = counts[small]
        for k in range(width):
            has = counts[small] > k
            at = start[small[has]] + k
            key[has, 1 + k] = index[at]
            key[has, 1 + width + k] = value[at]
        unique, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        g_lo = np.full(len(unique), -np.inf)
        g_hi = np.full(len(unique), np.inf)
        np.maximum.at(g_lo, inverse, lower[small])
        np.minimum.at(g_hi, inverse, upper[small])
        for k in range(width):
            has = unique[:, 0] > k
            groups_index.append(
                (
                    np.flatnonzero(has),
                    unique[has, 1 + k].astype(np.int64),
                    unique[has, 1 + width + k],
                )
            )
        lo.append(g_lo)
        hi.append(g_hi)
    offset = sum(len(x) for x in lo)
    rows, ys, vals = [], [], []
    for g_rows, g_y, g_v in groups_index:
        rows.append(g_rows)
        ys.append(g_y)
        vals.append(g_v)
    if len(large):
        big_counts = counts[large]
        member = np.repeat(np.arange(len(large)), big_counts)
        at = np.concatenate([np.arange(start[c], start[c + 1]) for c in large])
        rows.append(member + offset)
        ys.append(index[at])
        vals.append(value[at])
        lo.append(lower[large])
        hi.append(upper[large])
    return (
        np.concatenate(rows) if rows else np.zeros(0, np.int64),
        np.concatenate(ys) if ys else np.zeros(0, np.int64),
        np.concatenate(vals) if vals else np.zeros(0),
        np.concatenate(lo) if lo else np.zeros(0),
        np.concatenate(hi) if hi else np.zeros(0),
    )


def _conditions(
    program: Program, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column the bounds complementary slackness puts on a'y (and which columns
    are free of any), per row the bounds on y."""
    cost, col_lower, col_upper, row_lower, row_upper = program.bounds()
    at_low, at_high, fixed = _statuses(col_lower, col_upper, x)
    keep = ~fixed & ~(at_low & at_high)
    # Reduced cost c - a'y <= 0 at lower means a'y >= c; >= 0 at upper means a'y <= c.
    inside = ~at_low & ~at_high
    lower = np.where((at_low & ~at_high) | inside, cost, -np.inf)
    upper = np.where((at_high & ~at_low) | inside, cost, np.inf)
    start, index, value = program.csc()
    activity = np.zeros(program.num_row)
    column = np.repeat(np.arange(len(start) - 1), np.diff(start))
    np.add.at(activity, index, value * x[column])
    r_low, r_high, r_fixed = _statuses(row_lower, row_upper, activity)
    # A row at its upper bound has y >= 0, at its lower y <= 0, strictly inside y = 0.
    y_lower = np.where(r_fixed | r_low, -np.inf, 0.0)
    y_upper = np.where(r_fixed | r_high, np.inf, 0.0)
    return keep, lower, upper, y_lower, y_upper


def optimal_face(program: Program, x: np.ndarray) -> _Face:
    """The set of optimal duals of ``program`` given an optimal ``x``, over ``y``."""
    keep, lower, upper, y_lower, y_upper = _conditions(program, x)
    start, index, value = program.csc()
    rows, ys, vals, lo, hi = _merge(start, index, value, keep, lower, upper)
    face_start, face_index, face_value = column_wise(rows, ys, vals, program.num_row)
    return _Face(
        face_start,
        face_index,
        face_value,
        lo,
        hi,
        np.maximum(y_lower, -BOX * 1e3),
        np.minimum(y_upper, BOX * 1e3),
    )


def reduced_face(
    program: Program, x: np.ndarray, origin: np.ndarray, directions: np.ndarray
) -> _Face:
    """The optimal dual face over the directions the degenerate basics leave free: a
    column condition matters only where a'Z is non-zero (the basic columns' a'Z are
    zero by construction), a row's bounds only where Z is."""
    keep, lower, upper, y_lower, y_upper = _conditions(program, x)
    start, index, value = program.csc()
    column = np.repeat(np.arange(len(start) - 1), np.diff(start))
    reach = np.zeros((program.num_col, directions.shape[1]))
    np.add.at(reach, column, value[:, None] * directions[index])
    base = np.bincount(column, value * origin[index], minlength=program.num_col)
    moving = keep & np.any(np.abs(reach) > 1e-12, axis=1)
    chosen = np.flatnonzero(moving)
    rows, cols = np.nonzero(np.abs(reach[chosen]) > 1e-12)
    face_start, face_index, face_value = column_wise(
        rows, cols, reach[chosen][rows, cols], directions.shape[1]
    )
    return _Face(
        face_start,
        face_index,
        face_value,
        lower[chosen] - base[chosen],
        upper[chosen] - base[chosen],
        y_lower,
        y_upper,
        origin,
        directions,
    )


def _priced_rows(program: Program) -> np.ndarray:
    return np.concatenate(
        [np.arange(program.num_row)[program.rows(name)] for name in PRICED if program.has(name)]
    )


def _extreme(
    face: _Face, objective: np.ndarray, y_lower: np.ndarray, y_upper: np.ndarray, *, maximise: bool
) -> np.ndarray | None:
    """The dual ``y`` in the face, within ``[y_lower, y_upper]``, that maximises (or
    minimises) ``objective @ y``; None if none is found."""
    if face.directions is None:
        lp = highs_lp(
            objective,
            y_lower,
            y_upper,
            face.row_lower,
            face.row_upper,
            (face.start, face.index, face.value),
            maximise=maximise,
        )
        solved = run(lp)
        return solved.x if solved.status is SolveStatus.OPTIMAL else None
    assert face.origin is not None
    z, origin = face.directions, face.origin
    moving = np.flatnonzero(np.any(np.abs(z) > 1e-12, axis=1))
    rows, cols = np.nonzero(np.abs(z[moving]) > 1e-12)
    extra_start, extra_index, extra_value = column_wise(
        rows + len(face.row_lower), cols, z[moving][rows, cols], z.shape[1]
    )
    start, index, value = _stack(face, extra_start, extra_index, extra_value)
    lp = highs_lp(
        z.T @ objective,
        np.full(z.shape[1], -np.inf),
        np.full(z.shape[1], np.inf),
        np.concatenate([face.row_lower, y_lower[moving] - origin[moving]]),
        np.concatenate([face.row_upper, y_upper[moving] - origin[moving]]),
        (start, index, value),
        maximise=maximise,
    )
    solved = run(lp)
    return origin + z @ solved.x if solved.status is SolveStatus.OPTIMAL else None


def _stack(
    face: _Face, start: np.ndarray, index: np.ndarray, value: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two column-wise matrices with the same columns, the second's rows below."""
    cols = len(start) - 1
    col_a = np.repeat(np.arange(cols), np.diff(face.start))
    col_b = np.repeat(np.arange(cols), np.diff(start))
    return column_wise(
        np.concatenate([face.index, index]),
        np.concatenate([col_a, col_b]),
        np.concatenate([face.value, value]),
        cols,
    )


def choose_prices(
    program: Program, solution: Solution, *, import_price: float, export_price: float
) -> Prices:
    """Apply the rule (module docstring) to an optimal ``solution`` of ``program``."""
    if solution.directions is not None and solution.directions.shape[1] == 0:
        prices = -solution.row_dual
        premium = 0.0
        if program.has("green"):
            premium = max(float(solution.row_dual[program.rows("green").start]), 0.0)
        return _published(program, solution.row_dual.copy(), premium, prices, prices)
    if solution.directions is not None:
        face = reduced_face(program, solution.x, solution.row_dual, solution.directions)
    else:
        face = optimal_face(program, solution.x)
    priced = _priced_rows(program)
    y_lower, y_upper = face.y_lower.copy(), face.y_upper.copy()
    # Prices are -y: a price box [-BOX, BOX] is the same box on y.
    y_lower[priced] = np.maximum(y_lower[priced], -BOX)
    y_upper[priced] = np.minimum(y_upper[priced], BOX)
    premium = 0.0
    if program.has("green"):
        green = program.rows("green").start
        objective = np.zeros(program.num_row)
        objective[green] = 1.0
        least = _extreme(face, objective, y_lower, y_upper, maximise=False)
        if least is None:
            return _fallback(program, solution)
        premium = max(float(least[green]), 0.0)
        y_lower[green], y_upper[green] = premium, premium + 1e-12
    if program.has("exchange"):
        upstream = program.rows("upstream").start
        held = _nearest(face, upstream, -import_price, y_lower, y_upper)
        if held is None:
            return _fallback(program, solution)
        y_lower[upstream], y_upper[upstream] = held, held + 1e-12
    weight = np.zeros(program.num_row)
    weight[priced] = -1.0
    for name, sign in ALSO_CHOSEN.items():
        if program.has(name):
            weight[program.rows(name)] = sign
    pair = _pair(face, weight, y_lower, y_upper)
    if pair is None:
        return _fallback(program, solution)
    high, low = pair  # as prices: -y
    opened_low = low[priced] <= -BOX + 1.0
    if np.any(opened_low):
        floor = np.minimum(export_price, high[priced][opened_low])
        y_upper[priced[opened_low]] = -floor
        pair = _pair(face, weight, y_lower, y_upper)
        if pair is None:
            return _fallback(program, solution)
        high, low = pair
    opened_high = high[priced] >= BOX - 1.0
    if np.any(opened_high):
        cap = np.maximum(import_price, low[priced][opened_high])
        y_lower[priced[opened_high]] = -cap
        pair = _pair(face, weight, y_lower, y_upper)
        if pair is None:
            return _fallback(program, solution)
        high, low = pair
    dual = _least_premiums(program, face, -(high + low) / 2, y_lower, y_upper)
    return _published(program, dual, premium, low, high)


def _nearest(
    face: _Face, row: int, target: float, y_lower: np.ndarray, y_upper: np.ndarray
) -> float | None:
    """The value of ``row``'s dual in the face nearest ``target`` (module docstring,
    "The city's price"); None if the face does not solve."""
    objective = np.zeros(len(y_lower))
    objective[row] = 1.0
    low = _extreme(face, objective, y_lower, y_upper, maximise=False)
    high = _extreme(face, objective, y_lower, y_upper, maximise=True)
    if low is None or high is None:
        return None
    return float(np.clip(target, low[row], high[row]))


def _least_premiums(
    program: Program, face: _Face, dual: np.ndarray, y_lower: np.ndarray, y_upper: np.ndarray
) -> np.ndarray:
    """``dual`` with each inflexible-position dual moved to the point of its range
    nearest 0, every other row held (module docstring, "Least premiums"). Should the
    held face not solve, ``dual`` as it is (it is optimal)."""
    rows = [np.arange(program.num_row)[program.rows(n)] for n in POSITIONS if program.has(n)]
    if not rows or not sum(len(r) for r in rows):
        return dual
    position = np.concatenate(rows)
    held = np.ones(program.num_row, dtype=bool)
    held[position] = False
    lower = np.where(held, dual - PREMIUM_TOL, y_lower)
    upper = np.where(held, dual + PREMIUM_TOL, y_upper)
    weight = np.zeros(program.num_row)
    weight[position] = 1.0
    top = _extreme(face, weight, lower, upper, maximise=True)
    bottom = _extreme(face, weight, lower, upper, maximise=False)
    if top is None or bottom is None:
        return dual
    chosen = dual.copy()
    chosen[position] = np.clip(0.0, bottom[position], top[position])
    return chosen


def _published(
    program: Program,
    dual: np.ndarray,
    premium: float,
    low: np.ndarray,
    high: np.ndarray,
    *,
    from_face: bool = True,
) -> Prices:
    buses = program.rows("balance")
    return Prices(
        bus_eur_per_kwh=np.round(-dual[buses], PRICE_DECIMALS) + 0.0,
        low=low[buses],
        high=high[buses],
        green_premium_eur_per_kwh=round(premium, PRICE_DECIMALS) + 0.0,
        dual=dual,
        upstream_eur_per_kwh=float(-dual[program.rows("upstream")][0]),
        from_face=from_face,
    )


def _pair(
    face: _Face, weight: np.ndarray, y_lower: np.ndarray, y_upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The highest- and lowest-sum price vectors (as -y over every row)."""
    if np.any(y_lower > y_upper + 1e-9):
        return None
    top = _extreme(face, weight, y_lower, y_upper, maximise=True)
    bottom = _extreme(face, weight, y_lower, y_upper, maximise=False)
    if top is None or bottom is None:
        return None
    return -top, -bottom


def _fallback(program: Program, solution: Solution) -> Prices:
    """The solver's own duals, when the face cannot be solved."""
    premium = 0.0
    if program.has("green"):
        premium = max(float(solution.row_dual[program.rows("green").start]), 0.0)
    prices = -solution.row_dual
    return _published(program, solution.row_dual.copy(), premium, prices, prices, from_face=False)
