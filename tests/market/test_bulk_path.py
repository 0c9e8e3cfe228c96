"""The operator's bulk path gives the very results and bytes of the object path.

Gate closure reuses each bid's received bytes (book hash, bid digest, ``bid``
transactions) and turns large splits into trades from arrays; every figure and every
ledger byte must be what the one-object-at-a-time path gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.ledger import Ledger
from voisin.ledger import transactions as tx
from voisin.market import Operator
from voisin.market.book import book_hash
from voisin.market.bulk_trades import (
    NETTED_SPLIT_BIDS,
    allocate_netted,
    as_split,
    split_netted,
    split_trades,
)
from voisin.market.instances import generate_signed
from voisin.market.trades import grid_served_first, to_trades
from voisin.protocol import (
    Bid,
    Interval,
    KeyPair,
    LocalCharges,
    Segment,
    Side,
    TradeKind,
    TradeTable,
    digest,
)
from voisin.protocol.compact import CompactBid
from voisin.protocol.signed import Signed

from .conftest import make_grid

FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LINES = (("R", "A", 4.0), ("A", "B", 2.0), ("R", "C", 3.0), ("C", "D", 1.0))
BUSES = ("R", "A", "B", "C", "D")
INTERVAL = Interval.parse("2026-06-22T12:00Z")
BID_VIEW_FIELDS = (
    "bid_id",
    "participant",
    "bus",
    "interval",
    "side",
    "preferred",
    "seq",
    "green_only",
    "preferred_discount_eur_per_kwh",
    "inflexible",
    "energy_kwh",
)


def _book(
    seed: int, n: int, *, green: bool = False
) -> tuple[list[Bid], dict[str, float], dict[str, float]]:
    """Bids with preferences, discounts and green-only buyers; cleared kWh and prices
    drawn at random (dearer and cheaper buses, so pairing by price has work to do).

    Green-only buyers (``green``) come without preferences."""
    rng = np.random.default_rng(seed)
    bids = []
    for i in range(n):
        sell = bool(rng.random() < 0.5)
        green_only = green and not sell and rng.random() < 0.05
        preferred = (f"p{int(rng.integers(n))}",) if not green and rng.random() < 0.05 else ()
        bids.append(
            Bid(
                bid_id=f"x{i:04d}",
                participant=f"p{i}",
                bus=BUSES[int(rng.integers(len(BUSES)))],
                interval=INTERVAL.id,
                side=Side.SELL if sell else Side.BUY,
                segments=(
                    Segment(
                        energy_kwh=float(rng.uniform(0.1, 3)),
                        price_eur_per_kwh=float(rng.uniform(0.05, 0.3)),
                    ),
                ),
                preferred=preferred,
                green_only=green_only,
                preferred_discount_eur_per_kwh=0.02 if sell and preferred else 0.0,
            )
        )
    cleared = {
        b.bid_id: float(np.round(rng.uniform(0, 1) * b.energy_kwh, 6)) * (rng.random() < 0.8)
        for b in bids
    }
    prices = {bus: float(np.round(rng.uniform(0.05, 0.3), 4)) for bus in BUSES}
    return bids, cleared, prices


@pytest.mark.parametrize(("seed", "green"), [(19, False), (153, True)])
def test_books_whose_short_side_ended_an_ulp_early_split_whole(seed: int, green: bool) -> None:
    """These books made the netted split index past its last entry (a group's last end
    recomputed an ulp below the group's matched total); every cleared kWh is split."""
    bids, cleared, _ = _book(seed, NETTED_SPLIT_BIDS + 60, green=green)
    allocations = allocate_netted(bids, cleared, make_grid(LINES))
    for bid in bids:
        side = [
            a.energy_kwh
            for a in allocations
            if bid.bid_id in (a.seller_bid if bid.side is Side.SELL else a.buyer_bid,)
        ]
        assert sum(side) == pytest.approx(cleared[bid.bid_id], abs=1e-8)


@FEW
@given(
    seed=st.integers(0, 2**32 - 1),
    premium=st.sampled_from([0.0, 0.013]),
    green=st.booleans(),
    local=st.sampled_from([0.0, 0.021]),
    per_buyer=st.booleans(),
)
def test_split_trades_are_the_object_paths_trades(
    seed: int, premium: float, green: bool, local: float, per_buyer: bool
) -> None:
    """Either split gives the same trades at the same prices, with one community charge
    or with per-buyer charges: every tenth participant owing 0.03 more, an import
    credit of 0.01, and imports the clearing had the grid serve to every other buyer
    among them, which stand apart from the split of the rest (as in ``clear``)."""
    bids, cleared, prices = _book(seed, NETTED_SPLIT_BIDS + 60, green=green)
    grid = make_grid(LINES)
    adjust = {b.bid_id: 0.004 for b in bids[::37]}
    charges, served = LocalCharges(local), {}
    if per_buyer:
        own = {f"p{i}": local + 0.03 for i in range(0, len(bids), 10)}
        charges = LocalCharges.of(bids, own, local, 0.01)
        served = {
            b.bid_id: cleared[b.bid_id] / 2
            for b in bids[::20]
            if b.side is Side.BUY and not b.green_only
        }
    lead, left = grid_served_first(bids, cleared, served)
    assert all(a.seller_bid is None and a.energy_kwh <= served[a.buyer_bid or ""] for a in lead)
    priced = (prices, "R", INTERVAL.id, premium, adjust, charges)
    expected = to_trades(lead, bids, *priced) + to_trades(
        allocate_netted(bids, left, grid), bids, *priced
    )
    tables = [
        split_trades(as_split(bids, lead), bids, *priced),
        split_trades(split_netted(bids, left, grid), bids, *priced),
    ]
    made = TradeTable.concat(tables)
    assert made.objects is None  # built from the columns, not kept as objects
    assert made == expected
    assert list(made) == expected == [made[k] for k in range(len(made))]
    assert TradeTable.of(expected) == made
    assert premium or local or any(t.kind.value == "p2p" for t in expected)


def test_book_hash_from_received_bytes_is_the_encoded_book_hash() -> None:
    market = generate_signed(40, 3, INTERVAL)
    bids = [s.value for s in market.bids]
    rows = [CompactBid.of(s) for s in market.bids]
    assert book_hash(rows) == book_hash(bids) == digest(bids)
    # A bid contracts rewrote (a new Bid) is encoded, never taken as received.
    rewritten = bids[0].model_copy(update={"preferred": ("someone",), "signature": ""})
    assert book_hash([rewritten, *rows[1:]]) == digest([rewritten, *bids[1:]])
    assert book_hash([rewritten, *rows[1:]]) != book_hash(rows)


def test_compact_bid_reads_as_its_bid_and_decodes_back_to_it() -> None:
    made = [Signed.of(b) for b in _book(4, 300)[0] + _book(5, 300, green=True)[0]]
    assert any(s.value.preferred for s in made)
    assert any(s.value.green_only for s in made)
    for s in generate_signed(30, 4, INTERVAL).bids + tuple(made):
        row = CompactBid.of(s)
        assert row.bid() == s.value
        assert row.signed().data == s.data
        for name in BID_VIEW_FIELDS:
            assert getattr(row, name) == getattr(s.value, name), name
        assert [tuple(step) for step in row.segments] == [
            (seg.energy_kwh, seg.price_eur_per_kwh) for seg in s.value.segments
        ]


def test_bid_digest_from_intake_leaves_is_the_digest_of_the_bytes() -> None:
    from voisin.protocol.encoding import leaf_hash

    signed = sorted(generate_signed(25, 5, INTERVAL).bids, key=lambda s: s.value.bid_id)
    leaves = [leaf_hash(s.data) for s in signed]
    assert tx.bid_digest(signed, INTERVAL.id, leaves) == tx.bid_digest(signed, INTERVAL.id)


def _close(path: Path, bids: tuple[Signed[Bid], ...], market, *, bulk: bool) -> list[tuple]:
    key = KeyPair.derive("test", "operator")
    with Ledger.open(
        path, key, genesis_supply_micro=10**15, time="2026-06-21T00:00:00+00:00"
    ) as ledger:
        operator = Operator(market.grid, ledger)
        operator.register(market.members, time="2026-06-21T00:00:00+00:00", allowance_micro=10**9)
        for signed in bids:
            operator.submit_bid(signed, INTERVAL)
        if bulk:
            operator.close_gate(INTERVAL)
        else:  # the object path: every entry a Transaction, through Ledger.append
            signed = operator.book(INTERVAL.id)
            from voisin.ledger.contract_effects import contract_payments
            from voisin.market.reclear import ClearingInputs, reclear

            terms = operator.terms(INTERVAL.minutes)
            result = reclear(
                ClearingInputs(INTERVAL.id, [s.value for s in signed], ledger.contracts, terms)
            )
            ledger.append(
                [tx.market(terms.body)]
                + [tx.bid(s) for s in signed]
                + [
                    tx.bid_digest(signed, INTERVAL.id),
                    tx.clearing(result, tx.terms_hash(terms.body)),
                ]
                + [tx.trade(t) for t in result.trades]
                + contract_payments(result.trades, ledger.fund, ledger.contracts, INTERVAL.id),
                interval=INTERVAL.id,
                time=INTERVAL.end.isoformat(),
            )
        return list(ledger.raw_transactions()) + [b[1:] for b in ledger._store.raw_blocks()]


def test_close_gate_writes_the_bytes_of_the_object_path(tmp_path: Path) -> None:
    market = generate_signed(NETTED_SPLIT_BIDS * 2, 11, INTERVAL)
    bulk = _close(tmp_path / "bulk.sqlite", market.bids, market, bulk=True)
    plain = _close(tmp_path / "plain.sqlite", market.bids, market, bulk=False)
    assert bulk == plain
    assert sum(1 for row in bulk if len(row) == 5 and row[2] == "trade") > 100


@FEW
@given(seed=st.integers(0, 2**32 - 1))
def test_trade_and_transfer_entries_are_the_transactions_bytes(seed: int) -> None:
    from voisin.ledger.tokens import payment_rows, payments_for, payments_rows_for
    from voisin.protocol import Transaction

    bids, cleared, prices = _book(seed, NETTED_SPLIT_BIDS + 10)
    grid = make_grid(LINES)
    split = split_netted(bids, cleared, grid)
    trades = split_trades(split, bids, prices, "R", INTERVAL.id)

    def stored(entries: list) -> list[tuple[str, bytes, bytes]]:
        return [
            (e.kind.value, e.canonical_body(), e.leaf_hash())
            if isinstance(e, Transaction)
            else (e.kind.value, e.body_bytes, e.leaf)
            for e in entries
        ]

    assert stored(tx.trade_entries(trades)) == stored([tx.trade(t) for t in trades])
    rows = payments_rows_for(trades, "fund")
    assert rows
    # The rule trade by trade, on the objects, as it read before trades had columns.
    assert rows == [
        row
        for t in trades
        if t.kind is TradeKind.P2P
        for row in payment_rows(t.seller, t.buyer, t.interval, t.received_eur, t.paid_eur, "fund")
    ]
    encoded = tx.transfer_entries(rows)
    assert stored(encoded) == stored(payments_for(trades, "fund"))
    assert [e.body for e in encoded] == [t.body for t in payments_for(trades, "fund")]


def test_a_clearing_with_a_trade_table_reads_writes_and_pickles_as_its_trades() -> None:
    """A bulk clearing's trades are a table; the public API still shows ``Trade``s:
    its JSON form is the trades', which validate back to an equal result, and a
    pickled copy (a city's workers) is equal too."""
    import pickle

    from voisin.market.clearing import clear
    from voisin.protocol import ClearingResult, Trade

    market = generate_signed(NETTED_SPLIT_BIDS * 2, 7, INTERVAL)
    result = clear([CompactBid.of(s) for s in market.bids], market.grid, INTERVAL.id)
    assert isinstance(result.trades, TradeTable)
    assert result.trades.objects is None
    assert len(result.trades) > 100
    assert all(isinstance(t, Trade) for t in result.trades)
    dumped = result.model_dump(mode="json")
    assert dumped["trades"] == [t.model_dump(mode="json") for t in result.trades]
    again = ClearingResult.model_validate(dumped)
    assert again == result
    assert isinstance(again.trades, TradeTable)
    assert again.trades.objects is not None
    assert ClearingResult.model_validate_json(result.model_dump_json()) == result
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.trades[-1] == list(result.trades)[-1]
    assert list(result.trades[3:7]) == list(result.trades)[3:7]
