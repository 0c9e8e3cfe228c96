"""The feeder as data: buses, lines, the transformer at the root, and their physics.

A grid is one of two kinds, decided by its lines:

* **physical**: every line has a length and an impedance (``r_ohm_per_km``,
  ``x_ohm_per_km``, ``max_i_ka``, or a standard ``std_type``); buses have a nominal
  voltage and a voltage band; the root may have a ``transformer``. The clearing then
  holds voltages, currents and losses (LinDistFlow, docs/clearing.md).
* **transport** (the format of grid files written before physics existed): every line
  has ``capacity_kwh``, an energy limit per interval, and nothing else is known. Such a
  file keeps loading and keeps its bytes and ``grid_hash``; it is cleared as an energy
  transport network, with no voltages. This is the documented conversion of old files:
  none is needed, because nothing in them is reinterpreted.

A grid mixing the two kinds of line is refused.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from voisin.protocol.cables import CABLE_TYPES, TRANSFORMER_TYPES

DEFAULT_VN_KV = 0.4
"""Nominal voltage of a low-voltage feeder (line to line)."""
DEFAULT_BAND_PU = (0.95, 1.05)
"""Default planning band: tighter than EN 50160's 0.90-1.10 pu at the customer, leaving
room for the MV side and for what the linearisation does not see."""

_PHYSICAL_LINE_FIELDS = (
    "length_km",
    "std_type",
    "r_ohm_per_km",
    "x_ohm_per_km",
    "c_nf_per_km",
    "max_i_ka",
)


def _drop(data: dict[str, Any], **defaults: object) -> dict[str, Any]:
    """Leave fields out of the file form while they hold their default, so files written
    before a field existed keep their bytes and hashes."""
    for name, default in defaults.items():
        if name in data and data[name] == default:
            data.pop(name)
    return data


class Line(BaseModel):
    """A line between two buses; energy may flow either way.

    Transport line: ``capacity_kwh`` per interval, with an optional
    ``wheeling_fee_eur_per_kwh`` on every kWh carried and a ``reactance_ohm`` that splits
    flows between parallel paths of a meshed grid (DC model; only ratios matter).

    Physical line: ``length_km`` and either ``std_type`` (a name in
    ``cables.CABLE_TYPES``) or ``r_ohm_per_km``, ``x_ohm_per_km`` and ``max_i_ka``
    (``c_nf_per_km`` optional, used by the AC check only).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    from_bus: str = Field(alias="from")
    to_bus: str = Field(alias="to")
    capacity_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    wheeling_fee_eur_per_kwh: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    reactance_ohm: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    length_km: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    std_type: str | None = None
    r_ohm_per_km: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    x_ohm_per_km: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    c_nf_per_km: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_i_ka: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_kind(self) -> Line:
        named = f"line {self.from_bus}-{self.to_bus}"
        if self.from_bus == self.to_bus:
            raise ValueError(f"{named} must join two different buses")
        physical = [f for f in _PHYSICAL_LINE_FIELDS if getattr(self, f) is not None]
        if not physical:
            if self.capacity_kwh is None:
                raise ValueError(
                    f"{named} needs capacity_kwh (transport) or length_km and "
                    "an impedance (physical)"
                )
            return self
        if self.capacity_kwh is not None:
            raise ValueError(
                f"{named} has both capacity_kwh and physical data; a physical "
                "line is limited by max_i_ka"
            )
        if self.length_km is None:
            raise ValueError(f"{named} needs length_km")
        if self.reactance_ohm != 1.0:
            raise ValueError(f"{named}: reactance_ohm is for transport lines; give x_ohm_per_km")
        explicit = [
            f for f in ("r_ohm_per_km", "x_ohm_per_km", "max_i_ka") if getattr(self, f) is not None
        ]
        if self.std_type is not None:
            if self.std_type not in CABLE_TYPES:
                raise ValueError(
                    f"{named}: unknown std_type {self.std_type!r} (known: "
                    f"{', '.join(sorted(CABLE_TYPES))})"
                )
            if explicit or self.c_nf_per_km is not None:
                raise ValueError(f"{named}: give std_type or the impedance, not both")
        elif len(explicit) < 3:
            raise ValueError(
                f"{named} needs r_ohm_per_km, x_ohm_per_km and max_i_ka (or a std_type)"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return _drop(
            data,
            wheeling_fee_eur_per_kwh=0.0,
            reactance_ohm=1.0,
            **dict.fromkeys(("capacity_kwh", *_PHYSICAL_LINE_FIELDS)),
        )

    @property
    def physical(self) -> bool:
        return self.length_km is not None

    def _typed(self, name: str) -> float:
        own = getattr(self, name)
        if own is not None:
            return float(own)
        if self.std_type is not None:
            return float(getattr(CABLE_TYPES[self.std_type], name))
        return 0.0

    @property
    def r_ohm(self) -> float:
        """Series resistance of the whole line (ohm)."""
        return self._typed("r_ohm_per_km") * (self.length_km or 0.0)

    @property
    def x_ohm(self) -> float:
        """Series reactance of the whole line (ohm)."""
        return self._typed("x_ohm_per_km") * (self.length_km or 0.0)

    @property
    def c_nf(self) -> float:
        """Shunt capacitance of the whole line (nF)."""
        return self._typed("c_nf_per_km") * (self.length_km or 0.0)

    @property
    def rated_i_ka(self) -> float:
        """Thermal rating (kA), from ``max_i_ka`` or the standard type."""
        return self._typed("max_i_ka")


class Transformer(BaseModel):
    """The MV/LV transformer feeding the root bus from the upstream (slack) grid.

    Either ``std_type`` (a name in ``cables.TRANSFORMER_TYPES``) or the rating and
    short-circuit voltages. ``tap_percent`` raises the LV side's no-load voltage by that
    much (an off-load tap, e.g. -2.5 to lower it against PV voltage rise).
    """

    model_config = ConfigDict(frozen=True)

    std_type: str | None = None
    sn_kva: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    vn_hv_kv: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    vn_lv_kv: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    vk_percent: float | None = Field(default=None, gt=0, lt=100, allow_inf_nan=False)
    vkr_percent: float | None = Field(default=None, ge=0, lt=100, allow_inf_nan=False)
    tap_percent: float = Field(default=0.0, ge=-20, le=20, allow_inf_nan=False)

    @model_validator(mode="after")
    def _complete(self) -> Transformer:
        given = [
            f
            for f in ("sn_kva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent")
            if getattr(self, f) is not None
        ]
        if self.std_type is not None:
            if self.std_type not in TRANSFORMER_TYPES:
                raise ValueError(
                    f"unknown transformer std_type {self.std_type!r} (known: "
                    f"{', '.join(sorted(TRANSFORMER_TYPES))})"
                )
            if given:
                raise ValueError("give the transformer's std_type or its data, not both")
        elif len(given) < 5:
            raise ValueError(
                "a transformer needs sn_kva, vn_hv_kv, vn_lv_kv, vk_percent and "
                "vkr_percent (or a std_type)"
            )
        if self.rated("vkr_percent") > self.rated("vk_percent"):
            raise ValueError("transformer vkr_percent cannot exceed vk_percent")
        return self

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return _drop(
            data,
            tap_percent=0.0,
            std_type=None,
            sn_kva=None,
            vn_hv_kv=None,
            vn_lv_kv=None,
            vk_percent=None,
            vkr_percent=None,
        )

    def rated(self, name: str) -> float:
        """A rating field, from the data or the standard type."""
        own = getattr(self, name)
        if own is not None:
            return float(own)
        assert self.std_type is not None
        return float(getattr(TRANSFORMER_TYPES[self.std_type], name))

    def impedance_ohm(self) -> tuple[float, float]:
        """Series (r, x) referred to the LV side (ohm), from the short-circuit test."""
        base = self.rated("vn_lv_kv") ** 2 / (self.rated("sn_kva") / 1000.0)
        z = self.rated("vk_percent") / 100.0 * base
        r = self.rated("vkr_percent") / 100.0 * base
        return r, math.sqrt(max(z * z - r * r, 0.0))


class Grid(BaseModel):
    """A feeder: the root bus meets the upstream grid through the transformer.

    Import and export prices at the root are the grid fallback for the whole
    neighbourhood. A transport grid bounds each of them by ``transformer_capacity_kwh``
    (None = unlimited); a physical grid by its ``transformer``'s rating (none = the root
    is the slack itself). A grid is radial unless ``meshed`` is set; a meshed transport
    grid splits flows by the DC model, a meshed physical grid by LinDistFlow's voltage
    drops around every loop.

    ``local_charge_eur_per_kwh`` is what the network operator and the state charge on
    each kWh traded locally, peer to peer (network charges at the local rate, levies,
    taxes: docs/economics.md): a wedge between what a local buyer pays and its seller
    receives. Energy from or to the upstream grid pays its charges inside the retail
    and feed-in prices.

    Physical grids also carry: ``vn_kv`` (the feeder's nominal voltage),
    ``v_min_pu``/``v_max_pu`` (the band every bus must stay in, overridden per bus in
    ``bus_band_pu``), ``slack_vm_pu`` (the upstream voltage), and the power factors
    assumed for consumption (lagging) and for PV (unity by default).
    """

    model_config = ConfigDict(frozen=True)

    root: str
    buses: tuple[str, ...] = Field(min_length=1)
    lines: tuple[Line, ...] = ()
    import_price_eur_per_kwh: float = Field(allow_inf_nan=False)
    export_price_eur_per_kwh: float = Field(allow_inf_nan=False)
    transformer_capacity_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    meshed: bool = False
    transformer: Transformer | None = None
    vn_kv: float = Field(default=DEFAULT_VN_KV, gt=0, allow_inf_nan=False)
    v_min_pu: float = Field(default=DEFAULT_BAND_PU[0], gt=0.5, lt=1.5, allow_inf_nan=False)
    v_max_pu: float = Field(default=DEFAULT_BAND_PU[1], gt=0.5, lt=1.5, allow_inf_nan=False)
    bus_band_pu: dict[str, tuple[float, float]] = Field(default_factory=dict)
    slack_vm_pu: float = Field(default=1.0, gt=0.5, lt=1.5, allow_inf_nan=False)
    load_power_factor: float = Field(default=0.95, gt=0, le=1, allow_inf_nan=False)
    pv_power_factor: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    local_charge_eur_per_kwh: float = Field(default=0.0, ge=0, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        return _drop(
            data,
            local_charge_eur_per_kwh=0.0,
            meshed=False,
            transformer=None,
            vn_kv=DEFAULT_VN_KV,
            v_min_pu=DEFAULT_BAND_PU[0],
            v_max_pu=DEFAULT_BAND_PU[1],
            bus_band_pu={},
            slack_vm_pu=1.0,
            load_power_factor=0.95,
            pv_power_factor=1.0,
        )

    @property
    def physical(self) -> bool:
        """Whether the lines carry impedances (LinDistFlow) rather than energy limits."""
        return bool(self.lines) and all(line.physical for line in self.lines)

    def band_pu(self, bus: str) -> tuple[float, float]:
        """The voltage band (pu) bus ``bus`` must stay within."""
        return self.bus_band_pu.get(bus, (self.v_min_pu, self.v_max_pu))

    @model_validator(mode="after")
    def _consistent(self) -> Grid:
        self._check_kinds()
        self._check_topology()
        return self

    def _check_kinds(self) -> None:
        if self.export_price_eur_per_kwh > self.import_price_eur_per_kwh:
            raise ValueError("export price above import price would let the grid be arbitraged")
        if (
            self.export_price_eur_per_kwh + self.local_charge_eur_per_kwh
            > self.import_price_eur_per_kwh + 1e-12
        ):
            raise ValueError(
                "local charge above the gap between import and export prices: "
                "no local trade could ever be worth it"
            )
        kinds = {line.physical for line in self.lines}
        if len(kinds) > 1:
            raise ValueError(
                "a grid's lines must all be physical (length and impedance) or "
                "all transport (capacity_kwh)"
            )
        if self.physical or (not self.lines and self.transformer is not None):
            if self.transformer_capacity_kwh is not None:
                raise ValueError(
                    "a physical grid is limited by its transformer's sn_kva, not "
                    "transformer_capacity_kwh"
                )
            if any(line.wheeling_fee_eur_per_kwh for line in self.lines):
                raise ValueError(
                    "wheeling fees apply to transport lines; a physical grid "
                    "prices its constraints through its nodal prices"
                )
        elif self.transformer is not None:
            raise ValueError("a transformer model needs physical lines (length and impedance)")
        if not self.v_min_pu < self.v_max_pu:
            raise ValueError("v_min_pu must lie below v_max_pu")
        for bus, (low, high) in self.bus_band_pu.items():
            if bus not in self.buses:
                raise ValueError(f"voltage band for unknown bus {bus!r}")
            if not 0.5 < low < high < 1.5:
                raise ValueError(
                    f"voltage band of bus {bus!r} must satisfy 0.5 < low < high < 1.5 pu"
                )
        if self.transformer is not None:
            lv = self.transformer.rated("vn_lv_kv")
            if abs(lv - self.vn_kv) > 0.1 * self.vn_kv:
                raise ValueError(
                    f"transformer LV side {lv} kV does not match the feeder's {self.vn_kv} kV"
                )

    def _check_topology(self) -> None:
        known = set(self.buses)
        if len(known) != len(self.buses):
            raise ValueError("bus names must be unique")
        if self.root not in known:
            raise ValueError(f"root bus {self.root!r} is not among the buses")
        adjacency: dict[str, list[str]] = {b: [] for b in self.buses}
        for line in self.lines:
            for end in (line.from_bus, line.to_bus):
                if end not in known:
                    raise ValueError(f"line end {end!r} is not a bus")
            adjacency[line.from_bus].append(line.to_bus)
            adjacency[line.to_bus].append(line.from_bus)
        if not self.meshed and len(self.lines) != len(self.buses) - 1:
            raise ValueError(
                "a radial feeder has exactly one line fewer than buses (set meshed for loops)"
            )
        seen = {self.root}
        stack = [self.root]
        while stack:
            for nxt in adjacency[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        if seen != known:
            missing = sorted(known - seen)
            raise ValueError(f"buses not connected to the root: {', '.join(missing)}")
