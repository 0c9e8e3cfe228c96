"""Who is in the neighbourhood: members with their keys, devices and tariffs, on a feeder.

A scenario is data, fixed by its seed, so two runs of the same scenario sign with the
same keys. Keys come from ``KeyPair.derive`` and are for simulation only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from voisin.agents.flex_plan import ElectricVehicle
from voisin.agents.network_tariffs import NetworkCharges
from voisin.errors import InvalidInput
from voisin.meters import LYON, BatterySpec, Orientation, Site
from voisin.meters.bdew import PROFILES
from voisin.meters.heating import HeatPump, WaterHeater
from voisin.meters.school import SchoolCalendar
from voisin.protocol import Grid, KeyPair, Line, Participant, ParticipantKind, Tariff, Transformer
from voisin.protocol.cables import CABLE_TYPES, TRANSFORMER_TYPES
from voisin.settings import DEFAULTS

LoadProfile = Literal["h0", "g1"]
ForecastMethod = Literal["day-ahead", "persistence", "profile"]
FORECAST_METHODS: tuple[str, ...] = ("day-ahead", "persistence", "profile")

HOUSEHOLD_TARIFF = Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08)
SCHOOL_TARIFF = Tariff(import_eur_per_kwh=0.25, export_eur_per_kwh=0.08)


@dataclass(frozen=True, eq=False)
class Member:
    """A participant with its trading key, its meter's key and its devices.

    ``pv_kwp`` is the array's peak power (0 = none) facing ``orientation``;
    ``annual_kwh`` the yearly consumption of the home's appliances (``h0``: stochastic
    appliance cycles on BDEW's H0 energy and timing) or of the school (``g1``: base load
    ``base_share`` plus teaching load on school days); a water heater and a heat pump add
    to a home's load. ``forecast`` is how its agent forecasts before gate closure;
    ``preferred`` the participant ids its sell bids would rather go to.
    """

    participant: Participant
    keypair: KeyPair
    meter_key: KeyPair
    pv_kwp: float = 0.0
    battery: BatterySpec | None = None
    annual_kwh: float = 3500.0
    load_profile: LoadProfile = "h0"
    preferred: tuple[str, ...] = ()
    orientation: Orientation = Orientation()
    water_heater: WaterHeater | None = None
    heat_pump: HeatPump | None = None
    base_share: float = 0.25
    forecast: ForecastMethod = "day-ahead"
    strategy: str | None = None
    """Its agent's bidding strategy by name (``agents.strategies.STRATEGIES``); None:
    the run's."""
    ev: ElectricVehicle | None = None
    """An electric vehicle charged at home once a day (``agents.flex_plan``)."""
    battery_planning: bool = False
    """Its battery plans over a rolling horizon (``agents.battery_plan``) instead of
    absorbing every surplus as it comes."""

    def __post_init__(self) -> None:
        pid = self.participant.participant_id
        if self.keypair.public_hex != pid:
            raise InvalidInput(f"member {pid[:8]}: key does not match the participant id")
        if self.participant.meter_id and self.participant.meter_id != self.meter_key.public_hex:
            raise InvalidInput(f"member {pid[:8]}: meter key does not match meter_id")
        for name, value in (("pv_kwp", self.pv_kwp), ("annual_kwh", self.annual_kwh)):
            if not math.isfinite(value) or value < 0:
                raise InvalidInput(f"member {pid[:8]}: {name} must be >= 0, got {value}")
        if self.load_profile not in PROFILES:
            raise InvalidInput(f"member {pid[:8]}: unknown load profile {self.load_profile!r}")
        if self.forecast not in FORECAST_METHODS:
            raise InvalidInput(
                f"member {pid[:8]}: unknown forecast {self.forecast!r}; use "
                f"one of {', '.join(FORECAST_METHODS)}"
            )
        if not 0 <= self.base_share < 1:
            raise InvalidInput(f"member {pid[:8]}: base_share must be in [0, 1)")

    @property
    def stream(self) -> int:
        """This member's random stream key, from its id (order-independent)."""
        return int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "big")

    @property
    def id(self) -> str:
        return self.participant.participant_id

    @property
    def bus(self) -> str:
        return self.participant.bus


@dataclass(frozen=True, eq=False)
class Scenario:
    """A feeder and its members, plus the community fund's account id (the ledger's
    token reserve) and, where this side holds it, the operator's key that signs blocks."""

    grid: Grid
    members: tuple[Member, ...]
    fund: str
    operator: KeyPair | None = None
    site: Site = LYON
    school_calendar: SchoolCalendar = SchoolCalendar()
    name: str = "custom"
    others: frozenset[str] = frozenset()
    """Participants outside this scenario that its members may prefer (an agent's
    scenario holds only its own member; the registry knows the rest)."""
    charges: NetworkCharges = NetworkCharges()
    """Network charges and levies on local energy (their sum is the grid's local charge)
    and each connection's fixed part per day, for the bills."""
    own_fixed_eur_per_day: Mapping[str, float] = field(default_factory=dict)
    """By participant id, the connections whose tariff names another fixed part per day
    than ``charges``' (for the bills)."""
    _by_id: dict[str, Member] = field(init=False, repr=False)

    def fixed_eur_per_day_of(self, participant_id: str) -> float:
        """What ``participant_id``'s connection costs per day with or without a market."""
        return self.own_fixed_eur_per_day.get(participant_id, self.charges.fixed_eur_per_day)

    def __post_init__(self) -> None:
        by_id: dict[str, Member] = {}
        buses = set(self.grid.buses)
        for member in self.members:
            if member.id in by_id:
                raise InvalidInput(f"participant {member.id[:8]} appears twice in the scenario")
            if member.bus not in buses:
                raise InvalidInput(f"participant {member.id[:8]} sits at unknown bus {member.bus}")
            by_id[member.id] = member
        for member in self.members:
            unknown = [p for p in member.preferred if p not in by_id and p not in self.others]
            if unknown:
                raise InvalidInput(f"participant {member.id[:8]} prefers unknown {unknown[0][:8]}")
        object.__setattr__(self, "_by_id", by_id)

    @property
    def participants(self) -> tuple[Participant, ...]:
        return tuple(m.participant for m in self.members)

    def member(self, participant_id: str) -> Member:
        try:
            return self._by_id[participant_id]
        except KeyError:
            raise InvalidInput(f"unknown participant {participant_id[:8]}") from None


# The feeder: three NAYY cables from a 250 kVA transformer fed at 1.02 pu; lengths in
# km. A4 is a new estate with PV on every roof at the end of 400 m of old 4x50 cable:
# on sunny middays its voltage rises to the 1.05 pu band first, well before any cable
# nears its rating, as on real LV feeders with much PV, and the market curtails a
# little of its PV (the default day, 2026-06-22 with seed 7: two intervals, 0.4 kWh).
_LINES = (
    ("TR", "A1", 0.10, "NAYY 4x150 SE"),
    ("A1", "A2", 0.12, "NAYY 4x150 SE"),
    ("A2", "A3", 0.12, "NAYY 4x150 SE"),
    ("A3", "A4", 0.40, "NAYY 4x50 SE"),
    ("TR", "B1", 0.08, "NAYY 4x150 SE"),
    ("B1", "B2", 0.12, "NAYY 4x150 SE"),
    ("B2", "B3", 0.12, "NAYY 4x120 SE"),
    ("TR", "C1", 0.10, "NAYY 4x150 SE"),
    ("C1", "C2", 0.12, "NAYY 4x150 SE"),
    ("C2", "C3", 0.12, "NAYY 4x120 SE"),
)
_TRANSFORMER = "0.25 MVA 20/0.4 kV"
_MV_VM_PU = 1.02
"""The MV busbar's voltage: DSOs hold it a little above nominal for their load."""
_ESTATE_BUS, _SCHOOL_BUS = "A4", "B1"
BASE_HOUSEHOLDS, _ESTATE_SHARE = 30, 4 / 30
_TILTS = (25, 35)
_AZIMUTHS = (135, 160, 180, 200, 225)
"""Roofs outside the estate face south-east to south-west (degrees from north); ten
planes in all, since every plane costs the PV model a transposition per weather."""


def default_grid(scale: float = 1.0) -> Grid:
    """The default feeder; grid import at retail (0.28), export at feed-in (0.08).

    ``scale`` (> 1 for neighbourhoods larger than 30 homes, which put ``scale`` times
    as many homes on each bus) lays that many cables in parallel on every line and
    scales the transformer's rating alike, so each home sees the same impedance as in
    the 30-home feeder.
    """
    if not scale >= 1.0:
        raise InvalidInput(f"feeder scale must be at least 1, got {scale}")
    buses = ("TR", *sorted({b for _, b, _, _ in _LINES}))
    lines = []
    for a, b, km, kind in _LINES:
        cable = CABLE_TYPES[kind]
        lines.append(
            Line(
                from_bus=a,
                to_bus=b,
                length_km=km,
                r_ohm_per_km=round(cable.r_ohm_per_km / scale, 9),
                x_ohm_per_km=round(cable.x_ohm_per_km / scale, 9),
                c_nf_per_km=round(cable.c_nf_per_km * scale, 6),
                max_i_ka=round(cable.max_i_ka * scale, 9),
            )
            if scale != 1.0
            else Line(from_bus=a, to_bus=b, length_km=km, std_type=kind)
        )
    unit = TRANSFORMER_TYPES[_TRANSFORMER]
    transformer = (
        Transformer(std_type=_TRANSFORMER)
        if scale == 1.0
        else Transformer(
            sn_kva=unit.sn_kva * scale,
            vn_hv_kv=unit.vn_hv_kv,
            vn_lv_kv=unit.vn_lv_kv,
            vk_percent=unit.vk_percent,
            vkr_percent=unit.vkr_percent,
        )
    )
    return Grid(
        root="TR",
        buses=buses,
        lines=tuple(lines),
        import_price_eur_per_kwh=HOUSEHOLD_TARIFF.import_eur_per_kwh,
        export_price_eur_per_kwh=HOUSEHOLD_TARIFF.export_eur_per_kwh,
        transformer=transformer,
        slack_vm_pu=_MV_VM_PU,
    )


def _school(seed: int, tariff: Tariff) -> Member:
    key = KeyPair.derive("seed", seed, "school")
    meter = KeyPair.derive("seed", seed, "school", "meter")
    participant = Participant(
        participant_id=key.public_hex,
        kind=ParticipantKind.SCHOOL,
        group="school",
        bus=_SCHOOL_BUS,
        tariff=tariff,
        meter_id=meter.public_hex,
    )
    return Member(participant, key, meter, annual_kwh=45_000.0, load_profile="g1")


def _household(
    seed: int,
    i: int,
    bus: str,
    kwp: float,
    battery: BatterySpec | None,
    annual_kwh: float,
    school: Member,
    orientation: Orientation,
    tariff: Tariff,
) -> Member:
    key = KeyPair.derive("seed", seed, "household", i)
    meter = KeyPair.derive("seed", seed, "household", i, "meter")
    participant = Participant(
        participant_id=key.public_hex,
        kind=ParticipantKind.HOUSEHOLD,
        group="pv+battery" if battery else "pv" if kwp else "consumer",
        bus=bus,
        tariff=tariff,
        meter_id=meter.public_hex,
    )
    preferred = (school.id,) if kwp else ()
    return Member(participant, key, meter, kwp, battery, annual_kwh, "h0", preferred, orientation)


def default_neighbourhood(
    households: int = DEFAULTS.households,
    seed: int = DEFAULTS.seed,
    tariffs: tuple[Tariff, Tariff] = (HOUSEHOLD_TARIFF, SCHOOL_TARIFF),
) -> Scenario:
    """About 30 households (half with 3-9 kWp PV, five of those with a 5-10 kWh battery)
    and a school (45,000 kWh a year, no PV, French zone A calendar) that the PV owners
    prefer. Estate roofs face south at 30 degrees, the others 25 or 35 degrees between
    south-east and south-west.

    The first homes form the all-PV estate behind the weak A3-A4 line; the others sit
    round-robin on the remaining buses. Everything is drawn from ``seed``; ``tariffs``
    are the households' and the school's.
    """
    if households < 1:
        raise InvalidInput(f"a neighbourhood needs at least one household, got {households}")
    rng = np.random.default_rng((seed, 0x5C3))
    scale = max(1.0, households / BASE_HOUSEHOLDS)
    grid = default_grid(scale)
    school = _school(seed, tariffs[1])
    others = [b for b in grid.buses if b not in ("TR", _ESTATE_BUS)]
    estate = min(households, max(1, round(households * _ESTATE_SHARE)))
    rest = np.arange(estate, households)
    pv_extra = max(0, min(rest.size, round(households / 2) - estate))
    pv_owners = set(range(estate)) | {int(i) for i in rng.choice(rest, pv_extra, replace=False)}
    candidates = sorted(pv_owners - set(range(estate)))
    count = min(round(5 * scale), len(candidates))
    battery_owners = {int(i) for i in rng.choice(candidates, count, replace=False)}
    roofs = np.random.default_rng((seed, 0x5C3, 1))
    members = []
    for i in range(households):
        bus = _ESTATE_BUS if i < estate else others[(i - estate) % len(others)]
        low = 5.0 if i < estate else 3.0
        kwp = round(float(rng.uniform(low, 9.0)), 1) if i in pv_owners else 0.0
        battery = None
        if i in battery_owners:
            capacity = round(float(rng.uniform(5.0, 10.0)) * 2) / 2
            battery = BatterySpec(capacity, power_kw=capacity / 2, initial_soc_kwh=0.3 * capacity)
        annual_kwh = float(round(rng.uniform(2000, 6000), -1))
        orientation = (
            Orientation(30.0, 180.0)
            if i < estate
            else Orientation(float(roofs.choice(_TILTS)), float(roofs.choice(_AZIMUTHS)))
        )
        members.append(
            _household(
                seed,
                i,
                bus,
                kwp,
                battery,
                annual_kwh,
                school,
                orientation if kwp else Orientation(),
                tariffs[0],
            )
        )
    return Scenario(
        grid=grid,
        members=(*members, school),
        fund=KeyPair.derive("seed", seed, "fund").public_hex,
        operator=KeyPair.derive("seed", seed, "operator"),
        name=f"default-{households}-{seed}",
    )
