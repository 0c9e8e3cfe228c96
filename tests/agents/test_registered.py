"""A household's agent runs its own registry entry: its devices, its keys, and the other
members known by id only; a meter key that is not the registered one is refused."""

from __future__ import annotations

import pytest

from voisin.agents.registered import own_scenario
from voisin.agents.scenario import HOUSEHOLD_TARIFF, default_grid
from voisin.errors import InvalidInput
from voisin.market.registry import Registry
from voisin.protocol import KeyPair, Participant, ParticipantKind, parse

HOMES = [KeyPair.derive("registered", f"home{i}") for i in range(2)]
METERS = [KeyPair.derive("registered", f"meter{i}") for i in range(2)]
OPERATOR = KeyPair.derive("registered", "operator")


def _registry() -> Registry:
    members = []
    for i, (home, meter) in enumerate(zip(HOMES, METERS, strict=True)):
        participant = Participant(
            participant_id=home.public_hex,
            kind=ParticipantKind.HOUSEHOLD,
            group="pv" if i == 0 else "consumer",
            bus="A1",
            tariff=HOUSEHOLD_TARIFF,
            meter_id=meter.public_hex,
        )
        entry = {
            "participant": participant.model_dump(mode="json"),
            "pv_kwp": 6.0 if i == 0 else 0.0,
            "annual_kwh": 4200.0,
            "preferred": [HOMES[1].public_hex] if i == 0 else [],
        }
        if i == 0:
            entry["battery"] = {"capacity_kwh": 10.0, "power_kw": 5.0}
        members.append(entry)
    data = {
        "operator": OPERATOR.public_hex,
        "grid": default_grid().model_dump(mode="json", by_alias=True),
        "members": members,
    }
    return parse(Registry, data, "registry")


def test_the_agent_runs_only_its_own_entry_with_its_devices() -> None:
    scenario, member = own_scenario(_registry(), HOMES[0], METERS[0])
    assert [m.id for m in scenario.members] == [HOMES[0].public_hex]
    assert member.keypair is HOMES[0]
    assert member.meter_key is METERS[0]
    assert (member.pv_kwp, member.annual_kwh) == (6.0, 4200.0)
    assert member.battery is not None
    assert (member.battery.capacity_kwh, member.battery.power_kw) == (10.0, 5.0)
    assert member.battery.efficiency == 0.9  # the registry's default
    assert scenario.others == frozenset({HOMES[1].public_hex})
    assert member.preferred == (HOMES[1].public_hex,)


def test_a_member_without_a_battery_has_none() -> None:
    _, member = own_scenario(_registry(), HOMES[1], METERS[1])
    assert member.battery is None
    assert member.pv_kwp == 0.0


def test_the_wrong_meter_key_or_an_unlisted_key_is_refused() -> None:
    with pytest.raises(InvalidInput) as wrong:
        own_scenario(_registry(), HOMES[0], METERS[1])
    assert wrong.value.code == "wrong-meter-key"
    with pytest.raises(InvalidInput) as stranger:
        own_scenario(_registry(), OPERATOR, METERS[0])
    assert stranger.value.code == "not-registered"
