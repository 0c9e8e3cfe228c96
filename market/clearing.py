"""``clear``: one interval's book on one grid -> a ClearingResult. A pure function.

Build and solve (``engine``: the ``formulation`` LP, Pyomo or highspy) -> published
quantities (``publish``) -> prices and their parts (``price_rule``, ``dlmp``) -> trades
(``trades``, ``bulk_trades``) -> the predicted grid state (``grid_state``). The
operator, the simulation and an auditor re-clearing from the ledger all call this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Literal

import numpy as np

from voisin.errors import InvalidInput
from voisin.market.book import book_hash, grid_hash, ordered_book_hash, require_unique_ids
from voisin.market.bulk_trades import NETTED_SPLIT_BIDS, as_split, split_netted, split_trades
from voisin.market.dlmp import COMPONENTS
from voisin.market.engine import Backend as Engine
from voisin.market.engine import Outcome, run_interval
from voisin.market.feeder import Feeder
from voisin.market.formulation import Conditions
from voisin.market.gate import MarketRules, check_bid
from voisin.market.grid_state import grid_state
from voisin.market.network import Network
from voisin.market.price_rule import POSITIONS
from voisin.market.pricing import PRICE_DECIMALS, clean, empty_book_prices
from voisin.market.publish import Published, publish
from voisin.market.segments import BidColumns, SegmentBook, book_of
from voisin.market.solver_info import solver_version
from voisin.market.trades import (
    SLIVER_KWH,
    allocate,
    congestion_rent_eur,
    grid_served_first,
    local_charges_eur,
    to_trades,
)
from voisin.market.upstream import Upstream, cleared_at
from voisin.protocol import (
    BidView,
    ClearingResult,
    ClearingStatus,
    Grid,
    LocalCharges,
    PricingMode,
)
from voisin.protocol.compact import as_bid
from voisin.protocol.trade_table import TradeTable
from voisin.protocol.trades import bid_kind

MATRIX_BACKEND_SEGMENTS = 200
"""``backend="auto"`` clears books with more segments than this through highspy
directly; smaller ones through the readable Pyomo model (docs/clearing.md)."""
Backend = Literal["auto", "pyomo", "highs"]
BusPower = Mapping[str, tuple[float, float]]
"""Per bus, (P kW, Q kvar) injected into it (negative: drawn from it)."""


def _losses_in_exchange(outcome: Outcome, out: Published) -> float:
    """What the LP's exchange at the transformer carries beyond the published net import:
    the feeder's losses (0 on a transport feeder)."""
    exchange = float(outcome.values("grid_import").sum() - outcome.values("grid_export").sum())
    return clean(exchange - (out.grid_import_kwh - out.grid_export_kwh), 9)


def _check_book(
    bids: Sequence[BidView], grid: Grid, interval: str, rules: MarketRules | None
) -> None:
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


def _uniform(
    bids: Sequence[BidView],
    grid: Grid,
    interval: str,
    backend: Backend,
    charges: Mapping[str, float] | None,
) -> ClearingResult:
    """One price for all: the book cleared as if every bid sat at the root bus (the
    transformer limit still applies); every bus shows the root's price. The result keeps
    the real book's and grid's hashes and says it was priced uniformly."""
    if grid.physical:
        raise InvalidInput(
            "uniform pricing ignores the feeder's lines; a physical grid is "
            "cleared with nodal prices",
            code="bad-pricing",
        )
    single = grid.model_copy(update={"buses": (grid.root,), "lines": ()})
    moved = [as_bid(bid).model_copy(update={"bus": grid.root}) for bid in bids]
    result = clear(moved, single, interval, backend=backend, charges=charges)
    price = result.prices_eur_per_kwh[grid.root]
    return result.model_copy(
        update={
            "prices_eur_per_kwh": {bus: price for bus in grid.buses},
            "price_parts_eur_per_kwh": {},
            "book_hash": book_hash(bids),
            "grid_hash": grid_hash(grid),
            "pricing": PricingMode.UNIFORM,
        }
    )


def conditions_for(
    grid: Grid,
    net: Network,
    rules: MarketRules | None,
    minutes: int,
    base: BusPower | None,
    voltage_limits: bool = True,
) -> Conditions:
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
        hours=hours,
        base_p_kwh=base_p,
        base_q_kvarh=base_q,
        curtailment_eur_per_kwh=grid.export_price_eur_per_kwh if kappa is None else kappa,
        shedding_eur_per_kwh=chosen.shedding_eur_per_kwh,
        voltage_limits=voltage_limits,
        loss_passes=chosen.loss_passes,
        voltage_margin_pu=chosen.voltage_margin_pu,
    )


def import_credit(outcome: Outcome) -> float:
    """The import credit's dual (EUR/kWh, rounded; 0 without per-buyer charges): what
    the marginal buyer the upstream grid serves is spared per kWh (``formulation``)."""
    program = outcome.program
    if not program.has("import_credit"):
        return 0.0
    dual = float(outcome.prices.dual[program.rows("import_credit")][0])
    return round(max(dual, 0.0), PRICE_DECIMALS) + 0.0


def bid_prices(book: SegmentBook, outcome: Outcome) -> np.ndarray:
    """Each bid's settlement price (EUR/kWh, bid order), before any green premium.

    What a bid's cleared kWh is worth at the optimum is the dual value of its column:
    a' y over the rows it enters (its bus's balance, the reactive balance when it draws
    or absorbs Q, its inflexible position), complementary slackness making this price
    individually rational for every bid. A seller receives -a'y, a buyer pays a'y. For
    a flexible bid at unity power factor that is just its bus price."""
    program = outcome.program
    dual = outcome.prices.dual.copy()
    if program.has("green"):
        dual[program.rows("green")] = 0.0  # the premium is added on its own
    if program.has("served"):
        dual[program.rows("served")] = 0.0  # so is a buyer's excess charge (LocalCharges)
    if outcome.conditions.inflexible_by_price:  # matched after the prices, at them
        for name in POSITIONS:
            if program.has(name):
                dual[program.rows(name)] = 0.0
    start, index, value = program.csc()
    first = np.searchsorted(book.bid, np.arange(book.bid_count))
    columns = program.cols("q").start + first
    counts = start[columns + 1] - start[columns]
    owner = np.repeat(np.arange(len(columns)), counts)
    at = np.repeat(start[columns] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    worth = np.bincount(owner, dual[index[at]] * value[at], minlength=len(columns))
    return np.round(np.where(book.sell[first], -worth, worth), PRICE_DECIMALS) + 0.0


def _settlement_prices(
    ordered: Sequence[BidView], prices: np.ndarray, bus_price: dict[str, float]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per bid id, its price less its bus price (only where they differ); per bus, the
    price of each kind of bid found there when it is not the bus price."""
    adjust: dict[str, float] = {}
    by_bus: dict[str, dict[str, float]] = {}
    at_bus = np.array([bus_price[bid.bus] for bid in ordered], dtype=float)
    # A bid priced at its bus price to the last bit has no gap: only the others (few of
    # 10^5 bids) are looked at one by one.
    for k in np.flatnonzero(prices != at_bus).tolist():
        bid, price = ordered[k], float(prices[k])
        gap = clean(price - bus_price[bid.bus])
        if gap == 0:
            continue
        adjust[bid.bid_id] = gap
        by_bus.setdefault(bid.bus, {})[bid_kind(bid)] = price
    return adjust, {bus: dict(sorted(v.items())) for bus, v in sorted(by_bus.items())}


def _by_participant(ordered: Sequence[BidView], per_bid: Mapping[int, float]) -> dict[str, float]:
    """kWh per bid index summed per participant id (the order the feeder gives it)."""
    total: dict[str, float] = {}
    for index, kwh in sorted(per_bid.items()):
        pid = ordered[index].participant
        total[pid] = clean(total.get(pid, 0.0) + kwh, 9)
    return dict(sorted(total.items()))


def clear(
    bids: Sequence[BidView],
    grid: Grid,
    interval: str,
    *,
    rules: MarketRules | None = None,
    backend: Backend = "auto",
    pricing: PricingMode = PricingMode.NODAL,
    minutes: int = 15,
    base: BusPower | None = None,
    voltage_limits: bool = True,
    gate: bool = True,
    upstream: Upstream | None = None,
    charges: Mapping[str, float] | None = None,
) -> ClearingResult:
    """Clear ``bids`` for ``interval`` on ``grid``, maximising welfare (EUR).

    Every bid must be for ``interval`` and at a bus of ``grid``; with ``rules`` each bid
    must also pass the gate (price floor and cap) unless ``gate`` is False (the
    operator's book passed it at intake, and contracts add bids of their own); the
    rules' curtailment, shedding and loss settings apply either way. ``minutes`` is the
    interval's length (it turns kWh into kW for the physics); ``base`` each bus's
    forecast injection that is not in the book. An empty book gives status EMPTY.
    ``backend`` solves the same LP through Pyomo (``"pyomo"``) or highspy directly
    (``"highs"``); ``"auto"`` picks by size. The bids are ``Bid`` models or the
    operator's ``CompactBid`` rows (hashed from the bytes they arrived as).
    ``upstream`` (a feeder of a city) replaces the grid's import and export prices by
    the city's price and makes the feeder take the city's allocation
    (``market.upstream``); the grid hash stays the recorded grid's. ``charges`` (by
    participant, ``protocol.own_charges`` of the registrations) are buyers' own local
    charges where they differ from the grid's (docs/economics.md). Raises
    ``InvalidInput`` for a bad book and ``ClearingError`` if HiGHS fails.
    """
    if backend not in ("auto", "pyomo", "highs"):
        raise InvalidInput(f"unknown clearing backend {backend!r}", code="unknown-backend")
    _check_book(bids, grid, interval, rules if gate else None)
    if PricingMode(pricing) is PricingMode.UNIFORM:
        if upstream is not None:
            raise InvalidInput("a city's feeder is cleared with nodal prices", code="bad-pricing")
        return _uniform(bids, grid, interval, backend, charges)
    ghash = grid_hash(grid)
    if not bids:
        return _empty(grid, interval, ghash)

    net = Network.of(grid)
    ordered = sorted(bids, key=attrgetter("bid_id"))
    columns = BidColumns.of(ordered, net.buses)
    book = book_of(ordered, net, charges, columns)
    engine: Engine = (
        "highs"
        if backend == "highs"
        or (backend == "auto" and book.segment_count > MATRIX_BACKEND_SEGMENTS)
        else "pyomo"
    )
    conditions = conditions_for(grid, net, rules, minutes, base, voltage_limits)
    if upstream is None:
        outcome = run_interval(book, net, conditions, backend=engine)
    else:
        net = upstream.network(net)
        outcome = cleared_at(
            upstream, conditions, lambda cond: run_interval(book, net, cond, backend=engine)
        )
        conditions = outcome.conditions
    out: Published = publish(book, net, outcome, interval)
    cleared = dict(zip(columns.ids, out.cleared_kwh.tolist(), strict=True))
    prices = dict(zip(grid.buses, outcome.prices.bus_eur_per_kwh.tolist(), strict=True))
    premium = outcome.prices.green_premium_eur_per_kwh
    adjust, settlement = _settlement_prices(ordered, bid_prices(book, outcome), prices)
    local = LocalCharges.of(
        ordered, charges or {}, grid.local_charge_eur_per_kwh, import_credit(outcome)
    )
    served = {
        ordered[i].bid_id: kwh
        for i, kwh in enumerate(out.grid_served_kwh.tolist())
        if kwh >= SLIVER_KWH
    }
    # The grid-served imports stand apart; the split (and its pairing) takes the rest.
    lead, left = grid_served_first(ordered, cleared, served)
    tables: list[TradeTable] = []
    if len(ordered) > NETTED_SPLIT_BIDS:  # in bulk: arrays to a table, no Allocation
        splits = [as_split(ordered, lead)] if lead else []
        for split in [*splits, split_netted(ordered, left, grid, columns)]:
            tables.append(
                split_trades(
                    split, ordered, prices, grid.root, interval, premium, adjust, local, columns
                )
            )
    else:
        pieces = [lead] if lead else []
        for allocations in [*pieces, allocate(ordered, left, Feeder.of(grid))]:
            tables.append(
                TradeTable.of(
                    to_trades(
                        allocations, ordered, prices, grid.root, interval, premium, adjust, local
                    )
                )
            )
    trades = TradeTable.concat(tables)
    local_eur = clean(local_charges_eur(trades, local))
    parts = outcome.parts
    return ClearingResult(
        interval=interval,
        status=ClearingStatus.OPTIMAL,
        welfare_eur=out.welfare_eur,
        prices_eur_per_kwh=prices,
        cleared_kwh=cleared,
        trades=trades,
        grid_import_kwh=out.grid_import_kwh,
        grid_export_kwh=out.grid_export_kwh,
        congestion_rent_eur=clean(congestion_rent_eur(trades) - out.wheeling_fees_eur - local_eur),
        book_hash=ordered_book_hash(ordered),
        grid_hash=ghash,
        solver=outcome.solution.solver,
        wheeling_fees_eur=out.wheeling_fees_eur,
        local_charges_eur=local_eur,
        import_credit_eur_per_kwh=local.import_credit_eur_per_kwh,
        green_premium_eur_per_kwh=premium,
        price_parts_eur_per_kwh={
            bus: {name: float(parts.parts[k, b]) for k, name in enumerate(COMPONENTS)}
            for b, bus in enumerate(grid.buses)
        },
        settlement_prices_eur_per_kwh=settlement,
        curtailed_kwh=_by_participant(ordered, out.curtailed_kwh),
        shed_kwh=_by_participant(ordered, out.shed_kwh),
        curtailment_eur=out.curtailment_eur,
        rest_kwh=out.rest_kwh,
        rest_eur=out.rest_eur,
        losses_kwh=_losses_in_exchange(outcome, out) if upstream is not None else 0.0,
        physics=grid_state(grid, net, outcome, conditions),
    )
