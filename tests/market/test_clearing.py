"""Hand-checked clearings: the arithmetic is in the comments."""

from __future__ import annotations

import pytest

from voisin.errors import InvalidInput
from voisin.market import MarketRules, book_hash, clear, grid_hash, uniform_auction
from voisin.protocol import (
    GRID,
    Bid,
    ClearingStatus,
    Grid,
    Line,
    PricingMode,
    Segment,
    Side,
    TradeKind,
    digest,
)

from .conftest import INTERVAL, make_bid, make_grid

TOL = 1e-9


def _feeder_book() -> list[Bid]:
    # Bus A: a PV seller (4 kWh at 0.08) and a cheap buyer (2 kWh at 0.12).
    # Bus R (root): a school buying 5 kWh at up to 0.25. Import 0.30, export 0.05.
    return [
        make_bid("sA", "sell", 4, 0.08, "A"),
        make_bid("bA", "buy", 2, 0.12, "A"),
        make_bid("bR", "buy", 5, 0.25, "R"),
    ]


def test_unlimited_feeder_is_one_market() -> None:
    # One price everywhere. Merit order: bR (0.25) takes all 4 kWh of sA (0.08); its
    # 5th kWh would cost 0.30 from the grid, above its 0.25 limit; bA (0.12) is outbid.
    # bR is the marginal bid, partly served: price 0.25 (import 0.30 >= 0.25 >= 0.12).
    # Welfare = 4 * (0.25 - 0.08) = 0.68 EUR. No congestion, no rent.
    result = clear(_feeder_book(), make_grid((("R", "A", 100.0),)), INTERVAL)
    assert result.cleared_kwh == {"bA": 0.0, "bR": 4.0, "sA": 4.0}
    assert result.welfare_eur == pytest.approx(0.68, abs=TOL)
    assert result.prices_eur_per_kwh == {"R": 0.25, "A": 0.25}
    assert result.congestion_rent_eur == pytest.approx(0.0, abs=TOL)
    assert [(t.seller, t.buyer, t.energy_kwh) for t in result.trades] == [("p-sA", "p-bR", 4.0)]


def test_binding_feeder_line_changes_the_outcome() -> None:
    # Same book, but the R-A line carries only 3 kWh. bR can get 3 kWh from A; the 4th
    # kWh of sA now goes to bA at 0.12 (still above sA's 0.08):
    #   welfare = 3*0.25 + 1*0.12 - 4*0.08 = 0.75 + 0.12 - 0.32 = 0.55 EUR
    # (the alternative 2 kWh to bA, 2 to bR gives 0.50 + 0.24 - 0.32 = 0.42, worse).
    # Prices split: A at 0.12 (bA partly served), R at 0.25 (bR partly served).
    # Rent = flow * price gap = 3 * (0.25 - 0.12) = 0.39 EUR
    #      = payments (3*0.25 + 1*0.12 = 0.87) - receipts (4*0.12 = 0.48).
    result = clear(_feeder_book(), make_grid((("R", "A", 3.0),)), INTERVAL)
    assert result.cleared_kwh == {"bA": 1.0, "bR": 3.0, "sA": 4.0}
    assert result.welfare_eur == pytest.approx(0.55, abs=TOL)
    assert result.prices_eur_per_kwh == {"R": 0.25, "A": 0.12}
    assert result.congestion_rent_eur == pytest.approx(0.39, abs=TOL)
    # bA (first by id) is served at its own bus; bR's energy crosses the congested line.
    trades = [
        (t.seller, t.buyer, t.energy_kwh, t.buyer_price_eur_per_kwh, t.seller_price_eur_per_kwh)
        for t in result.trades
    ]
    assert trades == [("p-sA", "p-bA", 1.0, 0.12, 0.12), ("p-sA", "p-bR", 3.0, 0.25, 0.12)]
    assert all(t.kind is TradeKind.P2P for t in result.trades)


def test_multi_segment_curve_clears_best_segment_first() -> None:
    # Buyer: 2 kWh at 0.30, then 2 kWh at 0.10. Seller: 3 kWh at 0.05. Export pays 0.0.
    # Both buyer segments beat 0.05: segment 1 takes 2 kWh, segment 2 the last 1 kWh and
    # is marginal, so the price is 0.10. Welfare = 2*0.30 + 1*0.10 - 3*0.05 = 0.55 EUR.
    buyer = Bid(
        bid_id="b",
        participant="school",
        bus="R",
        interval=INTERVAL,
        side="buy",
        segments=(
            {"energy_kwh": 2, "price_eur_per_kwh": 0.30},
            {"energy_kwh": 2, "price_eur_per_kwh": 0.10},
        ),
    )
    seller = make_bid("s", "sell", 3, 0.05)
    result = clear([buyer, seller], make_grid(import_price=0.35, export_price=0.0), INTERVAL)
    assert result.cleared_kwh == {"b": 3.0, "s": 3.0}
    assert result.welfare_eur == pytest.approx(0.55, abs=TOL)
    assert result.prices_eur_per_kwh == {"R": 0.10}


def test_empty_book_is_a_valid_result_at_the_import_price() -> None:
    grid = make_grid((("R", "A", 5.0),))
    result = clear([], grid, INTERVAL)
    assert result.status is ClearingStatus.EMPTY
    assert result.trades == ()
    assert result.cleared_kwh == {}
    assert result.prices_eur_per_kwh == {"R": 0.30, "A": 0.30}
    assert result.welfare_eur == 0.0
    assert result.solver.startswith("highs-")
    assert result.book_hash == book_hash([])


def test_no_bid_in_the_money_clears_nothing() -> None:
    # Sellers above the import price and buyers below the export price: nobody trades,
    # with each other or with the grid.
    book = [
        make_bid("s1", "sell", 2, 0.40),
        make_bid("s2", "sell", 1, 0.35, "A"),
        make_bid("b1", "buy", 3, 0.01, "A"),
    ]
    result = clear(book, make_grid((("R", "A", 5.0),)), INTERVAL)
    assert result.status is ClearingStatus.OPTIMAL
    assert all(q == 0.0 for q in result.cleared_kwh.values())
    assert result.trades == ()
    assert result.welfare_eur == 0.0
    for price in result.prices_eur_per_kwh.values():
        assert 0.05 - TOL <= price <= 0.30 + TOL


def test_sellers_only_export_at_the_feed_in_price() -> None:
    book = [make_bid("s1", "sell", 2, 0.01), make_bid("s2", "sell", 1, 0.02, "A")]
    result = clear(book, make_grid((("R", "A", 5.0),)), INTERVAL)
    assert result.grid_export_kwh == pytest.approx(3.0)
    assert result.prices_eur_per_kwh == {"R": 0.05, "A": 0.05}
    # Welfare = 3 kWh * 0.05 - (2*0.01 + 1*0.02) = 0.11 EUR.
    assert result.welfare_eur == pytest.approx(0.11, abs=TOL)
    assert {(t.seller, t.buyer) for t in result.trades} == {("p-s1", GRID), ("p-s2", GRID)}
    assert all(t.kind is TradeKind.GRID for t in result.trades)


def test_result_does_not_depend_on_bid_order() -> None:
    book = _feeder_book() + [make_bid("s9", "sell", 1, 0.02, "R")]
    grid = make_grid((("R", "A", 3.0),))
    first = clear(book, grid, INTERVAL)
    again = clear(list(reversed(book)), grid, INTERVAL)
    assert first.model_dump() == again.model_dump()


def test_book_hash_ignores_order_and_sees_changes() -> None:
    book = _feeder_book()
    assert book_hash(book) == book_hash(list(reversed(book)))
    changed = [*book[:2], make_bid("bR", "buy", 5, 0.26, "R")]
    assert book_hash(changed) != book_hash(book)


def test_bid_for_another_interval_is_refused() -> None:
    late = make_bid("b", "buy", 1, 0.2, interval="2026-06-21T12:15Z")
    with pytest.raises(InvalidInput) as err:
        clear([late], make_grid(), INTERVAL)
    assert err.value.code == "wrong-interval"
    assert "2026-06-21T12:15Z" in err.value.message


def test_duplicate_bid_ids_are_refused() -> None:
    book = [make_bid("x", "buy", 1, 0.2), make_bid("x", "sell", 1, 0.1)]
    with pytest.raises(InvalidInput) as err:
        clear(book, make_grid(), INTERVAL)
    assert err.value.code == "duplicate-bid"
    with pytest.raises(InvalidInput):
        book_hash(book)


def test_unknown_bus_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        clear([make_bid("b", "buy", 1, 0.2, "Z")], make_grid(), INTERVAL)
    assert err.value.code == "unknown-bus"


def test_rules_apply_the_gate_inside_clear() -> None:
    book = [make_bid("b", "buy", 1, 2.5)]
    assert clear(book, make_grid(), INTERVAL).cleared_kwh == {"b": 1.0}
    with pytest.raises(InvalidInput) as err:
        clear(book, make_grid(), INTERVAL, rules=MarketRules())
    assert err.value.code == "price-out-of-range"


def test_grid_hash_sees_a_changed_limit() -> None:
    assert grid_hash(make_grid((("R", "A", 3.0),))) == grid_hash(make_grid((("R", "A", 3.0),)))
    assert grid_hash(make_grid((("R", "A", 3.0),))) != grid_hash(make_grid((("R", "A", 4.0),)))
    assert grid_hash(make_grid()) != grid_hash(make_grid(transformer=5.0))


def test_grid_hash_of_a_grid_seen_before_is_still_its_own() -> None:
    """The hash is kept per grid object: asking again, or for many grids (past what is
    kept), or for a copy that differs, gives each grid the digest of its file form."""
    grids = [make_grid((("R", "A", 1.0 + k),)) for k in range(20)]
    for grid in grids + grids[::-1]:
        assert grid_hash(grid) == digest(grid.model_dump(mode="json", by_alias=True))
    first = grids[0]
    changed = first.model_copy(update={"transformer_capacity_kwh": 9.0})
    assert grid_hash(changed) != grid_hash(first)
    assert grid_hash(changed) == digest(changed.model_dump(mode="json", by_alias=True))


def test_uniform_pricing_ignores_lines_and_gives_one_price() -> None:
    """The binding-line book of the nodal test, cleared at one community price: the
    line no longer splits prices, and welfare equals the no-network auction's."""
    grid = Grid(
        root="R",
        buses=("R", "A"),
        lines=(Line(from_bus="R", to_bus="A", capacity_kwh=2.0),),
        import_price_eur_per_kwh=0.3,
        export_price_eur_per_kwh=0.05,
    )
    bids = [
        Bid(
            bid_id="bA",
            participant="pA",
            bus="A",
            interval=INTERVAL,
            side=Side.BUY,
            segments=(Segment(energy_kwh=6.0, price_eur_per_kwh=0.27),),
        ),
        Bid(
            bid_id="sR",
            participant="pR",
            bus="R",
            interval=INTERVAL,
            side=Side.SELL,
            segments=(Segment(energy_kwh=10.0, price_eur_per_kwh=0.1),),
        ),
    ]
    nodal = clear(bids, grid, INTERVAL)
    uniform = clear(bids, grid, INTERVAL, pricing=PricingMode.UNIFORM)
    assert nodal.prices_eur_per_kwh == {"R": 0.1, "A": 0.27}
    assert nodal.cleared_kwh == {"bA": 2.0, "sR": 2.0}
    # All 6 kWh the buyer wants now clear; the seller, with 4 of its 10 kWh left over,
    # is marginal and sets the one price: 0.10 everywhere.
    assert uniform.cleared_kwh == {"bA": 6.0, "sR": 6.0}
    assert uniform.prices_eur_per_kwh == {"R": 0.1, "A": 0.1}
    assert uniform.welfare_eur == pytest.approx(uniform_auction(bids, grid).welfare_eur)
    assert uniform.congestion_rent_eur == 0.0
    assert uniform.pricing is PricingMode.UNIFORM
    assert (uniform.book_hash, uniform.grid_hash) == (nodal.book_hash, nodal.grid_hash)
