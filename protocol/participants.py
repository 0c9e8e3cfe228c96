"""Participants: a pseudonymous key at a bus, with the tariff that is its grid fallback."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ParticipantKind(StrEnum):
    HOUSEHOLD = "household"
    SCHOOL = "school"
    SHOP = "shop"
    BATTERY = "battery"


class Tariff(BaseModel):
    """What the participant pays its retailer per kWh and gets back for feed-in."""

    model_config = ConfigDict(frozen=True)

    import_eur_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    export_eur_per_kwh: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Tariff:
        if self.export_eur_per_kwh > self.import_eur_per_kwh:
            raise ValueError("feed-in tariff above the retail tariff")
        return self


class Participant(BaseModel):
    """A market member. ``participant_id`` is its Ed25519 public key (hex).

    ``group`` is a coarse class for reports ("pv", "pv+battery", "consumer", "school");
    names and addresses never reach the ledger.
    """

    model_config = ConfigDict(frozen=True)

    participant_id: str = Field(min_length=1)
    kind: ParticipantKind
    group: str
    bus: str
    tariff: Tariff
    meter_id: str = ""
