"""The reward rule cannot be gamed: tokens are minted only for local renewable energy
that the seller's export *and* the buyer's import meter readings both prove."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.ledger import REWARD_MICRO_PER_KWH, TokenBook, rewards_for
from voisin.ledger import transactions as tx
from voisin.meters.meter import Meter
from voisin.protocol import GRID, MeterReading, Trade, TradeKind
from voisin.protocol.trade_table import TradeTable

from .conftest import INTERVAL, key, meter_key

NAMES = ("ana", "ben", "cleo", "dan")
IDS = {n: key(n).public_hex for n in NAMES}


def _p2p(seller: str, buyer: str, energy_kwh: float) -> Trade:
    return Trade(
        interval=INTERVAL,
        seller=IDS[seller],
        buyer=IDS[buyer],
        energy_kwh=energy_kwh,
        buyer_price_eur_per_kwh=0.2,
        seller_price_eur_per_kwh=0.2,
        kind=TradeKind.P2P,
        seller_bid_id=f"s-{seller}",
        buyer_bid_id=f"b-{buyer}",
    )


def _columns_only(trades: list[Trade]) -> TradeTable:
    """``trades`` as a clearing hands them on: columns, each ``Trade`` built when read."""
    return replace(TradeTable.of(trades), objects=None)


def _reading(name: str, pv_kwh: float, load_kwh: float, battery_kwh: float = 0.0) -> MeterReading:
    return Meter(meter_key(name), IDS[name]).read(INTERVAL, pv_kwh, load_kwh, battery_kwh)


def test_wash_trade_between_two_exporters_mints_nothing() -> None:
    # Ana and Ben both have sun and export; Ana "sells" Ben 2 kWh. Ben's meter shows
    # no import at all: the energy never reached him, it went to the grid, and Ben's
    # "purchase" is settled as imbalance. Nothing local was delivered, so no reward.
    trades = [_p2p("ana", "ben", 2.0)]
    readings = [_reading("ana", pv_kwh=3.0, load_kwh=0.5), _reading("ben", 3.0, 0.5)]
    assert readings[1].import_kwh == 0.0
    assert readings[1].export_kwh == 2.5
    assert rewards_for(INTERVAL, trades, readings) == []


def test_buyer_import_bounds_the_reward() -> None:
    # Ana sells 2 kWh to Ben, whose meter shows only 0.5 kWh imported: 0.5 kWh proven.
    trades = [_p2p("ana", "ben", 2.0)]
    readings = [_reading("ana", 3.0, 0.5), _reading("ben", 0.0, 0.5)]
    (reward,) = rewards_for(INTERVAL, trades, readings)
    assert reward.body == {
        "recipient": IDS["ana"],
        "amount_micro": 5_000,
        "energy_kwh": 0.5,
        "interval": INTERVAL,
    }
    # An estimated (or missing) buyer reading proves no import.
    estimated = [readings[0], readings[1].model_copy(update={"estimated": True})]
    assert rewards_for(INTERVAL, trades, estimated) == []
    assert rewards_for(INTERVAL, trades, readings[:1]) == []


def test_shares_split_pro_rata_by_hand() -> None:
    # Ana sells 2 to Ben and 2 to Cleo but proves only 3 kWh of renewable export
    # (min(export 3.5, pv 3.0) = 3.0): 3/4 of each sale. Ben bought 2 (Ana) + 1 (Dan)
    # and imported 1.5: 1/2 of each of his purchases. Cleo imported all she bought.
    # Dan sells 1 to Ben and proves it all.
    trades = [_p2p("ana", "ben", 2.0), _p2p("ana", "cleo", 2.0), _p2p("dan", "ben", 1.0)]
    readings = [
        _reading("ana", pv_kwh=3.0, load_kwh=0.5, battery_kwh=1.0),
        _reading("ben", 0.0, 1.5),
        _reading("cleo", 0.0, 2.5),
        _reading("dan", 1.5, 0.0),
    ]
    rewards = rewards_for(INTERVAL, trades, readings)
    got = {r.body["recipient"]: r.body["energy_kwh"] for r in rewards}
    # Ana: 2 x 3/4 x 1/2 + 2 x 3/4 x 1 = 0.75 + 1.5; Dan: 1 x 1 x 1/2.
    assert got == {IDS["ana"]: 2.25, IDS["dan"]: 0.5}


trade_lists = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.sampled_from(NAMES),
        st.floats(min_value=0.001, max_value=5.0, allow_nan=False),
        st.booleans(),  # p2p or grid
    ),
    max_size=8,
)
flows = st.fixed_dictionaries(
    {
        n: st.tuples(
            st.floats(min_value=0, max_value=5),  # pv
            st.floats(min_value=0, max_value=5),  # load
            st.floats(min_value=-3, max_value=3),  # battery
            st.sampled_from(("read", "estimated", "missing")),
        )
        for n in NAMES
    }
)


@settings(max_examples=200, deadline=None)
@given(trade_lists, flows)
def test_supply_grows_only_with_proven_local_delivery(
    drawn: list[tuple[str, str, float, bool]],
    meter: dict[str, tuple[float, float, float, str]],
) -> None:
    trades = []
    for seller, buyer, energy, p2p in drawn:
        if p2p and seller != buyer:
            trades.append(_p2p(seller, buyer, energy))
        elif not p2p:
            trades.append(
                Trade(
                    interval=INTERVAL,
                    seller=GRID,
                    buyer=IDS[buyer],
                    energy_kwh=energy,
                    buyer_price_eur_per_kwh=0.3,
                    seller_price_eur_per_kwh=0.3,
                    kind=TradeKind.GRID,
                    buyer_bid_id=f"b-{buyer}",
                )
            )
    readings = []
    for name, (pv, load, battery, state) in meter.items():
        if state != "missing":
            r = _reading(name, pv, load, battery)
            readings.append(r.model_copy(update={"estimated": state == "estimated"}))
    proven = {r.participant: r for r in readings if not r.estimated}
    sold: dict[str, float] = defaultdict(float)
    bought: dict[str, float] = defaultdict(float)
    for t in trades:
        if t.kind is TradeKind.P2P:
            sold[t.seller] += t.energy_kwh
            bought[t.buyer] += t.energy_kwh
    # What meters prove: each seller's renewable export it sold, each buyer's import
    # it bought locally. Local delivery can be no more than either total.
    out_kwh = {
        p: min(s, proven[p].export_kwh, proven[p].pv_kwh) if p in proven else 0.0
        for p, s in sold.items()
    }
    in_kwh = sum(min(b, proven[p].import_kwh) if p in proven else 0.0 for p, b in bought.items())

    book = TokenBook()
    book.apply(tx.genesis("fund", 1_000_000))
    before = book.supply_micro
    rewards = rewards_for(INTERVAL, trades, readings)
    # the operator's trades come as columns (a TradeTable with no objects): the same
    assert rewards_for(INTERVAL, _columns_only(trades), readings) == rewards
    book.apply_all(rewards)
    minted_kwh = 0.0
    for r in rewards:
        seller, energy = r.body["recipient"], r.body["energy_kwh"]
        assert r.body["amount_micro"] == round(energy * REWARD_MICRO_PER_KWH) > 0
        assert energy <= out_kwh[seller] + 1e-9
        minted_kwh += energy
    assert minted_kwh <= min(sum(out_kwh.values()), in_kwh) + 1e-8
    assert book.supply_micro - before == sum(r.body["amount_micro"] for r in rewards)
    # Sellers with no importing buyer (wash trades between exporters) earn nothing.
    importing = {p for p, b in bought.items() if p in proven and proven[p].import_kwh > 0}
    for r in rewards:
        assert any(
            t.seller == r.body["recipient"] and t.buyer in importing
            for t in trades
            if t.kind is TradeKind.P2P
        )
