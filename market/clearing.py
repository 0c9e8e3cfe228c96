"""``clear``: one interval's book on one grid -> a ClearingResult. A pure function.

Build and solve (``engine``: the ``formulation`` LP, Pyomo or highspy) -> published
quantities (``publish``) -> prices and their parts (``price_rule``, ``dlmp``) -> trades
(``trades``, ``bulk_trades``) -> the predicted grid state (``grid_state``). The
operator, the simulation and an auditor re-clearing from the ledger all call this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from voisin.errors import InvalidInput
from voisin.market.book import book_hash, grid_hash, require_unique_ids
from voisin.market.bulk_trades import NETTED_SPLIT_BIDS, allocate_netted
from voisin.market.dlmp import COMPONENTS
from voisin.market.engine import Backend as Engine
from voisin.market.engine import Outcome, run_interval
from voisin.market.feeder import Feeder
from voisin.market.formulation import Conditions, position_buses
from voisin.market.gate import MarketRules, check_bid
from voisin.market.grid_state import grid_state
from voisin.market.lp_pyomo import solver_version
from voisin.market.network import Network
from voisin.market.pricing import clean, empty_book_prices
from voisin.market.publish import Published, publish
from voisin.market.segments import SegmentBook, book_of
from voisin.market.trades import allocate, congestion_rent_eur, to_trades
from voisin.protocol import Bid, ClearingResult, ClearingStatus, Grid, PricingMode, Side

MATRIX_BACKEND_SEGMENTS = 200
"""``backend="auto"`` clears books with more segments than this through highspy
directly; smaller ones through the readable Pyomo model (docs/clearing.md)."""
Backend = Literal["auto", "pyomo", "highs"]
BusPower = Mapping[str, tuple[float, float]]
"""Per bus, (P kW, Q kvar) injected into it (negative: drawn from it)."""


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


def _uniform(bids: Sequence[Bid], grid: Grid, interval: str, backend: Backend
             ) -> ClearingResult:
    """One price for all: the book cleared as if every bid sat at the root bus (the
    transformer limit still applies); every bus shows the root's price. The result keeps
    the real book's and grid's hashes and says it was priced uniformly."""
    if grid.physical:
        raise InvalidInput("uniform pricing ignores the feeder's lines; a physical grid is "
                           "cleared with nodal prices", code="bad-pricing")
    single = grid.model_copy(update={"buses": (grid.root,), "lines": ()})
    moved = [bid.model_copy(update={"bus": grid.root}) for bid in bids]
    result = clear(moved, single, interval, backend=backend)
    price = result.prices_eur_per_kwh[grid.root]
    return result.model_copy(update={
        "prices_eur_per_kwh": {bus: price for bus in grid.buses},
        "price_parts_eur_per_kwh": {},
        "book_hash": book_hash(bids),
        "grid_hash": grid_hash(grid),
        "pricing": PricingMode.UNIFORM,
    })


def conditions_for(grid: Grid, net: Network, rules: MarketRules | None, minutes: int,
                   base: BusPower | None, voltage_limits: bool = True) -> Conditions:
    """The clearing's non-bid inputs, in the LP's units (kWh per interval)."""
    if not 1 <= minutes <= 1440:
        raise InvalidInput(f"interval length {minutes} min is out of range", code="bad-interval")
    hours = minutes / 60.0
    base_p = np.zeros(net.bus_count)
    base_q = np.zeros(net.bus_count)
    index = {bus: i for i, bus in enumerate(grid.buses)}
    for bus, (p_kw, q_kvar) in (base or {}).items():
        if bus not in index:
            raise InvalidInput(f"base injection at unknown bus {bus!r}", code="unknown-bus")
        if not (np.isfinite(p_kw) and np.isfinite(q_kvar)):
            raise InvalidInput(f"base injection at {bus!r} must be finite", code="bad-book")
        base_p[index[bus]] += p_kw * hours
        base_q[index[bus]] += q_kvar * hours
    chosen = rules or MarketRules()
    kappa = chosen.curtailment_eur_per_kwh
    return Conditions(
        hours=hours, base_p_kwh=base_p, base_q_kvarh=base_q,
        curtailment_eur_per_kwh=grid.export_price_eur_per_kwh if kappa is None else kappa,
        shedding_eur_per_kwh=chosen.shedding_eur_per_kwh, voltage_limits=voltage_limits,
    )


def _adjustments(ordered: Sequence[Bid], book: SegmentBook, net: Network, outcome: Outcome
                 ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per inflexible bid id, what is added to its bus price; and per bus the price its
    inflexible offers and needs settle at."""
    sell_buses, buy_buses = position_buses(book, net)
    prices = outcome.prices
    by_side = {
        Side.SELL: dict(zip(sell_buses.tolist(), prices.sell_adjustment.tolist(), strict=True)),
        Side.BUY: dict(zip(buy_buses.tolist(), prices.buy_adjustment.tolist(), strict=True)),
    }
    index = {bus: i for i, bus in enumerate(net.buses)}
    by_bid: dict[str, float] = {}
    by_bus: dict[str, dict[str, float]] = {}
    for bid in ordered:
        if not bid.inflexible:
            continue
        bus = index[bid.bus]
        by_bid[bid.bid_id] = by_side[bid.side][bus]
        by_bus.setdefault(bid.bus, {})[bid.side.value] = clean(
            float(prices.bus_eur_per_kwh[bus]) + by_bid[bid.bid_id])
    return by_bid, {bus: dict(sorted(v.items())) for bus, v in sorted(by_bus.items())}


def clear(
    bids: Sequence[Bid],
    grid: Grid,
    interval: str,
    *,
    rules: MarketRules | None = None,
    backend: Backend = "auto",
    pricing: PricingMode = PricingMode.NODAL,
    minutes: int = 15,
    base: BusPower | None = None,
    voltage_limits: bool = True,
) -> ClearingResult:
    """Clear ``bids`` for ``interval`` on ``grid``, maximising welfare (EUR).

    Every bid must be for ``interval`` and at a bus of ``grid``; with ``rules`` each bid
    must also pass the gate (price floor and cap). ``minutes`` is the interval's length
    (it turns kWh into kW for the physics); ``base`` each bus's forecast injection that
    is not in the book. An empty book gives status EMPTY. ``backend`` solves the same
    LP through Pyomo (``"pyomo"``) or highspy directly (``"highs"``); ``"auto"`` picks
    by size. Raises ``InvalidInput`` for a bad book and ``ClearingError`` if HiGHS fails.
    """
    if backend not in ("auto", "pyomo", "highs"):
        raise InvalidInput(f"unknown clearing backend {backend!r}", code="unknown-backend")
    _check_book(bids, grid, interval, rules)
    if PricingMode(pricing) is PricingMode.UNIFORM:
        return _uniform(bids, grid, interval, backend)
    ghash = grid_hash(grid)
    if not bids:
        return _empty(grid, interval, ghash)

    net = Network.of(grid)
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    book = book_of(ordered, net)
    engine: Engine = "highs" if backend == "highs" or (
        backend == "auto" and book.segment_count > MATRIX_BACKEND_SEGMENTS) else "pyomo"
    conditions = conditions_for(grid, net, rules, minutes, base, voltage_limits)
    outcome = run_interval(book, net, conditions, backend=engine)
    out: Published = publish(book, net, outcome, interval)
    ids = [bid.bid_id for bid in ordered]
    cleared = dict(zip(ids, out.cleared_kwh.tolist(), strict=True))
    prices = dict(zip(grid.buses, outcome.prices.bus_eur_per_kwh.tolist(), strict=True))
    premium = outcome.prices.green_premium_eur_per_kwh
    adjust, inflexible_prices = _adjustments(ordered, book, net, outcome)
    if len(ordered) > NETTED_SPLIT_BIDS:
        allocations = allocate_netted(ordered, cleared, grid)
    else:
        allocations = allocate(ordered, cleared, Feeder.of(grid))
    trades = to_trades(allocations, ordered, prices, grid.root, interval, premium, adjust)
    parts = outcome.parts
    return ClearingResult(
        interval=interval,
        status=ClearingStatus.OPTIMAL,
        welfare_eur=out.welfare_eur,
        prices_eur_per_kwh=prices,
        cleared_kwh=cleared,
        trades=tuple(trades),
        grid_import_kwh=out.grid_import_kwh,
        grid_export_kwh=out.grid_export_kwh,
        congestion_rent_eur=clean(congestion_rent_eur(trades) - out.wheeling_fees_eur),
        book_hash=book_hash(ordered),
        grid_hash=ghash,
        solver=outcome.solution.solver,
        wheeling_fees_eur=out.wheeling_fees_eur,
        green_premium_eur_per_kwh=premium,
        price_parts_eur_per_kwh={
            bus: {name: float(parts.parts[k, b]) for k, name in enumerate(COMPONENTS)}
            for b, bus in enumerate(grid.buses)
        },
        inflexible_prices_eur_per_kwh=inflexible_prices,
        curtailed_kwh={ids[i]: v for i, v in out.curtailed_kwh.items()},
        shed_kwh={ids[i]: v for i, v in out.shed_kwh.items()},
        curtailment_eur=out.curtailment_eur,
        physics=grid_state(grid, net, outcome, conditions),
    )
