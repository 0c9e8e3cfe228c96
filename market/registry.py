"""A community's registry file: who may trade, where they sit, and what they own.

The operator loads it to admit exactly these keys (its CURVE allow-list and the ledger's
registrations); a household's agent loads the same file to find its own entry, bus,
tariff and devices, and pins the operator key it names. Identities come from
`voisin keys new`; the file holds public keys only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voisin.errors import InvalidInput
from voisin.protocol import Grid, Participant, parse
from voisin.protocol.validation import read_json_file

_HEX_KEY = r"^[0-9a-f]{64}$"


class RegisteredBattery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity_kwh: float = Field(gt=0, allow_inf_nan=False)
    power_kw: float = Field(gt=0, allow_inf_nan=False)
    efficiency: float = Field(default=0.9, gt=0, le=1)


class RegisteredMember(BaseModel):
    """One participant's public record and devices (kWp, kWh a year, BDEW profile)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    participant: Participant
    pv_kwp: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    annual_kwh: float = Field(default=3500.0, ge=0, allow_inf_nan=False)
    load_profile: Literal["h0", "g1"] = "h0"
    battery: RegisteredBattery | None = None
    preferred: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.participant.participant_id


class Registry(BaseModel):
    """The file format (JSON): operator key, fund account, feeder, members."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: str = Field(pattern=_HEX_KEY)
    fund: str = Field(default="fund", min_length=1)
    grid: Grid
    members: tuple[RegisteredMember, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        ids = [m.id for m in self.members]
        if len(set(ids)) != len(ids):
            raise ValueError("a participant is listed twice")
        for m in self.members:
            if m.participant.bus not in self.grid.buses:
                raise ValueError(
                    f"participant {m.id[:12]} sits at unknown bus {m.participant.bus!r}"
                )
            if not m.participant.meter_id:
                raise ValueError(f"participant {m.id[:12]} has no meter_id")
            stray = [p for p in m.preferred if p not in ids]
            if stray:
                raise ValueError(f"participant {m.id[:12]} prefers unlisted {stray[0][:12]}")
        return self

    @property
    def participants(self) -> tuple[Participant, ...]:
        return tuple(m.participant for m in self.members)

    def entry(self, participant_id: str) -> RegisteredMember:
        for m in self.members:
            if m.id == participant_id:
                return m
        raise InvalidInput(
            f"key {participant_id[:12]} is not in the registry", code="not-registered"
        )


def load_registry(path: Path) -> Registry:
    data = read_json_file(path, "registry", "bad-registry")
    return parse(Registry, data, f"registry {path}")
