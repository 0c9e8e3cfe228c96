"""Bids: a participant's signed price-quantity curve for one interval."""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Segment(BaseModel):
    """One step of a curve: up to ``energy_kwh`` at a limit of ``price_eur_per_kwh``."""

    model_config = ConfigDict(frozen=True)

    energy_kwh: float = Field(gt=0)
    price_eur_per_kwh: float

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
    """

    model_config = ConfigDict(frozen=True)

    bid_id: str = Field(min_length=1, max_length=128)
    participant: str = Field(min_length=1)
    bus: str = Field(min_length=1)
    interval: str
    side: Side
    segments: tuple[Segment, ...] = Field(min_length=1, max_length=32)
    preferred: tuple[str, ...] = ()
    seq: int = Field(default=0, ge=0)
    signature: str = ""

    @property
    def energy_kwh(self) -> float:
        return sum(s.energy_kwh for s in self.segments)

    def unsigned(self) -> dict[str, object]:
        """The fields the signature covers (everything but the signature)."""
        return self.model_dump(mode="json", exclude={"signature"})
