"""Meter readings: what a meter measured over one interval, signed by the meter.

Strict like bids (see ``voisin.protocol.bids``): unknown fields refused, numbers must be
JSON numbers and ``estimated`` a boolean.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MeterReading(BaseModel):
    """Energy over one interval in kWh.

    ``battery_kwh`` is positive when the battery discharged into the house and negative
    when it charged. ``export_kwh`` and ``import_kwh`` are what crossed the connection
    point; exactly one of them is non-zero. ``estimated`` marks a reading the operator
    filled in for a missing one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    meter: str
    participant: str
    interval: str
    pv_kwh: float = Field(ge=0, allow_inf_nan=False)
    load_kwh: float = Field(ge=0, allow_inf_nan=False)
    battery_kwh: float = Field(default=0.0, allow_inf_nan=False)
    import_kwh: float = Field(ge=0, allow_inf_nan=False)
    export_kwh: float = Field(ge=0, allow_inf_nan=False)
    estimated: bool = False
    signature: str = ""

    @property
    def net_export_kwh(self) -> float:
        return self.export_kwh - self.import_kwh

    def unsigned(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"signature"})
