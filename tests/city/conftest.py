"""Small cities by hand: transport feeders under a transport MV network."""

from __future__ import annotations

from voisin.protocol import Bid, Grid, Line

INTERVAL = "2026-06-21T12:00Z"


def bid(
    bid_id: str, side: str, kwh: float, price: float, bus: str, *, inflexible: bool = False
) -> Bid:
    """A one-segment bid by participant ``p-<bid_id>``."""
    return Bid(
        bid_id=bid_id,
        participant=f"p-{bid_id}",
        bus=bus,
        interval=INTERVAL,
        side=side,
        segments=({"energy_kwh": kwh, "price_eur_per_kwh": price},),
        inflexible=inflexible,
    )


def grid(
    root: str,
    lines: tuple[tuple[str, str, float], ...],
    *,
    import_price: float = 0.30,
    export_price: float = 0.05,
    transformer: float | None = None,
) -> Grid:
    """A transport grid rooted at ``root`` with the buses its lines name."""
    buses = [root]
    for a, b, _ in lines:
        buses += [x for x in (a, b) if x not in buses]
    return Grid(
        root=root,
        buses=tuple(buses),
        lines=tuple(Line(from_bus=a, to_bus=b, capacity_kwh=c) for a, b, c in lines),
        import_price_eur_per_kwh=import_price,
        export_price_eur_per_kwh=export_price,
        transformer_capacity_kwh=transformer,
    )
