"""A home battery: state of charge with power limits and conversion losses.

Sign convention (as in ``MeterReading.battery_kwh``): positive kWh is discharge into the
house, negative is charge from it, both measured on the AC side. The round-trip
efficiency is split evenly: charging x kWh stores x * sqrt(eta), delivering y kWh draws
y / sqrt(eta) from the cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from voisin.errors import InvalidInput


@dataclass(frozen=True)
class BatterySpec:
    """Nameplate of a battery: usable capacity (kWh), inverter power (kW), round trip."""

    capacity_kwh: float
    power_kw: float
    efficiency: float = 0.9
    initial_soc_kwh: float = 0.0


class Battery:
    """A battery whose state of charge (kWh stored in the cells) stays in [0, capacity]."""

    def __init__(
        self, capacity_kwh: float, power_kw: float, efficiency: float = 0.9, soc_kwh: float = 0.0
    ) -> None:
        for name, value in (("capacity_kwh", capacity_kwh), ("power_kw", power_kw)):
            if not math.isfinite(value) or value < 0:
                raise InvalidInput(f"battery {name} must be a non-negative number, got {value}")
        if not math.isfinite(efficiency) or not 0 < efficiency <= 1:
            raise InvalidInput(f"battery efficiency must be in (0, 1], got {efficiency}")
        if not math.isfinite(soc_kwh) or not 0 <= soc_kwh <= capacity_kwh:
            raise InvalidInput(f"battery state of charge {soc_kwh} kWh is outside [0, capacity]")
        self.capacity_kwh = capacity_kwh
        self.power_kw = power_kw
        self.efficiency = efficiency
        self.soc_kwh = soc_kwh

    @classmethod
    def from_spec(cls, spec: BatterySpec) -> Battery:
        return cls(spec.capacity_kwh, spec.power_kw, spec.efficiency, spec.initial_soc_kwh)

    @property
    def charge_efficiency(self) -> float:
        return math.sqrt(self.efficiency)

    @property
    def discharge_efficiency(self) -> float:
        return math.sqrt(self.efficiency)

    def copy(self) -> Battery:
        return Battery(self.capacity_kwh, self.power_kw, self.efficiency, self.soc_kwh)

    def feasible(self, request_kwh: float, hours: float) -> float:
        """The part of ``request_kwh`` (AC side, + discharge / - charge) the battery can do
        over ``hours`` without breaking its power or state-of-charge limits."""
        if not math.isfinite(request_kwh) or not math.isfinite(hours) or hours <= 0:
            raise InvalidInput(f"battery request {request_kwh} kWh over {hours} h is not valid")
        limit = self.power_kw * hours
        if request_kwh >= 0:
            deliverable = self.soc_kwh * self.discharge_efficiency
            return min(request_kwh, limit, deliverable)
        absorbable = (self.capacity_kwh - self.soc_kwh) / self.charge_efficiency
        return -min(-request_kwh, limit, absorbable)

    def dispatch(self, request_kwh: float, hours: float) -> float:
        """Charge or discharge as close to ``request_kwh`` as the limits allow; returns the
        energy actually exchanged with the house (same sign convention)."""
        actual = self.feasible(request_kwh, hours)
        if actual >= 0:
            self.soc_kwh = max(0.0, self.soc_kwh - actual / self.discharge_efficiency)
        else:
            self.soc_kwh = min(self.capacity_kwh, self.soc_kwh - actual * self.charge_efficiency)
        return actual

    def __repr__(self) -> str:
        return (
            f"Battery(capacity_kwh={self.capacity_kwh}, power_kw={self.power_kw}, "
            f"efficiency={self.efficiency}, soc_kwh={self.soc_kwh:.3f})"
        )
