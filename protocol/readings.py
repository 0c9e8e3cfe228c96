"""Meter readings: what a meter measured over one interval, signed by the meter.

Strict like bids (see ``voisin.protocol.bids``): unknown fields refused, numbers must be
JSON numbers and ``estimated`` a boolean.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class MeterReading(BaseModel):
    """Energy over one interval in kWh.

    ``battery_kwh`` is positive when the battery discharged into the house and negative
    when it charged. ``export_kwh`` and ``import_kwh`` are what crossed the connection
    point; exactly one of them is non-zero. ``estimated`` marks a reading the operator
    filled in for a missing one. ``import_register_kwh`` and ``export_register_kwh`` are
    the meter's cumulative registers at the interval's end, for meters that report them;
    they are left out of the serialised (and signed) form when absent, so readings
    signed before they existed keep their bytes.
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
    import_register_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    export_register_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _omit_absent_registers(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("import_register_kwh", "export_register_kwh"):
            if data.get(name, 0) is None:
                del data[name]
        return data

    @property
    def net_export_kwh(self) -> float:
        return self.export_kwh - self.import_kwh

    def unsigned(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"signature"})
