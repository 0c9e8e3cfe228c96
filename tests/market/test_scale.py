"""The large-book path: network arrays, the matrix LP, the netted split, clear_arrays."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from voisin.errors import InvalidInput
from voisin.market import clear
from voisin.market.bulk import clear_arrays
from voisin.market.bulk_trades import NETTED_SPLIT_BIDS, allocate_netted
from voisin.market.instances import generate
from voisin.market.netting import GRID_PARTY, net_split
from voisin.market.network import Network
from voisin.market.segments import SegmentBook, book_of
from voisin.market.trades import to_trades
from voisin.market.uniform import uniform_auction
from voisin.protocol import GRID, Bid, Grid, Side

from .conftest import INTERVAL, make_bid, make_grid, repaired_by_price
from .test_properties import markets

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_network_of_a_grid_keeps_file_orientation_and_walks_depth_first() -> None:
    grid = make_grid((("R", "A", 3.0), ("B", "R", 2.0), ("A", "C", 1.0)))
    net = Network.of(grid)
    assert net.buses == ("R", "A", "B", "C")
    assert net.line_from.tolist() == [0, 2, 1]
    assert net.line_to.tolist() == [1, 0, 3]
    assert net.parent.tolist() == [-1, 0, 0, 1]
    assert net.preorder.tolist() == [0, 1, 3, 2]  # subtree of A (A, C) is contiguous
    assert net.transformer_capacity_kwh == np.inf


def test_network_from_parents_refuses_a_parent_that_is_not_earlier() -> None:
    with pytest.raises(InvalidInput):
        Network.from_parents(
            np.array([-1, 2, 0]),
            np.ones(2),
            import_price_eur_per_kwh=0.3,
            export_price_eur_per_kwh=0.05,
        )


def test_segment_book_refuses_a_bid_split_across_buses() -> None:
    with pytest.raises(InvalidInput) as err:
        SegmentBook.of([0, 1], [True, True], [1.0, 1.0], [0.1, 0.2], [0, 0], bus_count=2)
    assert err.value.code == "bad-book"
    with pytest.raises(InvalidInput):
        SegmentBook.of([0], [True], [0.0], [0.1], bus_count=1)


def test_netted_split_same_bus_first_then_along_the_walk_then_grid() -> None:
    # Tree 0 -> 1 -> 2 and 0 -> 3. Bus 1: buyer 0 (3 kWh), seller 1 (1 kWh); bus 2:
    # seller 2 (4 kWh); bus 3: buyer 3 (4 kWh). Same bus: 1 kWh seller 1 -> buyer 0.
    # Walk (0, 1, 2, 3): buyer 0 needs 2 more, then buyer 3 needs 4; seller 2 has 4:
    # 2 kWh to buyer 0, 2 kWh to buyer 3, whose last 2 kWh come from the grid.
    net = Network.from_parents(
        np.array([-1, 0, 1, 0]),
        np.full(3, 10.0),
        import_price_eur_per_kwh=0.3,
        export_price_eur_per_kwh=0.05,
    )
    split = net_split(
        np.array([1, 1, 2, 3]),
        np.array([False, True, True, False]),
        np.array([3.0, 1.0, 4.0, 4.0]),
        net,
    )
    pieces = list(
        zip(split.seller.tolist(), split.buyer.tolist(), split.energy_kwh.tolist(), strict=True)
    )
    assert pieces == [(1, 0, 1.0), (2, 0, 2.0), (2, 3, 2.0), (GRID_PARTY, 3, 2.0)]


@FAST
@given(markets())
def test_netted_split_keeps_every_invariant(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    result = clear(bids, grid, INTERVAL)
    by_id = {b.bid_id: b for b in bids}
    allocations = allocate_netted(bids, result.cleared_kwh, grid)
    per_bid: dict[str, float] = defaultdict(float)
    to_grid = from_grid = 0.0
    for a in allocations:
        assert a.energy_kwh >= 1e-9
        assert a.seller_bid is None or by_id[a.seller_bid].side is Side.SELL
        assert a.buyer_bid is None or by_id[a.buyer_bid].side is Side.BUY
        assert a.seller_bid is not None or a.buyer_bid is not None
        for bid_id in (a.seller_bid, a.buyer_bid):
            if bid_id is not None:
                per_bid[bid_id] += a.energy_kwh
        from_grid += a.energy_kwh if a.seller_bid is None else 0.0
        to_grid += a.energy_kwh if a.buyer_bid is None else 0.0
    for bid in bids:
        assert per_bid[bid.bid_id] == pytest.approx(result.cleared_kwh[bid.bid_id], abs=1e-9)
    assert from_grid == pytest.approx(result.grid_import_kwh, abs=1e-8)
    assert to_grid == pytest.approx(result.grid_export_kwh, abs=1e-8)
    # Money does not depend on the split: it balances with the same congestion rent.
    prices = result.prices_eur_per_kwh
    trades = to_trades(
        allocations, sorted(bids, key=lambda b: b.bid_id), prices, grid.root, INTERVAL
    )
    paid = sum(t.paid_eur for t in trades)
    received = sum(t.received_eur for t in trades)
    assert paid - received == pytest.approx(
        result.congestion_rent_eur + result.wheeling_fees_eur, abs=1e-8
    )
    imported = sum(t.energy_kwh for t in trades if t.seller == GRID)
    exported = sum(t.energy_kwh for t in trades if t.buyer == GRID)
    assert imported - exported == pytest.approx(
        result.grid_import_kwh - result.grid_export_kwh, abs=1e-8
    )
    if not (repaired_by_price(bids, grid, result) and any(b.green_only for b in bids)):
        assert imported == pytest.approx(result.grid_import_kwh, abs=1e-8)


def test_preferences_still_come_first_in_the_netted_split() -> None:
    book = [
        make_bid("b-alice", "buy", 3, 0.25, participant="alice"),
        make_bid("b-school", "buy", 3, 0.25, participant="school"),
        make_bid("s-h1", "sell", 3, 0.10, participant="h1", preferred=("school",)),
        make_bid("s-h2", "sell", 3, 0.10, participant="h2"),
    ]
    cleared = {"b-alice": 3.0, "b-school": 3.0, "s-h1": 3.0, "s-h2": 3.0}
    pairs = [
        (a.seller_bid, a.buyer_bid, a.energy_kwh)
        for a in allocate_netted(book, cleared, make_grid())
    ]
    assert pairs == [("s-h1", "b-school", 3.0), ("s-h2", "b-alice", 3.0)]


def test_clear_arrays_matches_clear_on_a_large_generated_book() -> None:
    # Above both thresholds: auto picks the matrix path and the netted split.
    net, book = generate(2 * NETTED_SPLIT_BIDS + 10, seed=7)
    grid = Grid(
        root="0",
        buses=net.buses,
        lines=tuple(
            {"from": str(a), "to": str(b), "capacity_kwh": float(c)}
            for a, b, c in zip(net.line_from, net.line_to, net.line_capacity_kwh, strict=True)
        ),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )
    bids = [
        make_bid(f"x{i:05d}", "sell" if s else "buy", float(q), float(p), str(b))
        for i, (b, s, q, p) in enumerate(
            zip(book.bus, book.sell, book.energy_kwh, book.price_eur_per_kwh, strict=True)
        )
    ]
    fast = clear_arrays(book, net)
    result = clear(bids, grid, INTERVAL)
    assert result.solver.startswith("highspy-")
    assert result.welfare_eur == pytest.approx(fast.welfare_eur, abs=1e-6)
    assert [result.cleared_kwh[b.bid_id] for b in bids] == pytest.approx(
        fast.cleared_kwh.tolist(), abs=1e-9
    )
    assert book_of(bids, net).bid.tolist() == list(range(len(bids)))
    assert len(result.trades) == len(fast.split)
    # Without lines the matrix path is the uniform auction.
    loose = Network.from_parents(
        net.parent,
        np.full(len(net.line_from), 1e9),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )
    free = clear_arrays(book, loose)
    reference = uniform_auction(bids, grid)
    assert free.welfare_eur == pytest.approx(reference.welfare_eur, abs=1e-6)
    assert np.ptp(free.prices_eur_per_kwh) <= 1e-9
    low, high = reference.price_low_eur_per_kwh - 1e-9, reference.price_high_eur_per_kwh + 1e-9
    assert low <= free.prices_eur_per_kwh[0] <= high
