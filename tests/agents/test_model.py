"""The Mesa neighbourhood: signed bids from forecasts, signed readings from reality."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from voisin.agents import Neighbourhood, Scenario, Truthful, default_neighbourhood
from voisin.errors import InvalidInput
from voisin.meters import verify_reading
from voisin.protocol import Bid, MeterReading, Side, canonical_bytes, day_intervals, verify

DAY = day_intervals(date(2026, 6, 22))  # a sunny-enough Monday: the school is open


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return default_neighbourhood()


def run_day(model: Neighbourhood) -> tuple[list[Bid], list[MeterReading]]:
    bids: list[Bid] = []
    readings: list[MeterReading] = []
    for interval in model.intervals:
        bids += model.bids_for(interval)
        readings += model.deliver(interval)
    return bids, readings


@pytest.fixture(scope="module")
def day(scenario: Scenario) -> tuple[Neighbourhood, list[Bid], list[MeterReading]]:
    model = Neighbourhood(scenario, DAY, seed=7)
    bids, readings = run_day(model)
    return model, bids, readings


def test_bids_are_valid_signed_and_sorted(scenario: Scenario) -> None:
    model = Neighbourhood(scenario, DAY, seed=7)
    noon = DAY[48]
    bids = model.bids_for(noon)
    assert bids
    assert [b.bid_id for b in bids] == sorted({b.bid_id for b in bids})
    for bid in bids:
        assert Bid.model_validate(bid.model_dump()) == bid
        assert verify(bid.participant, canonical_bytes(bid.unsigned()), bid.signature)
        member = scenario.member(bid.participant)
        assert bid.bus == member.bus
        assert bid.interval == noon.id
        plan = model.by_participant[bid.participant].plans[48]
        if bid.side is Side.SELL:
            assert plan.net_kwh > 0
            assert member.pv_kwp > 0
            assert bid.preferred == member.preferred
        else:
            assert plan.net_kwh < 0
        assert bid.energy_kwh == pytest.approx(round(abs(plan.net_kwh), 3), abs=1e-9)
    forged = bids[0].model_copy(update={"seq": bids[0].seq + 1})
    assert not verify(forged.participant, canonical_bytes(forged.unsigned()), forged.signature)


def test_sellers_at_noon_buyers_at_night(day: tuple[Neighbourhood, list, list]) -> None:
    _, bids, _ = day
    by_hour = defaultdict(set)
    for bid in bids:
        by_hour[bid.interval[11:13]].add(bid.side)
    assert by_hour["02"] == {Side.BUY}
    assert Side.SELL in by_hour["11"]
    school_bids = [b for b in bids if b.participant == day[0].scenario.members[-1].id]
    assert len(school_bids) == len(DAY)
    assert {b.side for b in school_bids} == {Side.BUY}


def test_sequence_numbers_increase_per_participant(day: tuple[Neighbourhood, list, list]) -> None:
    _, bids, _ = day
    seqs = defaultdict(list)
    for bid in sorted(bids, key=lambda b: b.interval):
        seqs[bid.participant].append(bid.seq)
    for values in seqs.values():
        assert values == list(range(len(values)))


def test_readings_verify_and_batteries_stay_in_bounds(
    day: tuple[Neighbourhood, list, list],
) -> None:
    model, _, readings = day
    members = model.scenario.members
    assert len(readings) == len(DAY) * len(members)
    for reading in readings:
        assert verify_reading(reading)
        assert reading.meter == model.scenario.member(reading.participant).participant.meter_id
    first = readings[: len(members)]
    assert [r.participant for r in first] == sorted(m.id for m in members)
    for agent in model.by_participant.values():
        if agent.battery is not None:
            assert 0.0 <= agent.battery.soc_kwh <= agent.battery.capacity_kwh
    used = [r.battery_kwh for r in readings if r.battery_kwh != 0]
    assert any(v > 0 for v in used)
    assert any(v < 0 for v in used)


def test_same_seed_same_bytes_other_seed_other_bytes(
    scenario: Scenario, day: tuple[Neighbourhood, list, list]
) -> None:
    _, bids, readings = day
    again_bids, again_readings = run_day(Neighbourhood(scenario, DAY, seed=7))
    assert canonical_bytes([b.model_dump(mode="json") for b in bids]) == canonical_bytes(
        [b.model_dump(mode="json") for b in again_bids]
    )
    assert canonical_bytes([r.model_dump(mode="json") for r in readings]) == canonical_bytes(
        [r.model_dump(mode="json") for r in again_readings]
    )
    other = Neighbourhood(scenario, DAY[40:44], seed=8)
    assert other.bids_for(DAY[41]) != [b for b in bids if b.interval == DAY[41].id]
    assert other.deliver(DAY[41]) != [r for r in readings if r.interval == DAY[41].id]


def test_truthful_strategy_bids_at_the_tariff(scenario: Scenario) -> None:
    model = Neighbourhood(scenario, DAY[44:52], seed=3, strategy=Truthful())
    for bid in model.bids_for(DAY[48]):
        tariff = scenario.member(bid.participant).participant.tariff
        expected = tariff.export_eur_per_kwh if bid.side is Side.SELL else tariff.import_eur_per_kwh
        assert [s.price_eur_per_kwh for s in bid.segments] == [expected]


def test_mesa_run_loop_and_hourly_intervals() -> None:
    hourly = day_intervals(date(2026, 6, 22), minutes=60)
    model = Neighbourhood(default_neighbourhood(), hourly, seed=1)
    model.run_model()
    assert model.steps == 24
    assert not model.running
    assert model.last_readings
    assert model.last_readings[0].interval == hourly[-1].id


def test_unknown_and_unordered_intervals_are_rejected(scenario: Scenario) -> None:
    model = Neighbourhood(scenario, DAY[:4], seed=1)
    with pytest.raises(InvalidInput, match="not part of this simulation"):
        model.bids_for(DAY[10])
    with pytest.raises(InvalidInput, match="time order"):
        Neighbourhood(scenario, [DAY[1], DAY[0]], seed=1)
    with pytest.raises(InvalidInput):
        Neighbourhood(scenario, [], seed=1)
