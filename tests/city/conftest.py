"""Small cities by hand: transport feeders under a transport MV network."""

from __future__ import annotations

import numpy as np

from voisin.city.residual import FeederMarket
from voisin.market.bulk import ArrayClearing
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


def split_values(market: FeederMarket, local: ArrayClearing) -> tuple[float, float]:
    """What the curve's split and the re-clearing's split are each worth, for the
    re-clearing's dispatch: the curve leaves the rest at 0, so it matches each bus's
    inflexible energy served (offered less curtailed or shed) to its dearest positive
    values (a buyer's limit, minus a seller's ask); the re-clearing matches what it
    cleared. A feeder's welfare at the curve's split is its re-clearing's less the
    second, plus the first (``market.upstream``: the two differ in the split only)."""
    book = market.book
    first = np.searchsorted(book.bid, np.arange(book.bid_count))
    value = np.where(book.sell[first], -1.0, 1.0) * book.price_eur_per_kwh[first]
    firm = np.flatnonzero(book.inflexible[first])
    cut = {**local.curtailed_kwh, **local.shed_kwh}
    curve = 0.0
    for bus, sell in {(int(book.bus[first[i]]), bool(book.sell[first[i]])) for i in firm}:
        members = [i for i in firm if book.bus[first[i]] == bus and book.sell[first[i]] == sell]
        left = sum(book.energy_kwh[first[i]] - cut.get(int(i), 0.0) for i in members)
        for i in sorted(members, key=lambda i: -value[i]):
            take = min(left, book.energy_kwh[first[i]])
            curve += max(value[i], 0.0) * take
            left -= take
    return curve, float(value[firm] @ local.cleared_kwh[firm])
