"""``clear``: one interval's book on one grid -> a ClearingResult. A pure function.

Build (``model``) -> solve (``solve``) -> prices (``pricing``) -> trades (``trades``).
The operator, the simulation and an auditor re-clearing from the ledger all call this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from voisin.errors import ClearingError, InvalidInput
from voisin.market.book import book_hash, grid_hash, require_unique_ids
from voisin.market.bulk import book_of, solve_book
from voisin.market.bulk_trades import NETTED_SPLIT_BIDS, allocate_netted
from voisin.market.dc_flow import dc_flows
from voisin.market.feeder import Feeder
from voisin.market.gate import MarketRules, check_bid
from voisin.market.model import build_model
from voisin.market.network import Network
from voisin.market.price_rule import Dispatch, nodal_prices
from voisin.market.pricing import clean, empty_book_prices
from voisin.market.solve import SolveStatus, solve, solver_version
from voisin.market.trades import allocate, congestion_rent_eur, to_trades
from voisin.protocol import Bid, ClearingResult, ClearingStatus, Grid, PricingMode, Side

ENERGY_DECIMALS = 9
"""Cleared kWh are rounded to 1e-9 (a micro-watt-hour): below that is solver noise."""
GRID_MISMATCH_KWH = 1e-6
"""Largest gap tolerated between the solver's grid exchange and the cleared bids' net."""
MATRIX_BACKEND_SEGMENTS = 200
"""``backend="auto"`` clears books with more segments than this through the matrix path
(``bulk.solve_book``); smaller ones through the readable Pyomo model (docs/clearing.md)."""
Backend = Literal["auto", "pyomo", "highs"]


def _check_book(bids: Sequence[Bid], grid: Grid, interval: str, rules: MarketRules | None) -> None:
    require_unique_ids(bids)
    buses = set(grid.buses)
    for bid in bids:
        if rules is not None:
            check_bid(bid, interval=interval, known_buses=buses, rules=rules)
            continue
        if bid.interval != interval:
            raise InvalidInput(
                f"bid {bid.bid_id!r} is for interval {bid.interval}, clearing {interval}",
                code="wrong-interval",
            )
        if bid.bus not in buses:
            raise InvalidInput(
                f"bid {bid.bid_id!r} names unknown bus {bid.bus!r}", code="unknown-bus"
            )


def _empty(grid: Grid, interval: str, ghash: str) -> ClearingResult:
    return ClearingResult(
        interval=interval,
        status=ClearingStatus.EMPTY,
        welfare_eur=0.0,
        prices_eur_per_kwh=empty_book_prices(grid),
        cleared_kwh={},
        trades=(),
        grid_import_kwh=0.0,
        grid_export_kwh=0.0,
        congestion_rent_eur=0.0,
        book_hash=book_hash([]),
        grid_hash=ghash,
        solver=solver_version(),
    )


def _welfare(
    ordered: Sequence[Bid], cleared: dict[str, float], grid: Grid, imp: float, exp: float
) -> float:
    """Buyers' value - sellers' cost - import cost + export revenue (EUR) of the rounded
    quantities; each bid's segments fill best-first, as the LP fills them."""
    welfare = grid.export_price_eur_per_kwh * exp - grid.import_price_eur_per_kwh * imp
    for bid in ordered:
        remaining = cleared[bid.bid_id]
        sign = 1.0 if bid.side is Side.BUY else -1.0
        best_first = sorted(
            bid.segments, key=lambda s: s.price_eur_per_kwh, reverse=bid.side is Side.BUY
        )
        for segment in best_first:
            used = min(remaining, segment.energy_kwh)
            remaining -= used
            welfare += sign * segment.price_eur_per_kwh * used
    return welfare


def wheeling_fees_eur(
    ordered: Sequence[Bid], cleared: dict[str, float], grid: Grid, net_import_kwh: float
) -> float:
    """Fees (EUR) the lines charge on the energy they carry, either way. The flows follow
    from the cleared kWh alone (on a tree directly, on a meshed grid by the DC model),
    so both backends charge the same."""
    if not any(line.wheeling_fee_eur_per_kwh > 0 for line in grid.lines):
        return 0.0
    injection = dict.fromkeys(grid.buses, 0.0)
    for bid in ordered:
        q = cleared[bid.bid_id]
        injection[bid.bus] += q if bid.side is Side.SELL else -q
    injection[grid.root] += net_import_kwh
    if grid.meshed:
        flows = dc_flows(grid, injection)
    else:
        flows = Feeder.of(grid).line_flows(injection, len(grid.lines))
    return sum(
        line.wheeling_fee_eur_per_kwh * abs(flow)
        for line, flow in zip(grid.lines, flows, strict=True)
    )


def _uniform(bids: Sequence[Bid], grid: Grid, interval: str, backend: Backend
             ) -> ClearingResult:
    """One price for all: the book cleared as if every bid sat at the root bus (the
    transformer limit still applies); every bus shows the root's price. The result keeps
    the real book's and grid's hashes and says it was priced uniformly."""
    single = grid.model_copy(update={"buses": (grid.root,), "lines": ()})
    moved = [bid.model_copy(update={"bus": grid.root}) for bid in bids]
    result = clear(moved, single, interval, backend=backend)
    price = result.prices_eur_per_kwh[grid.root]
    return result.model_copy(update={
        "prices_eur_per_kwh": {bus: price for bus in grid.buses},
        "book_hash": book_hash(bids),
        "grid_hash": grid_hash(grid),
        "pricing": PricingMode.UNIFORM,
    })


def clear(
    bids: Sequence[Bid],
    grid: Grid,
    interval: str,
    *,
    rules: MarketRules | None = None,
    backend: Backend = "auto",
    pricing: PricingMode = PricingMode.NODAL,
) -> ClearingResult:
    """Clear ``bids`` for ``interval`` on ``grid``, maximising welfare (EUR).

    Every bid must be for ``interval`` and at a bus of ``grid``; with ``rules`` each bid
    must also pass the gate (price floor and cap). An empty book gives status EMPTY.
    ``backend`` builds the same LP in Pyomo (``"pyomo"``) or as arrays for highspy
    (``"highs"``); ``"auto"`` picks by size. ``result.solver`` records which one ran.
    Raises ``InvalidInput`` for a bad book and ``ClearingError`` if HiGHS fails.
    """
    if backend not in ("auto", "pyomo", "highs"):
        raise InvalidInput(f"unknown clearing backend {backend!r}", code="unknown-backend")
    _check_book(bids, grid, interval, rules)
    if PricingMode(pricing) is PricingMode.UNIFORM:
        return _uniform(bids, grid, interval, backend)
    ghash = grid_hash(grid)
    if not bids:
        return _empty(grid, interval, ghash)

    segments = sum(len(bid.segments) for bid in bids)
    if backend == "highs" or (backend == "auto" and segments > MATRIX_BACKEND_SEGMENTS):
        keys, outcome = solve_book(bids, grid)
    else:
        built = build_model(bids, grid)
        keys, outcome = built.segments, solve(built)
    if outcome.status is not SolveStatus.OPTIMAL:
        raise ClearingError(f"interval {interval}: HiGHS ended {outcome.status.value}")

    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    by_id = {bid.bid_id: bid for bid in ordered}
    raw: dict[str, float] = {bid.bid_id: 0.0 for bid in ordered}
    for key, value in zip(keys, outcome.segment_kwh, strict=True):
        raw[key.bid_id] += value
    cleared = {
        bid_id: clean(min(max(value, 0.0), by_id[bid_id].energy_kwh), ENERGY_DECIMALS)
        for bid_id, value in raw.items()
    }

    # The grid exchange is what the cleared bids leave unbalanced; importing and exporting
    # at once only happens at equal prices and is netted (welfare is unchanged).
    bought = sum(q for bid_id, q in cleared.items() if by_id[bid_id].side is Side.BUY)
    sold = sum(q for bid_id, q in cleared.items() if by_id[bid_id].side is Side.SELL)
    net_import = clean(bought - sold, ENERGY_DECIMALS)
    if abs(net_import - (outcome.import_kwh - outcome.export_kwh)) > GRID_MISMATCH_KWH:
        raise ClearingError(
            f"interval {interval}: solver grid exchange disagrees with the cleared bids"
        )
    grid_import, grid_export = clean(max(net_import, 0.0)), clean(max(-net_import, 0.0))

    fees = wheeling_fees_eur(ordered, cleared, grid, net_import)
    welfare = _welfare(ordered, cleared, grid, grid_import, grid_export) - fees

    net = Network.of(grid)
    book, _ = book_of(ordered, net)
    rule, premium = nodal_prices(
        book, net, Dispatch.of(outcome),
        np.array([outcome.balance_duals[b] for b in grid.buses]), outcome.green_dual,
    )
    prices = dict(zip(grid.buses, rule.tolist(), strict=True))
    if len(ordered) > NETTED_SPLIT_BIDS:
        allocations = allocate_netted(ordered, cleared, grid)
    else:
        allocations = allocate(ordered, cleared, Feeder.of(grid))
    trades = to_trades(allocations, ordered, prices, grid.root, interval, premium)
    return ClearingResult(
        interval=interval,
        status=ClearingStatus.OPTIMAL,
        welfare_eur=clean(welfare),
        prices_eur_per_kwh=prices,
        cleared_kwh=cleared,
        trades=tuple(trades),
        grid_import_kwh=grid_import,
        grid_export_kwh=grid_export,
        congestion_rent_eur=clean(congestion_rent_eur(trades) - fees),
        book_hash=book_hash(ordered),
        grid_hash=ghash,
        solver=outcome.solver,
        wheeling_fees_eur=clean(fees),
        green_premium_eur_per_kwh=premium,
    )
