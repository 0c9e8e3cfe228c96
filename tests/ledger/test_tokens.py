"""Token book: exact integer balances, supply = genesis + minted, no overdraft."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput, LedgerError
from voisin.ledger import Ledger, TokenBook, payments_for, verify_ledger
from voisin.ledger import transactions as tx
from voisin.protocol import GRID, KeyPair, Participant, Trade, TradeKind, TxKind

from .conftest import FUND, sample_trades

GENESIS = 1_000 * tx.MICRO_PER_TOKEN
ACCOUNTS = ("a", "b", "c", "d")


def test_payments_for_congested_trade(participants: list[Participant]) -> None:
    house, school = participants[0].participant_id, participants[1].participant_id
    payments = payments_for(sample_trades(participants), FUND)
    assert [(p.body["sender"], p.body["recipient"], p.body["amount_micro"]) for p in payments] == [
        (school, house, 600_000),  # 3 kWh x 0.20 EUR/kWh received by the seller
        (school, FUND, 150_000),  # 3 kWh x (0.25 - 0.20) congestion rent
    ]
    assert all(p.kind is TxKind.TRANSFER for p in payments)


def test_grid_trades_move_no_tokens() -> None:
    trade = Trade(interval="i", seller=GRID, buyer="a", energy_kwh=2.0,
                  buyer_price_eur_per_kwh=0.3, seller_price_eur_per_kwh=0.3, kind=TradeKind.GRID)
    assert payments_for([trade], FUND) == []


def test_p2p_trade_with_buyer_below_seller_is_refused() -> None:
    trade = Trade(interval="i", seller="a", buyer="b", energy_kwh=1.0,
                  buyer_price_eur_per_kwh=0.1, seller_price_eur_per_kwh=0.2, kind=TradeKind.P2P)
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
            ledger.append([tx.genesis("fund", 5)], interval=None, time="t")
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
    st.tuples(st.just("transfer"), st.sampled_from((FUND, *ACCOUNTS)),
              st.sampled_from((FUND, *ACCOUNTS)), st.integers(1, 2 * GENESIS)),
    st.tuples(st.just("reward"), st.just(""), st.sampled_from(ACCOUNTS),
              st.integers(1, 10**6)),
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


_trade = st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS),
                   st.floats(0.01, 5.0), st.floats(0.05, 0.40), st.floats(0.0, 0.05))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(_trade, max_size=6), min_size=1, max_size=8))
def test_random_markets_on_a_real_ledger(tmp_path_factory: pytest.TempPathFactory,
                                         intervals: list[list[tuple]]) -> None:
    path = tmp_path_factory.mktemp("ledger") / "l.sqlite"
    operator = KeyPair.derive("prop", "operator")
    with Ledger.open(path, operator, fund=FUND, genesis_supply_micro=GENESIS) as ledger:
        ledger.append([tx.transfer(FUND, a, 5 * tx.MICRO_PER_TOKEN) for a in ACCOUNTS],
                      interval=None, time="t0")
        for n, trades in enumerate(intervals):
            iid = f"2026-06-21T{n:02d}:00Z"
            market = [Trade(interval=iid, seller=s, buyer=b, energy_kwh=e,
                            seller_price_eur_per_kwh=p, buyer_price_eur_per_kwh=p + rent,
                            kind=TradeKind.P2P) for s, b, e, p, rent in trades if s != b]
            payments = [tx.trade(t) for t in market] + payments_for(market, FUND)
            rewards = [tx.reward(t.seller, round(t.energy_kwh * 10_000), t.energy_kwh, iid)
                       for t in market if round(t.energy_kwh * 10_000) > 0]
            book = ledger.tokens
            try:
                book.apply_all(payments + rewards)
            except LedgerError:
                with pytest.raises(LedgerError, match="overdraft"):
                    ledger.append(payments + rewards, interval=iid, time=iid)
                continue
            ledger.append(payments + rewards, interval=iid, time=iid)
        final = ledger.tokens
    report = verify_ledger(path)
    assert report.supply_micro == report.genesis_micro + report.minted_micro
    assert report.supply_micro == final.supply_micro
    assert min(final.balances.values()) >= 0
