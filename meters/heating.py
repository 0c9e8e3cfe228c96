"""Electric heating a home may add to its appliances: a hot-water tank and a heat pump.

- **Water heater**: a resistive tank (``power_kw``, typically 2-3 kW) that reheats the
  day's hot water in one block starting at ``start_hour`` local time (22:00 by default,
  the French off-peak hours), running until the day's heat ``kwh_per_day`` is back in.
- **Heat pump** (air source): heat demand follows heating degree-hours below
  ``base_temperature_c`` of the weather's air temperature, sized so a year of the
  climate's reference temperatures needs ``annual_heat_kwh``; the electric power is heat
  over the COP of Ruhnau, Hirth and Praktiknjo 2019 ("Time series of heat demand and heat
  pump efficiency for energy system modeling", Scientific Data 6:189) for air-source
  pumps, ``COP = 6.08 - 0.09 dT + 0.0005 dT^2`` with ``dT`` from outdoor air to a
  ``sink_temperature_c`` supply, capped at ``max_power_kw`` (unserved heat is met by a
  resistive back-up at COP 1). That is a thermostat holding the house at its setpoint.
- **The house it heats** (``ThermalHouse``), for a heat pump that plans within a comfort
  band (``agents.heat_plan``): one thermal node, the "Ti" model of Bacher and Madsen
  2011 ("Identifying suitable models for the heat dynamics of buildings", Energy and
  Buildings 43(7):1511-1522), ``C dT/dt = (T_out - T)/R + gains + heat``, stepped by
  forward Euler per interval. ``1/R`` is the pump's heat demand per kelvin and the
  gains (people, appliances, sun, lumped) are ``(setpoint - base)/R``, so that holding
  the setpoint needs exactly the degree-hour heat above: the two models agree on the
  thermostat's demand. ``C`` is ``time_constant_h / R`` (tens of hours for a house).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from voisin.meters.climate import Climate


@dataclass(frozen=True)
class WaterHeater:
    power_kw: float = 3.0
    kwh_per_day: float = 6.0
    start_hour: float = 22.0

    def minute_kw(self) -> np.ndarray:
        """Power in each local minute of a day (the same every day)."""
        kw = np.zeros(1440)
        minutes = self.kwh_per_day / self.power_kw * 60.0 if self.power_kw > 0 else 0.0
        start = int(self.start_hour * 60) % 1440
        whole = int(minutes)
        index = (start + np.arange(whole)) % 1440
        kw[index] = self.power_kw
        kw[(start + whole) % 1440] += self.power_kw * (minutes - whole)
        return kw


def cop_air_source(outdoor_c: np.ndarray, sink_c: float) -> np.ndarray:
    """Ruhnau et al. 2019 regression for air-source heat pumps."""
    dt = np.clip(sink_c - outdoor_c, 15.0, None)
    return 6.08 - 0.09 * dt + 0.0005 * dt**2


@dataclass(frozen=True)
class ThermalHouse:
    """One-node thermal model of a house: resistance to outdoors (K/kW), capacitance
    (kWh/K) and constant gains (kW)."""

    resistance_k_per_kw: float
    capacitance_kwh_per_k: float
    gains_kw: float

    def decay(self, hours: float) -> float:
        """What remains of the indoor temperature over one interval: 1 - h/(RC)."""
        return 1.0 - hours / (self.resistance_k_per_kw * self.capacitance_kwh_per_k)

    def drift_c(self, outdoor_c: np.ndarray | float, hours: float) -> np.ndarray:
        """The interval's temperature change from outdoors and the gains alone (before
        ``decay`` of the indoor temperature): h/C (T_out/R + gains)."""
        return np.asarray(
            hours
            / self.capacitance_kwh_per_k
            * (np.asarray(outdoor_c) / self.resistance_k_per_kw + self.gains_kw)
        )

    def next_indoor_c(
        self, indoor_c: float, outdoor_c: float, heat_kwh: float, hours: float
    ) -> float:
        """Indoor temperature after one interval that brought ``heat_kwh`` of heat in."""
        return float(
            self.decay(hours) * indoor_c
            + self.drift_c(outdoor_c, hours)
            + heat_kwh / self.capacitance_kwh_per_k
        )


@dataclass(frozen=True)
class HeatPump:
    annual_heat_kwh: float = 8000.0
    max_power_kw: float = 3.0
    base_temperature_c: float = 15.0
    sink_temperature_c: float = 35.0
    plan: bool = False
    """Plan within the comfort band (``agents.heat_plan``) instead of holding the
    setpoint like a thermostat."""
    comfort_min_c: float = 19.0
    comfort_max_c: float = 22.0
    setpoint_c: float = 20.0
    """The thermostat's temperature, and where a planning pump's house starts."""
    time_constant_h: float = 40.0
    """R x C of the house: how many hours its indoor temperature takes to fall by 63 %
    of the gap to outdoors with no heat."""

    def house(self, climate_name: str) -> ThermalHouse:
        """The 1R1C house this pump heats, matched to its degree-hour demand."""
        resistance = 1.0 / max(self.heat_kw_per_kelvin(climate_name), 1e-9)
        return ThermalHouse(
            resistance_k_per_kw=resistance,
            capacitance_kwh_per_k=self.time_constant_h / resistance,
            gains_kw=(self.setpoint_c - self.base_temperature_c) / resistance,
        )

    def heat_kw_per_kelvin(self, climate_name: str) -> float:
        """Heat demand per degree below the base, sized on the reference year."""
        hours = np.clip(
            self.base_temperature_c - _climate(climate_name).temperature_c, 0.0, None
        ).sum()
        return float(self.annual_heat_kwh / max(hours, 1e-9))

    def electric_kw(self, outdoor_c: np.ndarray, climate_name: str) -> np.ndarray:
        """Electric power (kW) at outdoor temperatures ``outdoor_c``."""
        heat = self.heat_kw_per_kelvin(climate_name) * np.clip(
            self.base_temperature_c - outdoor_c, 0.0, None
        )
        cop = cop_air_source(outdoor_c, self.sink_temperature_c)
        pump = np.minimum(heat / cop, self.max_power_kw)
        backup = heat - pump * cop
        return np.asarray(pump + np.clip(backup, 0.0, None))


def _climate(name: str) -> Climate:
    """The climate's reference year, imported when first needed (it brings in pvlib)."""
    from voisin.meters.climate import climate

    return climate(name)
