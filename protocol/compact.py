"""``CompactBid``: an accepted bid as the operator's book holds it until its gate closes.

A pydantic ``Bid`` with its ``Segment`` objects costs about 2.2 KB of Python objects;
a book of a million bids held that way did not fit the 4 GB the operator may use
(docs/performance.md, close_gate). The compact row keeps the bytes the member signed
(what the ledger stores and the book hash and bid digest are made of) and the fields
the market reads (``BidView``), its strings shared between a member's bids, in a
few hundred bytes. A ``Bid`` is decoded again from the bytes, by the same strict
rules as at intake, only where a rule needs the model (``as_bid``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import NamedTuple

from voisin.protocol.bids import Bid, BidView, Side
from voisin.protocol.signed import Signed, decode_part


class Step(NamedTuple):
    """One curve step of a compact bid (kWh, EUR/kWh): a ``Segment``'s two numbers."""

    energy_kwh: float
    price_eur_per_kwh: float


_NO_PREFERENCE: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class CompactBid:
    """A bid's signed bytes and the fields the market reads of it (``BidView``).

    Equality is identity: the operator's own-bids index finds the very row it holds."""

    data: bytes
    bid_id: str
    participant: str
    bus: str
    interval: str
    side: Side
    segments: tuple[Step, ...]
    preferred: tuple[str, ...]
    seq: int
    green_only: bool
    preferred_discount_eur_per_kwh: float
    inflexible: bool

    @classmethod
    def of(cls, signed: Signed[Bid]) -> CompactBid:
        """The row of a bid decoded and checked at intake (its bytes as received)."""
        bid = signed.value
        intern = sys.intern  # one string per member, bus and interval, not one per bid
        return cls(
            signed.data,
            bid.bid_id,
            intern(bid.participant),
            intern(bid.bus),
            intern(bid.interval),
            bid.side,
            tuple(Step(s.energy_kwh, s.price_eur_per_kwh) for s in bid.segments),
            tuple(intern(p) for p in bid.preferred) if bid.preferred else _NO_PREFERENCE,
            bid.seq,
            bid.green_only,
            bid.preferred_discount_eur_per_kwh,
            bid.inflexible,
        )

    @property
    def energy_kwh(self) -> float:
        steps = self.segments
        if len(steps) == 1:  # 0 + e is e: the sum below, without a generator per bid
            return steps[0].energy_kwh
        return sum(s.energy_kwh for s in steps)

    def bid(self) -> Bid:
        """The ``Bid`` its bytes decode to, by the rules intake applied."""
        return decode_part(Bid, json.loads(self.data), self.data, "bid").value

    def signed(self) -> Signed[Bid]:
        return Signed(self.bid(), self.data)


def as_bid(bid: BidView) -> Bid:
    """The model of a bid the market reads: itself, or a compact row decoded."""
    if isinstance(bid, Bid):
        return bid
    if isinstance(bid, CompactBid):
        return bid.bid()
    raise TypeError(f"not a bid: {type(bid).__name__}")


def bid_bytes(bid: BidView) -> bytes:
    """What a bid's signature covers with the signature in: a compact row's bytes as
    received, a ``Bid`` made here as its RFC 8785 bytes."""
    return bid.data if isinstance(bid, CompactBid) else Signed.of(as_bid(bid)).data
