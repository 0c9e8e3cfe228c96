"""Shared fixtures for the ledger tests: test data folder, keys, a small neighbourhood."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voisin.ledger import Ledger, SqliteStore, payments_for, rewards_for, settle
from voisin.ledger import transactions as tx
from voisin.ledger.chain import GENESIS_PREV_HASH
from voisin.ledger.merkle import root_from_hashes
from voisin.ledger.store import EncodedBlock
from voisin.protocol import (
    GRID,
    Bid,
    Block,
    BlockHeader,
    ClearingResult,
    ClearingStatus,
    KeyPair,
    MeterReading,
    Participant,
    ParticipantKind,
    Segment,
    Side,
    Tariff,
    Trade,
    TradeKind,
    Transaction,
    canonical_bytes,
    sha256_hex,
)


@pytest.fixture
def testdata() -> Path:
    """``<repo>/../shared/testdata`` (or ``$VOISIN_TESTDATA``); skip if absent, fail in CI."""
    env = os.environ.get("VOISIN_TESTDATA")
    repo = Path(__file__).resolve().parents[2]
    folder = Path(env) if env else repo / ".." / "shared" / "testdata"
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"test data folder {folder} is missing")
        pytest.skip(f"test data folder {folder} is missing")
    return folder


@pytest.fixture
def operator() -> KeyPair:
    return KeyPair.derive("test", "operator")


@pytest.fixture
def participants() -> list[Participant]:
    tariff = Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08)
    return [
        Participant(participant_id=KeyPair.derive("test", name).public_hex, kind=kind,
                    group=group, bus="b1", tariff=tariff)
        for name, kind, group in (
            ("house", ParticipantKind.HOUSEHOLD, "pv"),
            ("school", ParticipantKind.SCHOOL, "school"),
            ("shop", ParticipantKind.SHOP, "consumer"),
        )
    ]


INTERVAL = "2026-06-21T12:00Z"
FUND = "fund"
ALLOWANCE_MICRO = 50 * 1_000_000


def sample_trades(participants: list[Participant]) -> list[Trade]:
    """House sells 3 kWh to the school across a congested line, 1 kWh to the grid;
    the school also buys 2 kWh from the grid."""
    house, school, _ = (p.participant_id for p in participants)
    return [
        Trade(interval=INTERVAL, seller=house, buyer=school, energy_kwh=3.0,
              buyer_price_eur_per_kwh=0.25, seller_price_eur_per_kwh=0.20, kind=TradeKind.P2P),
        Trade(interval=INTERVAL, seller=house, buyer=GRID, energy_kwh=1.0,
              buyer_price_eur_per_kwh=0.08, seller_price_eur_per_kwh=0.08, kind=TradeKind.GRID),
        Trade(interval=INTERVAL, seller=GRID, buyer=school, energy_kwh=2.0,
              buyer_price_eur_per_kwh=0.28, seller_price_eur_per_kwh=0.28, kind=TradeKind.GRID),
    ]


def sample_readings(participants: list[Participant]) -> list[MeterReading]:
    """Readings for house and school only: the shop's meter stayed silent."""
    house, school, _ = (p.participant_id for p in participants)
    return [
        MeterReading(meter="m-house", participant=house, interval=INTERVAL, pv_kwh=5.0,
                     load_kwh=0.5, import_kwh=0.0, export_kwh=4.5),
        MeterReading(meter="m-school", participant=school, interval=INTERVAL, pv_kwh=0.0,
                     load_kwh=5.5, import_kwh=5.5, export_kwh=0.0),
    ]


def _result(trades: list[Trade]) -> ClearingResult:
    return ClearingResult(
        interval=INTERVAL, status=ClearingStatus.OPTIMAL, welfare_eur=1.5,
        prices_eur_per_kwh={"b2": 0.25, "b1": 0.20}, cleared_kwh={"bid-1": 3.0},
        trades=tuple(trades), grid_import_kwh=2.0, grid_export_kwh=1.0,
        congestion_rent_eur=0.15, book_hash="ab" * 32, grid_hash="cd" * 32, solver="highs-1.16",
    )


def write_chain(path: Path, operator: KeyPair, participants: list[Participant]) -> list[Block]:
    """Genesis, registrations with allowances, one cleared interval, its settlement."""
    trades = sample_trades(participants)
    readings = sample_readings(participants)
    bid = Bid(bid_id="bid-1", participant=participants[1].participant_id, bus="b1",
              interval=INTERVAL, side=Side.BUY,
              segments=(Segment(energy_kwh=5.0, price_eur_per_kwh=0.3),))
    with Ledger.open(path, operator, fund=FUND, time="2026-06-21T00:00:00+00:00") as ledger:
        blocks = [ledger.block(0)]
        blocks.append(ledger.append(
            [tx.registration(p) for p in participants]
            + [tx.transfer(FUND, p.participant_id, ALLOWANCE_MICRO, "opening allowance")
               for p in participants],
            interval=None, time="2026-06-21T00:00:00+00:00"))
        blocks.append(ledger.append(
            [tx.bid_digest([bid]), tx.clearing(_result(trades))]
            + [tx.trade(t) for t in trades] + payments_for(trades, FUND),
            interval=INTERVAL, time="2026-06-21T12:15:00+00:00"))
        blocks.append(ledger.append(
            [tx.reading(r) for r in readings]
            + [tx.settlement(s) for s in settle(INTERVAL, participants, trades, readings)]
            + rewards_for(INTERVAL, trades, readings),
            interval=INTERVAL, time="2026-06-21T12:15:00+00:00"))
        blocks.append(ledger.append(
            [tx.transfer(participants[1].participant_id, participants[2].participant_id,
                         1_000_000, "gift")],
            interval=None, time="2026-06-21T13:00:00+00:00"))
    return blocks


@pytest.fixture
def chain(tmp_path: Path, operator: KeyPair, participants: list[Participant]) -> Path:
    """A verified five-block ledger file (heights 0-4)."""
    path = tmp_path / "ledger.sqlite"
    write_chain(path, operator, participants)
    return path


def append_unchecked(path: Path, operator: KeyPair, transactions: list[Transaction]) -> int:
    """Store a block as a rogue operator would: validly signed, but no ledger checks
    (tokens, contracts, genesis rules) run. Returns its height."""
    with SqliteStore(path) as store:
        height = store.height() + 1
        prev = store.raw_block(height - 1)[1] if height else GENESIS_PREV_HASH
        rows = []
        for t in transactions:
            rows.append((t.kind.value, t.canonical_body().decode(), t.leaf_hash().hex()))
        header = BlockHeader(height=height, prev_hash=prev, merkle_root=root_from_hashes(
            [bytes.fromhex(r[2]) for r in rows]).hex(), interval=None, time="t",
            operator=operator.public_hex, tx_count=len(rows))
        data = canonical_bytes(header)
        store.append_encoded(EncodedBlock(height, sha256_hex(data), data.decode(),
                                          operator.sign(data), tuple(rows)))
    return height
