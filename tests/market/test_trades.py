"""The trade split: preferences first, then electrical proximity, then ids."""

from __future__ import annotations

from voisin.market import clear
from voisin.market.feeder import Feeder
from voisin.protocol import GRID, TradeKind

from .conftest import INTERVAL, make_bid, make_grid


def _pairs(result) -> list[tuple[str, str, float]]:
    return [(t.seller, t.buyer, t.energy_kwh) for t in result.trades]


def test_without_preferences_buyers_in_id_order_take_nearest_sellers() -> None:
    book = [
        make_bid("b-alice", "buy", 3, 0.25, participant="alice"),
        make_bid("b-school", "buy", 3, 0.25, participant="school"),
        make_bid("s-h1", "sell", 3, 0.10, participant="h1"),
        make_bid("s-h2", "sell", 3, 0.10, participant="h2"),
    ]
    result = clear(book, make_grid(), INTERVAL)
    assert _pairs(result) == [("h1", "alice", 3.0), ("h2", "school", 3.0)]


def test_a_sellers_preference_is_honoured_first() -> None:
    # h1 says "my surplus goes to the school first": the school gets h1 even though
    # alice comes first by id and h1 first by participant.
    book = [
        make_bid("b-alice", "buy", 3, 0.25, participant="alice"),
        make_bid("b-school", "buy", 3, 0.25, participant="school"),
        make_bid("s-h1", "sell", 3, 0.10, participant="h1", preferred=("school",)),
        make_bid("s-h2", "sell", 3, 0.10, participant="h2"),
    ]
    result = clear(book, make_grid(), INTERVAL)
    assert _pairs(result) == [("h1", "school", 3.0), ("h2", "alice", 3.0)]


def test_a_buyers_preference_is_honoured_first() -> None:
    book = [
        make_bid("b-alice", "buy", 3, 0.25, participant="alice", preferred=("h2",)),
        make_bid("s-h1", "sell", 2, 0.10, participant="h1"),
        make_bid("s-h2", "sell", 2, 0.10, participant="h2"),
    ]
    result = clear(book, make_grid(import_price=0.3), INTERVAL)
    assert _pairs(result)[0] == ("h2", "alice", 2.0)
    assert sum(t.energy_kwh for t in result.trades) == 3.0


def test_proximity_beats_id_order() -> None:
    # Chain R - A - B. b1 sits at B, b2 at R; s1 at R, s2 at B. By id b1 would take s1;
    # by proximity b1 takes s2 (same bus) and b2 takes s1.
    grid = make_grid((("R", "A", 50.0), ("A", "B", 50.0)))
    book = [
        make_bid("b1", "buy", 2, 0.25, "B"),
        make_bid("b2", "buy", 2, 0.25, "R"),
        make_bid("s1", "sell", 2, 0.10, "R"),
        make_bid("s2", "sell", 2, 0.10, "B"),
    ]
    result = clear(book, grid, INTERVAL)
    assert _pairs(result) == [("p-s2", "p-b1", 2.0), ("p-s1", "p-b2", 2.0)]


def test_grid_legs_come_after_peer_trades_at_root_price() -> None:
    # Buyer at A behind a 1 kWh line needs 3 kWh; a local seller has 1 kWh; the grid can
    # only send 1 kWh through the line. A's price is the buyer's 0.40 (it is rationed);
    # the root price is import 0.30. The import leg: buyer pays 0.40, grid gets 0.30.
    grid = make_grid((("R", "A", 1.0),))
    book = [make_bid("b", "buy", 3, 0.40, "A"), make_bid("s", "sell", 1, 0.10, "A")]
    result = clear(book, grid, INTERVAL)
    assert result.cleared_kwh == {"b": 2.0, "s": 1.0}
    assert result.prices_eur_per_kwh == {"R": 0.30, "A": 0.40}
    peer, imported = result.trades
    assert (peer.seller, peer.buyer, peer.kind) == ("p-s", "p-b", TradeKind.P2P)
    assert (imported.seller, imported.buyer, imported.kind) == (GRID, "p-b", TradeKind.GRID)
    assert imported.buyer_price_eur_per_kwh == 0.40
    assert imported.seller_price_eur_per_kwh == 0.30
    # Rent: 1 kWh over the line at 0.40 - 0.30.
    assert abs(result.congestion_rent_eur - 0.10) < 1e-9


def test_feeder_hops_and_flows() -> None:
    grid = make_grid((("R", "A", 5.0), ("B", "A", 5.0), ("R", "C", 5.0)))
    feeder = Feeder.of(grid)
    assert feeder.hops("B", "C") == 3
    assert feeder.hops("A", "A") == 0
    # B injects 2 kWh, C withdraws 2: 2 kWh flow B->A (line 1 runs B->A, so +2),
    # A->R (line 0 runs R->A, so -2), R->C (+2).
    assert feeder.line_flows({"B": 2.0, "C": -2.0}, 3) == [-2.0, 2.0, 2.0]
