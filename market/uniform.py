"""The classic uniform-price double auction, with no network: the reference market.

Buy segments are sorted by limit high to low, sell segments low to high, and units
clear while the buyer's limit is at least the seller's. The upstream grid enters as two
extra offers at the root: a sell offer at the import price and a buy bid at the export
price, each limited by the transformer (or by the volume the other side could use).
With no binding line the network clearing must reach the same welfare; property tests
and benchmarks use this as the yardstick. Numpy arrays, O(n log n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voisin.protocol import Bid, Grid, Side


@dataclass(frozen=True)
class UniformResult:
    """Welfare (EUR), cleared kWh per bid id, net grid exchange (kWh), and the range of
    uniform prices (EUR/kWh) that support the outcome."""

    welfare_eur: float
    cleared_kwh: dict[str, float]
    grid_import_kwh: float
    grid_export_kwh: float
    price_low_eur_per_kwh: float
    price_high_eur_per_kwh: float


def _fill(quantity: np.ndarray, total: float) -> np.ndarray:
    """Accept ``total`` kWh from units already in merit order, the marginal one in part."""
    before = np.cumsum(quantity) - quantity
    return np.asarray(np.clip(total - before, 0.0, quantity))


def uniform_auction(bids: Sequence[Bid], grid: Grid) -> UniformResult:
    """Clear ``bids`` as if every bus were the root; ``grid`` gives only the grid offers."""
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    rows = [
        (bid.bid_id, bid.side, seg.energy_kwh, seg.price_eur_per_kwh)
        for bid in ordered
        for seg in bid.segments
    ]
    buy_q = np.array([r[2] for r in rows if r[1] is Side.BUY], dtype=float)
    buy_p = np.array([r[3] for r in rows if r[1] is Side.BUY], dtype=float)
    sell_q = np.array([r[2] for r in rows if r[1] is Side.SELL], dtype=float)
    sell_p = np.array([r[3] for r in rows if r[1] is Side.SELL], dtype=float)
    limit = grid.transformer_capacity_kwh
    # An unlimited grid offer only needs to exceed what the other side could ever take;
    # the extra kWh keeps it from looking fully used when it is not.
    grid_sell = float(buy_q.sum()) + 1.0
    grid_buy = float(sell_q.sum()) + 1.0
    if limit is not None:
        grid_sell, grid_buy = min(limit, grid_sell), min(limit, grid_buy)
    # The grid comes last among equal prices (stable sort keeps it after local bids).
    buy_q = np.append(buy_q, grid_buy)
    buy_p = np.append(buy_p, grid.export_price_eur_per_kwh)
    sell_q = np.append(sell_q, grid_sell)
    sell_p = np.append(sell_p, grid.import_price_eur_per_kwh)
    buy_order = np.argsort(-buy_p, kind="stable")
    sell_order = np.argsort(sell_p, kind="stable")
    bq, bp = buy_q[buy_order], buy_p[buy_order]
    sq, sp = sell_q[sell_order], sell_p[sell_order]

    # Traded volume: the largest Q whose Q-th unit's buyer limit >= seller limit; it is
    # max over candidate prices p (the sell limits) of min(demand at p, supply at p).
    demand_at = np.cumsum(bq)[::-1]  # demand at price >= bp, by ascending bp
    demand_prices = bp[::-1]
    index = np.searchsorted(demand_prices, sp, side="left")
    demand = np.where(
        index < len(demand_prices), demand_at[np.minimum(index, len(demand_prices) - 1)], 0.0
    )
    supply = np.cumsum(sq)
    volume = float(np.max(np.minimum(demand, supply), initial=0.0))

    bought = _fill(bq, volume)
    sold = _fill(sq, volume)
    welfare = float(bp @ bought - sp @ sold)

    buy_kwh = np.empty_like(bought)
    buy_kwh[buy_order] = bought
    sell_kwh = np.empty_like(sold)
    sell_kwh[sell_order] = sold
    grid_import, grid_export = float(sell_kwh[-1]), float(buy_kwh[-1])
    net = grid_import - grid_export
    cleared: dict[str, float] = {bid.bid_id: 0.0 for bid in ordered}
    buy_iter, sell_iter = iter(buy_kwh[:-1].tolist()), iter(sell_kwh[:-1].tolist())
    for bid_id, side, _, _ in rows:
        cleared[bid_id] += next(buy_iter) if side is Side.BUY else next(sell_iter)

    low, high = _price_range(bp, bought, bq, sp, sold, sq)
    return UniformResult(welfare, cleared, max(net, 0.0), max(-net, 0.0), low, high)


def _price_range(
    bp: np.ndarray,
    bought: np.ndarray,
    bq: np.ndarray,
    sp: np.ndarray,
    sold: np.ndarray,
    sq: np.ndarray,
) -> tuple[float, float]:
    """Uniform prices consistent with the outcome: accepted buyers and rejected sellers
    at or above it from one side, accepted sellers and rejected buyers from the other."""
    eps = 1e-12
    low_bounds = [sp[sold > eps], bp[bought < bq - eps]]
    high_bounds = [bp[bought > eps], sp[sold < sq - eps]]
    low = max((float(a.max()) for a in low_bounds if a.size), default=-np.inf)
    high = min((float(a.min()) for a in high_bounds if a.size), default=np.inf)
    return low, high
