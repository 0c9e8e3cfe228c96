"""Bids: a participant's signed price-quantity curve for one interval.

The models are strict, because they are what the network edge validates: unknown fields
are refused, numbers must be JSON numbers (not ``"0.5"``, not ``true``; an integer is
a number, so ``2`` and ``2.0`` are the same energy), booleans must be booleans and
``seq`` an integer within +-(2^53 - 1), which every JSON reader holds exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from voisin.protocol.encoding import MAX_SAFE_INTEGER, canonical_bytes


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


def _at_default(value: object) -> bool:
    """A field left out of a bid's serialised form: ``False`` or ``0.0``, its default."""
    return not value


class Segment(BaseModel):
    """One step of a curve: up to ``energy_kwh`` at a limit of ``price_eur_per_kwh``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    energy_kwh: float = Field(gt=0, strict=True)
    price_eur_per_kwh: float = Field(strict=True)

    @field_validator("energy_kwh", "price_eur_per_kwh")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class Bid(BaseModel):
    """A buy or sell curve for one interval at the participant's bus.

    Buyers' limits are the most they will pay, sellers' the least they will accept.
    ``preferred`` lists participant ids this bid would rather trade with (the school
    first); ``seq`` is the sender's sequence number for replay protection.
    ``green_only`` (buy bids only) asks for local renewable supply: the market serves
    such a bid from neighbourhood sellers only, never by a grid import.
    ``preferred_discount_eur_per_kwh`` (sell bids only) is what the seller gives up per
    kWh it sells to a ``preferred`` buyer: both sides of that trade settle that much
    below the nodal prices, never taking the seller below its own limit.
    ``inflexible`` says the energy flows whether or not it clears: a household's
    forecast surplus or need, rather than a flexible resource. What the market does not
    match is still exported (or imported) through the feeder and settled with the
    participant's retailer; an inflexible offer may be curtailed when the feeder's
    physics demands it (docs/clearing.md). These three fields are left out of the
    serialised (and signed) form at their defaults, so bids signed before they existed
    keep their bytes. The rule is declared on the fields (``exclude_if``), so decoding
    reads which fields a bid writes from the model (``signed.written_fields``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    bid_id: str = Field(min_length=1, max_length=128)
    participant: str = Field(min_length=1)
    bus: str = Field(min_length=1)
    interval: str
    side: Side = Field(strict=False)
    segments: tuple[Segment, ...] = Field(min_length=1, max_length=32, strict=False)
    preferred: tuple[str, ...] = Field(default=(), strict=False)
    seq: int = Field(default=0, ge=0, le=MAX_SAFE_INTEGER)
    signature: str = ""
    green_only: bool = Field(default=False, exclude_if=_at_default)
    preferred_discount_eur_per_kwh: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, exclude_if=_at_default
    )
    inflexible: bool = Field(default=False, exclude_if=_at_default)

    @model_validator(mode="after")
    def _side_specific(self) -> Bid:
        if self.green_only and self.side is not Side.BUY:
            raise ValueError("green_only applies to buy bids only")
        if self.preferred_discount_eur_per_kwh and self.side is not Side.SELL:
            raise ValueError("preferred_discount_eur_per_kwh applies to sell bids only")
        return self

    @property
    def energy_kwh(self) -> float:
        return sum(s.energy_kwh for s in self.segments)

    def unsigned(self) -> dict[str, object]:
        """The fields the signature covers (everything but the signature)."""
        return self.model_dump(mode="json", exclude={"signature"})

    def wire(self) -> bytes:
        """The bid's RFC 8785 bytes, signature included: what travels and is stored."""
        return canonical_bytes(self)


class SegmentView(Protocol):
    """What the market reads of a curve step: a ``Segment`` or a ``compact.Step``."""

    @property
    def energy_kwh(self) -> float: ...
    @property
    def price_eur_per_kwh(self) -> float: ...


class BidView(Protocol):
    """What the clearing reads of a bid: a ``Bid``, or the operator's ``CompactBid``
    (``protocol.compact``), which holds the same fields without a pydantic model per
    bid. Rules that rewrite a bid (contracts, uniform pricing) take a ``Bid``
    (``compact.as_bid``)."""

    @property
    def bid_id(self) -> str: ...
    @property
    def participant(self) -> str: ...
    @property
    def bus(self) -> str: ...
    @property
    def interval(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def segments(self) -> Sequence[SegmentView]: ...
    @property
    def preferred(self) -> Sequence[str]: ...
    @property
    def seq(self) -> int: ...
    @property
    def green_only(self) -> bool: ...
    @property
    def preferred_discount_eur_per_kwh(self) -> float: ...
    @property
    def inflexible(self) -> bool: ...
    @property
    def energy_kwh(self) -> float: ...
