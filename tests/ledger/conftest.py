"""Shared fixtures for the ledger tests: test data folder, keys, a small neighbourhood."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from voisin.ledger import Ledger, payments_for, rewards_for, settle
from voisin.ledger import transactions as tx
from voisin.ledger.chain import DEFAULT_GENESIS_TIME, GENESIS_PREV_HASH
from voisin.ledger.store import EncodedBlock, LedgerStore, open_store
from voisin.meters.meter import Meter
from voisin.protocol import (
    GRID,
    Bid,
    Block,
    BlockHeader,
    ClearingResult,
    ClearingStatus,
    Grid,
    KeyPair,
    Line,
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
    digest,
    sha256_hex,
)
from voisin.protocol.envelope import sign_bid
from voisin.protocol.interval import Interval
from voisin.protocol.merkle import root_from_hashes

from .stores import BACKENDS, StoredLedger


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


def key(name: str) -> KeyPair:
    return KeyPair.derive("test", name)


def meter_key(name: str) -> KeyPair:
    return KeyPair.derive("test", name, "meter")


@pytest.fixture
def participants() -> list[Participant]:
    """The house behind a congested line at b1, school and shop at the root bus b0."""
    tariff = Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08)
    return [
        Participant(
            participant_id=key(name).public_hex,
            kind=kind,
            group=group,
            bus=bus,
            tariff=tariff,
            meter_id=meter_key(name).public_hex,
        )
        for name, kind, group, bus in (
            ("house", ParticipantKind.HOUSEHOLD, "pv", "b1"),
            ("school", ParticipantKind.SCHOOL, "school", "b0"),
            ("shop", ParticipantKind.SHOP, "consumer", "b0"),
        )
    ]


INTERVAL = "2026-06-21T12:00Z"
FUND = "fund"
ALLOWANCE_MICRO = 50 * 1_000_000
GRID_MODEL = Grid(
    root="b0",
    buses=("b0", "b1"),
    lines=(Line(from_bus="b0", to_bus="b1", capacity_kwh=3.0),),
    import_price_eur_per_kwh=0.28,
    export_price_eur_per_kwh=0.08,
)
TERMS = {"grid": GRID_MODEL.model_dump(mode="json", by_alias=True)}
"""Market terms as the ledger needs them (the market package writes more)."""
PRICES = {"b0": 0.28, "b1": 0.05}
"""The house's line is full: its bus is priced at its own offer, the root at import."""


def sample_bids(participants: list[Participant]) -> list[Bid]:
    """House offers 4 kWh at 0.05, the school asks 5 kWh at 0.30, both signed."""
    house, school, _ = participants
    return [
        sign_bid(
            key("house"),
            Bid(
                bid_id="bid-house",
                participant=house.participant_id,
                bus="b1",
                interval=INTERVAL,
                side=Side.SELL,
                segments=(Segment(energy_kwh=4.0, price_eur_per_kwh=0.05),),
            ),
            1,
        ),
        sign_bid(
            key("school"),
            Bid(
                bid_id="bid-school",
                participant=school.participant_id,
                bus="b0",
                interval=INTERVAL,
                side=Side.BUY,
                segments=(Segment(energy_kwh=5.0, price_eur_per_kwh=0.3),),
            ),
            1,
        ),
    ]


def sample_trades(participants: list[Participant]) -> list[Trade]:
    """House sells 3 kWh to the school across its congested line (the rest stays home);
    the school also buys 2 kWh from the grid."""
    house, school, _ = (p.participant_id for p in participants)
    return [
        Trade(
            interval=INTERVAL,
            seller=house,
            buyer=school,
            energy_kwh=3.0,
            buyer_price_eur_per_kwh=0.28,
            seller_price_eur_per_kwh=0.05,
            kind=TradeKind.P2P,
            seller_bid_id="bid-house",
            buyer_bid_id="bid-school",
        ),
        Trade(
            interval=INTERVAL,
            seller=GRID,
            buyer=school,
            energy_kwh=2.0,
            buyer_price_eur_per_kwh=0.28,
            seller_price_eur_per_kwh=0.28,
            kind=TradeKind.GRID,
            buyer_bid_id="bid-school",
        ),
    ]


def sample_readings(participants: list[Participant]) -> list[MeterReading]:
    """Signed readings for house and school only: the shop's meter stayed silent."""
    house, school, _ = (p.participant_id for p in participants)
    return [
        Meter(meter_key("house"), house).read(INTERVAL, pv_kwh=5.0, load_kwh=0.5),
        Meter(meter_key("school"), school).read(INTERVAL, pv_kwh=0.0, load_kwh=5.5),
    ]


def clearing_entries(
    bids: list[Bid],
    trades: list[Trade],
    fund: str = FUND,
    *,
    interval: str = INTERVAL,
    prices: dict[str, float] | None = None,
    terms: dict | None = TERMS,
    payments: list[Transaction] | None = None,
) -> list[Transaction]:
    """A clearing block as the operator writes it, for hand-made bids and trades:
    market terms (None: already on the chain), bids, digest, clearing, trades, payments."""
    terms_body = TERMS if terms is None else terms
    grid = Grid.model_validate(terms_body["grid"])
    imported = sum(t.energy_kwh for t in trades if t.seller == GRID)
    exported = sum(t.energy_kwh for t in trades if t.buyer == GRID)
    result = ClearingResult(
        interval=interval,
        status=ClearingStatus.OPTIMAL,
        welfare_eur=1.5,
        prices_eur_per_kwh=prices or PRICES,
        cleared_kwh={},
        trades=tuple(trades),
        grid_import_kwh=max(imported - exported, 0.0),
        grid_export_kwh=max(exported - imported, 0.0),
        congestion_rent_eur=0.69,
        book_hash="ab" * 32,
        grid_hash=digest(grid.model_dump(mode="json", by_alias=True)),
        solver="highs-1.16",
    )
    return (
        ([tx.market(terms)] if terms is not None else [])
        + [tx.bid(b) for b in sorted(bids, key=lambda b: b.bid_id)]
        + [tx.bid_digest(bids, interval), tx.clearing(result, tx.terms_hash(terms_body))]
        + [tx.trade(t) for t in trades]
        + (payments_for(trades, fund) if payments is None else payments)
    )


def settlement_entries(
    participants: list[Participant],
    trades: list[Trade],
    readings: list[MeterReading],
    interval: str = INTERVAL,
) -> list[Transaction]:
    """A settlement block: readings, settlements and rewards, as the operator writes it."""
    return (
        [tx.reading(r) for r in readings]
        + [tx.settlement(s) for s in settle(interval, participants, trades, readings)]
        + rewards_for(interval, trades, readings)
    )


def write_chain(
    path: Path | str, operator: KeyPair, participants: list[Participant]
) -> list[Block]:
    """Genesis, registrations with allowances, one cleared interval, its settlement."""
    trades = sample_trades(participants)
    readings = sample_readings(participants)
    with Ledger.open(path, operator, fund=FUND, time="2026-06-21T00:00:00+00:00") as ledger:
        blocks = [ledger.block(0)]
        blocks.append(
            ledger.append(
                [tx.registration(p) for p in participants]
                + [
                    tx.transfer(FUND, p.participant_id, ALLOWANCE_MICRO, "opening allowance")
                    for p in participants
                ],
                interval=None,
                time="2026-06-21T00:00:00+00:00",
            )
        )
        blocks.append(
            ledger.append(
                clearing_entries(sample_bids(participants), trades),
                interval=INTERVAL,
                time="2026-06-21T12:15:00+00:00",
            )
        )
        blocks.append(
            ledger.append(
                settlement_entries(participants, trades, readings),
                interval=INTERVAL,
                time="2026-06-21T12:15:00+00:00",
            )
        )
        blocks.append(
            ledger.append(
                [
                    tx.transfer(
                        participants[1].participant_id,
                        participants[2].participant_id,
                        1_000_000,
                        "gift",
                    )
                ],
                interval=None,
                time="2026-06-21T13:00:00+00:00",
            )
        )
    return blocks


@pytest.fixture
def chain(tmp_path: Path, operator: KeyPair, participants: list[Participant]) -> Path:
    """A verified five-block ledger file (heights 0-4)."""
    path = tmp_path / "ledger.sqlite"
    write_chain(path, operator, participants)
    return path


def _stamp(store: LedgerStore, interval: str | None) -> str:
    """A stamp the time rule accepts: the interval's end, else the newest stamp so far."""
    if interval is not None:
        return Interval.parse(interval).end.isoformat()
    return max(
        (json.loads(header)["time"] for _, _, header, _ in store.raw_blocks()),
        default=DEFAULT_GENESIS_TIME,
    )


def append_unchecked(
    path: Path | str,
    operator: KeyPair,
    transactions: list[Transaction],
    interval: str | None = None,
) -> int:
    """Store a block as a rogue operator would: validly signed, but no ledger checks
    (tokens, contracts, genesis rules) run. Returns its height."""
    with open_store(path) as store:
        height = store.height() + 1
        prev = store.raw_block(height - 1)[1] if height else GENESIS_PREV_HASH
        rows = []
        for t in transactions:
            rows.append((t.kind.value, t.canonical_body().decode(), t.leaf_hash().hex()))
        header = BlockHeader(
            height=height,
            prev_hash=prev,
            merkle_root=root_from_hashes([bytes.fromhex(r[2]) for r in rows]).hex(),
            interval=interval,
            time=_stamp(store, interval),
            operator=operator.public_hex,
            tx_count=len(rows),
        )
        data = canonical_bytes(header)
        store.append_encoded(
            EncodedBlock(height, sha256_hex(data), data.decode(), operator.sign(data), tuple(rows))
        )
    return height


@pytest.fixture(params=BACKENDS)
def empty_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> StoredLedger:
    """Where a new ledger goes, on each store in turn: a file, then a database."""
    if request.param == "postgresql":
        return StoredLedger(request.getfixturevalue("pg_url"))
    return StoredLedger(str(tmp_path / "ledger.sqlite"))


@pytest.fixture
def stored_chain(
    empty_ledger: StoredLedger, operator: KeyPair, participants: list[Participant]
) -> StoredLedger:
    """``chain``'s five blocks on each store in turn."""
    write_chain(empty_ledger.source, operator, participants)
    return empty_ledger
