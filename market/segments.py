"""A book as arrays: one entry per bid segment, the form every clearing path reads.

``SegmentBook`` is what the LP (``formulation``), the price rule and the netted split
work on; ``book_of`` turns ``Bid`` objects (already in ``bid_id`` order) into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voisin.errors import InvalidInput
from voisin.market.network import Network
from voisin.protocol import BidView, Side


@dataclass(frozen=True, eq=False)
class SegmentBook:
    """A book as parallel arrays, one entry per segment (kWh, EUR/kWh).

    ``bid[s]`` numbers the bid that segment ``s`` belongs to (0..bids-1, in the order
    the caller wants results in, e.g. ``bid_id`` order); ``sell[s]`` is True for offers.
    """

    bus: np.ndarray
    sell: np.ndarray
    energy_kwh: np.ndarray
    price_eur_per_kwh: np.ndarray
    bid: np.ndarray
    green: np.ndarray = None  # type: ignore[assignment]  # None: all False, set in __post_init__
    """True for segments of green-only buy bids (all False when not given)."""
    inflexible: np.ndarray = None  # type: ignore[assignment]  # None: all False, set in __post_init__
    """True for segments of inflexible bids: energy that flows whether or not it clears
    (all False when not given: the classic double auction's flexible bids)."""
    charge_eur_per_kwh: np.ndarray | None = None
    """Per segment: the local charge its buyer owes on energy from a neighbour (the
    buyer's own network charges and levies; read on buy segments only). None: every
    buyer owes the network's one ``local_charge_eur_per_kwh``."""

    def __post_init__(self) -> None:
        n = len(self.energy_kwh)
        if self.charge_eur_per_kwh is not None:
            charge = np.asarray(self.charge_eur_per_kwh, dtype=float)
            if charge.shape != (n,) or not np.all(np.isfinite(charge)) or np.any(charge < 0):
                raise InvalidInput("one finite local charge >= 0 per segment", code="bad-book")
            object.__setattr__(self, "charge_eur_per_kwh", charge)
        for name in ("green", "inflexible"):
            flags = getattr(self, name)
            flags = np.zeros(n, dtype=bool) if flags is None else np.asarray(flags, dtype=bool)
            if flags.shape != (n,):
                raise InvalidInput(f"one {name} flag per segment", code="bad-book")
            object.__setattr__(self, name, flags)
        if np.any(self.green & self.sell):
            raise InvalidInput("only buy bids may be green-only", code="bad-book")

    @property
    def has_green(self) -> bool:
        """Whether the LP needs its green row (some green-only buy segment)."""
        return bool(np.any(self.green))

    @classmethod
    def of(
        cls,
        bus: np.ndarray,
        sell: np.ndarray,
        energy_kwh: np.ndarray,
        price_eur_per_kwh: np.ndarray,
        bid: np.ndarray | None = None,
        *,
        bus_count: int,
        green: np.ndarray | None = None,
        inflexible: np.ndarray | None = None,
        charge_eur_per_kwh: np.ndarray | None = None,
    ) -> SegmentBook:
        """Validated arrays; ``bid`` defaults to one bid per segment."""
        n = len(energy_kwh)
        bus = np.asarray(bus, dtype=np.int64)
        sell = np.asarray(sell, dtype=bool)
        energy = np.asarray(energy_kwh, dtype=float)
        price = np.asarray(price_eur_per_kwh, dtype=float)
        owner = np.arange(n, dtype=np.int64) if bid is None else np.asarray(bid, dtype=np.int64)
        if not all(len(a) == n for a in (bus, sell, price, owner)):
            raise InvalidInput("book arrays must have one entry per segment", code="bad-book")
        if n and (bus.min() < 0 or bus.max() >= bus_count):
            raise InvalidInput("a segment names a bus outside the network", code="unknown-bus")
        if not (np.all(np.isfinite(energy)) and np.all(energy > 0) and np.all(np.isfinite(price))):
            raise InvalidInput("segment kWh must be finite and > 0, prices finite", code="bad-book")
        if n and (owner.min() < 0 or np.any(np.diff(owner) < 0)):
            raise InvalidInput(
                "segments must be grouped by bid, bids numbered from 0", code="bad-book"
            )
        same = owner[1:] == owner[:-1]
        if np.any(same & ((bus[1:] != bus[:-1]) | (sell[1:] != sell[:-1]))):
            raise InvalidInput("all segments of a bid share its bus and side", code="bad-book")
        if charge_eur_per_kwh is not None:
            charge = np.asarray(charge_eur_per_kwh, dtype=float)
            if len(charge) == n and np.any(same & (charge[1:] != charge[:-1])):
                raise InvalidInput("all segments of a bid share its local charge", code="bad-book")
        return cls(bus, sell, energy, price, owner, green, inflexible, charge_eur_per_kwh)  # type: ignore[arg-type]

    @property
    def segment_count(self) -> int:
        return len(self.energy_kwh)

    @property
    def bid_count(self) -> int:
        return int(self.bid[-1]) + 1 if len(self.bid) else 0

    def local_charges(self, uniform_eur_per_kwh: float) -> tuple[float, np.ndarray]:
        """(reference, excess): the local charge every local kWh pays, the lowest any
        buyer owes (``uniform_eur_per_kwh`` when no charges are given or nobody buys),
        and per segment what its buyer owes above it (0 on offers)."""
        buy = ~self.sell
        if self.charge_eur_per_kwh is None or not buy.any():
            return uniform_eur_per_kwh, np.zeros(self.segment_count)
        reference = float(self.charge_eur_per_kwh[buy].min())
        return reference, np.where(buy, self.charge_eur_per_kwh - reference, 0.0)

    def grid_servable(self, uniform_eur_per_kwh: float) -> np.ndarray:
        """The buy segments the upstream grid may serve to spare them their excess
        charge (``formulation``'s ``grid_served`` columns, in order): those owing more
        than the reference, green-only ones excepted (the clearing serves those from
        peers only, so every kWh they buy is local and owes their own charge)."""
        excess = self.local_charges(uniform_eur_per_kwh)[1]
        return np.flatnonzero((excess > 0) & ~self.green)

    @property
    def value_eur_per_kwh(self) -> np.ndarray:
        """Objective coefficient: what one cleared kWh adds to welfare."""
        return np.where(self.sell, -self.price_eur_per_kwh, self.price_eur_per_kwh)


@dataclass(frozen=True, eq=False)
class BidColumns:
    """The per-bid fields of a book (bids in ``bid_id`` order) that the clearing reads
    as columns: made once per clearing and read by the segment book, the netted split
    and the trade prices, each of which built its own from the bids before (0.1-0.2 s
    at 10^5 bids, docs/performance.md, round 6)."""

    ids: list[str]
    participant: list[str]
    bus: np.ndarray
    """Index of each bid's bus in the network's ``buses``."""
    sell: np.ndarray
    green: np.ndarray

    @classmethod
    def of(cls, ordered: Sequence[BidView], buses: Iterable[str]) -> BidColumns:
        """``buses``: the network's, in its order (any that holds every bid's bus where
        only equal buses matter)."""
        index = {bus: i for i, bus in enumerate(buses)}
        return cls(
            [bid.bid_id for bid in ordered],
            [bid.participant for bid in ordered],
            np.array([index[bid.bus] for bid in ordered], dtype=np.int64),
            np.array([bid.side is Side.SELL for bid in ordered], dtype=bool),
            np.array([bid.green_only for bid in ordered], dtype=bool),
        )


def book_of(
    ordered: Sequence[BidView],
    net: Network,
    charges: Mapping[str, float] | None = None,
    columns: BidColumns | None = None,
) -> SegmentBook:
    """Arrays for ``Bid``s already in ``bid_id`` order (segments numbered by bid).

    ``charges`` (by participant) are buyers' own local charges; a participant not named
    owes the network's. None or empty: no per-buyer charges, the one wedge. ``columns``
    are the bids' ``BidColumns`` when the caller made them already."""
    cols = BidColumns.of(ordered, net.buses) if columns is None else columns
    counts = np.array([len(bid.segments) for bid in ordered], dtype=np.int64)
    owner = np.repeat(np.arange(len(ordered), dtype=np.int64), counts)
    steps = [seg for bid in ordered for seg in bid.segments]
    inflexible = np.array([bid.inflexible for bid in ordered], dtype=bool)
    return SegmentBook.of(
        cols.bus[owner],
        cols.sell[owner],
        np.array([seg.energy_kwh for seg in steps], dtype=float),
        np.array([seg.price_eur_per_kwh for seg in steps], dtype=float),
        owner,
        bus_count=net.bus_count,
        green=cols.green[owner],
        inflexible=inflexible[owner],
        charge_eur_per_kwh=None
        if not charges
        else np.array(
            [charges.get(p, net.local_charge_eur_per_kwh) for p in cols.participant],
            dtype=float,
        )[owner],
    )
