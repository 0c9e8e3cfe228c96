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
    """Turns ``energy_kwh`` (> 0) on ``side`` into bid segments; none if it rounds to 0 Wh.

    ``observe`` hears how the agent's last bid did: the price it would have traded at
    (its bus price) and whether any of it cleared; adaptive strategies learn from it."""

    name: str

    def segments(
        self, side: Side, energy_kwh: float, tariff: Tariff, rng: np.random.Generator
    ) -> tuple[Segment, ...]: ...

    def observe(
        self, side: Side, price_eur_per_kwh: float, traded: bool, rng: np.random.Generator
    ) -> None: ...


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

    def observe(
        self, side: Side, price_eur_per_kwh: float, traded: bool, rng: np.random.Generator
    ) -> None:
        """Truthful bids need no feedback."""


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

    def observe(
        self, side: Side, price_eur_per_kwh: float, traded: bool, rng: np.random.Generator
    ) -> None:
        """Zero intelligence learns nothing."""


class ZeroIntelligencePlus:
    """ZIP (Cliff 1997, "Minimal-intelligence agents for bargaining behaviours in
    market-based environments", HP Labs HPL-97-91): a limit price ``reservation x (1 +
    margin)`` for a seller, ``reservation x (1 - margin)`` for a buyer, the reservation
    being the grid fallback (feed-in, retail). After each clearing the margin moves by
    Widrow-Hoff towards a target just beyond the price the agent heard: up when it
    traded at a price it could have bettered, down when it did not trade; with learning
    rate ``beta`` and momentum ``gamma``, both drawn per agent as Cliff draws them.

    Cliff's rules for a seller at limit p and last price q: if it traded and p <= q,
    raise the margin (target ``R q + A``, R in [1, 1.05], A in [0, ABS]); if p > q or it
    did not trade, lower it (R in [0.95, 1], A in [-ABS, 0]). A buyer mirrors this.
    The limit stays in [feed-in, retail], so it never bids worse than the grid.
    """

    name = "zip"
    ABS_EUR_PER_KWH = 0.005
    """Cliff's absolute perturbation (0.05 on his 0-4 price scale), scaled to EUR/kWh."""

    def __init__(self) -> None:
        self.margin: dict[Side, float] = {}
        self.momentum: dict[Side, float] = {Side.SELL: 0.0, Side.BUY: 0.0}
        self.beta = 0.0
        self.gamma = 0.0
        self.limit: dict[Side, float] = {}
        self.tariff: Tariff | None = None

    def _start(self, rng: np.random.Generator) -> None:
        if not self.margin:
            self.beta = float(rng.uniform(0.1, 0.5))
            self.gamma = float(rng.uniform(0.0, 0.1))
            self.margin = {Side.SELL: float(rng.uniform(0.05, 0.35)), Side.BUY: 0.0}
            self.margin[Side.BUY] = float(rng.uniform(0.05, 0.35))

    def _bounds(self, tariff: Tariff) -> tuple[float, float]:
        return tariff.export_eur_per_kwh, tariff.import_eur_per_kwh

    def _price(self, side: Side, tariff: Tariff) -> float:
        low, high = self._bounds(tariff)
        if side is Side.SELL:
            raw = low * (1 + self.margin[side]) if low > 0 else high * self.margin[side]
        else:
            raw = high * (1 - self.margin[side])
        return min(high, max(low, round(raw, PRICE_DECIMALS)))

    def segments(
        self, side: Side, energy_kwh: float, tariff: Tariff, rng: np.random.Generator
    ) -> tuple[Segment, ...]:
        self._start(rng)
        self.tariff = tariff
        total = round(energy_kwh, ENERGY_DECIMALS)
        if total <= 0:
            return ()
        price = self._price(side, tariff)
        self.limit[side] = price
        return _curve(side, [(total, price)])

    def observe(
        self, side: Side, price_eur_per_kwh: float, traded: bool, rng: np.random.Generator
    ) -> None:
        if side not in self.limit or self.tariff is None:
            return
        p, q = self._price(side, self.tariff), price_eur_per_kwh
        sell = side is Side.SELL
        better = traded and (p <= q if sell else p >= q)
        up = better == sell  # a seller asks more, a buyer offers less, when it can
        r = float(rng.uniform(1.0, 1.05) if up else rng.uniform(0.95, 1.0))
        a = float(rng.uniform(0.0, self.ABS_EUR_PER_KWH))
        target = r * q + (a if up else -a)
        step = self.gamma * self.momentum[side] + (1 - self.gamma) * self.beta * (target - p)
        self.momentum[side] = step
        low, high = self._bounds(self.tariff)
        new = min(high, max(low, p + step))
        if sell:
            base = low if low > 0 else high
            self.margin[side] = max(0.0, (new / base - 1) if low > 0 else new / base)
        else:
            self.margin[side] = min(1.0, max(0.0, 1 - new / high))


STRATEGIES: dict[str, type[Truthful] | type[ZeroIntelligence] | type[ZeroIntelligencePlus]] = {
    Truthful.name: Truthful,
    ZeroIntelligence.name: ZeroIntelligence,
    ZeroIntelligencePlus.name: ZeroIntelligencePlus,
}
"""Strategies by the name a configuration or CLI flag uses."""
