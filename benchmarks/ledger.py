"""Ledger benchmark: append and verify throughput against plain SHA-256 of the same records.

    python benchmarks/ledger.py [--trades 200000] [--full] [--block 1000]

Generates ``--trades`` random peer-to-peer trades (seeded numpy ``default_rng``) among
1,000 participants and writes them as blocks of ``--block`` trades (one block per cleared
interval of a 1,000-household market), into a fresh SQLite ledger (WAL, synchronous
FULL) in a temporary folder, each trade with the token payments it owes (verification
re-derives them, so a ledger without them would not verify); then verifies the whole
file. ``--full`` runs the issue's 1M trades.

Rows, each in trades per second and as a multiple of the floor (SHA-256 alone):
- floor: SHA-256 over each record's leaf bytes, pre-encoded (about 1M/s in CPython);
- the standard library's C ``json.dumps(sort_keys=True)`` of the same bodies, for scale
  (not RFC 8785: Python float text, code-point key order);
- encode + hash: RFC 8785 bytes of each body then its leaf hash;
- append: ``Ledger.append`` per block: encode, hash, Merkle root, sign, commit (fsync);
- verify: ``verify_ledger`` over the file: re-hash, re-link, signatures, root, tokens.
Building the ``Transaction`` objects (the market's work) is timed apart.
Targets (DESIGN.md): append >= 50,000 trades/s, verify >= 100,000 trades/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from voisin.ledger import Ledger, payments_for, verify_ledger
from voisin.ledger import transactions as tx
from voisin.protocol import KeyPair, Trade, TradeKind, Transaction, canonical_bytes
from voisin.protocol.blocks import tx_leaf_bytes
from voisin.protocol.encoding import leaf_hash

PARTICIPANTS = 1000
APPEND_TARGET, VERIFY_TARGET = 50_000, 100_000


def make_trades(n: int, seed: int) -> list[Trade]:
    rng = np.random.default_rng(seed)
    ids = [KeyPair.derive("bench", i).public_hex for i in range(PARTICIPANTS)]
    seller = rng.integers(0, PARTICIPANTS, n)
    buyer = (seller + rng.integers(1, PARTICIPANTS, n)) % PARTICIPANTS
    energy = np.round(rng.uniform(0.01, 5.0, n), 3)
    price = np.round(rng.uniform(0.05, 0.30, n), 4)
    rent = np.where(rng.random(n) < 0.1, 0.01, 0.0)
    return [Trade(interval=f"2026-06-{22 + i // 96_000 % 7:02d}T{i // 4000 % 24:02d}:"
                           f"{i // 1000 % 4 * 15:02d}Z",
                  seller=ids[s], buyer=ids[b], energy_kwh=float(e),
                  buyer_price_eur_per_kwh=float(p + r), seller_price_eur_per_kwh=float(p),
                  kind=TradeKind.P2P, buyer_bid_id=f"b{i}", seller_bid_id=f"s{i}")
            for i, (s, b, e, p, r) in enumerate(zip(seller, buyer, energy, price, rent,
                                                    strict=True))]


def _blocks(trades: list[Trade], size: int) -> list[list[Transaction]]:
    blocks = []
    for lo in range(0, len(trades), size):
        chunk = trades[lo:lo + size]
        blocks.append([tx.trade(t) for t in chunk] + payments_for(chunk, "fund"))
    return blocks


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run(n: int, block: int, seed: int) -> list[tuple[str, float, str]]:
    trades = make_trades(n, seed)
    t0 = time.perf_counter()
    blocks = _blocks(trades, block)
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

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        operator = KeyPair.derive("bench", "operator")
        with Ledger.open(path, operator, genesis_supply_micro=10**15) as ledger:
            # Fund every participant so payments never overdraw.
            ids = sorted({t.buyer for t in trades})
            ledger.append([tx.transfer("fund", a, 10**12) for a in ids], interval=None,
                          time="t")
            t0 = time.perf_counter()
            for i, txs in enumerate(blocks):
                ledger.append(txs, interval=trades[i * block].interval, time="t")
            append = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        report = verify_ledger(path)
        verify = time.perf_counter() - t0
    floor_rate = _rate(n, floor)
    rows = [
        ("build Transaction objects (market side)", _rate(n, build), ""),
        ("floor: SHA-256 of the leaf bytes", floor_rate, ""),
        ("stdlib json.dumps(sort_keys) of the bodies (C, not RFC 8785)", _rate(n, c_json), ""),
        ("encode RFC 8785 + SHA-256", _rate(n, encode + floor), ""),
        (f"append ({len(blocks)} blocks, {report.transactions:,} tx, {size_mb:,.0f} MB)",
         _rate(n, append), f"target {APPEND_TARGET:,}"),
        ("verify (hashes, links, signatures, roots, tokens)", _rate(n, verify),
         f"target {VERIFY_TARGET:,}"),
    ]
    return [(name, rate, f"{rate / floor_rate:.2f}x floor" + (f", {note}" if note else ""))
            for name, rate, note in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=200_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 trades")
    parser.add_argument("--block", type=int, default=1000, help="trades per block")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = 1_000_000 if args.full else args.trades
    print(f"{n:,} trades with their payments, blocks of {args.block}")
    print(f"{'stage':<58} {'trades/s':>12}  ratio")
    for name, rate, ratio in run(n, args.block, args.seed):
        print(f"{name:<58} {rate:>12,.0f}  {ratio}")


if __name__ == "__main__":
    main()
