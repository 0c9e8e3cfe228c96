"""Scenario files (TOML): who is in the neighbourhood, on which feeder, where and when.

A file names the run (seed, dates), the site and its climate, the school calendar, the
grid, the tariffs, the market strategy, the story's gift contract, the seeded default
neighbourhood (any number of households, 0 for none) and any members listed one by one,
each with its devices, forecast method and, optionally, a meter data file it replays.
``voisin scenario new`` writes a commented template; the built-in default
(``scenarios/default.toml``) is that template with the defaults. Paths in a file are
relative to the file.
"""

from __future__ import annotations

import tomllib
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from voisin.agents.network_tariffs import (
    PRESETS,
    ChargePerKwh,
    FixedPerDay,
    NetworkCharges,
    PresetName,
)
from voisin.agents.scenario import FORECAST_METHODS
from voisin.errors import InvalidInput
from voisin.meters import Site
from voisin.meters.school import FRANCE_ZONE_A, SchoolCalendar
from voisin.protocol import Grid, Tariff, parse
from voisin.protocol.participants import MAX_PRICE_EUR_PER_KWH
from voisin.protocol.reading_checks import CONNECTION_MAX_KW
from voisin.protocol.validation import NumbersOnly
from voisin.settings import DEFAULTS, RunDefaults

MAX_MEMBER_KW = CONNECTION_MAX_KW
"""The largest power (kW) of any one member's devices, together: the largest connection
a member of an LV feeder has (``protocol.reading_checks``), beyond which its meter's
readings are refused. A larger figure is a typo, not a home (``pv_kwp = 1e308`` loaded
and was a traceback mid-run; ``pv_kwp = 1000`` ran, its readings refused and estimated
as traded: a member drawing megawatts was billed nothing)."""
MAX_MEMBER_KWH = MAX_MEMBER_KW * 24.0
"""The most energy (kWh) a member's device may hold or take in a day: that power for a
day (a battery's capacity, a car's daily charge, a water heater's daily need)."""
MAX_MEMBER_KWH_PER_YEAR = MAX_MEMBER_KW * 8760.0
"""The most a member may use (or a heat pump deliver) in a year: that power all year."""
MAX_TEMPERATURE_C = 100.0
"""Temperatures a heat pump's house may name lie within +-this."""

DEFAULT_FILE = "default.toml"
StrategyName = Literal["zi-c", "truthful", "zip"]
"""The bidding strategies a scenario may name (``agents.strategies.STRATEGIES``)."""


class SiteTable(NumbersOnly):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "Lyon"
    latitude: float = Field(default=45.76, ge=-90, le=90)
    longitude: float = Field(default=4.84, ge=-180, le=180)
    altitude_m: float = 170.0
    timezone: str = "Europe/Paris"
    country: str = "FR"
    subdivision: str | None = None
    climate: str = "mannheim"

    def site(self) -> Site:
        return Site(**self.model_dump())


class CalendarTable(NumbersOnly):
    model_config = ConfigDict(frozen=True, extra="forbid")

    holidays: tuple[tuple[date, date], ...] = FRANCE_ZONE_A

    @model_validator(mode="after")
    def _ordered(self) -> CalendarTable:
        for first, last in self.holidays:
            if last < first:
                raise ValueError(f"holiday period {first} .. {last} ends before it starts")
        return self


class GridTable(NumbersOnly):
    """``preset`` names a built-in feeder ("default" when neither is given, or
    "simbench:CODE" once the grid work provides it); ``custom`` is a full grid, validated
    as ``voisin.protocol.Grid`` so every field it has flows through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str | None = None
    custom: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> GridTable:
        if self.preset is not None and self.custom is not None:
            raise ValueError("give the grid either a preset or a custom table, not both")
        return self


class NetworkTable(NumbersOnly):
    """Network charges and levies on local energy and the fixed part per connection:
    a ``preset`` (``agents.network_tariffs.PRESETS``), each figure overridable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: PresetName = "none"
    local_network_eur_per_kwh: ChargePerKwh | None = None
    levies_eur_per_kwh: ChargePerKwh | None = None
    fixed_eur_per_day: FixedPerDay | None = None

    @model_validator(mode="after")
    def _bounded(self) -> NetworkTable:
        self.charges().check_sum()
        return self

    def charges(self) -> NetworkCharges:
        given = {k: v for k, v in self.model_dump(exclude={"preset"}).items() if v is not None}
        return PRESETS[self.preset].model_copy(update=given)


class TariffTable(NumbersOnly):
    """A tariff: retail and feed-in prices and, where its members' connections owe
    other charges than the community's ``[network]`` (the school on another connection
    level, a preset per group), their own: a ``network`` preset, each figure
    overridable, the fixed part per day included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    import_eur_per_kwh: float = Field(ge=0, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False)
    export_eur_per_kwh: float = Field(ge=0, le=MAX_PRICE_EUR_PER_KWH, allow_inf_nan=False)
    network: PresetName | None = None
    local_network_eur_per_kwh: ChargePerKwh | None = None
    levies_eur_per_kwh: ChargePerKwh | None = None
    fixed_eur_per_day: FixedPerDay | None = None

    @model_validator(mode="after")
    def _a_tariff(self) -> TariffTable:
        Tariff(
            import_eur_per_kwh=self.import_eur_per_kwh, export_eur_per_kwh=self.export_eur_per_kwh
        )
        return self

    def charges(self, community: NetworkCharges) -> NetworkCharges:
        """This tariff's charges on local energy and its fixed part: its preset (else
        the community's), with its own figures."""
        base = community if self.network is None else PRESETS[self.network]
        given = {
            k: v
            for k, v in self.model_dump(
                include={"local_network_eur_per_kwh", "levies_eur_per_kwh", "fixed_eur_per_day"}
            ).items()
            if v is not None
        }
        return base.model_copy(update=given)

    def tariff(self, community: NetworkCharges) -> Tariff:
        """The tariff a member's registration records: its own local charge only where it
        differs from the community's (so a uniform community's records keep their bytes)."""
        own = self.charges(community).local_charge_eur_per_kwh
        return Tariff(
            import_eur_per_kwh=self.import_eur_per_kwh,
            export_eur_per_kwh=self.export_eur_per_kwh,
            local_charge_eur_per_kwh=None if own == community.local_charge_eur_per_kwh else own,
        )


class EvTable(NumbersOnly):
    """A car charged at home once a day: plugged in at ``arrival_hour``, ``kwh`` in by
    ``deadline_hour`` (local time); ``planning`` charges at the cheapest expected hours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kwh: float = Field(default=10.0, gt=0, le=MAX_MEMBER_KWH, allow_inf_nan=False)
    power_kw: float = Field(default=7.4, gt=0, le=MAX_MEMBER_KW, allow_inf_nan=False)
    arrival_hour: float = Field(default=18.0, ge=0, lt=24)
    deadline_hour: float = Field(default=7.0, ge=0, lt=24)
    planning: bool = False


class BatteryTable(NumbersOnly):
    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity_kwh: float = Field(gt=0, le=MAX_MEMBER_KWH, allow_inf_nan=False)
    power_kw: float = Field(gt=0, le=MAX_MEMBER_KW, allow_inf_nan=False)
    efficiency: float = Field(default=0.9, gt=0, le=1)
    initial_soc_kwh: float = Field(default=0.0, ge=0, le=MAX_MEMBER_KWH)


class WaterHeaterTable(NumbersOnly):
    model_config = ConfigDict(frozen=True, extra="forbid")

    power_kw: float = Field(default=3.0, gt=0, le=MAX_MEMBER_KW)
    kwh_per_day: float = Field(default=6.0, ge=0, le=MAX_MEMBER_KWH)
    start_hour: float = Field(default=22.0, ge=0, lt=24)


class HeatPumpTable(NumbersOnly):
    model_config = ConfigDict(frozen=True, extra="forbid")

    annual_heat_kwh: float = Field(default=8000.0, ge=0, le=MAX_MEMBER_KWH_PER_YEAR)
    max_power_kw: float = Field(default=3.0, gt=0, le=MAX_MEMBER_KW)
    base_temperature_c: float = Field(default=15.0, ge=-MAX_TEMPERATURE_C, le=MAX_TEMPERATURE_C)
    sink_temperature_c: float = Field(default=35.0, ge=-MAX_TEMPERATURE_C, le=MAX_TEMPERATURE_C)
    plan: bool = False
    comfort_min_c: float = Field(default=19.0, ge=5, le=30)
    comfort_max_c: float = Field(default=22.0, ge=5, le=30)
    setpoint_c: float = Field(default=20.0, ge=5, le=30)
    time_constant_h: float = Field(default=40.0, gt=1, le=1000)

    @model_validator(mode="after")
    def _band_holds_the_setpoint(self) -> HeatPumpTable:
        if not self.comfort_min_c <= self.setpoint_c <= self.comfort_max_c:
            raise ValueError("comfort_min_c <= setpoint_c <= comfort_max_c must hold")
        return self


class MeterDataTable(NumbersOnly):
    """A meter's own readings to replay instead of the simulated PV and load."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    format: Literal["csv", "dsmr"] = "csv"


class MemberTable(NumbersOnly):
    """One member listed by hand. ``name`` fixes its keys (derived from the seed and the
    name, for simulation only); ``preferred`` names other members or ``"school"``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["household", "school"] = "household"
    bus: str
    tariff: str = "household"
    annual_kwh: float = Field(default=3500.0, ge=0, le=MAX_MEMBER_KWH_PER_YEAR, allow_inf_nan=False)
    base_share: float = Field(default=0.25, ge=0, lt=1)
    pv_kwp: float = Field(default=0.0, ge=0, le=MAX_MEMBER_KW, allow_inf_nan=False)
    tilt_deg: float = Field(default=30.0, ge=0, le=90)
    azimuth_deg: float = Field(default=180.0, ge=0, lt=360)
    battery: BatteryTable | None = None
    water_heater: WaterHeaterTable | None = None
    heat_pump: HeatPumpTable | None = None
    forecast: str = "day-ahead"
    preferred: tuple[str, ...] = ()
    meter_data: MeterDataTable | None = None
    strategy: StrategyName | None = None
    ev: EvTable | None = None

    @model_validator(mode="after")
    def _known_forecast(self) -> MemberTable:
        if self.forecast not in FORECAST_METHODS:
            raise ValueError(f"forecast must be one of {', '.join(FORECAST_METHODS)}")
        return self

    @model_validator(mode="after")
    def _within_the_connection(self) -> MemberTable:
        """What the devices can feed in (PV, battery) and draw (battery, car, heat
        pump, water heater) at once stays within the connection (``MAX_MEMBER_KW``)."""
        battery = self.battery.power_kw if self.battery else 0.0
        feeds = self.pv_kwp + battery
        draws = (
            battery
            + (self.ev.power_kw if self.ev else 0.0)
            + (self.heat_pump.max_power_kw if self.heat_pump else 0.0)
            + (self.water_heater.power_kw if self.water_heater else 0.0)
        )
        for what, kw in (("PV and battery feed in", feeds), ("its devices draw", draws)):
            if kw > MAX_MEMBER_KW:
                raise ValueError(
                    f"{what} {kw:.6g} kW together, beyond the {MAX_MEMBER_KW:.0f} kW "
                    "connection a member of a low-voltage feeder has"
                )
        return self


class ScenarioFile(NumbersOnly):
    """The whole file; every table has defaults, so an empty file is the default run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    run: RunDefaults = DEFAULTS
    site: SiteTable = SiteTable()
    school_calendar: CalendarTable = CalendarTable()
    grid: GridTable = GridTable()
    network: NetworkTable = NetworkTable()
    tariffs: dict[str, TariffTable] = Field(
        default_factory=lambda: {
            "household": TariffTable(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08),
            "school": TariffTable(import_eur_per_kwh=0.25, export_eur_per_kwh=0.08),
        }
    )
    strategy: StrategyName = "zi-c"
    battery_planning: bool = False
    """Every battery plans over a rolling horizon against expected prices instead of
    absorbing each surplus as it comes (``agents.battery_plan``)."""
    strategy_by_group: dict[str, StrategyName] = Field(default_factory=dict)
    """Per group of the generated neighbourhood ("pv", "pv+battery", "consumer",
    "school"), a strategy other than ``strategy``; a listed member names its own."""
    generated: bool = True
    """Include the seeded default neighbourhood of ``run.households`` homes and a school."""
    members: tuple[MemberTable, ...] = ()
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioFile:
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ValueError("two members share a name")
        for m in self.members:
            if m.tariff not in self.tariffs:
                raise ValueError(f"member {m.name}: unknown tariff {m.tariff!r}")
        for name in sorted(self.tariffs):  # its own figures over the community's charges
            try:
                self.tariffs[name].charges(self.network.charges()).check_sum()
            except ValueError as exc:
                raise ValueError(f"tariffs.{name}: {exc}") from None
        return self

    def tariff(self, name: str) -> Tariff:
        """Tariff ``name`` as its members' registrations record it."""
        return self.tariffs[name].tariff(self.network.charges())

    def calendar(self) -> SchoolCalendar:
        return SchoolCalendar(
            self.site.country, self.site.subdivision, self.school_calendar.holidays
        )

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.base_dir / path


def resolve_grid(preset: str, scale: float) -> Grid:
    """The hook for named feeders: "default" today; "simbench:CODE" belongs to the grid
    work (SimBench LV codes with their cable and transformer types)."""
    from voisin.agents.scenario import default_grid

    if preset == "default":
        return default_grid(scale)
    raise InvalidInput(
        f'grid preset {preset!r} is not available; use "default" or a [grid.custom] table',
        code="bad-grid",
    )


def read_scenario(path: Path | None = None) -> ScenarioFile:
    """Parse and validate a scenario file (None: the built-in default); one-line errors."""
    if path is None:
        text = (files("voisin.agents") / "scenarios" / DEFAULT_FILE).read_text()
        where, base = "built-in scenario", Path(".")
    else:
        try:
            text = path.read_text()
        except OSError as exc:
            raise InvalidInput(
                f"cannot read scenario {path}: {exc.strerror}", code="bad-scenario"
            ) from None
        where, base = f"scenario {path}", path.parent
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{where}: {exc}", code="bad-scenario") from None
    scenario = parse(ScenarioFile, data, where)
    return scenario.model_copy(update={"base_dir": base})
