"""A SimBench LV grid as a neighbourhood: its households, PV and storage as members.

``voisin simulate --grid simbench:CODE`` runs the market on a real benchmark feeder
(``voisin.grid.simbench_grids``: its cables, transformer and profiles). Each SimBench
load is a member at its bus, metered as SimBench's profile says. Each PV system joins
the first member at its bus that has none yet (a roof of that home), or is a member of
its own (a PV plant); each storage unit likewise becomes that member's battery.

What an agent knows before gate closure: the same profiles a day earlier (persistence,
SimBench's profiles being all there is), so forecasts and meters differ and settlement
has real imbalances. The keys are drawn from the seed and the SimBench unit names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np

from voisin.agents.profiles import MemberProfiles
from voisin.agents.scenario import HOUSEHOLD_TARIFF, Member, Scenario
from voisin.errors import InvalidInput
from voisin.grid.simbench_grids import SimbenchFeeder, SimbenchUnit, simbench_feeder
from voisin.meters import BatterySpec
from voisin.protocol import Interval, KeyPair, Participant, ParticipantKind


def simbench_scenario(
    source: str, intervals: Sequence[Interval], seed: int
) -> tuple[Scenario, dict[str, MemberProfiles]]:
    """The members and their profiles (kWh per interval of ``intervals``) of a SimBench
    LV grid; ``source`` is ``simbench:CODE``."""
    minutes = intervals[0].minutes
    days = sorted({iv.start.date() for iv in intervals})
    before = days[0] - timedelta(days=1)
    feeder = simbench_feeder(
        source,
        [before, *days],
        minutes=minutes,
        import_price_eur_per_kwh=HOUSEHOLD_TARIFF.import_eur_per_kwh,
        export_price_eur_per_kwh=HOUSEHOLD_TARIFF.export_eur_per_kwh,
    )
    per_day = 1440 // minutes
    if len(feeder.interval_starts) != per_day * (len(days) + 1):
        raise InvalidInput(
            "SimBench profiles cover whole days; pick a start at midnight", code="bad-interval"
        )
    homes = homes_of(feeder)
    members, profiles = [], {}
    for name, (load, pv, storage) in sorted(homes.items()):
        member = _member(seed, feeder, name, load, pv, storage)
        members.append(member)
        profiles[member.id] = _profiles(load, pv, per_day, len(intervals))
    if not members:
        raise InvalidInput(f"{source} has no loads or PV to trade", code="bad-grid")
    scenario = Scenario(
        grid=feeder.grid,
        members=tuple(members),
        fund=KeyPair.derive("seed", seed, "fund").public_hex,
        operator=KeyPair.derive("seed", seed, "operator"),
        name=f"{feeder.code}-{seed}",
    )
    return scenario, profiles


_Home = tuple[SimbenchUnit | None, list[SimbenchUnit], SimbenchUnit | None]


def homes_of(feeder: SimbenchFeeder) -> dict[str, _Home]:
    """Member name -> (its load, its PV systems, its storage)."""
    homes: dict[str, _Home] = {}
    by_bus: dict[str, list[str]] = {}
    for unit in feeder.units:
        if unit.kind == "load":
            homes[unit.name] = (unit, [], None)
            by_bus.setdefault(unit.bus, []).append(unit.name)
    for unit in feeder.units:
        if unit.kind == "load":
            continue
        free = [
            n
            for n in by_bus.get(unit.bus, ())
            if (unit.kind == "storage" and homes[n][2] is None)
            or (unit.kind != "storage" and not homes[n][1])
        ]
        if unit.kind == "storage":
            if free:
                load, pv, _ = homes[free[0]]
                homes[free[0]] = (load, pv, unit)
            continue  # storage alone is not a participant
        if free:
            homes[free[0]][1].append(unit)
        else:
            homes[unit.name] = (None, [unit], None)
    return homes


def _member(
    seed: int,
    feeder: SimbenchFeeder,
    name: str,
    load: SimbenchUnit | None,
    pv: list[SimbenchUnit],
    storage: SimbenchUnit | None,
) -> Member:
    key = KeyPair.derive("seed", seed, "simbench", feeder.code, name)
    meter = KeyPair.derive("seed", seed, "simbench", feeder.code, name, "meter")
    bus = (load or pv[0]).bus
    kwp = float(sum(u.sn_kva for u in pv))
    battery = None
    if storage is not None and storage.capacity_kwh:
        battery = BatterySpec(
            storage.capacity_kwh, storage.sn_kva, initial_soc_kwh=0.3 * storage.capacity_kwh
        )
    hours = feeder.minutes / 60.0
    annual = float(np.mean(load.energy_kwh)) / hours * 8760.0 if load is not None else 0.0
    participant = Participant(
        participant_id=key.public_hex,
        kind=ParticipantKind.HOUSEHOLD,
        group="pv+battery" if battery else "pv" if kwp else "consumer",
        bus=bus,
        tariff=HOUSEHOLD_TARIFF,
        meter_id=meter.public_hex,
    )
    return Member(
        participant,
        key,
        meter,
        pv_kwp=kwp,
        battery=battery,
        annual_kwh=annual,
        forecast="day-ahead",
    )


def _profiles(
    load: SimbenchUnit | None, pv: list[SimbenchUnit], per_day: int, count: int
) -> MemberProfiles:
    """Real kWh from the requested days, expected kWh from the day before each."""
    total = per_day + count
    use = np.asarray(load.energy_kwh, dtype=float)[:total] if load else np.zeros(total)
    made = np.zeros(total)
    for unit in pv:
        made += np.asarray(unit.energy_kwh, dtype=float)[:total]
    return MemberProfiles(
        pv_kwh=made[per_day:],
        load_kwh=use[per_day:],
        pv_clear_kwh=made[:count],
        pv_day_ahead_kwh=made[:count],
        load_expected_kwh=use[:count],
    )
