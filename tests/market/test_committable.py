"""Every clearing the market produces, the ledger can commit: random congested books go
through ``Operator.close_gate`` end to end (signed bids in, trades block committed,
settled, verified), the design's 10k-bid instance included.

The invariant behind it (docs/clearing.md, "Trades"): no peer-to-peer trade pairs a
buyer with a seller priced above it, and on a radial feeder the grid legs are still
exactly the net import and export.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.ledger import Ledger, verify_ledger
from voisin.market import Operator
from voisin.market.instances import generate
from voisin.market.netting import GRID_PARTY, NettedSplit
from voisin.market.pairing import pair_by_price
from voisin.protocol import (
    GRID,
    Bid,
    Grid,
    Interval,
    KeyPair,
    Line,
    Participant,
    ParticipantKind,
    Side,
    Tariff,
    TradeKind,
)
from voisin.protocol.envelope import sign_bid

INTERVAL = Interval(start=datetime(2026, 6, 21, 12, 0, tzinfo=UTC))
TARIFF = Tariff(import_eur_per_kwh=0.30, export_eur_per_kwh=0.05)
OPERATOR = KeyPair.derive("committable", "operator")


def _member(name: str, bus: str) -> tuple[KeyPair, Participant]:
    key = KeyPair.derive("committable", name)
    return key, Participant(
        participant_id=key.public_hex,
        kind=ParticipantKind.HOUSEHOLD,
        group="test",
        bus=bus,
        tariff=TARIFF,
        meter_id=KeyPair.derive("committable", name, "meter").public_hex,
    )


def _run(
    tmp_path: Path,
    grid: Grid,
    members: dict[str, tuple[KeyPair, Participant]],
    book: list[tuple[str, Side, tuple[tuple[float, float], ...], bool]],
) -> None:
    """Sign ``book`` (member, side, segments, green-only), clear it through the operator,
    settle it and verify the ledger; check the trades on the way."""
    path = tmp_path / "ledger.sqlite"
    path.unlink(missing_ok=True)
    with Ledger.open(path, OPERATOR) as ledger:
        operator = Operator(grid, ledger)
        operator.register(
            [p for _, p in members.values()],
            time=INTERVAL.start.isoformat(),
            allowance_micro=50_000_000,
        )
        bids = []
        for i, (name, side, segments, green) in enumerate(book):
            key, member = members[name]
            bid = Bid(
                bid_id=f"b{i:06d}",
                participant=member.participant_id,
                bus=member.bus,
                interval=INTERVAL.id,
                side=side,
                green_only=green and side is Side.BUY,
                segments=tuple({"energy_kwh": q, "price_eur_per_kwh": p} for q, p in segments),
            )
            bids.append(sign_bid(key, bid, i + 1))
        refused = operator.submit_all(bids, INTERVAL)
        assert refused == operator.rejections.total
        assert set(operator.rejections.by_code) <= {"self-trade"}
        height = ledger.height
        result = operator.close_gate(INTERVAL)
        assert ledger.height == height + 1, "the trades block is committed"
        for t in result.trades:
            if t.kind is TradeKind.P2P:
                assert t.buyer_price_eur_per_kwh >= t.seller_price_eur_per_kwh - 1e-12, t
                assert t.buyer != t.seller
        imported = sum(t.energy_kwh for t in result.trades if t.seller == GRID)
        exported = sum(t.energy_kwh for t in result.trades if t.buyer == GRID)
        assert imported - exported == pytest.approx(
            result.grid_import_kwh - result.grid_export_kwh, abs=1e-6
        )
        if not any(green for *_, green in book):  # Hall's condition holds (pairing.py)
            assert imported == pytest.approx(result.grid_import_kwh, abs=1e-6)
            assert exported == pytest.approx(result.grid_export_kwh, abs=1e-6)
        per_bid: dict[str, float] = defaultdict(float)
        for t in result.trades:
            per_bid[t.buyer_bid_id] += t.energy_kwh
            per_bid[t.seller_bid_id] += t.energy_kwh
        for bid_id, kwh in result.cleared_kwh.items():
            assert per_bid.get(bid_id, 0.0) == pytest.approx(kwh, abs=1e-8)
        operator.settle(INTERVAL)
    report = verify_ledger(path)
    assert report.balances_ok


@st.composite
def congested_books(draw: st.DrawFn) -> tuple[Grid, dict, list]:
    """A random tree with thin lines (most bind), members pinned to buses, and up to
    40 bids: whole cents, tenths of a kWh, some green-only buyers."""
    n_bus = draw(st.integers(2, 7))
    buses = [f"n{i}" for i in range(n_bus)]
    lines = tuple(
        Line(
            from_bus=buses[draw(st.integers(0, b - 1))],
            to_bus=buses[b],
            capacity_kwh=draw(st.sampled_from([0.0, 0.3, 1.0, 2.0, 4.0])),
        )
        for b in range(1, n_bus)
    )
    grid = Grid(
        root="n0",
        buses=tuple(buses),
        lines=lines,
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
        transformer_capacity_kwh=draw(st.sampled_from([None, 1.0, 5.0])),
    )
    names = [f"m{i}" for i in range(draw(st.integers(2, 12)))]
    members = {name: _member(name, draw(st.sampled_from(buses))) for name in names}
    book = []
    for _ in range(draw(st.integers(2, 40))):
        segments = tuple(
            (draw(st.integers(1, 50)) / 10, draw(st.integers(5, 40)) / 100)
            for _ in range(draw(st.integers(1, 2)))
        )
        book.append(
            (
                draw(st.sampled_from(names)),
                draw(st.sampled_from(list(Side))),
                segments,
                draw(st.integers(0, 5)) == 0,
            )
        )
    return grid, members, book


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(congested_books())
def test_random_congested_books_commit(tmp_path: Path, case: tuple[Grid, dict, list]) -> None:
    grid, members, book = case
    _run(tmp_path, grid, members, book)


def _design_instance(n: int, seed: int) -> tuple[Grid, dict, list]:
    """DESIGN.md's generated instance, one member per bid at the bid's bus."""
    net, arrays = generate(n, seed)
    grid = Grid(
        root="0",
        buses=net.buses,
        import_price_eur_per_kwh=0.30,
        export_price_eur_per_kwh=0.05,
        lines=tuple(
            Line(from_bus=str(a), to_bus=str(b), capacity_kwh=float(c))
            for a, b, c in zip(net.line_from, net.line_to, net.line_capacity_kwh, strict=True)
        ),
    )
    members, book = {}, []
    for i, (bus, sell, kwh, price) in enumerate(
        zip(arrays.bus, arrays.sell, arrays.energy_kwh, arrays.price_eur_per_kwh, strict=True)
    ):
        members[f"x{i}"] = _member(f"{seed}/{i}", str(bus))
        book.append(
            (f"x{i}", Side.SELL if sell else Side.BUY, ((float(kwh), float(price)),), False)
        )
    return grid, members, book


@pytest.mark.slow
@pytest.mark.parametrize(("n", "seed"), [(400, 0), (1_000, 0), (1_000, 1), (10_000, 0)])
def test_the_design_instances_commit(tmp_path: Path, n: int, seed: int) -> None:
    """The benchmark's books: before the pairing, 8 of 472 trades at 1k bids and 163 of
    5,138 at 10k ran downhill and the ledger refused the block."""
    _run(tmp_path, *_design_instance(n, seed))


def test_pairing_known_answer() -> None:
    """Worked by hand: sellers A (0.10) and B (0.30), buyers X (0.30) and Y (0.10), 1 kWh
    each. Proximity paired A->X and B->Y; B->Y runs downhill (Y would pay 0.10 for
    energy B is paid 0.30 for). By price: A->Y (0.10 -> 0.10) and B->X (0.30 -> 0.30)."""
    price = np.array([0.10, 0.30, 0.30, 0.10])  # bids A, B, X, Y
    split = NettedSplit(
        seller=np.array([0, 1]), buyer=np.array([2, 3]), energy_kwh=np.array([1.0, 1.0])
    )
    paired = pair_by_price(split, price)
    assert sorted(
        zip(paired.seller.tolist(), paired.buyer.tolist(), paired.energy_kwh.tolist(), strict=True)
    ) == [(0, 3, 1.0), (1, 2, 1.0)]


def test_pairing_keeps_the_net_grid_exchange_and_falls_back_to_grid_legs() -> None:
    """A seller at 0.30 and a buyer at 0.10 alone cannot trade with each other: the
    seller exports and the buyer imports. An import leg of 0.5 kWh in the pool stays
    an import of 0.5 kWh net."""
    price = np.array([0.30, 0.10])
    split = NettedSplit(seller=np.array([0]), buyer=np.array([1]), energy_kwh=np.array([2.0]))
    paired = pair_by_price(split, price)
    pieces = sorted(
        zip(paired.seller.tolist(), paired.buyer.tolist(), paired.energy_kwh.tolist(), strict=True)
    )
    assert pieces == [(GRID_PARTY, 1, 2.0), (0, GRID_PARTY, 2.0)]
    price = np.array([0.10, 0.30, 0.10])  # seller S, buyers X (dear) and Y (cheap)
    split = NettedSplit(
        seller=np.array([0, GRID_PARTY]), buyer=np.array([2, 1]), energy_kwh=np.array([1.0, 0.5])
    )  # S->Y fine; X imports
    assert pair_by_price(split, price) is split  # nothing runs downhill: unchanged
    price = np.array([0.30, 0.30, 0.10])  # now S is dear: S->Y runs downhill
    paired = pair_by_price(split, price)
    pieces = sorted(
        zip(paired.seller.tolist(), paired.buyer.tolist(), paired.energy_kwh.tolist(), strict=True)
    )
    # By price: S (0.30) serves X (0.30) 0.5 kWh; the cheap buyer Y imports 1.0; S's
    # last 0.5 kWh has no buyer it may serve and is exported: net import still 0.5.
    assert pieces == [(GRID_PARTY, 2, 1.0), (0, GRID_PARTY, 0.5), (0, 1, 0.5)]
