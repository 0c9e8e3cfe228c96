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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voisin.market.feeder import Feeder
from voisin.market.model import SegmentKey
from voisin.market.pricing import clean
from voisin.protocol import Bid, Grid, Side

TOL = 1e-7
"""kWh within which a quantity counts as at its bound."""


@dataclass(frozen=True)
class Columns:
    """The LP's priced columns as arrays: bid segments, then the two grid legs.

    ``bus`` indexes ``grid.buses``; ``buys`` is True for columns that withdraw energy
    (buy segments, export); kWh and EUR/kWh as floats.
    """

    bus: np.ndarray
    buys: np.ndarray
    price_eur_per_kwh: np.ndarray
    upper_kwh: np.ndarray
    cleared_kwh: np.ndarray


def price_ranges(
    columns: Columns,
    grid: Grid,
    flow_kwh: Sequence[float],
    import_kwh: float,
    export_kwh: float,
) -> dict[str, tuple[float, float]]:
    """``bus -> (lowest, highest)`` market-clearing price (EUR/kWh) for this dispatch."""
    root = grid.buses.index(grid.root)
    limit = math.inf if grid.transformer_capacity_kwh is None else grid.transformer_capacity_kwh
    bus = np.append(columns.bus, [root, root])
    buys = np.append(columns.buys, [False, True])
    price = np.append(columns.price_eur_per_kwh,
                      [grid.import_price_eur_per_kwh, grid.export_price_eur_per_kwh])
    upper = np.append(columns.upper_kwh, [limit, limit])
    cleared = np.append(columns.cleared_kwh, [import_kwh, export_kwh])

    rejected = cleared < upper - TOL
    accepted = cleared > TOL
    # A buyer left wanting puts a floor under the price, an accepted buyer a cap; a
    # seller the other way round.
    floor_at = np.where(buys, rejected, accepted)
    cap_at = np.where(buys, accepted, rejected)
    low_arr = np.full(len(grid.buses), -np.inf)
    high_arr = np.full(len(grid.buses), np.inf)
    np.maximum.at(low_arr, bus[floor_at], price[floor_at])
    np.minimum.at(high_arr, bus[cap_at], price[cap_at])
    low = dict(zip(grid.buses, low_arr.tolist(), strict=True))
    high = dict(zip(grid.buses, high_arr.tolist(), strict=True))

    feeder = Feeder.of(grid)
    # For each bus below the root: may its price be above its parent's (flow can still
    # grow towards the bus), and may it be below (flow can still grow away)?
    links = []
    for name in feeder.order[1:]:
        index, sign = feeder.parent_line[name]
        toward = sign * flow_kwh[index]  # kWh flowing parent -> bus
        cap = grid.lines[index].capacity_kwh
        links.append((name, feeder.parent[name], toward < cap - TOL, toward > -cap + TOL))
    # A bound reaches a bus along a path that climbs to a common ancestor and descends:
    # one sweep from the leaves up, then one from the root down, carries every bound.
    for name, parent, not_full_down, not_full_up in [*reversed(links), *links]:
        if not_full_down:  # pi[bus] <= pi[parent]
            high[name] = min(high[name], high[parent])
            low[parent] = max(low[parent], low[name])
        if not_full_up:  # pi[parent] <= pi[bus]
            high[parent] = min(high[parent], high[name])
            low[name] = max(low[name], low[parent])
    return {b: _close(low[b], high[b], grid) for b in grid.buses}


def _close(low: float, high: float, grid: Grid) -> tuple[float, float]:
    """Replace an open side by the grid tariff on that side, never crossing the other."""
    if math.isinf(low):
        low = min(grid.export_price_eur_per_kwh, high)
    if math.isinf(high):
        high = max(grid.import_price_eur_per_kwh, low)
    return low, high


def columns_of(
    bids: Sequence[Bid], grid: Grid, segments: Sequence[SegmentKey],
    segment_kwh: Sequence[float],
) -> Columns:
    """The Pyomo model's segment columns as arrays, in its variable order."""
    by_id = {bid.bid_id: bid for bid in bids}
    index = {b: i for i, b in enumerate(grid.buses)}
    rows = []
    for key in segments:
        bid = by_id[key.bid_id]
        seg = bid.segments[key.index]
        rows.append((index[bid.bus], bid.side is Side.BUY, seg.price_eur_per_kwh,
                     seg.energy_kwh))
    bus, buys, price, upper = zip(*rows, strict=True) if rows else ((), (), (), ())
    return Columns(np.array(bus, dtype=np.int64), np.array(buys, dtype=bool),
                   np.array(price, dtype=float), np.array(upper, dtype=float),
                   np.asarray(segment_kwh, dtype=float))


def midpoint_prices(ranges: dict[str, tuple[float, float]]) -> dict[str, float] | None:
    """The rule's price per bus, or None if a range is empty (numerical trouble)."""
    prices = {}
    for bus, (low, high) in ranges.items():
        if low > high + 1e-9:
            return None
        prices[bus] = clean((low + high) / 2)
    return prices
