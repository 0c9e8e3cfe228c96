"""Durable before acknowledged, at the operator core: the journal in the ledger file.

An operator with a ``Journal`` keeps every accepted bid and reading on disk before its
caller acknowledges it; a new operator on the same file gets them back. A clearing or
settlement the ledger refuses keeps them and records why; the next interval clears.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from voisin.errors import LedgerError
from voisin.ledger import Ledger, verify_ledger
from voisin.ledger.journal import Journal
from voisin.market import Operator
from voisin.protocol import KeyPair, Side, TradeKind

from .members import GRID, T0, T1, Member, code_of

OPERATOR = KeyPair.derive("test", "operator")


def _open(path: Path, allowance_micro: int = 10_000_000) -> tuple[Operator, Member, Member]:
    ledger = Ledger.open(path, OPERATOR)
    op = Operator.resume(GRID, ledger, journal=Journal(path))
    seller, buyer = Member("seller", "F1"), Member("buyer", "TR")
    op.register(
        [seller.participant, buyer.participant],
        time=T0.start.isoformat(),
        allowance_micro=allowance_micro,
    )
    return op, seller, buyer


def _crash(op: Operator) -> None:
    """Drop the operator as a killed process would: nothing flushed, nothing closed
    politely beyond what is already committed."""
    op.journal.close()
    op.ledger.close()


def test_acknowledged_bids_and_readings_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    op, seller, buyer = _open(path)
    sell, buy = seller.bid(Side.SELL, 2.0, 0.10), buyer.bid(Side.BUY, 3.0, 0.25)
    op.submit_bid(sell, T0)
    op.submit_bid(buy, T0)
    op.commit()  # the service acknowledges only after this
    op.submit_bid(seller.bid(Side.SELL, 1.0, 0.10, interval=T1), T1)  # never committed
    _crash(op)

    op, seller, buyer = _open(path)
    assert op.open_books == [T0.id], "the uncommitted T1 bid was never acknowledged"
    assert [s.value for s in op.book(T0.id)] == sorted([sell, buy], key=lambda b: b.bid_id)
    op.submit_bid(sell, T0)  # the agent's resend after the restart is idempotent
    result = op.close_gate(T0)
    assert [t.energy_kwh for t in result.trades if t.kind is TradeKind.P2P] == [2.0]
    op.submit_reading(seller.reading(export_kwh=2.0, import_kwh=0.0))
    op.commit()
    _crash(op)

    op, seller, buyer = _open(path)
    assert op.open_books == []
    assert op.unsettled == [T0.id]
    assert code_of(op.close_gate, T0) == "gate-closed"  # cleared exactly once
    settlements = {s.participant: s for s in op.settle(T0)}
    assert not settlements[seller.key.public_hex].estimated, "the reading came back"
    assert settlements[buyer.key.public_hex].estimated
    _crash(op)
    verify_ledger(path)
    assert Journal(path).entries() == []  # every row left once its block was committed


def test_a_failed_journal_commit_undoes_the_batch(tmp_path: Path) -> None:
    """Storage that cannot take the write (SQLite's own full-database error, forced with
    max_page_count): commit raises ``storage-failed`` and the bids are gone from memory
    too, so nothing the caller is about to refuse ends up cleared. The batch's rows are
    written at commit (group commit), so that is where a full disk shows."""
    path = tmp_path / "ledger.sqlite"
    op, seller, buyer = _open(path)
    kept = seller.bid(Side.SELL, 2.0, 0.10)
    op.submit_bid(kept, T0)
    op.commit()
    pages = op.journal._db.execute("PRAGMA page_count").fetchone()[0]
    op.journal._db.execute(f"PRAGMA max_page_count={pages}")
    # More than the free room of the file's last pages: 40 rows of these per 4 KB page.
    count = 40 * op.journal._db.execute("PRAGMA page_size").fetchone()[0] // 4096
    lost = [buyer.bid(Side.BUY, 0.1, 0.25, bid_id=f"big-{i}-" + "x" * 100) for i in range(count)]
    for bid in lost:  # the service's batch: each bid gets a verdict, then one commit
        op.submit_bid(bid, T0)
    assert len(op.book(T0.id)) == 1 + len(lost)
    with pytest.raises(LedgerError) as err:
        op.commit()  # the whole batch goes down with the write that did not fit
    assert err.value.code == "storage-failed"
    assert [s.value for s in op.book(T0.id)] == [kept]
    assert op.pending == 0
    op.journal._db.execute("PRAGMA max_page_count=1073741823")
    again = buyer.bid(Side.BUY, 3.0, 0.25)  # the buyer's next bid is not a replay
    op.submit_bid(again, T0)
    op.commit()
    assert [s.value for s in op.book(T0.id)] == sorted([kept, again], key=lambda b: b.bid_id)


def test_a_refused_block_keeps_the_book_and_the_next_interval_clears(tmp_path: Path) -> None:
    """Members with no tokens cannot pay for a p2p trade: the ledger refuses the block
    (overdraft). The book stays, the failure is journaled with its reason, and the next
    interval, whose buyer only imports, clears."""
    path = tmp_path / "ledger.sqlite"
    op, seller, buyer = _open(path, allowance_micro=0)
    op.submit_bid(seller.bid(Side.SELL, 2.0, 0.10), T0)
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.25), T0)
    op.commit()
    height = op.ledger.height
    with pytest.raises(LedgerError) as err:
        op.close_gate(T0)
    assert err.value.code == "overdraft"
    assert op.ledger.height == height
    assert len(op.book(T0.id)) == 2
    assert [(f.interval, f.phase, f.code) for f in op.failures] == [
        (T0.id, "clearing", "overdraft")
    ]
    op.submit_bid(buyer.bid(Side.BUY, 1.0, 0.40, interval=T1), T1)
    result = op.close_gate(T1)
    assert [t.seller for t in result.trades] == ["grid"]
    _crash(op)
    op, _, _ = _open(path, allowance_micro=0)
    assert op.open_books == [T0.id]  # still there, with the reason it failed
    assert [f.code for f in op.failures] == ["overdraft"]
    _crash(op)
    verify_ledger(path)


def test_the_journal_lives_in_the_ledger_file_outside_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    op, seller, _ = _open(path)
    op.submit_bid(seller.bid(Side.SELL, 2.0, 0.10), T0)
    op.commit()
    _crash(op)
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
        assert tables == {"blocks", "transactions", "journal"}
        assert db.execute("SELECT kind, interval FROM journal").fetchall() == [("bid", T0.id)]
    verify_ledger(path)  # the chain does not include (or mind) the journal


def test_an_hours_reading_is_rated_for_an_hour_after_a_restart(tmp_path: Path) -> None:
    """A meter's limit is per 15 minutes (``MarketRules.meter_max_kwh``, 100 kWh) and an
    interval of an hour allows four times it: 150 kWh imported in an hour (150 kW,
    within the 400 kW connection) is accepted, by an operator restarted between the
    clearing and the reading too (the interval's length comes back from the market
    terms on the ledger); 401 kWh is not. The limit was 100 kWh whatever the length."""
    from datetime import timedelta

    from voisin.protocol import Interval

    hour = Interval(start=T0.start + timedelta(days=1), minutes=60)
    path = tmp_path / "ledger.sqlite"
    op, seller, buyer = _open(path)
    op.submit_bid(buyer.bid(Side.BUY, 150.0, 0.25, interval=hour), hour)
    op.close_gate(hour)
    _crash(op)

    op, seller, buyer = _open(path)
    assert code_of(op.submit_reading, buyer.reading(0.0, 401.0, interval=hour)) == "beyond-rating"
    op.submit_reading(buyer.reading(0.0, 150.0, interval=hour))
    op.submit_reading(seller.reading(0.0, 0.0, interval=hour))
    assert len(op.settle(hour)) == 2
