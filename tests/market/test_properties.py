"""Properties of the clearing on random small books on random radial feeders.

Prices are whole cents and quantities tenths of a kWh, so ties and degenerate
solutions (several optimal dispatches, ranges of valid prices) are common on purpose.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.market import clear, uniform_auction
from voisin.market.engine import run_interval
from voisin.market.feeder import Feeder
from voisin.market.network import Network
from voisin.market.segments import book_of
from voisin.market.trades import allocate
from voisin.protocol import GRID, Bid, ClearingResult, Grid, Line, Side

from .conftest import INTERVAL, repaired_by_price

TOL = 1e-7
HUGE_KWH = 1e6
PARTICIPANTS = ("p0", "p1", "p2", "p3", "p4", "p5")
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def markets(draw: st.DrawFn, unlimited: bool = False, green: bool = True) -> tuple[Grid, list[Bid]]:
    """A random tree (``parent[b] < b``), grid prices, and up to 8 bids; lines may charge
    a wheeling fee and buy bids may be green-only (unless ``green`` is False). With
    ``unlimited`` no line can bind, none charges a fee and no bid is green-only (the
    transformer still may bind)."""
    n_bus = draw(st.integers(1, 5))
    buses = [f"n{i}" for i in range(n_bus)]
    lines = []
    for b in range(1, n_bus):
        parent = buses[draw(st.integers(0, b - 1))]
        cap = HUGE_KWH if unlimited else draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5, 10.0]))
        ends = (parent, buses[b]) if draw(st.booleans()) else (buses[b], parent)
        fee = 0.0 if unlimited else draw(st.sampled_from([0.0, 0.0, 0.01, 0.03]))
        lines.append(
            Line(from_bus=ends[0], to_bus=ends[1], capacity_kwh=cap, wheeling_fee_eur_per_kwh=fee)
        )
    import_cents = draw(st.integers(10, 40))
    export_cents = draw(st.integers(0, import_cents))
    transformer = draw(st.sampled_from([None, 0.0, 1.0, 2.5, 6.0]))
    grid = Grid(
        root="n0",
        buses=tuple(buses),
        lines=tuple(lines),
        import_price_eur_per_kwh=import_cents / 100,
        export_price_eur_per_kwh=export_cents / 100,
        transformer_capacity_kwh=transformer,
    )
    bids = []
    for i in range(draw(st.integers(1, 8))):
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        green_only = side is Side.BUY and green and not unlimited and draw(st.integers(0, 3)) == 0
        segments = tuple(
            {
                "energy_kwh": draw(st.integers(1, 50)) / 10,
                "price_eur_per_kwh": draw(st.integers(0, 50)) / 100,
            }
            for _ in range(draw(st.integers(1, 2)))
        )
        bids.append(
            Bid(
                bid_id=f"bid{i}",
                participant=draw(st.sampled_from(PARTICIPANTS)),
                bus=draw(st.sampled_from(buses)),
                interval=INTERVAL,
                side=side,
                segments=segments,
                preferred=tuple(draw(st.lists(st.sampled_from(PARTICIPANTS), max_size=2))),
                green_only=green_only,
            )
        )
    return grid, bids


def _injections(grid: Grid, bids: list[Bid], result: ClearingResult) -> dict[str, float]:
    """Net kWh each bus puts into the network (sellers +, buyers -, grid at the root)."""
    net = dict.fromkeys(grid.buses, 0.0)
    for bid in bids:
        q = result.cleared_kwh[bid.bid_id]
        net[bid.bus] += q if bid.side is Side.SELL else -q
    net[grid.root] += result.grid_import_kwh - result.grid_export_kwh
    return net


def _flows(grid: Grid, injection: dict[str, float]) -> list[float]:
    """Flow from ``from`` to ``to`` on each line, found independently of market code:
    whatever the ``to`` side of a cut line injects must leave through that line."""
    flows = []
    for cut in grid.lines:
        side, stack = {cut.to_bus}, [cut.to_bus]
        while stack:
            bus = stack.pop()
            for line in grid.lines:
                if line is cut:
                    continue
                for a, b in ((line.from_bus, line.to_bus), (line.to_bus, line.from_bus)):
                    if a == bus and b not in side:
                        side.add(b)
                        stack.append(b)
        flows.append(-sum(injection[b] for b in side))
    return flows


def _filled(bid: Bid, q: float) -> list[tuple[float, float, float]]:
    """(price, filled kWh, segment kWh) with the best segments filled first."""
    out = []
    for seg in sorted(
        bid.segments, key=lambda s: s.price_eur_per_kwh, reverse=bid.side is Side.BUY
    ):
        used = min(q, seg.energy_kwh)
        q -= used
        out.append((seg.price_eur_per_kwh, used, seg.energy_kwh))
    return out


@FAST
@given(markets())
def test_flows_feasible_and_trades_reconcile(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    result = clear(bids, grid, INTERVAL)
    injection = _injections(grid, bids, result)
    assert sum(injection.values()) == pytest.approx(0.0, abs=TOL)
    for line, flow in zip(grid.lines, _flows(grid, injection), strict=True):
        assert abs(flow) <= line.capacity_kwh + TOL
    assert Feeder.of(grid).line_flows(injection, len(grid.lines)) == pytest.approx(
        _flows(grid, injection), abs=TOL
    )
    limit = grid.transformer_capacity_kwh
    if limit is not None:
        assert result.grid_import_kwh <= limit + TOL
        assert result.grid_export_kwh <= limit + TOL
    by_id = {b.bid_id: b for b in bids}
    for bid in bids:
        assert -TOL <= result.cleared_kwh[bid.bid_id] <= bid.energy_kwh + TOL

    # Each bid's trades add up to what it cleared (bid-level split)...
    per_bid: dict[str, float] = defaultdict(float)
    for a in allocate(bids, result.cleared_kwh, Feeder.of(grid)):
        assert a.energy_kwh >= 1e-9
        assert a.seller_bid is None or by_id[a.seller_bid].side is Side.SELL
        assert a.buyer_bid is None or by_id[a.buyer_bid].side is Side.BUY
        for bid_id in (a.seller_bid, a.buyer_bid):
            if bid_id is not None:
                per_bid[bid_id] += a.energy_kwh
    for bid in bids:
        assert per_bid[bid.bid_id] == pytest.approx(result.cleared_kwh[bid.bid_id], abs=1e-9)
    # ...and so do each participant's published trades and the grid's legs.
    bought: dict[str, float] = defaultdict(float)
    sold: dict[str, float] = defaultdict(float)
    for t in result.trades:
        bought[t.buyer] += t.energy_kwh
        sold[t.seller] += t.energy_kwh
    for p in PARTICIPANTS:
        mine = [b for b in bids if b.participant == p]
        want_buy = sum(result.cleared_kwh[b.bid_id] for b in mine if b.side is Side.BUY)
        want_sell = sum(result.cleared_kwh[b.bid_id] for b in mine if b.side is Side.SELL)
        assert bought[p] == pytest.approx(want_buy, abs=1e-8)
        assert sold[p] == pytest.approx(want_sell, abs=1e-8)
    net = result.grid_import_kwh - result.grid_export_kwh
    assert sold[GRID] - bought[GRID] == pytest.approx(net, abs=1e-8)
    if not repaired_by_price(bids, grid, result) or not any(b.green_only for b in bids):
        assert sold[GRID] == pytest.approx(result.grid_import_kwh, abs=1e-8)
        assert bought[GRID] == pytest.approx(result.grid_export_kwh, abs=1e-8)


def effective_price(bid: Bid, result: ClearingResult) -> float:
    """What a bid's kWh trade at: its bus price, plus the green premium for green-only
    buyers and for sellers."""
    premium = result.green_premium_eur_per_kwh
    extra = premium if bid.side is Side.SELL or bid.green_only else 0.0
    return result.prices_eur_per_kwh[bid.bus] + extra


@FAST
@given(markets())
def test_individual_rationality_and_equilibrium(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    result = clear(bids, grid, INTERVAL)
    prices = result.prices_eur_per_kwh
    for bid in bids:
        price = effective_price(bid, result)
        for limit, used, size in _filled(bid, result.cleared_kwh[bid.bid_id]):
            if bid.side is Side.BUY:
                if used > 1e-9:  # no accepted buyer pays above its limit
                    assert limit >= price - TOL
                if limit > price + TOL:  # and none in the money is left unserved
                    assert used == pytest.approx(size, abs=TOL)
            else:
                if used > 1e-9:  # no accepted seller gets below its limit
                    assert limit <= price + TOL
                if limit < price - TOL:
                    assert used == pytest.approx(size, abs=TOL)
    root = prices[grid.root]
    cap = grid.transformer_capacity_kwh
    if result.grid_import_kwh > 1e-9:
        assert root >= grid.import_price_eur_per_kwh - TOL
    if cap is None or result.grid_import_kwh < cap - 1e-9:
        assert root <= grid.import_price_eur_per_kwh + TOL
    if result.grid_export_kwh > 1e-9:
        assert root <= grid.export_price_eur_per_kwh + TOL
    if cap is None or result.grid_export_kwh < cap - 1e-9:
        assert root >= grid.export_price_eur_per_kwh - TOL


@FAST
@given(markets())
def test_money_balances(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    result = clear(bids, grid, INTERVAL)
    prices = result.prices_eur_per_kwh
    payments = sum(t.paid_eur for t in result.trades)
    receipts = sum(t.received_eur for t in result.trades)
    assert payments == pytest.approx(
        receipts + result.congestion_rent_eur + result.wheeling_fees_eur, abs=1e-8
    )
    # Each bid's money is its price times its cleared energy, whoever it traded with.
    pay_bids = sum(
        effective_price(b, result) * result.cleared_kwh[b.bid_id]
        for b in bids
        if b.side is Side.BUY
    )
    get_bids = sum(
        effective_price(b, result) * result.cleared_kwh[b.bid_id]
        for b in bids
        if b.side is Side.SELL
    )
    root = prices[grid.root]
    # The grid legs: the net exchange, or more where green-only buyers' trades had to be
    # grid legs (``repaired_by_price``); the grid pays and is paid the root price on each.
    exported = sum(t.energy_kwh for t in result.trades if t.buyer == GRID)
    imported = sum(t.energy_kwh for t in result.trades if t.seller == GRID)
    assert imported - exported == pytest.approx(
        result.grid_import_kwh - result.grid_export_kwh, abs=1e-8
    )
    assert payments == pytest.approx(pay_bids + root * exported, abs=1e-8)
    assert receipts == pytest.approx(get_bids + root * imported, abs=1e-8)
    # The fees are each line's fee on what it carries; the rent is what the lines earn
    # beyond them: flow times the price rise along it, less the fee. Neither is negative,
    # and a line carrying energy below its limit earns its fee and no rent.
    flows = _flows(grid, _injections(grid, bids, result))
    fees = sum(
        line.wheeling_fee_eur_per_kwh * abs(f) for line, f in zip(grid.lines, flows, strict=True)
    )
    assert result.wheeling_fees_eur == pytest.approx(fees, abs=1e-8)
    for line, f in zip(grid.lines, flows, strict=True):
        rise = prices[line.to_bus] - prices[line.from_bus]
        w, cap = line.wheeling_fee_eur_per_kwh, line.capacity_kwh
        assert f * rise - w * abs(f) >= -1e-7
        if 1e-6 < abs(f) < cap - 1e-6:
            assert rise == pytest.approx(w * np.sign(f), abs=1e-8)
        # Every line condition of the price rule, open sides closed included.
        if f < cap - 1e-6:
            assert rise <= w + 1e-8
        if f > -cap + 1e-6:
            assert rise >= -w - 1e-8
    line_rent = sum(
        f * (prices[line.to_bus] - prices[line.from_bus])
        for line, f in zip(grid.lines, flows, strict=True)
    )
    assert result.congestion_rent_eur == pytest.approx(line_rent - fees, abs=1e-7)
    assert result.congestion_rent_eur >= -1e-7


@FAST
@given(markets(unlimited=True))
def test_without_congestion_equals_uniform_auction(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    result = clear(bids, grid, INTERVAL)
    reference = uniform_auction(bids, grid)
    assert result.welfare_eur == pytest.approx(reference.welfare_eur, abs=1e-8)
    # One price everywhere, and it supports the uniform auction's outcome.
    prices = set(result.prices_eur_per_kwh.values())
    assert max(prices) - min(prices) <= 1e-9
    price = prices.pop()
    assert reference.price_low_eur_per_kwh - TOL <= price <= reference.price_high_eur_per_kwh + TOL


def _greedy_welfare(grid: Grid, bids: list[Bid]) -> float:
    """A simple feasible dispatch: best-surplus pairs first, each routed along the tree
    path within what the lines and the transformer still allow."""
    feeder = Feeder.of(grid)
    limit = grid.transformer_capacity_kwh
    big = 1e9
    root = grid.root
    sellers = [
        [s.price_eur_per_kwh, s.energy_kwh, b.bus]
        for b in bids
        if b.side is Side.SELL
        for s in b.segments
    ]
    buyers = [
        [s.price_eur_per_kwh, s.energy_kwh, b.bus, b.green_only]
        for b in bids
        if b.side is Side.BUY
        for s in b.segments
    ]
    sellers.append([grid.import_price_eur_per_kwh, big if limit is None else limit, root])
    buyers.append([grid.export_price_eur_per_kwh, big if limit is None else limit, root, False])
    grid_seller, grid_buyer = sellers[-1], buyers[-1]
    flow = [0.0] * len(grid.lines)

    def path(a: str, b: str) -> list[tuple[int, int]]:
        """(line, +1 if travelling from->to else -1) for each line from a to b."""
        up_a, up_b = [], []
        while a != b:
            if feeder.depth[a] >= feeder.depth[b]:
                index, sign = feeder.parent_line[a]
                up_a.append((index, -sign))
                a = feeder.parent[a]
            else:
                index, sign = feeder.parent_line[b]
                up_b.append((index, sign))
                b = feeder.parent[b]
        return up_a + up_b[::-1]

    def fee(a: str, b: str) -> float:
        return sum(grid.lines[k].wheeling_fee_eur_per_kwh for k, _ in path(a, b))

    pairs = sorted(
        (
            (bp[0] - sp[0] - fee(sp[2], bp[2]), i, j)
            for i, bp in enumerate(buyers)
            for j, sp in enumerate(sellers)
        ),
        reverse=True,
    )
    welfare = 0.0
    for surplus, i, j in pairs:
        buyer, seller = buyers[i], sellers[j]
        if surplus <= 0 or (buyer is grid_buyer and seller is grid_seller):
            continue
        if seller is grid_seller and buyer[3]:
            continue  # green-only buyers take no import
        route = path(seller[2], buyer[2])
        room = min(
            [buyer[1], seller[1]] + [grid.lines[k].capacity_kwh - d * flow[k] for k, d in route]
        )
        if room <= 1e-12:
            continue
        for k, d in route:
            flow[k] += d * room
        buyer[1] -= room
        seller[1] -= room
        welfare += surplus * room
    return welfare


@FAST
@given(markets())
def test_welfare_at_least_a_greedy_feasible_dispatch(market: tuple[Grid, list[Bid]]) -> None:
    grid, bids = market
    assert clear(bids, grid, INTERVAL).welfare_eur >= _greedy_welfare(grid, bids) - 1e-8


EPS_KWH = 1e-3
BIG_EUR = 100.0


def _probe(bid_id: str, bus: str, side: Side, price: float) -> Bid:
    return Bid(
        bid_id=bid_id,
        participant="probe",
        bus=bus,
        interval=INTERVAL,
        side=side,
        segments=({"energy_kwh": EPS_KWH, "price_eur_per_kwh": price},),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(green=False))
def test_price_rule_ranges_match_welfare_sensitivity(market: tuple[Grid, list[Bid]]) -> None:
    """Checked independently of the rule's derivation: the top of a bus's price range is
    what one more kWh taken there costs the market, the bottom what one more kWh
    injected there is worth, both measured by re-clearing with a tiny extra bid; the
    price lies between them."""
    grid, bids = market
    ordered = sorted(bids, key=lambda b: b.bid_id)
    base = clear(ordered, grid, INTERVAL)
    if not ordered:
        return
    net = Network.of(grid)
    prices = run_interval(book_of(ordered, net), net, backend="pyomo").prices
    lows, highs = prices.low, prices.high
    for bus, low, high in zip(grid.buses, lows.tolist(), highs.tolist(), strict=True):
        assert low - 1e-9 <= base.prices_eur_per_kwh[bus] <= high + 1e-9
        inject = clear([*ordered, _probe("~inject", bus, Side.SELL, -BIG_EUR)], grid, INTERVAL)
        if inject.cleared_kwh["~inject"] > EPS_KWH / 2:
            worth = (inject.welfare_eur - base.welfare_eur) / EPS_KWH - BIG_EUR
            assert low == pytest.approx(worth, abs=1e-4), (bus, "low")
        take = clear([*ordered, _probe("~take", bus, Side.BUY, BIG_EUR)], grid, INTERVAL)
        if take.cleared_kwh["~take"] > EPS_KWH / 2:
            cost = BIG_EUR - (take.welfare_eur - base.welfare_eur) / EPS_KWH
            assert high == pytest.approx(cost, abs=1e-4), (bus, "high")
