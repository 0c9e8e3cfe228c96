"""The default neighbourhood: a valid feeder, the right members, reproducible keys."""

from __future__ import annotations

from collections import Counter

import pytest

from voisin.agents import Member, Scenario, default_grid, default_neighbourhood
from voisin.errors import InvalidInput
from voisin.protocol import Grid, KeyPair, ParticipantKind


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return default_neighbourhood()


def test_grid_validates_with_the_promised_limits(scenario: Scenario) -> None:
    grid = scenario.grid
    assert Grid.model_validate(grid.model_dump()) == grid
    assert grid.physical
    assert grid.root == "TR"
    assert grid.transformer is not None
    assert grid.transformer.rated("sn_kva") == 250.0
    assert (grid.import_price_eur_per_kwh, grid.export_price_eur_per_kwh) == (0.28, 0.08)
    weakest = min(grid.lines, key=lambda line: line.rated_i_ka)
    assert (weakest.from_bus, weakest.to_bus) == ("A3", "A4")
    assert weakest.rated_i_ka == 0.142  # NAYY 4x50: 142 A, about 93 kVA at 0.38 kV


def test_thirty_households_and_one_school(scenario: Scenario) -> None:
    kinds = Counter(m.participant.kind for m in scenario.members)
    assert kinds == {ParticipantKind.HOUSEHOLD: 30, ParticipantKind.SCHOOL: 1}
    groups = Counter(m.participant.group for m in scenario.members)
    assert groups["school"] == 1
    assert groups["pv+battery"] == 5
    assert 12 <= groups["pv"] + groups["pv+battery"] <= 18
    assert all(m.bus in scenario.grid.buses for m in scenario.members)


def test_devices_tariffs_and_preferences(scenario: Scenario) -> None:
    school = next(m for m in scenario.members if m.participant.group == "school")
    assert (school.pv_kwp, school.battery, school.load_profile) == (0.0, None, "g1")
    assert school.annual_kwh == 45_000.0
    assert school.participant.tariff.import_eur_per_kwh == 0.25
    for m in scenario.members:
        if m is school:
            continue
        assert m.participant.tariff.import_eur_per_kwh == 0.28
        assert m.participant.tariff.export_eur_per_kwh == 0.08
        assert m.load_profile == "h0"
        if m.pv_kwp:
            assert 3.0 <= m.pv_kwp <= 9.0
            assert m.preferred == (school.id,)
        else:
            assert m.preferred == ()
            assert m.battery is None
        if m.battery:
            assert 5.0 <= m.battery.capacity_kwh <= 10.0
    assert all(m.pv_kwp >= 5.0 for m in scenario.members if m.bus == "A4")


def test_keys_are_derived_from_the_seed(scenario: Scenario) -> None:
    first = scenario.members[0]
    assert first.id == KeyPair.derive("seed", 7, "household", 0).public_hex
    assert first.participant.meter_id == first.meter_key.public_hex != first.id
    again = default_neighbourhood()
    assert [m.id for m in again.members] == [m.id for m in scenario.members]
    other = default_neighbourhood(seed=8)
    assert not {m.id for m in other.members} & {m.id for m in scenario.members}
    assert scenario.member(first.id) is first
    assert scenario.fund == KeyPair.derive("seed", 7, "fund").public_hex
    assert scenario.operator.public_hex == KeyPair.derive("seed", 7, "operator").public_hex


def test_sizes_scale_the_feeder() -> None:
    assert len(default_neighbourhood(households=3).members) == 4
    big = default_neighbourhood(households=90)
    assert big.grid.transformer.rated("sn_kva") == pytest.approx(750.0)
    small, wide = default_grid(), default_grid(scale=3.0)
    # Three cables in parallel: a third of the impedance, three times the rating.
    assert wide.lines[3].r_ohm == pytest.approx(small.lines[3].r_ohm / 3)
    assert wide.lines[3].rated_i_ka == pytest.approx(3 * small.lines[3].rated_i_ka)
    with pytest.raises(InvalidInput):
        default_neighbourhood(households=0)


def test_inconsistent_members_are_rejected(scenario: Scenario) -> None:
    member = scenario.members[0]
    with pytest.raises(InvalidInput, match="key does not match"):
        Member(member.participant, KeyPair.derive("someone"), member.meter_key)
    with pytest.raises(InvalidInput, match="appears twice"):
        Scenario(scenario.grid, (member, member), scenario.fund, scenario.operator)
    stray = Member(
        member.participant.model_copy(update={"bus": "Z9"}), member.keypair, member.meter_key
    )
    with pytest.raises(InvalidInput, match="unknown bus"):
        Scenario(scenario.grid, (stray,), scenario.fund, scenario.operator)
    with pytest.raises(InvalidInput, match="unknown participant"):
        scenario.member("nobody")
