"""The two-level market against hand-worked answers and the single city-wide LP."""

from __future__ import annotations

import numpy as np
import pytest

from voisin.city import CityFeeder, city_conditions, clear_city, feeder_market, residual_curve
from voisin.city.feeders import clear_city_wide
from voisin.city.level import clear_book
from voisin.market.gate import MarketRules
from voisin.market.network import Network
from voisin.market.terms import Terms

from .conftest import INTERVAL, bid, grid

RULES = MarketRules(curtailment_eur_per_kwh=0.05)
SHARED = city_conditions(RULES, 15, 0.05)


def two_feeders(m1_m2_kwh: float) -> tuple:
    """Feeder A at M1: a seller of 6 kWh at 0.10 and a neighbour buying 2 at 0.25;
    feeder B at M2, behind M1 on the MV line M1-M2: a buyer of 5 kWh at 0.20. The city
    buys from the national grid at 0.30 and sells at 0.05."""
    mv = grid("S", (("S", "M1", 20.0), ("M1", "M2", m1_m2_kwh)))
    a = CityFeeder(
        "A",
        grid("T", (("T", "H", 10.0),), transformer=10.0),
        (bid("a-sell", "sell", 6.0, 0.10, "H"), bid("a-buy", "buy", 2.0, 0.25, "H")),
        "M1",
    )
    b = CityFeeder(
        "B", grid("T", (("T", "H", 10.0),)), (bid("b-buy", "buy", 5.0, 0.20, "H"),), "M2"
    )
    return mv, [a, b]


def run(mv, feeders):
    markets = [feeder_market(f, SHARED, 15) for f in feeders]
    buses = [mv.buses.index(f.mv_bus) for f in feeders]
    return markets, clear_city(markets, buses, Network.of(mv), SHARED)


def test_feeder_curve_is_its_value_function_by_hand() -> None:
    """A's curve: sell all 6 and serve nobody at x = -6 (-0.60 EUR), sell 6 and serve its
    neighbour at x = -4 (-0.10), import the neighbour's 2 at x = 2 (+0.50); slopes 0.25
    then 0.10 (selling less, or importing instead, saves 0.10 a kWh)."""
    mv, feeders = two_feeders(10.0)
    curve = residual_curve(feeder_market(feeders[0], SHARED, 15))
    assert np.allclose(curve.exchange_kwh, [-6.0, -4.0, 2.0], atol=1e-9)
    assert np.allclose(curve.value_eur, [-0.60, -0.10, 0.50], atol=1e-9)
    assert np.allclose(curve.slopes_eur_per_kwh, [0.25, 0.10], atol=1e-9)


@pytest.mark.parametrize(
    ("b_kwh", "exchange", "national", "welfare"),
    [
        (5.0, {"C": -5.0, "B": 5.0}, 0.0, -0.50 + 1.00),
        (1.0, {"C": -3.0, "B": 1.0}, -2.0, -0.30 + 0.20 + 2 * 0.05),
    ],
)
def test_a_feeder_that_must_export_counts_in_the_national_exchange_by_hand(
    b_kwh: float, exchange: dict, national: float, welfare: float
) -> None:
    """Feeder C's curve lies below 0 (it must export 3 kWh, and may export 2 more at
    0.10 EUR/kWh: V(-3) = -0.30, V(-5) = -0.50), so its reference exchange -3 is a fixed
    injection outside the city's bids. B buys ``b_kwh`` at 0.20. Buying 5, B takes all
    of C's 5 kWh and nothing crosses the root (the bids alone would say 3 kWh imported
    at 0.30); buying 1, B takes 1 of C's must-run 3 and 2 leave at 0.05. The recorded
    national exchange is the physical one, so the city ledger's balance rule holds (it
    refused such a block before), and the welfare prices it."""
    mv = grid("S", (("S", "M1", 20.0), ("M1", "M2", 20.0)))
    book = {
        "interval": INTERVAL,
        "market_hash": "0" * 64,
        "feeders": [
            {"feeder": "C", "bus": "M1", "base_kwh": 0.0,
             "exchange_kwh": [-5.0, -3.0], "value_eur": [-0.50, -0.30]},
            {"feeder": "B", "bus": "M2", "base_kwh": 0.0,
             "exchange_kwh": [0.0, b_kwh], "value_eur": [0.0, 0.20 * b_kwh]},
        ],
    }  # fmt: skip
    out = clear_book(book, Terms.of(mv, MarketRules(), minutes=15, backend="highs"))
    assert out["exchange_kwh"] == pytest.approx(exchange, abs=1e-9)
    net = out["grid_import_kwh"] - out["grid_export_kwh"]
    assert net == pytest.approx(national, abs=1e-9)
    assert net == pytest.approx(sum(out["exchange_kwh"].values()), abs=1e-9)  # city-balance
    assert out["welfare_eur"] == pytest.approx(welfare, abs=1e-9)
    served = sum(p["energy_kwh"] for p in out["between_feeders"] if p["seller"] == "C")
    assert served == pytest.approx(b_kwh, abs=1e-9)  # C's must-run energy serves B


def test_two_feeders_by_hand_without_congestion() -> None:
    """A's 4 spare kWh serve B (B's fifth kWh is not worth the 0.30 import): B's bid is
    partly filled, so the city price is its limit, 0.20, at both substations; the city
    welfare is A's 0.30 locally plus 4 x (0.20 - 0.10)."""
    mv, feeders = two_feeders(10.0)
    markets, out = run(mv, feeders)
    assert np.allclose(out.exchange_kwh, [-4.0, 4.0], atol=1e-9)
    assert np.allclose(out.price_eur_per_kwh, [0.20, 0.20], atol=1e-9)
    assert out.welfare_eur == pytest.approx(0.70, abs=1e-9)
    assert out.city.grid_import_kwh == pytest.approx(0.0, abs=1e-9)
    a, b = out.feeders
    assert a.cleared_kwh.tolist() == pytest.approx([2.0, 6.0], abs=1e-9)  # a-buy, a-sell
    assert a.prices_eur_per_kwh.tolist() == pytest.approx([0.20, 0.20], abs=1e-9)
    assert b.cleared_kwh.tolist() == pytest.approx([4.0], abs=1e-9)
    # Alone, each feeder trading with the national grid at its tariffs makes only A's 0.30.
    assert clear_city_wide(mv, feeders, SHARED, 15).welfare_eur == pytest.approx(0.70, abs=1e-9)


def test_two_feeders_by_hand_with_an_mv_line_at_its_limit() -> None:
    """M1-M2 carries 3 kWh: B gets 3 from A; A's last spare kWh stays unsold (export pays
    0.05 < 0.10). A's price is its seller's limit 0.10, B's its buyer's 0.20; the MV
    line earns 3 x 0.10 of congestion rent; welfare 0.30 + 3 x 0.10 = 0.60."""
    mv, feeders = two_feeders(3.0)
    markets, out = run(mv, feeders)
    assert np.allclose(out.exchange_kwh, [-3.0, 3.0], atol=1e-9)
    assert np.allclose(out.price_eur_per_kwh, [0.10, 0.20], atol=1e-9)
    assert out.welfare_eur == pytest.approx(0.60, abs=1e-9)
    assert clear_city_wide(mv, feeders, SHARED, 15).welfare_eur == pytest.approx(0.60, abs=1e-9)


def random_city(seed: int, feeders: int = 10):
    """A radial MV ring-less chain of ``feeders`` buses, lines of random limits, each
    bus one transport feeder of 2-4 houses with flexible and inflexible bids at random
    limits, a transformer limit, and non-participants' load."""
    rng = np.random.default_rng(seed)
    mv_lines = []
    for k in range(feeders):
        parent = "S" if k == 0 else f"M{rng.integers(0, k)}"
        mv_lines.append((parent, f"M{k}", float(rng.uniform(1.0, 8.0))))
    mv = grid("S", tuple(mv_lines), transformer=15.0)
    out = []
    for k in range(feeders):
        houses = int(rng.integers(2, 5))
        lines = tuple(("T", f"H{h}", float(rng.uniform(1.0, 6.0))) for h in range(houses))
        bids = []
        for h in range(houses):
            side = "sell" if rng.random() < 0.5 else "buy"
            bids.append(
                bid(
                    f"f{k}-h{h}",
                    side,
                    float(np.round(rng.uniform(0.5, 5.0), 2)),
                    float(np.round(rng.uniform(0.0, 0.35), 2)),
                    f"H{h}",
                    inflexible=bool(rng.random() < 0.5),
                )
            )
        feeder_grid = grid("T", lines, transformer=float(rng.uniform(3.0, 10.0)))
        base = {f"H{int(rng.integers(0, houses))}": (float(-rng.uniform(0.0, 4.0)), 0.0)}
        out.append(CityFeeder(f"F{k}", feeder_grid, tuple(bids), f"M{k}", base))
    return mv, out


WELFARE_TOL_EUR = 1e-6
"""docs/city.md: the decomposition is exact; what is left is the solver's 1e-7 kWh
tolerance on each breakpoint and the published 1e-9 rounding, over ten feeders."""


@pytest.mark.parametrize("seed", range(6))
def test_ten_feeders_match_the_city_wide_lp(seed: int) -> None:
    mv, feeders = random_city(seed)
    markets, out = run(mv, feeders)
    whole = clear_city_wide(mv, feeders, SHARED, 15)
    assert out.welfare_eur == pytest.approx(whole.welfare_eur, abs=WELFARE_TOL_EUR)
    for curve, local, x, price in zip(
        out.curves, out.feeders, out.exchange_kwh, out.price_eur_per_kwh, strict=True
    ):
        # Each feeder's re-clearing takes exactly its allocation and reaches V_f there.
        assert local.grid_import_kwh - local.grid_export_kwh == pytest.approx(x, abs=1e-7)
        assert local.welfare_eur + price * x == pytest.approx(curve.value_at(x), abs=1e-6)
        assert np.all(np.diff(curve.slopes_eur_per_kwh) <= 1e-9)  # concave
    # The MV limits hold: the city's flows from its own clearing, recomputed on the tree.
    net = Network.of(mv)
    injection = np.zeros(net.bus_count)
    buses = [mv.buses.index(f.mv_bus) for f in feeders]
    own_base = np.array([m.conditions.base_p_kwh.sum() for m in markets])
    np.add.at(injection, buses, own_base - out.exchange_kwh)  # x_f excludes its base
    flows = np.zeros(net.bus_count)
    for b in net.preorder[::-1]:
        if b != net.root:
            flows[b] += injection[b]
            flows[net.parent[b]] += flows[b]
    caps = {line.to_bus: line.capacity_kwh for line in mv.lines}
    for b in range(net.bus_count):
        if b != net.root:
            assert abs(flows[b]) <= caps[net.buses[b]] + 1e-7
    assert abs(flows[net.root]) <= 15.0 + 1e-7


def test_one_feeders_surplus_serves_another() -> None:
    """In the two-feeder city the city's split has a piece from A's sell bid to B's buy
    bid: A's spare kWh reach B over the MV network, none through the national grid."""
    mv, feeders = two_feeders(10.0)
    markets, out = run(mv, feeders)
    owner = out.city_book.feeder_of_bid
    split = out.city.split
    served = [
        float(kwh)
        for s, b, kwh in zip(split.seller, split.buyer, split.energy_kwh, strict=True)
        if s >= 0 and b >= 0 and owner[s] == 0 and owner[b] == 1
    ]
    assert sum(served) == pytest.approx(4.0, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_curve_equals_the_feeder_lp_with_its_exchange_pinned(seed: int) -> None:
    """Between and at its breakpoints the curve is the feeder LP's optimum with the
    exchange held there (``Conditions.exchange_kwh``, exchange priced at zero): an
    independent check of the search."""
    from dataclasses import replace

    from voisin.market.engine import run_interval

    _, feeders = random_city(seed, feeders=3)
    rng = np.random.default_rng(seed)
    for feeder in feeders:
        market = feeder_market(feeder, SHARED, 15)
        curve = residual_curve(market)
        free = replace(market.net, import_price_eur_per_kwh=0.0, export_price_eur_per_kwh=0.0)
        low, high = curve.exchange_kwh[0], curve.exchange_kwh[-1]
        for x in [*curve.exchange_kwh, *rng.uniform(low, high, 4)]:
            pinned = run_interval(market.book, free, replace(market.conditions, exchange_kwh=x))
            assert pinned.solution.objective == pytest.approx(curve.value_at(x), abs=1e-7)


def test_two_feeders_searched_at_once_keep_their_own_solver() -> None:
    """Each feeder's search keeps its own HiGHS instance: a second feeder's search
    started meanwhile leaves the first one's answers those of a search run alone (a
    process-wide shared instance once handed the first search the second's model)."""
    from voisin.city.residual import Responder
    from voisin.city.run import _market
    from voisin.city.scenario import CitySpec

    spec = CitySpec(name="two", feeders=2, households_per_feeder=4, intervals=1, seed=3)
    interval = spec.interval_list()[0].id
    alone = [Responder(_market(spec, k, interval)) for k in range(2)]
    expected = [[search(p) for p in (0.05, 0.2, 0.5)] for search in alone]
    first = Responder(_market(spec, 0, interval))
    answers = [first(0.05)]
    second = Responder(_market(spec, 1, interval))
    answers += [first(0.2), second(0.05), first(0.5)]
    assert answers[:2] + answers[3:] == expected[0]
    assert answers[2] == expected[1][0]


def budget_at_city_price(result, price: float) -> float:
    """A re-cleared feeder's surplus as the city settles it: what its members pay, less
    what they receive, plus what their suppliers pay for the rest (each bus's at its
    price), less its whole exchange (losses included) at the city price. (The ledger's
    congestion rent prices the grid's trades at the feeder's root price instead, which
    a full transformer moves away from the city's.)"""
    exchange = result.grid_import_kwh - result.grid_export_kwh + result.losses_kwh
    paid = sum(t.paid_eur for t in result.trades if t.buyer != "grid")
    received = sum(t.received_eur for t in result.trades if t.seller != "grid")
    return paid - received + result.rest_eur - price * exchange


@pytest.mark.parametrize("seed", range(4))
def test_no_feeder_re_clearing_runs_a_deficit(seed: int) -> None:
    """Each feeder of a random city re-cleared by the operator's path at its city price
    and allocation: every trade individually rational, and no deficit at the city
    price (the rest's money counted at its buses' prices), curtailed or shed or not.
    Before inflexible positions were matched by their bus prices, matched inflexible
    buyers paid their limits below it (seeds 1-3)."""
    from voisin.market.clearing import clear
    from voisin.market.upstream import Upstream

    mv, feeders = random_city(seed)
    _, out = run(mv, feeders)
    for feeder, x, price in zip(feeders, out.exchange_kwh, out.price_eur_per_kwh, strict=True):
        result = clear(
            list(feeder.bids),
            feeder.grid,
            INTERVAL,
            upstream=Upstream(float(price), float(x)),
            backend="highs",
            base=feeder.base_kw,
            rules=RULES,
        )
        limit = {b.participant: b.segments[0].price_eur_per_kwh for b in feeder.bids}
        for t in result.trades:
            assert t.buyer_price_eur_per_kwh <= limit.get(t.buyer, np.inf) + 1e-9
            assert t.seller_price_eur_per_kwh >= limit.get(t.seller, -np.inf) - 1e-9
        assert budget_at_city_price(result, float(price)) >= -1e-9


def _reclear_first(mv, feeders):  # type: ignore[no-untyped-def]
    from voisin.market.clearing import clear
    from voisin.market.upstream import Upstream

    _, out = run(mv, feeders)
    price, x = float(out.price_eur_per_kwh[0]), float(out.exchange_kwh[0])
    feeder = feeders[0]
    result = clear(
        list(feeder.bids), feeder.grid, INTERVAL, upstream=Upstream(price, x), rules=RULES
    )
    return result, price


def test_a_curtailed_feeder_behind_its_full_transformer_balances_at_the_city_price() -> None:
    """Feeder A (transformer 2 kWh): inflexible PV of 5 kWh asking 0.20, a buyer of 1
    kWh at 0.09; B next door buys 5 at 0.14, the city price. A exports 2 and curtails,
    and its buses are priced at the curtailment price, -0.05. With the rest settled at
    the city price its suppliers were paid 0.14 for 3 kWh though only 2 crossed the
    transformer, and its buyer paid -0.05 for a kWh the city charged 0.14 for: 0.19 EUR
    short (found by review, 2026-12-04). The rest now settles at its bus's price."""
    mv = grid("S", (("S", "M1", 20.0), ("M1", "M2", 20.0)))
    a = CityFeeder(
        "A",
        grid("T", (("T", "H1", 10.0), ("T", "H2", 10.0)), transformer=2.0),
        (bid("pv", "sell", 5.0, 0.20, "H1", inflexible=True), bid("b", "buy", 1.0, 0.09, "H2")),
        "M1",
    )
    b = CityFeeder("B", grid("T", (("T", "H", 10.0),)), (bid("bb", "buy", 5.0, 0.14, "H"),), "M2")
    result, price = _reclear_first(mv, [a, b])
    assert budget_at_city_price(result, price) >= -1e-9


def test_a_pinned_curtailing_feeder_publishes_the_city_price() -> None:
    """Feeder A (transformer 1 kWh) of one inflexible PV seller of 2 kWh asking -0.30,
    under an MV line of 0.6 kWh. The curve once counted the seller's ask beside the
    curtailment it avoids (slope -0.35, so the city priced A there), and the re-clearing
    valued the rest at its node's price, -0.05, then -0.30: the seller paid 0.18 for
    what the city charged 0.21 (found by review, 2026-12-04). With inflexible limits
    out of the LP the curve's slope is the curtailment price and A publishes the city's
    price, in balance."""
    mv = grid("S", (("S", "M1", 0.6),))
    a = CityFeeder(
        "A",
        grid("T", (("T", "H", 10.0),), transformer=1.0),
        (bid("s", "sell", 2.0, -0.30, "H", inflexible=True),),
        "M1",
    )
    result, price = _reclear_first(mv, [a])
    assert budget_at_city_price(result, price) >= -1e-9
    assert set(result.prices_eur_per_kwh.values()) == {price}
