"""Token book: exact integer balances, supply = genesis + minted, no overdraft."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput, LedgerError
from voisin.ledger import Ledger, TokenBook, payments_for, verify_ledger
from voisin.ledger import transactions as tx
from voisin.market import Operator
from voisin.meters.meter import Meter
from voisin.protocol import (
    GRID,
    Bid,
    Grid,
    Interval,
    KeyPair,
    Line,
    Participant,
    ParticipantKind,
    Segment,
    Side,
    Tariff,
    Trade,
    TradeKind,
    TxKind,
)
from voisin.protocol.envelope import sign_bid

from .conftest import FUND, sample_trades

GENESIS = 1_000 * tx.MICRO_PER_TOKEN
ACCOUNTS = ("a", "b", "c", "d")


def test_payments_for_congested_trade(participants: list[Participant]) -> None:
    house, school = participants[0].participant_id, participants[1].participant_id
    payments = payments_for(sample_trades(participants), FUND)
    assert [(p.body["sender"], p.body["recipient"], p.body["amount_micro"]) for p in payments] == [
        (school, house, 150_000),  # 3 kWh x 0.05 EUR/kWh received by the seller
        (school, FUND, 690_000),  # 3 kWh x (0.28 - 0.05) congestion rent
    ]
    assert all(p.kind is TxKind.TRANSFER for p in payments)


def test_grid_trades_move_no_tokens() -> None:
    trade = Trade(
        interval="i",
        seller=GRID,
        buyer="a",
        energy_kwh=2.0,
        buyer_price_eur_per_kwh=0.3,
        seller_price_eur_per_kwh=0.3,
        kind=TradeKind.GRID,
    )
    assert payments_for([trade], FUND) == []


def test_p2p_trade_with_buyer_below_seller_is_refused() -> None:
    trade = Trade(
        interval="i",
        seller="a",
        buyer="b",
        energy_kwh=1.0,
        buyer_price_eur_per_kwh=0.1,
        seller_price_eur_per_kwh=0.2,
        kind=TradeKind.P2P,
    )
    with pytest.raises(InvalidInput):
        payments_for([trade], FUND)


def test_genesis_rules() -> None:
    book = TokenBook()
    with pytest.raises(LedgerError, match="before the genesis"):
        book.apply(tx.reward("a", 5, 0.5, "i"))
    book.apply(tx.genesis(FUND, GENESIS))
    with pytest.raises(LedgerError, match="second genesis"):
        book.apply(tx.genesis(FUND, GENESIS))
    with pytest.raises(LedgerError, match="not a positive integer"):
        book.apply_body("transfer", {"sender": FUND, "recipient": "a", "amount_micro": 1.0})
    with pytest.raises(LedgerError, match="only the genesis transaction mints"):
        book.apply_body("transfer", {"sender": "genesis", "recipient": "a", "amount_micro": 1})


def test_genesis_only_in_block_zero(tmp_path: Path, operator: KeyPair) -> None:
    path = tmp_path / "g.sqlite"
    with Ledger.open(path, operator) as ledger:
        assert ledger.block(0).transactions[0].kind.value == "genesis"
        with pytest.raises(LedgerError, match="outside block 0"):
            ledger.append([tx.genesis("fund", 5)], interval=None, time="2026-06-23T00:00:00+00:00")
        assert ledger.height == 0
    assert verify_ledger(path).genesis_micro == ledger.tokens.genesis_micro


def test_overdraft_refused() -> None:
    book = TokenBook()
    book.apply_all([tx.genesis(FUND, GENESIS), tx.transfer(FUND, "a", 100)])
    with pytest.raises(LedgerError, match="overdraft") as caught:
        book.apply(tx.transfer("a", "b", 101))
    assert caught.value.code == "overdraft"
    assert book.balances == {FUND: GENESIS - 100, "a": 100}


_op = st.one_of(
    st.tuples(
        st.just("transfer"),
        st.sampled_from((FUND, *ACCOUNTS)),
        st.sampled_from((FUND, *ACCOUNTS)),
        st.integers(1, 2 * GENESIS),
    ),
    st.tuples(st.just("reward"), st.just(""), st.sampled_from(ACCOUNTS), st.integers(1, 10**6)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_op, max_size=12), min_size=1, max_size=30))
def test_supply_is_genesis_plus_minted(intervals: list[list[tuple[str, str, str, int]]]) -> None:
    book = TokenBook()
    book.apply(tx.genesis(FUND, GENESIS))
    for ops in intervals:
        for kind, sender, recipient, amount in ops:
            if kind == "reward":
                book.apply(tx.reward(recipient, amount, amount / 10_000, "i"))
            elif sender != recipient:
                before = book.balances
                if book.balance(sender) >= amount:
                    book.apply(tx.transfer(sender, recipient, amount))
                else:
                    with pytest.raises(LedgerError, match="overdraft"):
                        book.apply(tx.transfer(sender, recipient, amount))
                    assert book.balances == before
            assert min(book.balances.values()) >= 0
            assert book.supply_micro == book.genesis_micro + book.minted_micro


_PEOPLE = [KeyPair.derive("prop", n) for n in ACCOUNTS]
_METERS = [KeyPair.derive("prop", n, "meter") for n in ACCOUNTS]
_GRID = Grid(
    root="b0",
    buses=("b0", "b1"),
    lines=(Line(from_bus="b0", to_bus="b1", capacity_kwh=2.0),),
    import_price_eur_per_kwh=0.30,
    export_price_eur_per_kwh=0.05,
)
_bid = st.tuples(
    st.integers(0, len(ACCOUNTS) - 1),
    st.sampled_from(Side),
    st.floats(0.01, 5.0),
    st.floats(0.0, 0.5),
)
_reading = st.tuples(st.floats(0.0, 5.0), st.floats(0.0, 5.0))


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(_bid, max_size=6), st.lists(_reading, min_size=4, max_size=4)),
        min_size=1,
        max_size=6,
    )
)
def test_random_markets_through_the_operator_verify(
    tmp_path_factory: pytest.TempPathFactory,
    intervals: list[tuple[list[tuple], list[tuple[float, float]]]],
) -> None:
    """Whatever the book and the meters say, what the operator commits verifies: tokens,
    payments, settlements, rewards and supply all re-derive from the stored bytes."""
    path = tmp_path_factory.mktemp("ledger") / "l.sqlite"
    tariff = Tariff(import_eur_per_kwh=0.30, export_eur_per_kwh=0.05)
    members = [
        Participant(
            participant_id=k.public_hex,
            kind=ParticipantKind.HOUSEHOLD,
            group="g",
            bus=f"b{n % 2}",
            tariff=tariff,
            meter_id=_METERS[n].public_hex,
        )
        for n, k in enumerate(_PEOPLE)
    ]
    with Ledger.open(
        path, KeyPair.derive("prop", "operator"), fund=FUND, genesis_supply_micro=GENESIS
    ) as ledger:
        market = Operator(_GRID, ledger)
        market.register(
            members, time="2026-06-21T00:00:00+00:00", allowance_micro=5 * tx.MICRO_PER_TOKEN
        )
        for n, (bids, readings) in enumerate(intervals):
            interval = Interval.parse(f"2026-06-21T{n:02d}:00Z", 60)
            sides: dict[int, Side] = {}
            for i, (who, side, kwh, price) in enumerate(bids):
                if sides.setdefault(who, side) is not side:
                    continue  # a member's own crossing bids: the self-trade rule (issue 9)
                bid = Bid(
                    bid_id=f"{interval.id}/{i}",
                    participant=_PEOPLE[who].public_hex,
                    bus=members[who].bus,
                    interval=interval.id,
                    side=side,
                    segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),),
                )
                market.submit_bid(sign_bid(_PEOPLE[who], bid, n * 100 + i + 1), interval)
            market.close_gate(interval)
            for m, (pv, load) in enumerate(readings):
                market.submit_reading(
                    Meter(_METERS[m], members[m].participant_id).read(
                        interval.id, pv_kwh=pv, load_kwh=load
                    )
                )
            market.settle(interval)
        final = ledger.tokens
    report = verify_ledger(path)
    assert report.intervals_settled == len(intervals)
    assert report.supply_micro == report.genesis_micro + report.minted_micro
    assert report.supply_micro == final.supply_micro
    assert min(final.balances.values()) >= 0
