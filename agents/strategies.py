"""Bidding strategies: how a forecast surplus or need becomes a price-quantity curve.

A strategy knows nothing about devices: it gets the energy to trade, the side and the
participant's tariff, which bounds every sensible price. Selling below the feed-in
tariff or buying above the retail tariff would be worse than the grid fallback, so every
limit lies in [feed-in, retail].
"""

from __future__ import annotations

from itertools import pairwise
from typing import Protocol

import numpy as np

from voisin.protocol import Segment, Side, Tariff

ENERGY_DECIMALS = 3
"""Bids carry whole watt-hours."""
PRICE_DECIMALS = 5
"""Limits carry a thousandth of a cent per kWh."""


class Strategy(Protocol):
    """Turns ``energy_kwh`` (> 0) on ``side`` into bid segments; none if it rounds to 0 Wh."""

    name: str

    def segments(
        self, side: Side, energy_kwh: float, tariff: Tariff, rng: np.random.Generator
    ) -> tuple[Segment, ...]: ...


def _curve(side: Side, parts: list[tuple[float, float]]) -> tuple[Segment, ...]:
    """Segments as a well-formed curve: sellers cheapest first, buyers dearest first."""
    ordered = sorted(parts, key=lambda p: p[1], reverse=side is Side.BUY)
    return tuple(Segment(energy_kwh=e, price_eur_per_kwh=p) for e, p in ordered)


class Truthful:
    """Bid the grid fallback: sell at the feed-in tariff, buy at the retail tariff.

    A price-taker's honest valuation; it never trades worse than the grid would.
    """

    name = "truthful"

    def segments(
        self, side: Side, energy_kwh: float, tariff: Tariff, rng: np.random.Generator
    ) -> tuple[Segment, ...]:
        price = tariff.export_eur_per_kwh if side is Side.SELL else tariff.import_eur_per_kwh
        total = round(energy_kwh, ENERGY_DECIMALS)
        return _curve(side, [(total, price)]) if total > 0 else ()


class ZeroIntelligence:
    """Zero-intelligence constrained (ZI-C, Gode and Sunder 1993): each limit is drawn
    uniformly between the feed-in and retail tariffs, so a trader never bids at a loss
    against its grid fallback but otherwise has no strategy.

    Energy above ``split_kwh`` is split, half the time, into two segments at independent
    limits, giving the market curves rather than single steps.
    """

    name = "zi-c"

    def __init__(self, max_segments: int = 2, split_kwh: float = 0.05) -> None:
        self.max_segments = max(1, max_segments)
        self.split_kwh = split_kwh

    def segments(
        self, side: Side, energy_kwh: float, tariff: Tariff, rng: np.random.Generator
    ) -> tuple[Segment, ...]:
        low, high = tariff.export_eur_per_kwh, tariff.import_eur_per_kwh
        total = round(energy_kwh, ENERGY_DECIMALS)
        if total <= 0:
            return ()
        count = int(rng.integers(1, self.max_segments + 1))
        if total < count * self.split_kwh:
            count = 1
        cuts = np.sort(rng.uniform(0.2, 0.8, size=count - 1)) if count > 1 else np.zeros(0)
        bounds = [0.0, *(round(total * c, ENERGY_DECIMALS) for c in cuts), total]
        energies = [round(b - a, ENERGY_DECIMALS) for a, b in pairwise(bounds)]
        prices = rng.uniform(low, high, size=len(energies))
        parts = [
            (e, min(high, max(low, round(float(p), PRICE_DECIMALS))))
            for e, p in zip(energies, prices, strict=True)
            if e > 0
        ]
        return _curve(side, parts)


STRATEGIES: dict[str, type[Truthful] | type[ZeroIntelligence]] = {
    Truthful.name: Truthful,
    ZeroIntelligence.name: ZeroIntelligence,
}
"""Strategies by the name a configuration or CLI flag uses."""
