"""Settlement arithmetic on a hand-made interval, estimates, and the reward rule."""

from __future__ import annotations

from dataclasses import replace
from typing import get_args

import pytest

from voisin.errors import InvalidInput
from voisin.ledger import Settlement, rewards_for, settle
from voisin.ledger import transactions as tx
from voisin.ledger.settlement import proven_deliveries, settlement_rows
from voisin.protocol import MeterReading, Participant, TxKind
from voisin.protocol.settlements import SettlementRow
from voisin.protocol.trade_table import TradeTable

from .conftest import INTERVAL, sample_readings, sample_trades


def _by_id(settlements: list[Settlement]) -> dict[str, Settlement]:
    return {s.participant: s for s in settlements}


def test_imbalance_settles_at_the_tariff(participants: list[Participant]) -> None:
    house, school, shop = (p.participant_id for p in participants)
    result = settle(
        INTERVAL, participants, sample_trades(participants), sample_readings(participants)
    )
    assert [s.participant for s in result] == sorted([house, school, shop])
    got = _by_id(result)
    # House sold 3 kWh p2p (its line was full), its meter shows 4.5 kWh exported:
    # 1.5 kWh surplus sold at the 0.08 EUR/kWh feed-in tariff.
    assert got[house].traded_net_kwh == 3.0
    assert got[house].metered_net_kwh == 4.5
    assert got[house].imbalance_kwh == 1.5
    assert got[house].imbalance_eur == pytest.approx(0.12)
    # School bought 3 + 2 kWh, its meter shows 5.5 kWh imported: 0.5 kWh shortfall
    # bought at the 0.28 EUR/kWh retail tariff (negative = the school pays).
    assert got[school].traded_net_kwh == -5.0
    assert got[school].imbalance_kwh == -0.5
    assert got[school].imbalance_eur == pytest.approx(-0.14)
    assert not got[house].estimated
    assert not got[school].estimated


def test_missing_reading_is_estimated_and_flagged(participants: list[Participant]) -> None:
    house, school, _ = (p.participant_id for p in participants)
    only_house = [r for r in sample_readings(participants) if r.participant == house]
    got = _by_id(settle(INTERVAL, participants, sample_trades(participants), only_house))
    assert got[school].estimated
    assert got[school].metered_net_kwh == got[school].traded_net_kwh == -5.0
    assert got[school].imbalance_kwh == 0.0
    assert got[school].imbalance_eur == 0.0


def test_bad_readings_refused(participants: list[Participant]) -> None:
    readings = sample_readings(participants)
    with pytest.raises(InvalidInput, match="two readings"):
        settle(INTERVAL, participants, [], readings + readings[:1])
    stranger = MeterReading(
        meter="m",
        participant="nobody",
        interval=INTERVAL,
        pv_kwh=0,
        load_kwh=1,
        import_kwh=1,
        export_kwh=0,
    )
    with pytest.raises(InvalidInput, match="unknown participant"):
        settle(INTERVAL, participants, [], [stranger])


def test_rewards_for_proven_p2p_supply(participants: list[Participant]) -> None:
    house = participants[0].participant_id
    trades = sample_trades(participants)
    rewards = rewards_for(INTERVAL, trades, sample_readings(participants))
    assert len(rewards) == 1
    assert rewards[0].kind is TxKind.REWARD
    # min(3 kWh sold p2p, 4.5 kWh exported) x 10_000 micro-tokens per kWh.
    assert rewards[0].body == {
        "recipient": house,
        "amount_micro": 30_000,
        "energy_kwh": 3.0,
        "interval": INTERVAL,
    }
    short = [r.model_copy(update={"export_kwh": 1.25}) for r in sample_readings(participants)]
    assert rewards_for(INTERVAL, trades, short)[0].body["amount_micro"] == 12_500
    assert rewards_for(INTERVAL, trades, []) == []  # no meter proof, no reward
    estimated = [r.model_copy(update={"estimated": True}) for r in sample_readings(participants)]
    assert rewards_for(INTERVAL, trades, estimated) == []


def test_settlement_reads_trade_columns_and_encodes_rows(
    participants: list[Participant],
) -> None:
    # The operator's trades are a TradeTable read by column and its settlements are
    # encoded as rows: the same settlements, rewards and bytes as from Trade objects.
    trades = sample_trades(participants)
    columns = replace(TradeTable.of(trades), objects=None)
    readings = sample_readings(participants)
    assert settle(INTERVAL, participants, columns, readings) == settle(
        INTERVAL, participants, trades, readings
    )
    assert rewards_for(INTERVAL, columns, readings) == rewards_for(INTERVAL, trades, readings)
    assert [(t, kwh) for t, kwh in proven_deliveries(INTERVAL, columns, readings)] == (
        proven_deliveries(INTERVAL, trades, readings)
    )
    # A row's types are the model's, field by field (the row type is the one copy).
    assert get_args(SettlementRow) == tuple(f.annotation for f in Settlement.model_fields.values())
    rows = settlement_rows(INTERVAL, participants, columns, readings)
    encoded = tx.settlement_entries(rows)
    made = [tx.settlement(s) for s in settle(INTERVAL, participants, trades, readings)]
    assert [e.body_bytes for e in encoded] == [t.canonical_body() for t in made]
    assert [e.leaf for e in encoded] == [t.leaf_hash() for t in made]
