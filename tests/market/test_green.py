"""Green-only buyers: hand-worked cases on one bus, both backends, and the invariant
that no green-only buyer is ever served by a grid import (hypothesis, both splits)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError

from voisin.market import clear
from voisin.market.bulk import clear_arrays
from voisin.market.bulk_trades import allocate_netted
from voisin.market.netting import GRID_PARTY
from voisin.market.network import Network
from voisin.market.segments import SegmentBook
from voisin.protocol import Bid, Grid, Side, TradeKind

from .conftest import INTERVAL, make_bid, make_grid, repaired_by_price
from .test_properties import markets

TOL = 1e-9
BACKENDS = ("pyomo", "highs")
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def green(bid_id: str, kwh: float, price: float, bus: str = "R") -> Bid:
    return make_bid(bid_id, "buy", kwh, price, bus).model_copy(update={"green_only": True})


@pytest.mark.parametrize("backend", BACKENDS)
def test_scarce_green_supply_is_rationed_and_priced_with_the_least_premium(backend: str) -> None:
    # Green buyer 1 kWh at 0.40, a local seller 0.5 kWh at 0.10, retail 0.30. Without the
    # rule the buyer would import 0.5 kWh; green-only it clears 0.5 kWh, all from the
    # seller. Bus price 0.30 (nothing caps it lower: import unused; the buyer partly
    # accepted needs price + premium = 0.40), least premium 0.10: the green buyer pays
    # 0.40 and the seller receives 0.40.
    book = [green("g", 1, 0.40), make_bid("s", "sell", 0.5, 0.10)]
    result = clear(book, make_grid(), INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.cleared_kwh == {"g": 0.5, "s": 0.5}
    assert result.grid_import_kwh == 0.0
    assert result.prices_eur_per_kwh == {"R": 0.30}
    assert result.green_premium_eur_per_kwh == pytest.approx(0.10, abs=TOL)
    (trade,) = result.trades
    assert (trade.seller, trade.buyer, trade.kind) == ("p-s", "p-g", TradeKind.P2P)
    assert trade.buyer_price_eur_per_kwh == pytest.approx(0.40, abs=TOL)
    assert trade.seller_price_eur_per_kwh == pytest.approx(0.40, abs=TOL)
    assert result.welfare_eur == pytest.approx(0.5 * (0.40 - 0.10), abs=TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_green_buyers_get_the_local_energy_and_others_the_imports(backend: str) -> None:
    # A plain buyer at 0.35 beside the green one: the seller's 0.5 kWh go to the green
    # buyer, the plain buyer imports its 1 kWh at 0.30 with no premium.
    book = [green("g", 1, 0.40), make_bid("n", "buy", 1, 0.35), make_bid("s", "sell", 0.5, 0.10)]
    result = clear(book, make_grid(), INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.cleared_kwh == {"g": 0.5, "n": 1.0, "s": 0.5}
    legs = {(t.seller, t.buyer): t for t in result.trades}
    assert set(legs) == {("p-s", "p-g"), ("grid", "p-n")}
    assert legs[("grid", "p-n")].buyer_price_eur_per_kwh == pytest.approx(0.30, abs=TOL)
    assert legs[("p-s", "p-g")].buyer_price_eur_per_kwh == pytest.approx(0.40, abs=TOL)


@pytest.mark.parametrize("backend", BACKENDS)
def test_with_enough_local_supply_there_is_no_premium(backend: str) -> None:
    book = [green("g", 1, 0.40), make_bid("s", "sell", 3, 0.10)]
    result = clear(book, make_grid(), INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.cleared_kwh == {"g": 1.0, "s": 1.0}
    assert result.prices_eur_per_kwh == {"R": 0.10}  # the seller is partly accepted
    assert result.green_premium_eur_per_kwh == 0.0
    assert "green_premium_eur_per_kwh" not in result.model_dump()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_green_buyer_alone_clears_nothing(backend: str) -> None:
    result = clear([green("g", 1, 0.40)], make_grid(), INTERVAL, backend=backend)  # type: ignore[arg-type]
    assert result.cleared_kwh == {"g": 0.0}
    assert result.trades == ()
    assert result.prices_eur_per_kwh == {"R": 0.30}


def test_green_only_is_for_buy_bids_and_absent_from_the_signed_form_when_false() -> None:
    with pytest.raises(ValidationError):
        Bid.model_validate({**make_bid("s", "sell", 1, 0.1).model_dump(), "green_only": True})
    assert "green_only" not in make_bid("b", "buy", 1, 0.2).unsigned()
    assert green("g", 1, 0.2).unsigned()["green_only"] is True


def _check_green_served_by_peers(bids: list[Bid], grid: Grid, backend: str) -> None:
    result = clear(bids, grid, INTERVAL, backend=backend)  # type: ignore[arg-type]
    greens = {b.bid_id for b in bids if b.green_only}
    green_kwh = sum(result.cleared_kwh[i] for i in greens)
    sold = sum(result.cleared_kwh[b.bid_id] for b in bids if b.side is Side.SELL)
    assert green_kwh <= sold + 1e-9
    # The published trades keep the promise unless the ledger's price rule forbids the
    # peer trade (``repaired_by_price``); the proximity splits always do.
    published = [(t.buyer_bid_id, t.seller_bid_id, t.energy_kwh) for t in result.trades]
    repaired = repaired_by_price(bids, grid, result)
    for allocations, strict in (
        (published, not repaired),
        (
            [
                (a.buyer_bid or "", a.seller_bid or "", a.energy_kwh)
                for a in allocate_netted(bids, result.cleared_kwh, grid)
            ],
            True,
        ),
    ):
        got: dict[str, float] = defaultdict(float)
        for buyer, seller, kwh in allocations:
            if buyer in greens:
                assert seller != "" or not strict, "a green-only buyer was given a grid leg"
                got[buyer] += kwh
        for bid_id in greens:
            assert got[bid_id] == pytest.approx(result.cleared_kwh[bid_id], abs=1e-9)


@FAST
@given(markets())
def test_no_green_buyer_is_ever_given_a_grid_leg(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    for backend in BACKENDS:
        _check_green_served_by_peers(bids, grid, backend)


def test_clear_arrays_serves_green_buyers_from_peers() -> None:
    # Bus 0 root, bus 1 below. Bid 0: green buyer 2 kWh at bus 1; bid 1: plain buyer at
    # bus 0; bid 2: seller 1.5 kWh at bus 0. The green buyer gets the 1.5 local kWh.
    net = Network.from_parents(
        np.array([-1, 0]),
        np.array([10.0]),
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
    )
    book = SegmentBook.of(
        [1, 0, 0],
        [False, False, True],
        [2.0, 1.0, 1.5],
        [0.45, 0.35, 0.1],
        bus_count=2,
        green=np.array([True, False, False]),
    )
    out = clear_arrays(book, net)
    assert out.cleared_kwh.tolist() == pytest.approx([1.5, 1.0, 1.5], abs=TOL)
    assert out.green_premium_eur_per_kwh == pytest.approx(0.15, abs=TOL)
    pieces = list(
        zip(
            out.split.seller.tolist(),
            out.split.buyer.tolist(),
            out.split.energy_kwh.tolist(),
            strict=True,
        )
    )
    assert pieces == [(2, 0, 1.5), (GRID_PARTY, 1, 1.0)]
