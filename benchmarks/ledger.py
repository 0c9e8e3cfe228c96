"""Ledger benchmark: append and verify throughput against the bare costs they are made of.

    python benchmarks/ledger.py [--trades 50000] [--full] [--block 1000]

Generates ``--trades`` random peer-to-peer trades (seeded numpy ``default_rng``) among
1,000 registered participants on 50 buses and writes them as clearing blocks of
``--block`` trades (one cleared interval of a 1,000-household market) into a fresh
SQLite ledger (WAL, synchronous FULL): each trade with its seller's and buyer's signed
bids, the bid digest, the clearing (prices per bus) and the payments it owes, priced by
the clearing prices, because verification re-derives all of it. Then it verifies the
whole file. ``--full`` runs the issue's 1M trades.

Rows, each in trades per second and as a multiple of the floor (SHA-256 alone):
- floor: SHA-256 over each transaction's leaf bytes, pre-encoded;
- the standard library's C ``json.dumps(sort_keys=True)`` of the same bodies, for scale
  (not RFC 8785: Python float text, code-point key order);
- encode + hash: RFC 8785 bytes of each body then its leaf hash;
- Ed25519: checking the two bid signatures of each trade on both cores, alone;
- append: ``Ledger.append`` per block: encode, hash, Merkle root, sign, commit (fsync);
- SQLite alone: the same rows inserted into the ledger's table layout, a commit per
  block, nothing else (the storage floor of append);
- append, operator's path: ``Ledger.append_entries`` with the entries as
  ``Operator.close_gate`` hands them over (bids hashed at intake, trades and payments
  encoded in bulk); its ratio to SQLite's rate is issue 15's target (>= 0.5x);
- verify: ``verify_ledger`` over the file: re-hash, re-link, signatures, roots, and the
  operator's arithmetic (bids, digests, trade prices, payments, tokens).
Building the ``Transaction`` objects and signing the bids (the agents' and the market's
work) is timed apart. Targets (DESIGN.md): append >= 50,000 trades/s, verify >= 100,000
trades/s (set before verify checked every bid's signature).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from voisin.ledger import Ledger, payments_for, verify_ledger
from voisin.ledger import transactions as tx
from voisin.ledger.chain import DEFAULT_GENESIS_TIME
from voisin.ledger.store import _SCHEMA, PAGE_SIZE
from voisin.protocol import (
    Bid,
    ClearingResult,
    ClearingStatus,
    Grid,
    KeyPair,
    Line,
    Participant,
    ParticipantKind,
    Segment,
    Side,
    Tariff,
    Trade,
    TradeKind,
    Transaction,
    TxKind,
    canonical_bytes,
    digest,
)
from voisin.protocol.blocks import EncodedTransaction, tx_leaf_bytes
from voisin.protocol.encoding import leaf_hash
from voisin.protocol.envelope import sign_bid
from voisin.protocol.interval import Interval
from voisin.protocol.keys import verify_many
from voisin.protocol.signed import Signed
from voisin.protocol.trades import trade_prices

PARTICIPANTS, BUSES = 1000, 50
APPEND_TARGET, VERIFY_TARGET = 50_000, 100_000
GRID = Grid(
    root="b0",
    buses=tuple(f"b{i}" for i in range(BUSES)),
    lines=tuple(
        Line(from_bus=f"b{i // 2}", to_bus=f"b{i}", capacity_kwh=50.0) for i in range(1, BUSES)
    ),
    import_price_eur_per_kwh=0.30,
    export_price_eur_per_kwh=0.05,
)
TERMS = {"grid": GRID.model_dump(mode="json", by_alias=True)}
TARIFF = Tariff(import_eur_per_kwh=0.30, export_eur_per_kwh=0.05)


def _interval(block: int) -> str:
    return f"2026-06-{22 + block // 96 % 7:02d}T{block // 4 % 24:02d}:{block % 4 * 15:02d}Z"


def _end(block: int) -> str:
    """The stamp of the block sealing interval ``block``: its end."""
    return Interval.parse(_interval(block)).end.isoformat()


def make_market(
    n: int, size: int, seed: int
) -> tuple[list[Participant], list[list[Transaction]], list[Signed[Bid]]]:
    """Members, the clearing blocks' transactions, and every bid (for the Ed25519 row)."""
    rng = np.random.default_rng(seed)
    keys = [KeyPair.derive("bench", i) for i in range(PARTICIPANTS)]
    members = [
        Participant(
            participant_id=k.public_hex,
            kind=ParticipantKind.HOUSEHOLD,
            group="pv",
            bus=f"b{i % BUSES}",
            tariff=TARIFF,
        )
        for i, k in enumerate(keys)
    ]
    blocks, every_bid = [], []
    for block, lo in enumerate(range(0, n, size)):
        interval = _interval(block)
        prices = {bus: float(np.round(rng.uniform(0.05, 0.30), 4)) for bus in GRID.buses}
        count = min(size, n - lo)
        seller = rng.integers(0, PARTICIPANTS, count)
        buyer = (seller + rng.integers(1, PARTICIPANTS, count)) % PARTICIPANTS
        energy = np.round(rng.uniform(0.01, 5.0, count), 3)
        bids, trades = [], []
        for i, (s, b, e) in enumerate(zip(seller, buyer, energy, strict=True)):
            if prices[members[b].bus] < prices[members[s].bus]:
                s, b = b, s  # energy flows to the dearer bus
            sell = sign_bid(
                keys[s],
                Bid(
                    bid_id=f"{interval}/{i}/s",
                    participant=members[s].participant_id,
                    bus=members[s].bus,
                    interval=interval,
                    side=Side.SELL,
                    segments=(Segment(energy_kwh=float(e), price_eur_per_kwh=0.01),),
                ),
                1,
            )
            buy = sign_bid(
                keys[b],
                Bid(
                    bid_id=f"{interval}/{i}/b",
                    participant=members[b].participant_id,
                    bus=members[b].bus,
                    interval=interval,
                    side=Side.BUY,
                    segments=(Segment(energy_kwh=float(e), price_eur_per_kwh=0.5),),
                ),
                1,
            )
            paid, received = trade_prices(prices, GRID.root, 0.0, sell, buy)
            trades.append(
                Trade(
                    interval=interval,
                    seller=sell.participant,
                    buyer=buy.participant,
                    energy_kwh=float(e),
                    buyer_price_eur_per_kwh=paid,
                    seller_price_eur_per_kwh=received,
                    kind=TradeKind.P2P,
                    buyer_bid_id=buy.bid_id,
                    seller_bid_id=sell.bid_id,
                )
            )
            bids += [Signed.of(sell), Signed.of(buy)]
        result = ClearingResult(
            interval=interval,
            status=ClearingStatus.OPTIMAL,
            welfare_eur=0.0,
            prices_eur_per_kwh=prices,
            cleared_kwh={},
            trades=tuple(trades),
            grid_import_kwh=0.0,
            grid_export_kwh=0.0,
            congestion_rent_eur=0.0,
            book_hash="",
            grid_hash=digest(TERMS["grid"]),
            solver="bench",
        )
        ordered = sorted(bids, key=lambda s: s.value.bid_id)
        blocks.append(
            [tx.bid(s) for s in ordered]
            + [tx.bid_digest(ordered, interval), tx.clearing(result, tx.terms_hash(TERMS))]
            + [tx.trade(t) for t in trades]
            + payments_for(trades, "fund")
        )
        every_bid += bids
    return members, blocks, every_bid


def _sqlite_insert(path: Path, texts: list[tuple[str, bytes]], sizes: list[int]) -> float:
    """Seconds SQLite alone takes to store the blocks' rows (kind, body text, leaf hash
    hex) in the ledger's table layout, WAL and synchronous FULL, a commit per block:
    the storage floor of ``append``, with the ledger's page size."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(_SCHEMA[1])
    rows = [(k, body.decode("utf-8"), leaf_hash(tx_leaf_bytes(k, body)).hex()) for k, body in texts]
    t0 = time.perf_counter()
    at = 0
    for height, size in enumerate(sizes, start=1):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO transactions VALUES (?, ?, ?, ?, ?)",
            [(height, i, *row) for i, row in enumerate(rows[at : at + size])],
        )
        db.execute("COMMIT")
        at += size
    seconds = time.perf_counter() - t0
    db.close()
    return seconds


def _append_entries(
    path: Path, members: list[Participant], blocks: list[list[Transaction]], operator: KeyPair
) -> float:
    """Seconds of ``Ledger.append_entries`` for the same blocks as the operator hands
    them over: bids hashed at intake, trades and payments encoded in bulk."""
    entries = []
    for txs in blocks:
        bids = [
            EncodedTransaction.of(TxKind.BID, t.canonical_body())
            for t in txs
            if t.kind is TxKind.BID
        ]
        rest = [t for t in txs if t.kind in (TxKind.BID_DIGEST, TxKind.CLEARING)]
        trades = [Trade(**t.body) for t in txs if t.kind is TxKind.TRADE]
        rows = [
            (t.body["sender"], t.body["recipient"], t.body["amount_micro"], t.body["memo"])
            for t in txs
            if t.kind is TxKind.TRANSFER
        ]
        entries.append((bids, rest, trades, rows))
    with Ledger.open(path, operator, genesis_supply_micro=10**15) as ledger:
        ledger.append(
            [tx.registration(p) for p in members]
            + [tx.transfer("fund", p.participant_id, 10**12) for p in members]
            + [tx.market(TERMS)],
            interval=None,
            time=DEFAULT_GENESIS_TIME,
        )
        t0 = time.perf_counter()
        for i, (bids, rest, trades, rows) in enumerate(entries):
            ledger.append_entries(
                bids + rest + tx.trade_entries(trades) + tx.transfer_entries(rows),
                interval=_interval(i),
                time=_end(i),
            )
        return time.perf_counter() - t0


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run(n: int, block: int, seed: int) -> list[tuple[str, float, str]]:
    t0 = time.perf_counter()
    members, blocks, bids = make_market(n, block, seed)
    build = time.perf_counter() - t0

    records = [(t.kind.value, t.body) for b in blocks for t in b]
    t0 = time.perf_counter()
    texts = [(k, canonical_bytes(body)) for k, body in records]
    leaves = [tx_leaf_bytes(k, text) for k, text in texts]
    encode = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _, body in records:
        json.dumps(body, sort_keys=True, separators=(",", ":"))
    c_json = time.perf_counter() - t0
    t0 = time.perf_counter()
    for leaf in leaves:
        leaf_hash(leaf)
    floor = time.perf_counter() - t0
    t0 = time.perf_counter()
    verify_many([(s.value.participant, s.signed_bytes, s.value.signature) for s in bids])
    ed25519 = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        operator = KeyPair.derive("bench", "operator")
        with Ledger.open(path, operator, genesis_supply_micro=10**15) as ledger:
            # Register and fund every participant so payments never overdraw.
            ledger.append(
                [tx.registration(p) for p in members]
                + [tx.transfer("fund", p.participant_id, 10**12) for p in members]
                + [tx.market(TERMS)],
                interval=None,
                time=DEFAULT_GENESIS_TIME,
            )
            t0 = time.perf_counter()
            for i, txs in enumerate(blocks):
                ledger.append(txs, interval=_interval(i), time=_end(i))
            append = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        report = verify_ledger(path)
        verify = time.perf_counter() - t0
        fast = _append_entries(Path(folder) / "entries.sqlite", members, blocks, operator)
        insert = _sqlite_insert(Path(folder) / "plain.sqlite", texts, [len(b) for b in blocks])
    floor_rate = _rate(n, floor)
    rows = [
        ("build and sign (agents' and market's side)", _rate(n, build), ""),
        ("floor: SHA-256 of the leaf bytes", floor_rate, ""),
        ("stdlib json.dumps(sort_keys), not RFC 8785", _rate(n, c_json), ""),
        ("encode RFC 8785 + SHA-256", _rate(n, encode + floor), ""),
        ("Ed25519 of 2 bids per trade, 2 threads", _rate(n, ed25519), ""),
        (
            f"append ({len(blocks)} blocks, {report.transactions:,} tx, {size_mb:,.0f} MB)",
            _rate(n, append),
            f"target {APPEND_TARGET:,}",
        ),
        ("SQLite alone: insert the rows, a commit per block", _rate(n, insert), ""),
        (
            "append, operator's path (entries encoded at intake/in bulk)",
            _rate(n, fast),
            f"{insert / fast:.2f}x SQLite's rate, target 0.5x",
        ),
        (
            "verify (hashes, signatures, roots, arithmetic)",
            _rate(n, verify),
            f"target {VERIFY_TARGET:,}, {ed25519 / verify:.0%} of it Ed25519",
        ),
    ]
    return [
        (name, rate, f"{rate / floor_rate:.2f}x floor" + (f", {note}" if note else ""))
        for name, rate, note in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=50_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 trades")
    parser.add_argument("--block", type=int, default=1000, help="trades per block")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = 1_000_000 if args.full else args.trades
    print(f"{n:,} trades with their bids and payments, blocks of {args.block}")
    print(f"{'stage':<58} {'trades/s':>12}  ratio")
    for name, rate, ratio in run(n, args.block, args.seed):
        print(f"{name:<58} {rate:>12,.0f}  {ratio}")


if __name__ == "__main__":
    main()
