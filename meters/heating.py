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
  resistive back-up at COP 1).
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
class HeatPump:
    annual_heat_kwh: float = 8000.0
    max_power_kw: float = 3.0
    base_temperature_c: float = 15.0
    sink_temperature_c: float = 35.0

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
