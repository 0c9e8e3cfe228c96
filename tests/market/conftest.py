"""Tiny feeders and books built by hand, shared by the market tests as fixtures.

Session-scoped so hypothesis tests may use them too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from voisin.protocol import Bid, Grid, Line

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
