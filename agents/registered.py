"""The scenario a household's agent runs from its entry in the community's registry."""

from __future__ import annotations

from voisin.agents.scenario import Member, Scenario
from voisin.errors import InvalidInput
from voisin.market.registry import Registry
from voisin.meters import BatterySpec
from voisin.protocol import KeyPair


def own_scenario(registry: Registry, key: KeyPair, meter: KeyPair) -> tuple[Scenario, Member]:
    """The scenario an agent runs: its own member only, keyed by its own files; the
    other participants are known by id (so its preferences stay valid)."""
    entry = registry.entry(key.public_hex)
    if entry.participant.meter_id != meter.public_hex:
        raise InvalidInput(
            "the meter key does not match the registered meter_id", code="wrong-meter-key"
        )
    battery = entry.battery
    member = Member(
        participant=entry.participant,
        keypair=key,
        meter_key=meter,
        pv_kwp=entry.pv_kwp,
        battery=BatterySpec(battery.capacity_kwh, battery.power_kw, battery.efficiency)
        if battery
        else None,
        annual_kwh=entry.annual_kwh,
        load_profile=entry.load_profile,
        preferred=entry.preferred,
    )
    others = frozenset(m.id for m in registry.members) - {member.id}
    scenario = Scenario(registry.grid, (member,), registry.fund, name="registry", others=others)
    return scenario, member
