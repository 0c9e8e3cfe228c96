"""How efficient and how manipulable the clearing is, against a truthful reference.

Traders with private values (a buyer's worth of a kWh, a seller's cost) bid on one bus
between the grid's export and import prices, so the grid never pays to use and the
market is a pure double auction. ``realised_welfare`` scores an outcome at the *true*
values; the truthful LP optimum is the clearing of the true values. ``deviation_gain``
is what one trader wins by its best misreport (a grid of limit prices) while the others
bid truthfully: positive under the midpoint rule, which like every budget-balanced
efficient double auction cannot be truthful (Myerson and Satterthwaite 1983), and zero
under McAfee's trade reduction (McAfee 1992, "A dominant strategy double auction",
J. Economic Theory 56(2)), truthful in dominant strategies at the price of the least
valuable efficient trade. ``benchmarks/market_efficiency.py`` prints the tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from voisin.market.clearing import clear
from voisin.protocol import Bid, Grid, Segment, Side

INTERVAL = "2026-06-22T12:00Z"
GRID = Grid(root="R", buses=("R",), import_price_eur_per_kwh=0.30, export_price_eur_per_kwh=0.05)


@dataclass(frozen=True)
class Trader:
    """One kWh to buy (worth ``value``) or to sell (costing ``value``), EUR/kWh."""

    name: str
    side: Side
    value_eur_per_kwh: float


Outcome = dict[str, tuple[float, float]]
"""Per trader: (kWh traded, EUR/kWh it paid as a buyer or received as a seller)."""
Mechanism = Callable[[Sequence[Trader], Sequence[float]], Outcome]
"""Traders and their bid limits -> outcome."""


def random_market(rng: np.random.Generator, size: int, grid: Grid = GRID) -> list[Trader]:
    """``size`` traders, each side at random, values uniform between the grid prices."""
    low, high = grid.export_price_eur_per_kwh, grid.import_price_eur_per_kwh
    return [
        Trader(
            f"t{i}",
            Side.BUY if rng.random() < 0.5 else Side.SELL,
            round(float(rng.uniform(low, high)), 4),
        )
        for i in range(size)
    ]


def _unit_bids(traders: Sequence[Trader], limits: Sequence[float]) -> list[Bid]:
    """One 1 kWh bid per trader at its limit, all at the root bus."""
    return [
        Bid(
            bid_id=t.name,
            participant=t.name,
            bus=GRID.root,
            interval=INTERVAL,
            side=t.side,
            segments=(Segment(energy_kwh=1.0, price_eur_per_kwh=limit),),
        )
        for t, limit in zip(traders, limits, strict=True)
    ]


def midpoint(traders: Sequence[Trader], limits: Sequence[float]) -> Outcome:
    """Voisin's clearing (welfare-maximising LP, midpoint of the market-clearing prices)."""
    result = clear(_unit_bids(traders, limits), GRID, INTERVAL, backend="highs")
    money: dict[str, float] = {}
    for trade in result.trades:
        if trade.buyer_bid_id:
            money[trade.buyer_bid_id] = money.get(trade.buyer_bid_id, 0.0) + trade.paid_eur
        if trade.seller_bid_id:
            money[trade.seller_bid_id] = money.get(trade.seller_bid_id, 0.0) + trade.received_eur
    out: Outcome = {}
    for t in traders:
        kwh = result.cleared_kwh.get(t.name, 0.0)
        out[t.name] = (kwh, money.get(t.name, 0.0) / kwh if kwh > 0 else 0.0)
    return out


def mcafee(traders: Sequence[Trader], limits: Sequence[float]) -> Outcome:
    """McAfee's trade reduction on unit bids: with buyers' limits b(1) >= b(2) >= ... and
    sellers' s(1) <= s(2) <= ..., k the number of efficient trades and p0 = (b(k+1) +
    s(k+1)) / 2 (a missing k+1-th taken as the grid bound), all k trade at p0 when
    s(k) <= p0 <= b(k); otherwise k - 1 trade, buyers paying b(k), sellers receiving s(k).
    Ties are broken by name."""
    buyers = sorted(
        (t for t in zip(limits, traders, strict=True) if t[1].side is Side.BUY),
        key=lambda x: (-x[0], x[1].name),
    )
    sellers = sorted(
        (t for t in zip(limits, traders, strict=True) if t[1].side is Side.SELL),
        key=lambda x: (x[0], x[1].name),
    )
    k = 0
    while k < min(len(buyers), len(sellers)) and buyers[k][0] >= sellers[k][0]:
        k += 1
    out: Outcome = {t.name: (0.0, 0.0) for t in traders}
    if k == 0:
        return out
    b_next = buyers[k][0] if k < len(buyers) else GRID.export_price_eur_per_kwh
    s_next = sellers[k][0] if k < len(sellers) else GRID.import_price_eur_per_kwh
    p0 = (b_next + s_next) / 2
    if sellers[k - 1][0] <= p0 <= buyers[k - 1][0]:
        for i in range(k):
            out[buyers[i][1].name] = (1.0, p0)
            out[sellers[i][1].name] = (1.0, p0)
        return out
    for i in range(k - 1):
        out[buyers[i][1].name] = (1.0, buyers[k - 1][0])
        out[sellers[i][1].name] = (1.0, sellers[k - 1][0])
    return out


def utility(trader: Trader, outcome: Outcome) -> float:
    kwh, price = outcome[trader.name]
    gain = (
        trader.value_eur_per_kwh - price
        if trader.side is Side.BUY
        else price - trader.value_eur_per_kwh
    )
    return kwh * gain


def realised_welfare(traders: Sequence[Trader], outcome: Outcome) -> float:
    """Buyers' true value minus sellers' true cost of what traded, plus what the grid
    legs cost or earned (EUR): energy bought beyond what was sold came from the grid."""
    bought = sum(outcome[t.name][0] for t in traders if t.side is Side.BUY)
    sold = sum(outcome[t.name][0] for t in traders if t.side is Side.SELL)
    value = sum(
        outcome[t.name][0] * t.value_eur_per_kwh * (1 if t.side is Side.BUY else -1)
        for t in traders
    )
    grid = GRID.import_price_eur_per_kwh if bought > sold else GRID.export_price_eur_per_kwh
    return value - grid * (bought - sold)


def optimum(traders: Sequence[Trader]) -> float:
    """The truthful LP optimum: the clearing's welfare on the true values."""
    bids = _unit_bids(traders, [t.value_eur_per_kwh for t in traders])
    return float(clear(bids, GRID, INTERVAL, backend="highs").welfare_eur) if bids else 0.0


def deviation_gain(
    traders: Sequence[Trader], who: int, mechanism: Mechanism, levels: int = 11
) -> float:
    """What trader ``who`` gains (EUR) by its best limit among ``levels`` evenly spaced
    between the grid prices, the others bidding their values; 0 if truth is best."""
    truthful = [t.value_eur_per_kwh for t in traders]
    me = traders[who]
    honest = utility(me, mechanism(traders, truthful))
    best = honest
    low, high = GRID.export_price_eur_per_kwh, GRID.import_price_eur_per_kwh
    for limit in np.linspace(low, high, levels).tolist():
        limits = list(truthful)
        limits[who] = round(limit, 6)
        best = max(best, utility(me, mechanism(traders, limits)))
    return best - honest


@dataclass(frozen=True)
class Manipulability:
    """Over random markets: the mean and largest gain of one trader's best deviation
    (EUR per market), the share of markets where deviating paid, and the welfare of
    truthful bids as a share of the LP optimum."""

    mechanism: str
    mean_gain_eur: float
    max_gain_eur: float
    profitable_share: float
    truthful_efficiency: float


def manipulability(seed: int, markets: int, size: int, levels: int = 11) -> list[Manipulability]:
    """The deviation study for the midpoint rule and McAfee's trade reduction, on the
    same random markets (one deviating trader each, drawn at random)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(markets):
        traders = random_market(rng, size)
        cases.append((traders, int(rng.integers(0, size))))
    rows = []
    for name, mechanism in (("midpoint", midpoint), ("mcafee", mcafee)):
        gains, realised, best = [], 0.0, 0.0
        for traders, who in cases:
            gains.append(deviation_gain(traders, who, mechanism, levels))
            truthful = [t.value_eur_per_kwh for t in traders]
            realised += realised_welfare(traders, mechanism(traders, truthful))
            best += optimum(traders)
        rows.append(
            Manipulability(
                name,
                float(np.mean(gains)),
                float(np.max(gains)),
                float(np.mean(np.array(gains) > 1e-9)),
                realised / best if best > 0 else 1.0,
            )
        )
    return rows
