"""Participants: a pseudonymous key at a bus, with the tariff that is its grid fallback."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from voisin.protocol.encoding import canonical_bytes
from voisin.protocol.keys import KeyPair, verify

MAX_PRICE_EUR_PER_KWH = 1_000.0
"""The largest price a tariff or a city may name, in either sign. Retail prices are
tenths of a euro per kWh and the European day-ahead market's cap a few euros; beyond
this bound nothing real is described, and what is derived from a price (token amounts
in integer micro-tokens, which the ledger's JSON keeps exact only below 2^53) overflows:
an import price of 1e300 made the genesis supply a 300-digit integer, refused only once
the run had started."""


class ParticipantKind(StrEnum):
    HOUSEHOLD = "household"
    SCHOOL = "school"
    SHOP = "shop"
    BATTERY = "battery"


class Tariff(BaseModel):
    """What the participant pays its retailer per kWh and gets back for feed-in.

    ``local_charge_eur_per_kwh`` is the member's own network charge and levies on each
    kWh it buys from a neighbour, when its connection owes other charges than the
    community's (``Grid.local_charge_eur_per_kwh``; docs/economics.md, "Who pays"). None
    (left out of the record): the community's. Re-clearing reads it from the member's
    registration, so the ledger holds every buyer's charge.
    """

    model_config = ConfigDict(frozen=True)

    import_eur_per_kwh: float = Field(ge=0, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False)
    export_eur_per_kwh: float = Field(ge=0, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False)
    local_charge_eur_per_kwh: float | None = Field(
        default=None, ge=0, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False
    )

    def local_charge_or(self, community_eur_per_kwh: float) -> float:
        """The charge this tariff's member owes per kWh bought from a neighbour."""
        own = self.local_charge_eur_per_kwh
        return community_eur_per_kwh if own is None else own

    @model_serializer(mode="wrap")
    def _omit_community_charge(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("local_charge_eur_per_kwh", 0.0) is None:
            del data["local_charge_eur_per_kwh"]
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Tariff:
        if self.export_eur_per_kwh > self.import_eur_per_kwh:
            raise ValueError("feed-in tariff above the retail tariff")
        return self


class Registration(BaseModel):
    """What the public ledger records of a member: only what settlement and re-clearing
    need (docs/privacy.md). ``participant_id`` is an Ed25519 public key (hex), a
    pseudonym that may be valid for one day only (``valid_from <= interval <
    valid_until``, interval ids; absent: unbounded); ``meter_id`` is the key its meter
    signs readings with over the same span. No kind, no group, no name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    participant_id: str = Field(min_length=1)
    bus: str
    tariff: Tariff
    meter_id: str = ""
    valid_from: str | None = None
    valid_until: str | None = None

    @model_serializer(mode="wrap")
    def _omit_unbounded(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("valid_from", "valid_until"):
            if name in data and data[name] is None:
                del data[name]
        return data

    def active(self, interval: str) -> bool:
        """Whether this key may bid and is settled in ``interval``."""
        return (self.valid_from is None or self.valid_from <= interval) and (
            self.valid_until is None or interval < self.valid_until
        )

    def registration(self) -> Registration:
        """The public record alone (a ``Participant`` without its kind and group)."""
        return Registration.model_validate(
            self.model_dump(mode="json", include=set(Registration.model_fields))
        )


def own_charges(members: Iterable[Registration]) -> dict[str, float]:
    """Per participant id, the local charge its tariff names (members owing the
    community's charge are left out): what ``clear`` charges each buyer."""
    return {
        m.participant_id: m.tariff.local_charge_eur_per_kwh
        for m in members
        if m.tariff.local_charge_eur_per_kwh is not None
    }


class Participant(Registration):
    """A market member as the operator's private registry and the simulation know it.

    ``kind`` and ``group`` (a coarse class for reports: "pv", "pv+battery",
    "consumer", "school") stay off the ledger, like names and addresses.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: ParticipantKind
    group: str


class PseudonymLink(BaseModel):
    """One-time key ``pseudonym`` (and its meter's key ``meter``) belongs to ``member``
    (whose meter is ``member_meter``) from ``valid_from`` until ``valid_until``; signed
    by the member's key over the RFC 8785 bytes without ``signature``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    member: str
    member_meter: str
    pseudonym: str
    meter: str
    valid_from: str
    valid_until: str
    signature: str = ""

    def signed_bytes(self) -> bytes:
        return canonical_bytes(self.model_dump(mode="json", exclude={"signature"}))

    def signed_by(self, key: KeyPair) -> PseudonymLink:
        return self.model_copy(update={"signature": key.sign(self.signed_bytes())})

    def verifies(self) -> bool:
        return verify(self.member, self.signed_bytes(), self.signature)
