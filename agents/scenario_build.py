"""From a scenario file to the Scenario the model runs, and the meter data it replays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from voisin.agents.flex_plan import ElectricVehicle
from voisin.agents.profiles import MemberProfiles
from voisin.agents.scenario import (
    BASE_HOUSEHOLDS,
    Member,
    Scenario,
    default_neighbourhood,
)
from voisin.agents.scenario_file import MemberTable, ScenarioFile, resolve_grid
from voisin.errors import InvalidInput
from voisin.meters import BatterySpec, Orientation
from voisin.meters.heating import HeatPump, WaterHeater
from voisin.meters.meter_data import read_meter_data
from voisin.protocol import Grid, Interval, KeyPair, Participant, ParticipantKind, parse


def _grid(file: ScenarioFile) -> Grid:
    """The feeder, charging the ``[network]`` table's local charge; a preset feeder
    also takes its retail and feed-in prices from the household tariff."""
    run = file.run
    if file.grid.custom is not None:
        data = dict(file.grid.custom)
    else:
        scale = max(1.0, run.households / BASE_HOUSEHOLDS) if file.generated else 1.0
        data = resolve_grid(file.grid.preset or "default", scale).model_dump(by_alias=True)
        tariff = file.tariffs.get("household")
        if tariff is not None:
            data["import_price_eur_per_kwh"] = tariff.import_eur_per_kwh
            data["export_price_eur_per_kwh"] = tariff.export_eur_per_kwh
    grid = parse(Grid, data, "scenario grid")
    charge = file.network.charges().local_charge_eur_per_kwh
    if not charge:
        return grid
    _within_gap("network", charge, grid)
    return parse(Grid, {**data, "local_charge_eur_per_kwh": charge}, "scenario grid")


def _within_gap(table: str, charge: float, grid: Grid) -> None:
    """A local charge within the feeder's gap between import and export prices, as the
    grid's own must be (else no local trade could be worth it); the table named."""
    gap = grid.import_price_eur_per_kwh - grid.export_price_eur_per_kwh
    if charge > gap + 1e-12:
        raise InvalidInput(
            f"{table}: local charge {charge:.4f} EUR/kWh (local_network_eur_per_kwh + "
            f"levies_eur_per_kwh) above the gap between the grid's import and export "
            f"prices ({gap:.4f}): no local trade could be worth it",
            code="bad-scenario",
        )


def _check_charges(file: ScenarioFile, grid: Grid) -> None:
    """Each tariff's own local charge within the feeder's gap (``_within_gap``)."""
    for name in sorted(file.tariffs):
        own = file.tariff(name).local_charge_eur_per_kwh
        if own is not None:
            _within_gap(f"tariffs.{name}", own, grid)


def _member(table: MemberTable, file: ScenarioFile, ids: dict[str, str]) -> Member:
    key = KeyPair.derive("seed", file.run.seed, "member", table.name)
    meter = KeyPair.derive("seed", file.run.seed, "member", table.name, "meter")
    school = table.kind == "school"
    group = (
        "school"
        if school
        else ("pv+battery" if table.battery else "pv" if table.pv_kwp else "consumer")
    )
    participant = Participant(
        participant_id=key.public_hex,
        kind=ParticipantKind.SCHOOL if school else ParticipantKind.HOUSEHOLD,
        group=group,
        bus=table.bus,
        tariff=file.tariff(table.tariff),
        meter_id=meter.public_hex,
    )
    try:
        preferred = tuple(ids[name] for name in table.preferred)
    except KeyError as exc:
        raise InvalidInput(
            f"member {table.name} prefers unknown member {exc.args[0]!r}", code="bad-scenario"
        ) from None
    b = table.battery
    return Member(
        participant,
        key,
        meter,
        pv_kwp=table.pv_kwp,
        battery=BatterySpec(b.capacity_kwh, b.power_kw, b.efficiency, b.initial_soc_kwh)
        if b
        else None,
        annual_kwh=table.annual_kwh,
        load_profile="g1" if school else "h0",
        preferred=preferred,
        orientation=Orientation(table.tilt_deg, table.azimuth_deg),
        water_heater=WaterHeater(**table.water_heater.model_dump()) if table.water_heater else None,
        heat_pump=HeatPump(**table.heat_pump.model_dump()) if table.heat_pump else None,
        base_share=table.base_share,
        forecast=table.forecast,  # type: ignore[arg-type]
        strategy=table.strategy,
        battery_planning=file.battery_planning,
        ev=ElectricVehicle(**table.ev.model_dump()) if table.ev else None,
    )


def build_scenario(file: ScenarioFile) -> Scenario:
    """The scenario of ``file``: its generated neighbourhood, then its listed members."""
    run = file.run
    grid = _grid(file)
    _check_charges(file, grid)
    site = file.site.site()
    calendar = file.calendar()
    if file.generated:
        base = default_neighbourhood(
            run.households, run.seed, tariffs=(file.tariff("household"), file.tariff("school"))
        )
        members = [
            replace(
                m,
                strategy=file.strategy_by_group.get(m.participant.group),
                battery_planning=file.battery_planning,
            )
            for m in base.members
        ]
        fund, operator = base.fund, base.operator
    else:
        members = []
        fund = KeyPair.derive("seed", run.seed, "fund").public_hex
        operator = KeyPair.derive("seed", run.seed, "operator")
    ids = {
        t.name: KeyPair.derive("seed", run.seed, "member", t.name).public_hex for t in file.members
    }
    schools = [m.id for m in members if m.participant.kind is ParticipantKind.SCHOOL]
    schools += [ids[t.name] for t in file.members if t.kind == "school"]
    if schools and "school" not in ids:
        ids["school"] = schools[0]
    tariff_of = {  # the generated members take the household and school tariffs
        m.id: "school" if m.participant.kind is ParticipantKind.SCHOOL else "household"
        for m in members
    }
    tariff_of.update({ids[t.name]: t.tariff for t in file.members})
    members += [_member(t, file, ids) for t in file.members]
    return Scenario(
        grid=grid,
        members=tuple(members),
        fund=fund,
        operator=operator,
        site=site,
        school_calendar=calendar,
        name=file.name,
        charges=file.network.charges(),
        own_fixed_eur_per_day=_own_fixed(file, tariff_of),
    )


def _own_fixed(file: ScenarioFile, tariff_of: dict[str, str]) -> dict[str, float]:
    """By participant id, the fixed parts per day their tariffs name where they differ
    from the community's (``tariff_of``: participant id -> tariff table name)."""
    community = file.network.charges()
    own = {}
    for participant, name in sorted(tariff_of.items()):
        table = file.tariffs.get(name)
        fixed = table.charges(community).fixed_eur_per_day if table else None
        if fixed is not None and fixed != community.fixed_eur_per_day:
            own[participant] = fixed
    return own


def replayed_profiles(
    file: ScenarioFile,
    scenario: Scenario,
    intervals: Sequence[Interval],
    simulated: dict[str, MemberProfiles],
) -> dict[str, MemberProfiles]:
    """Members with a meter data file: their measured PV and load replace the simulated
    ones (forecasts keep the member's clear sky, weather and expected load)."""
    out = {}
    for table in file.members:
        if table.meter_data is None:
            continue
        pid = KeyPair.derive("seed", file.run.seed, "member", table.name).public_hex
        series = read_meter_data(
            file.resolve(table.meter_data.path),
            table.meter_data.format,
            intervals,
            scenario.site.timezone,
        )
        out[pid] = replace(simulated[pid], pv_kwh=series.pv_kwh, load_kwh=series.load_kwh)
    return out
