"""Tiny feeders and books built by hand, shared by the market tests as fixtures.

Session-scoped so hypothesis tests may use them too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from voisin.ledger import Ledger
from voisin.market import Operator
from voisin.protocol import Bid, Grid, KeyPair, Line

from .members import GRID, T0, Member

INTERVAL = "2026-06-21T12:00Z"


def make_bid(
    bid_id: str,
    side: str,
    kwh: float,
    price: float,
    bus: str = "R",
    *,
    participant: str | None = None,
    preferred: tuple[str, ...] = (),
    interval: str = INTERVAL,
) -> Bid:
    """A one-segment bid; the participant defaults to ``p-<bid_id>``."""
    return Bid(
        bid_id=bid_id,
        participant=participant or f"p-{bid_id}",
        bus=bus,
        interval=interval,
        side=side,
        segments=({"energy_kwh": kwh, "price_eur_per_kwh": price},),
        preferred=preferred,
    )


def make_grid(
    lines: tuple[tuple[str, str, float], ...] = (),
    *,
    import_price: float = 0.30,
    export_price: float = 0.05,
    transformer: float | None = None,
) -> Grid:
    """A feeder rooted at ``R`` with the buses the lines name."""
    buses = ["R"]
    for a, b, _ in lines:
        buses += [x for x in (a, b) if x not in buses]
    return Grid(
        root="R",
        buses=tuple(buses),
        lines=tuple(Line(from_bus=a, to_bus=b, capacity_kwh=c) for a, b, c in lines),
        import_price_eur_per_kwh=import_price,
        export_price_eur_per_kwh=export_price,
        transformer_capacity_kwh=transformer,
    )


@pytest.fixture(scope="session")
def bid() -> Callable[..., Bid]:
    return make_bid


@pytest.fixture(scope="session")
def grid() -> Callable[..., Grid]:
    return make_grid


@pytest.fixture
def market(tmp_path: Path):
    """An operator on ``members.GRID`` with a seller at F1 and a buyer at TR registered."""
    seller, buyer = Member("seller", "F1"), Member("buyer", "TR")
    ledger = Ledger.open(tmp_path / "l.sqlite", KeyPair.derive("test", "operator"))
    op = Operator(GRID, ledger)
    op.register(
        [seller.participant, buyer.participant],
        time=T0.start.isoformat(),
        allowance_micro=10_000_000,
    )
    yield op, seller, buyer, tmp_path / "l.sqlite"
    ledger.close()


def repaired_by_price(bids: list[Bid], grid: Grid, result) -> bool:
    """Whether ``clear``'s proximity split had a p2p piece running downhill in price, so
    ``pairing`` paired again (docs/clearing.md, "Trades", step 4). Without congestion
    never; on a radial feeder the re-paired trades keep the gross grid legs equal to the
    net exchange unless green-only buyers' global constraint cleared energy no seller
    priced at or below them could supply (then a grid leg is the only trade the ledger
    can pay for)."""
    from voisin.market.bulk_trades import NETTED_SPLIT_BIDS, allocate_netted
    from voisin.market.feeder import Feeder
    from voisin.market.pairing import pair_allocations
    from voisin.market.trades import allocate
    from voisin.protocol.trades import recorded_adjustments

    ordered = sorted(bids, key=lambda b: b.bid_id)
    if len(ordered) > NETTED_SPLIT_BIDS:
        raw = allocate_netted(ordered, result.cleared_kwh, grid)
    else:
        raw = allocate(ordered, result.cleared_kwh, Feeder.of(grid))
    adjust = recorded_adjustments(
        ordered, result.prices_eur_per_kwh, result.settlement_prices_eur_per_kwh
    )
    return (
        pair_allocations(
            raw,
            ordered,
            result.prices_eur_per_kwh,
            grid.root,
            result.green_premium_eur_per_kwh,
            adjust,
        )
        != raw
    )
