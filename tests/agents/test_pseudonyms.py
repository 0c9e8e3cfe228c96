"""One-time keys: a fresh key and meter key per member and day, registered for that day
only, linked to the member by a link it signs, and refused outside their day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from voisin.agents import Neighbourhood
from voisin.agents.pseudonyms import Pseudonyms
from voisin.agents.scenario import default_neighbourhood
from voisin.ledger import Ledger, verify_ledger
from voisin.market import Operator
from voisin.meters import verify_reading
from voisin.protocol import Interval, KeyPair, Side, day_intervals

from ..market.members import code_of

SCENARIO = default_neighbourhood(households=3, seed=7)
INTERVALS = day_intervals(date(2026, 6, 22), 60, days=2)
KEYS = Pseudonyms(SCENARIO.members, INTERVALS)
DAY1, DAY2 = INTERVALS[0].id, INTERVALS[24].id


def test_a_fresh_key_per_member_and_day() -> None:
    ids = {KEYS.key(m.id, iv.id).id for m in SCENARIO.members for iv in INTERVALS}
    assert len(ids) == 2 * len(SCENARIO.members)
    assert not ids & {m.id for m in SCENARIO.members}
    meters = {KEYS.key(m.id, d).meter.public_hex for m in SCENARIO.members for d in (DAY1, DAY2)}
    assert len(meters) == 2 * len(SCENARIO.members)
    assert not meters & {m.participant.meter_id for m in SCENARIO.members}
    for m in SCENARIO.members:
        for d in (DAY1, DAY2):
            assert KEYS.member_of(KEYS.key(m.id, d).id) == m.id


def test_a_day_key_is_registered_for_its_day_only() -> None:
    member = SCENARIO.members[0]
    p = KEYS.key(member.id, DAY1).participant()
    assert (p.valid_from, p.valid_until) == ("2026-06-22T00:00Z", "2026-06-23T00:00Z")
    assert p.active(DAY1)
    assert p.active("2026-06-22T23:00Z")
    assert not p.active(DAY2)
    assert not p.active("2026-06-21T23:00Z")
    public = p.registration().model_dump(mode="json")
    assert set(public) == {
        "participant_id",
        "bus",
        "tariff",
        "meter_id",
        "valid_from",
        "valid_until",
    }
    assert "kind" not in public
    assert "group" not in public
    assert "valid_from" not in member.participant.registration().model_dump(mode="json")


def test_links_are_signed_by_the_member() -> None:
    link = KEYS.key(SCENARIO.members[1].id, DAY2).link()
    assert link.verifies()
    assert not link.model_copy(update={"member": SCENARIO.members[0].id}).verifies()


def test_agents_bid_and_meter_under_the_day_keys() -> None:
    model = Neighbourhood(SCENARIO, INTERVALS, seed=7, pseudonyms=KEYS)
    for iv in (INTERVALS[12], INTERVALS[36]):  # noon of each day
        bids = model.bids_for(iv)
        assert bids
        day_ids = {KEYS.key(m.id, iv.id).id for m in SCENARIO.members}
        for bid in bids:
            assert bid.participant in day_ids
            assert bid.participant.startswith(bid.bid_id.split("/")[1])
            assert set(bid.preferred) <= day_ids
        readings = model.deliver(iv)
        assert {r.participant for r in readings} == day_ids
        assert all(verify_reading(r) for r in readings)
        assert all(
            r.meter == KEYS.key(KEYS.member_of(r.participant), iv.id).meter.public_hex
            for r in readings
        )
    seqs = [b.seq for b in model.bids_for(INTERVALS[37])]
    assert min(seqs) <= 1  # numbering starts again under the day-2 keys


def test_the_operator_refuses_a_day_key_outside_its_day(tmp_path: Path) -> None:
    operator_key = KeyPair.derive("test", "operator")
    with Ledger.open(
        tmp_path / "l.sqlite", operator_key, fund="fund", time="2026-06-22T00:00:00+00:00"
    ) as ledger:
        market = Operator(SCENARIO.grid, ledger)
        market.register(
            [k.participant() for k in KEYS.day("2026-06-22")], time="2026-06-22T00:00:00+00:00"
        )
        model = Neighbourhood(SCENARIO, INTERVALS, seed=7, pseudonyms=KEYS)
        noon = INTERVALS[12]
        bid = model.bids_for(noon)[0]
        market.submit_bid(bid, noon)
        late = Interval(start=datetime(2026, 6, 23, 12, 0, tzinfo=UTC), minutes=60)
        again = bid.model_copy(update={"interval": late.id})
        assert code_of(market.submit_bid, again, late) == "unknown-participant"
        assert bid.side in (Side.BUY, Side.SELL)
    verify_ledger(tmp_path / "l.sqlite", operator=operator_key.public_hex)
