"""Standard cable and transformer types, as data with units.

The values are the manufacturers' figures as the field's tools tabulate them (pandapower
``std_types``, which a test holds these to): series resistance and reactance per km at
operating temperature, shunt capacitance per km, and the thermal rating in kA for
cables laid in the ground. A grid file may name a type instead of writing the numbers;
the names are the pandapower ones, so a SimBench or pandapower grid reads unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CableType:
    """Per-km impedance and ampacity of one cable or overhead line type."""

    r_ohm_per_km: float
    x_ohm_per_km: float
    c_nf_per_km: float
    max_i_ka: float


@dataclass(frozen=True)
class TransformerType:
    """Rating and short-circuit voltages of one distribution transformer type."""

    sn_kva: float
    vn_hv_kv: float
    vn_lv_kv: float
    vk_percent: float
    vkr_percent: float
    tap_step_percent: float


CABLE_TYPES: dict[str, CableType] = {
    "NAYY 4x50 SE": CableType(0.642, 0.083, 210.0, 0.142),
    "NAYY 4x120 SE": CableType(0.225, 0.080, 264.0, 0.242),
    "NAYY 4x150 SE": CableType(0.208, 0.080, 261.0, 0.270),
    "NA2XS2Y 1x95 RM/25 12/20 kV": CableType(0.313, 0.132, 216.0, 0.252),
    "NA2XS2Y 1x240 RM/25 12/20 kV": CableType(0.122, 0.112, 304.0, 0.421),
    "15-AL1/3-ST1A 0.4": CableType(1.8769, 0.350, 11.0, 0.105),
    "48-AL1/8-ST1A 0.4": CableType(0.5939, 0.300, 12.2, 0.210),
    "94-AL1/15-ST1A 0.4": CableType(0.306, 0.290, 13.2, 0.350),
}
"""Low-voltage cables (NAYY), medium-voltage cables (NA2XS2Y) and LV overhead lines."""

TRANSFORMER_TYPES: dict[str, TransformerType] = {
    "0.25 MVA 20/0.4 kV": TransformerType(250.0, 20.0, 0.4, 6.0, 1.44, 2.5),
    "0.4 MVA 20/0.4 kV": TransformerType(400.0, 20.0, 0.4, 6.0, 1.425, 2.5),
    "0.63 MVA 20/0.4 kV": TransformerType(630.0, 20.0, 0.4, 6.0, 1.206, 2.5),
}
"""MV/LV distribution transformers (Dyn5, 20/0.4 kV)."""
