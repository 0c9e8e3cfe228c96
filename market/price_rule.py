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
* line from ``a`` to ``b``: flow below its limit -> ``pi[b] <= pi[a]``; above minus the
  limit -> ``pi[a] <= pi[b]`` (both, so equal prices, when the line is not full).

These are the complementary-slackness conditions of the clearing LP: the set they
describe is the set of optimal duals, whichever optimal dispatch they are read from.
They are bounds and zero-weight differences on a tree, so the lowest and the highest
price of every bus are each attained together by one feasible vector, found by one
sweep from the leaves to the root and one back; their average is feasible too. A bus
left unbounded on one side (nothing there or behind it can bind) takes the grid tariff
on that side, clipped to the other bound.

Works on arrays (``SegmentBook``, ``Network``) so both backends and ``clear_arrays``
share it; a Python loop runs only over buses, twice.
"""

from __future__ import annotations

import numpy as np

from voisin.market.matrix import SegmentBook
from voisin.market.network import Network
from voisin.market.pricing import PRICE_DECIMALS

TOL = 1e-7
"""kWh within which a quantity counts as at its bound."""


def _column_bounds(
    book: SegmentBook, net: Network, segment_kwh: np.ndarray, import_kwh: float,
    export_kwh: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-bus bounds from the priced columns alone: segments, then the two grid legs."""
    root, limit = net.root, net.transformer_capacity_kwh
    bus = np.append(book.bus, [root, root])
    buys = np.append(~book.sell, [False, True])
    price = np.append(book.price_eur_per_kwh,
                      [net.import_price_eur_per_kwh, net.export_price_eur_per_kwh])
    upper = np.append(book.energy_kwh, [limit, limit])
    cleared = np.append(np.asarray(segment_kwh, dtype=float), [import_kwh, export_kwh])
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


def price_ranges(
    book: SegmentBook,
    net: Network,
    segment_kwh: np.ndarray,
    flow_kwh: np.ndarray,
    import_kwh: float,
    export_kwh: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest market-clearing price (EUR/kWh) of each bus, ``net.buses`` order."""
    low_arr, high_arr = _column_bounds(book, net, segment_kwh, import_kwh, export_kwh)
    low, high = low_arr.tolist(), high_arr.tolist()
    parent = net.parent.tolist()
    # For each line: the bus below it, and the flow towards that bus (kWh).
    below = np.where(net.parent[net.line_to] == net.line_from, net.line_to, net.line_from)
    toward = np.where(below == net.line_to, 1.0, -1.0) * np.asarray(flow_kwh, dtype=float)
    can_push = toward < net.line_capacity_kwh - TOL  # more could flow to the bus
    can_pull = toward > -net.line_capacity_kwh + TOL  # more could flow away from it
    push = np.zeros(net.bus_count, dtype=bool)
    pull = np.zeros(net.bus_count, dtype=bool)
    push[below], pull[below] = can_push, can_pull
    push_l, pull_l = push.tolist(), pull.tolist()
    order = net.preorder.tolist()[1:]
    # A bound reaches a bus along a path that climbs to a common ancestor and descends:
    # one sweep from the leaves up, then one from the root down, carries every bound.
    for b in [*reversed(order), *order]:
        up = parent[b]
        if push_l[b]:  # price[b] <= price[up]
            high[b] = min(high[b], high[up])
            low[up] = max(low[up], low[b])
        if pull_l[b]:  # price[up] <= price[b]
            high[up] = min(high[up], high[b])
            low[b] = max(low[b], low[up])
    low_arr, high_arr = np.array(low), np.array(high)
    # An open side takes the grid tariff on that side, never crossing the other bound.
    low_arr = np.where(np.isinf(low_arr), np.minimum(net.export_price_eur_per_kwh, high_arr),
                       low_arr)
    high_arr = np.where(np.isinf(high_arr), np.maximum(net.import_price_eur_per_kwh, low_arr),
                        high_arr)
    return low_arr, high_arr


def midpoint_prices(low: np.ndarray, high: np.ndarray) -> np.ndarray | None:
    """The rule's price per bus, or None if a range is empty (numerical trouble)."""
    if np.any(low > high + 1e-9):
        return None
    return np.round((low + high) / 2, PRICE_DECIMALS) + 0.0



def rule_prices(
    book: SegmentBook,
    net: Network,
    segment_kwh: np.ndarray,
    flow_kwh: np.ndarray,
    import_kwh: float,
    export_kwh: float,
    balance_duals: np.ndarray,
) -> np.ndarray:
    """Nodal prices by the rule, falling back to the negated balance duals (bus order)."""
    low, high = price_ranges(book, net, segment_kwh, flow_kwh, import_kwh, export_kwh)
    prices = midpoint_prices(low, high)
    if prices is None:
        return np.round(-np.asarray(balance_duals, dtype=float), PRICE_DECIMALS) + 0.0
    return prices
