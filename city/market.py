"""The two-level market: feeders clear locally, the city clears their residual curves.

Per interval:

1. each feeder's market is turned into its **residual curve** ``V_f`` (``residual``):
   its own clearing LP's optimal welfare as a function of its exchange ``x_f`` at the
   substation, with inflexible positions out of the LP's matching and all their energy
   in that exchange (``Conditions.retailer_takes_rest = False``: in a city the city
   market, not a retailer at each feeder's edge, takes what a feeder cannot match;
   ``Conditions.inflexible_by_price``: their limits move no flow and no curve);
2. the city clears those curves as **ordinary bids** at each feeder's MV bus on the MV
   network, with the same clearing (``market.bulk.clear_arrays``: the same LP, price
   rule and trade split; MV lines and the HV/MV transformer are its limits, the national
   grid is the city root's import and export): a piece of ``V_f`` above the reference
   exchange ``x0 = clip(0, range)`` is a buy segment at its slope, one below a sell
   segment; where the curve lies on one side of 0 (a feeder that must export, or
   import, whatever the price: storage on a schedule, PV it cannot curtail) ``x0`` is
   a bid of its own at a price beyond every slope (``must_prices``), so the LP always
   fills it and it may serve another feeder; the feeder's non-participants are a fixed
   injection (``base``) at the bus;
3. each feeder **re-clears** at its city price ``lambda_f`` (import and export) with
   its exchange pinned to the city's allocation ``x_f`` (``Conditions.exchange_kwh``),
   which publishes its prices, quantities and trades for the interval.

Why this is exact. Feeders share nothing but the MV network, and each meets it only
through ``x_f``; so the city-wide LP (every feeder's lines below its MV bus, one
upstream node at the city root) equals ``max sum_f V_f(x_f) + root terms`` subject to
the MV limits, which is what step 2 solves: ``V_f`` is concave piecewise linear, so its
pieces as stepped bids represent it without error (the LP fills the dearest buy pieces
first). Step 3's optimum is ``V_f(x_f)``, and any price inside ``V_f``'s slopes at
``x_f`` supports it; ``lambda_f`` is such a price (complementary slackness of step 2).
What is left is numerical: the breakpoints carry the solver's 1e-7 tolerances, the
published quantities their 1e-9 rounding. A physical feeder with loss passes is one LP
per pass, each linearised around the previous optimum: its curve is then exact for the
final linearisation at each price, not for the iterated map (``docs/city.md``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from voisin.city.residual import FeederMarket, ResidualCurve, residual_curve
from voisin.errors import ClearingError
from voisin.market.bulk import ArrayClearing, arrays_of, clear_arrays
from voisin.market.engine import run_interval
from voisin.market.formulation import Conditions
from voisin.market.network import Network
from voisin.market.segments import SegmentBook
from voisin.market.upstream import Upstream, cleared_at


@dataclass(frozen=True, eq=False)
class CityBook:
    """The city's order book: every feeder's curve as at most a sell and a buy bid.

    ``feeder_of_bid[i]`` is the feeder bid ``i`` belongs to; ``reference_kwh[f]`` its
    ``x0``, where the book's pieces start; ``must_bid[f]`` the bid that is ``x0`` itself
    when it is not 0 (-1 otherwise; priced by ``must_prices``)."""

    book: SegmentBook
    conditions: Conditions
    feeder_of_bid: np.ndarray
    reference_kwh: np.ndarray
    must_bid: np.ndarray


@dataclass(frozen=True, eq=False)
class TwoLevelResult:
    """One interval of a city. Units: kWh, EUR/kWh, EUR.

    ``welfare_eur`` is the city's total: every feeder's local welfare ``V_f(x_f)`` plus
    the city root's exchange with the national grid (and MV fees)."""

    curves: tuple[ResidualCurve, ...]
    city_book: CityBook
    city: ArrayClearing
    exchange_kwh: np.ndarray
    price_eur_per_kwh: np.ndarray
    feeders: tuple[ArrayClearing, ...]
    welfare_eur: float


def city_book(
    curves: Sequence[ResidualCurve],
    base_kwh: Sequence[float],
    buses: Sequence[int],
    mv: Network,
    conditions: Conditions,
) -> CityBook:
    """The curves as stepped bids (module docstring, step 2). A feeder's
    non-participants (``base_kwh``, ``base_of``) are served from upstream outside its market, as
    they are on a lone feeder; in the city their energy crosses the MV network, so it
    is a fixed injection at the feeder's MV bus."""
    bus: list[int] = []
    sell: list[bool] = []
    energy: list[float] = []
    price: list[float] = []
    bid: list[int] = []
    owner: list[int] = []
    base = np.zeros(mv.bus_count) if conditions.base_p_kwh is None else conditions.base_p_kwh
    base = np.array(base, dtype=float)
    reference = np.zeros(len(curves))
    must_bid = np.full(len(curves), -1, dtype=np.int64)
    floor, ceiling = must_prices(curves, mv)
    for f, (curve, own, at) in enumerate(zip(curves, base_kwh, buses, strict=True)):
        xs, slopes = curve.exchange_kwh, curve.slopes_eur_per_kwh
        x0 = float(np.clip(0.0, xs[0], xs[-1]))
        reference[f] = x0
        base[at] += own
        if abs(x0) > 1e-12:
            must_bid[f] = len(owner)
            owner.append(f)
            bus.append(at)
            sell.append(x0 < 0)
            energy.append(abs(x0))
            price.append(floor if x0 < 0 else ceiling)
            bid.append(int(must_bid[f]))
        for is_sell in (True, False):
            low, high = xs[:-1], xs[1:]
            kwh = np.minimum(high, x0) - low if is_sell else high - np.maximum(low, x0)
            pieces = np.flatnonzero(kwh > 1e-12)
            if not len(pieces):
                continue
            number = len(owner)
            owner.append(f)
            for k in pieces:
                bus.append(at)
                sell.append(is_sell)
                energy.append(float(kwh[k]))
                price.append(float(slopes[k]))
                bid.append(number)
    book = SegmentBook.of(
        np.array(bus, dtype=np.int64),
        np.array(sell, dtype=bool),
        np.array(energy),
        np.array(price),
        np.array(bid, dtype=np.int64),
        bus_count=mv.bus_count,
    )
    return CityBook(
        book,
        replace(conditions, base_p_kwh=base),
        np.array(owner, dtype=np.int64),
        reference,
        must_bid,
    )


def must_prices(curves: Sequence[ResidualCurve], mv: Network) -> tuple[float, float]:
    """The limits of the bids that are a feeder's ``x0`` (``city_book``): a sell below,
    and a buy above, every slope of every curve and the national grid's prices, by 1
    EUR/kWh, so that the LP fills them before anything else, whoever they serve."""
    slopes = [float(v) for c in curves for v in c.slopes_eur_per_kwh]
    prices = [*slopes, mv.import_price_eur_per_kwh, mv.export_price_eur_per_kwh]
    return min(prices) - 1.0, max(prices) + 1.0


def clear_city_book(made: CityBook, mv: Network) -> ArrayClearing:
    """The city's clearing of its book on the MV network, every feeder's ``x0`` bid
    filled (else its exchange would leave its curve: the MV network cannot take what
    the feeder must export or import; a ``ClearingError`` before any re-clearing)."""
    city = clear_arrays(made.book, mv, made.conditions)
    for f, number in enumerate(made.must_bid.tolist()):
        if number < 0:
            continue
        wanted = abs(float(made.reference_kwh[f]))
        if city.cleared_kwh[number] < wanted - 1e-7:
            raise ClearingError(
                f"feeder {f} must exchange {made.reference_kwh[f]:.6f} kWh whatever the "
                f"price; the MV network takes only {city.cleared_kwh[number]:.6f}"
            )
    return city


def base_of(feeder: FeederMarket) -> float:
    """The feeder's non-participants' net injection (kWh), served outside its market."""
    own = feeder.conditions.base_p_kwh
    return 0.0 if own is None else float(np.sum(own))


def reclear(feeder: FeederMarket, exchange_kwh: float, price_eur_per_kwh: float) -> ArrayClearing:
    """The feeder at its city price, both ways, taking exactly its allocation
    (``market.upstream.cleared_at``: free first, pinned where the solver stopped
    elsewhere on the marginal feeder's flat piece; the price rule then holds the
    feeder's upstream price at the point of its own optimal face nearest the city
    price, which is the city price whenever the face allows it)."""
    upstream = Upstream(price_eur_per_kwh, exchange_kwh)
    net = upstream.network(feeder.net)
    began = time.perf_counter()
    outcome = cleared_at(
        upstream,
        feeder.conditions,
        lambda cond: run_interval(feeder.book, net, cond, backend="highs"),
    )
    return arrays_of(feeder.book, net, outcome, began)


def clear_city(
    feeders: Sequence[FeederMarket],
    buses: Sequence[int],
    mv: Network,
    conditions: Conditions,
) -> TwoLevelResult:
    """One interval of the two-level market; ``buses[f]`` is feeder ``f``'s MV bus."""
    curves = tuple(residual_curve(feeder) for feeder in feeders)
    made = city_book(curves, [base_of(f) for f in feeders], buses, mv, conditions)
    city = clear_city_book(made, mv)
    exchange = exchange_of(made, city)
    prices = city.prices_eur_per_kwh[np.asarray(buses, dtype=np.int64)]
    local = tuple(
        reclear(feeder, float(x), float(price))
        for feeder, x, price in zip(feeders, exchange, prices, strict=True)
    )
    welfare = welfare_of(curves, made, city)
    return TwoLevelResult(curves, made, city, exchange, prices, local, welfare)


def exchange_of(made: CityBook, city: ArrayClearing) -> np.ndarray:
    """Each feeder's exchange with the city (kWh, + import): its reference point moved
    by what the city cleared of its curve's bids."""
    signed = np.where(made.book.sell, -1.0, 1.0)
    first = np.searchsorted(made.book.bid, np.arange(made.book.bid_count))
    exchange = np.where(made.must_bid >= 0, 0.0, made.reference_kwh)  # x0 is a bid there
    np.add.at(exchange, made.feeder_of_bid, signed[first] * city.cleared_kwh)
    return exchange


def national_import_kwh(made: CityBook, city: ArrayClearing) -> float:
    """The national grid's net import into the city (kWh, + import), as it physically
    crosses the root and as the city ledger's ``city-balance`` rule counts it: what the
    city's bids drew (``city``'s published exchange, which counts bids only, as a lone
    feeder's leaves its non-participants to the retailer) less the fixed injections at
    the MV buses (the feeders' non-participants)."""
    base = made.conditions.base_p_kwh
    fixed = 0.0 if base is None else float(np.sum(base))
    return city.grid_import_kwh - city.grid_export_kwh - fixed


def welfare_of(curves: Sequence[ResidualCurve], made: CityBook, city: ArrayClearing) -> float:
    """The city's total welfare (``TwoLevelResult.welfare_eur``): the city LP's objective
    plus each feeder's value at its reference point, which the city book leaves out,
    less the value the LP gave the bids that are a reference point (``must_prices``:
    only there so that the LP fills them)."""
    at_reference = zip(curves, made.reference_kwh, strict=True)
    book = made.book
    first = np.searchsorted(book.bid, made.must_bid[made.must_bid >= 0])  # one segment each
    signed = np.where(book.sell[first], -1.0, 1.0)
    filled = city.cleared_kwh[book.bid[first]]
    artificial = float(np.sum(signed * book.price_eur_per_kwh[first] * filled))
    return (
        city.welfare_eur + float(sum(curve.value_at(x0) for curve, x0 in at_reference)) - artificial
    )
