"""The price rule: the midpoint of each bus's range of market-clearing prices.

When a book is degenerate (nothing clears, a flat segment meets a tie, a seller's limit
equals a buyer's) many nodal prices support the same optimal dispatch, and the dual a
solver returns is whichever vertex it stopped at. Voisin instead prices each bus at the
midpoint of its valid range, which depends only on the optimal dispatch, not the solver.

Given any optimal dispatch, a price vector ``pi`` is market-clearing exactly when (with
tolerance ``TOL``):

* buy segment at limit ``p``:  partly or wholly rejected -> ``pi[bus] >= p``;
  partly or wholly accepted -> ``pi[bus] <= p``;
* sell segment at limit ``c``: partly rejected -> ``pi[bus] <= c``; accepted -> ``>= c``;
* grid import at the root (a seller at the import price, up to the transformer limit)
  and export (a buyer at the export price), likewise;
* line from ``a`` to ``c`` with wheeling fee ``w`` and net flow ``f``: ``f`` below its
  limit -> ``pi[c] - pi[a] <= w``; ``f > 0`` -> ``pi[c] - pi[a] >= w``; ``f`` above
  minus the limit -> ``pi[a] - pi[c] <= w``; ``f < 0`` -> ``pi[a] - pi[c] >= w``. So a
  line carrying energy below its limit fixes the gap at exactly ``w``, an idle one
  allows any gap up to ``w`` either way, and ``w = 0`` gives equal prices.

These are the complementary-slackness conditions of the clearing LP: the set they
describe is the set of optimal duals, whichever optimal dispatch they are read from.
They are bounds and weighted differences along the tree's edges, so the lowest and the
highest price of every bus are each attained together by one feasible vector, found by
one sweep from the leaves to the root and one back; their average is feasible too. A
bus left unbounded on one side (nothing there or behind it can bind) is closed by the
grid tariff on that side, clipped to the other bound, and the sweeps run again so the
two extreme vectors stay feasible (``closed_ranges``).

Green-only buyers add one row to the LP (green-only bought <= sold). Its dual, the
green premium ``mu``, is paid on top of their bus price by green-only buyers and
received on top of theirs by all sellers. The conditions above are those with
``mu = 0``; when they admit no price (the row binds and every optimal dual has a
premium), ``nodal_prices`` finds the least premium that works and prices the book with
the sellers' and green buyers' limits lowered by it.

Works on arrays (``SegmentBook``, ``Network``) so both backends and ``clear_arrays``
share it; a Python loop runs only over buses, twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from voisin.market.matrix import SegmentBook
from voisin.market.network import Network
from voisin.market.pricing import PRICE_DECIMALS

TOL = 1e-7
"""kWh within which a quantity counts as at its bound."""
PREMIUM_RESOLUTION = 1e-11
"""EUR/kWh to which ``least_premium`` bisects (published rounded to 1e-9)."""


class _Solved(Protocol):
    segment_kwh: object
    flow_kwh: object
    import_kwh: float
    export_kwh: float


@dataclass(frozen=True)
class Dispatch:
    """An optimal dispatch as the rule reads it (kWh): cleared energy per segment (LP
    column order), flow per line (file orientation), grid import and export."""

    segment_kwh: np.ndarray
    flow_kwh: np.ndarray
    import_kwh: float
    export_kwh: float

    @classmethod
    def of(cls, solved: _Solved, segment_kwh: np.ndarray | None = None) -> Dispatch:
        """From either backend's solve outcome; ``segment_kwh`` overrides its columns."""
        segments = solved.segment_kwh if segment_kwh is None else segment_kwh
        return cls(np.asarray(segments, dtype=float), np.asarray(solved.flow_kwh, dtype=float),
                   float(solved.import_kwh), float(solved.export_kwh))


def _column_bounds(
    book: SegmentBook, net: Network, dispatch: Dispatch
) -> tuple[np.ndarray, np.ndarray]:
    """Per-bus bounds from the priced columns alone: segments, then the two grid legs."""
    root, limit = net.root, net.transformer_capacity_kwh
    bus = np.append(book.bus, [root, root])
    buys = np.append(~book.sell, [False, True])
    price = np.append(book.price_eur_per_kwh,
                      [net.import_price_eur_per_kwh, net.export_price_eur_per_kwh])
    upper = np.append(book.energy_kwh, [limit, limit])
    cleared = np.append(dispatch.segment_kwh, [dispatch.import_kwh, dispatch.export_kwh])
    rejected = cleared < upper - TOL
    accepted = cleared > TOL
    # A buyer left wanting puts a floor under its bus price and an accepted buyer a cap;
    # a seller the other way round.
    floor_at = np.where(buys, rejected, accepted)
    cap_at = np.where(buys, accepted, rejected)
    low = np.full(net.bus_count, -np.inf)
    high = np.full(net.bus_count, np.inf)
    np.maximum.at(low, bus[floor_at], price[floor_at])
    np.minimum.at(high, bus[cap_at], price[cap_at])
    return low, high


def _line_steps(
    net: Network, flow_kwh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each bus below a line: the range ``[lo, hi]`` of ``price[bus] - price[parent]``
    that complementary slackness allows, from the line's flow and wheeling fee.

    Across a line from ``a`` to ``c`` with fee ``w`` and net flow ``f``, the difference
    ``d = price[c] - price[a]`` obeys: ``f`` below the limit -> ``d <= w``; ``f > 0``
    -> ``d >= w``; ``f`` above minus the limit -> ``d >= -w``; ``f < 0`` -> ``d <= -w``
    (each direction's flow is a column costing ``w``). With ``w = 0`` these are the
    zero-weight conditions of a fee-free line.
    """
    flow = np.asarray(flow_kwh, dtype=float)
    cap, fee = net.line_capacity_kwh, net.line_fee_eur_per_kwh
    upper = np.where(flow < cap - TOL, fee, np.inf)
    upper = np.where(flow < -TOL, np.minimum(upper, -fee), upper)
    lower = np.where(flow > -cap + TOL, -fee, -np.inf)
    lower = np.where(flow > TOL, np.maximum(lower, fee), lower)
    below = np.where(net.parent[net.line_to] == net.line_from, net.line_to, net.line_from)
    down = below == net.line_to  # the line runs parent -> bus: d is price[bus] - price[parent]
    lo = np.full(net.bus_count, -np.inf)
    hi = np.full(net.bus_count, np.inf)
    lo[below] = np.where(down, lower, -upper)
    hi[below] = np.where(down, upper, -lower)
    return below, lo, hi


def _sweep(net: Network, low: list[float], high: list[float], lo: list[float],
           hi: list[float]) -> None:
    """Tighten ``low``/``high`` in place to the exact range of each bus under the bounds
    and ``price[b] - price[parent] in [lo[b], hi[b]]``: on a tree one sweep from the
    leaves up and one from the root down carry every bound (a bound reaches a bus along
    a path that climbs to a common ancestor and descends)."""
    parent = net.parent.tolist()
    order = net.preorder.tolist()[1:]
    for b in [*reversed(order), *order]:
        up = parent[b]
        high[b] = min(high[b], high[up] + hi[b])
        low[b] = max(low[b], low[up] + lo[b])
        high[up] = min(high[up], high[b] - lo[b])
        low[up] = max(low[up], low[b] - hi[b])


def exact_ranges(
    book: SegmentBook,
    net: Network,
    dispatch: Dispatch,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each bus's set of market-clearing prices as ``(low, high)`` (``-inf``/``inf`` where
    nothing binds), and the line steps ``(lo, hi)`` used."""
    low_arr, high_arr = _column_bounds(book, net, dispatch)
    _, lo_arr, hi_arr = _line_steps(net, dispatch.flow_kwh)
    low, high, lo, hi = low_arr.tolist(), high_arr.tolist(), lo_arr.tolist(), hi_arr.tolist()
    _sweep(net, low, high, lo, hi)
    return np.array(low), np.array(high), lo_arr, hi_arr


def closed_ranges(
    book: SegmentBook,
    net: Network,
    dispatch: Dispatch,
) -> tuple[np.ndarray, np.ndarray]:
    """The ranges the rule takes its midpoints from: the exact ranges, with every open
    side closed by the grid tariff on that side (a floor of ``min(export price, high)``
    where nothing bounds a bus from below, then a cap of ``max(import price, low)``
    where nothing bounds it from above), each followed by a sweep so that the all-low
    and the all-high vectors stay market-clearing. Without open sides these are the
    exact ranges."""
    low, high, lo, hi = exact_ranges(book, net, dispatch)
    lo_l, hi_l = lo.tolist(), hi.tolist()
    if np.any(np.isinf(low)):
        # Any floor at or below the highest clearing price keeps the high vector feasible.
        low = np.where(np.isinf(low), np.minimum(net.export_price_eur_per_kwh, high), low)
        low_l, high_l = low.tolist(), high.tolist()
        _sweep(net, low_l, high_l, lo_l, hi_l)
        low, high = np.array(low_l), np.array(high_l)
    if np.any(np.isinf(high)):
        # Any cap at or above the (new) lowest price keeps the low vector feasible.
        high = np.where(np.isinf(high), np.maximum(net.import_price_eur_per_kwh, low), high)
        low_l, high_l = low.tolist(), high.tolist()
        _sweep(net, low_l, high_l, lo_l, hi_l)
        low, high = np.array(low_l), np.array(high_l)
    return low, high


def midpoint_prices(low: np.ndarray, high: np.ndarray) -> np.ndarray | None:
    """The rule's price per bus, or None if a range is empty (numerical trouble)."""
    if np.any(low > high + 1e-9):
        return None
    return np.round((low + high) / 2, PRICE_DECIMALS) + 0.0


def _with_premium(book: SegmentBook, premium: float) -> SegmentBook:
    """The book as the balance rows see it when green-only buyers pay ``premium`` on top
    of their bus price and sellers receive it: their limits move down by the premium."""
    shifted = book.green | book.sell
    price = np.where(shifted, book.price_eur_per_kwh - premium, book.price_eur_per_kwh)
    return replace(book, price_eur_per_kwh=price)


def least_premium(
    book: SegmentBook,
    net: Network,
    dispatch: Dispatch,
    solver_premium: float,
) -> float | None:
    """The smallest green premium (EUR/kWh) with which some nodal prices support the
    dispatch, or None if even the solver's (``solver_premium``) admits none here.

    The premiums that do form an interval (the optimal duals are a convex set), so a
    bisection from 0, where none exist, to the solver's dual finds its bottom; each step
    is one pair of sweeps (``exact_ranges``)."""

    def works(premium: float, slack: float) -> bool:
        low, high, _, _ = exact_ranges(_with_premium(book, premium), net, dispatch)
        return not np.any(low > high + slack)

    high = max(float(solver_premium), 0.0)
    if not works(high, 1e-9):
        high += 1e-6  # the solver's dual is optimal only to its tolerance
        if not works(high, 1e-9):
            return None
    low = 0.0
    while high - low > PREMIUM_RESOLUTION:
        middle = (low + high) / 2
        low, high = (low, middle) if works(middle, PREMIUM_RESOLUTION) else (middle, high)
    return high


def nodal_prices(
    book: SegmentBook,
    net: Network,
    dispatch: Dispatch,
    balance_duals: np.ndarray,
    green_dual: float = 0.0,
) -> tuple[np.ndarray, float]:
    """Nodal prices (bus order) and the green premium (EUR/kWh).

    The rule's midpoints with no premium whenever they exist: they are read from the
    conditions above with the green row's dual at 0, so they exist exactly when some
    optimal dual has no green premium. When every optimal dual has one (green supply is
    scarce and the green row binds), the premium is the least that supports the
    dispatch (``least_premium``) and the prices are the rule's midpoints given that
    premium. Only if that fails numerically are the solver's own duals published:
    prices the negated balance duals, the premium the green row's dual. A meshed grid
    always takes the solver's duals: the sweeps above need a tree.
    """
    if not net.meshed:
        low, high = closed_ranges(book, net, dispatch)
        prices = midpoint_prices(low, high)
        if prices is not None:
            return prices, 0.0
    if book.has_green and not net.meshed:
        premium = least_premium(book, net, dispatch, green_dual)
        if premium is not None:
            premium = round(premium, PRICE_DECIMALS) + 0.0
            low, high = closed_ranges(_with_premium(book, premium), net, dispatch)
            prices = midpoint_prices(low, high)
            if prices is not None:
                return prices, premium
    fallback = np.round(-np.asarray(balance_duals, dtype=float), PRICE_DECIMALS) + 0.0
    premium = round(max(float(green_dual), 0.0), PRICE_DECIMALS) + 0.0 if book.has_green else 0.0
    return fallback, premium


def rule_prices(
    book: SegmentBook,
    net: Network,
    dispatch: Dispatch,
    balance_duals: np.ndarray,
) -> np.ndarray:
    """Nodal prices by the rule, falling back to the negated balance duals (bus order);
    ``nodal_prices`` without the green premium (for books with no green-only bid)."""
    return nodal_prices(book, net, dispatch, balance_duals)[0]
