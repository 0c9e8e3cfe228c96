"""Split cleared energy into trades: who supplied whom, at which prices.

Nodal pricing already fixes every bid's money (each buyer pays its bus price on what it
cleared, each seller receives its bus price), so the split only decides the story the
ledger tells. It is deterministic and reads:

0. Imports for the buyers the clearing had the upstream grid serve, so that they owe no
   excess local charge (per-buyer charges: ``Published.grid_served_kwh``), in
   ``bid_id`` order, within the bids' net import; they stay as they are, and steps
   1-4 split what is left. Then green-only buyers (in
   ``bid_id`` order), through steps 1 and 2, before any other buyer: the clearing lets
   them clear no more than sellers sell, so all of their energy comes from peers and
   none of their trades is a grid leg.
1. Peer-to-peer, preferences first: buyers in ``bid_id`` order each take energy from
   sellers they prefer or that prefer them (a bid's ``preferred`` names participants).
2. Peer-to-peer, by electrical proximity: same bus first, then fewer lines apart on the
   tree; a participant's own sell bids come last; ties by participant id, then bid id.
3. Grid to buyer (imports) for what buyers still need; seller to grid (exports) for what
   sellers still have.
4. Price order: if a peer-to-peer pair has its seller priced above its buyer (a
   congested line between them), ``pairing.pair_by_price`` pairs the pieces across
   price differences again, cheapest supply to cheapest demand, so no p2p trade runs
   downhill in price (the ledger could not pay for it).

A buyer pays its bus price and a seller receives its bus price; the grid receives (on
imports) or pays (on exports) the root price. When green supply is scarce, green-only
buyers pay, and every seller receives, the green premium on top. The gap, summed over
all trades, is the wheeling fees plus the congestion rent. Slivers below ``SLIVER_KWH``
are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from voisin.market.feeder import Feeder
from voisin.market.pricing import clean
from voisin.protocol import GRID, BidView, LocalCharges, Side, Trade, TradeKind
from voisin.protocol.trade_table import TradeTable
from voisin.protocol.trades import trade_prices

SLIVER_KWH = 1e-9
"""Energy below this (kWh) is solver noise, not a trade."""
ENERGY_DECIMALS = 12
"""Trade energies are rounded here, far below SLIVER_KWH, so sums stay exact to 1e-9."""


@dataclass(frozen=True)
class Allocation:
    """Energy (kWh) from one sell bid to one buy bid; ``None`` stands for the grid."""

    seller_bid: str | None
    buyer_bid: str | None
    energy_kwh: float


@dataclass
class _Open:
    bid: BidView
    left_kwh: float


def _prefers(buyer: BidView, seller: BidView) -> bool:
    return seller.participant in buyer.preferred or buyer.participant in seller.preferred


def grid_served_first(
    ordered: Sequence[BidView], cleared_kwh: Mapping[str, float], served_kwh: Mapping[str, float]
) -> tuple[list[Allocation], dict[str, float]]:
    """Step 0 of the module docstring: the imports of the buyers the clearing had the
    upstream grid serve (``served_kwh`` by bid id, ``Published.grid_served_kwh``), in
    ``bid_id`` order, within the bids' net import; and what each bid has left, which
    ``clear`` splits (steps 1-4) apart from them, so pairing by price never pools them."""
    left = {b.bid_id: cleared_kwh[b.bid_id] for b in ordered}
    if not served_kwh:
        return [], left
    sold = sum(left[b.bid_id] for b in ordered if b.side is Side.SELL)
    room = clean(sum(left.values()) - 2 * sold, ENERGY_DECIMALS)  # bought - sold
    out: list[Allocation] = []
    for bid in ordered:
        energy = clean(min(served_kwh.get(bid.bid_id, 0.0), room), ENERGY_DECIMALS)
        if energy >= SLIVER_KWH:
            out.append(Allocation(None, bid.bid_id, energy))
            left[bid.bid_id] = clean(left[bid.bid_id] - energy, ENERGY_DECIMALS)
            room = clean(room - energy, ENERGY_DECIMALS)
    return out, left


def allocate(
    bids: Sequence[BidView], cleared_kwh: Mapping[str, float], feeder: Feeder
) -> list[Allocation]:
    """Bid-level split of the cleared energy (steps 1-3 of the module docstring)."""
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    buyers = [
        _Open(b, cleared_kwh[b.bid_id])
        for b in ordered
        if b.side is Side.BUY and cleared_kwh[b.bid_id] >= SLIVER_KWH
    ]
    sellers = [
        _Open(b, cleared_kwh[b.bid_id])
        for b in ordered
        if b.side is Side.SELL and cleared_kwh[b.bid_id] >= SLIVER_KWH
    ]
    out: list[Allocation] = []

    def take(buyer: _Open, candidates: list[_Open]) -> None:
        for seller in candidates:
            if buyer.left_kwh < SLIVER_KWH:
                return
            if seller.left_kwh < SLIVER_KWH:
                continue
            energy = clean(min(buyer.left_kwh, seller.left_kwh), ENERGY_DECIMALS)
            buyer.left_kwh = clean(buyer.left_kwh - energy, ENERGY_DECIMALS)
            seller.left_kwh = clean(seller.left_kwh - energy, ENERGY_DECIMALS)
            out.append(Allocation(seller.bid.bid_id, buyer.bid.bid_id, energy))

    def proximity(buyer: BidView, seller: BidView) -> tuple[int, int, str, str]:
        own = int(seller.participant == buyer.participant)
        return (own, feeder.hops(buyer.bus, seller.bus), seller.participant, seller.bid_id)

    anyone_prefers = any(o.bid.preferred for o in buyers + sellers)
    green = [b for b in buyers if b.bid.green_only]
    for group in (green, [b for b in buyers if not b.bid.green_only]):
        for buyer in group if anyone_prefers else []:
            preferred = [s for s in sellers if _prefers(buyer.bid, s.bid)]
            take(buyer, sorted(preferred, key=lambda s: proximity(buyer.bid, s.bid)))
        for buyer in group:
            if buyer.left_kwh >= SLIVER_KWH:
                take(buyer, sorted(sellers, key=lambda s: proximity(buyer.bid, s.bid)))
    out.extend(
        Allocation(None, b.bid.bid_id, b.left_kwh) for b in buyers if b.left_kwh >= SLIVER_KWH
    )
    out.extend(
        Allocation(s.bid.bid_id, None, s.left_kwh) for s in sellers if s.left_kwh >= SLIVER_KWH
    )
    return out


def to_trades(
    allocations: Sequence[Allocation],
    bids: Sequence[BidView],
    prices_eur_per_kwh: Mapping[str, float],
    grid_root: str,
    interval: str,
    green_premium_eur_per_kwh: float = 0.0,
    adjustment_eur_per_kwh: Mapping[str, float] | None = None,
    charges: LocalCharges | None = None,
) -> list[Trade]:
    """Protocol trades (participant ids, prices) for bid-level allocations, same order,
    priced by ``voisin.protocol.trades.trade_prices`` (the verifier's rule too):
    ``adjustment_eur_per_kwh`` (by bid id) is what a bid's settlement price differs from
    its bus price (an inflexible bid, reactive power). Allocations that would pair a
    buyer with a seller priced above it are paired again by price first (``pairing``),
    so every trade is one the ledger can pay for."""
    from voisin.market.pairing import pair_allocations  # pairing builds on this module

    allocations = pair_allocations(
        allocations,
        bids,
        prices_eur_per_kwh,
        grid_root,
        green_premium_eur_per_kwh,
        adjustment_eur_per_kwh,
    )
    by_id = {bid.bid_id: bid for bid in bids}
    trades = []
    for a in allocations:
        seller = by_id[a.seller_bid] if a.seller_bid is not None else None
        buyer = by_id[a.buyer_bid] if a.buyer_bid is not None else None
        buyer_price, seller_price = trade_prices(
            prices_eur_per_kwh,
            grid_root,
            green_premium_eur_per_kwh,
            seller,
            buyer,
            adjustment_eur_per_kwh,
            charges,
        )
        trades.append(
            Trade(
                interval=interval,
                seller=seller.participant if seller else GRID,
                buyer=buyer.participant if buyer else GRID,
                energy_kwh=a.energy_kwh,
                buyer_price_eur_per_kwh=buyer_price,
                seller_price_eur_per_kwh=seller_price,
                kind=TradeKind.P2P if seller and buyer else TradeKind.GRID,
                buyer_bid_id=buyer.bid_id if buyer else "",
                seller_bid_id=seller.bid_id if seller else "",
            )
        )
    return trades


def congestion_rent_eur(trades: Sequence[Trade]) -> float:
    """What buyers (grid included) pay minus what sellers (grid included) receive: the
    congestion rent plus the wheeling fees (``clear`` subtracts the fees)."""
    table = TradeTable.of(trades)
    return float(sum((table.paid_eur() - table.received_eur()).tolist()))


def local_charges_eur(trades: Sequence[Trade], charges: LocalCharges | None) -> float:
    """The local charges owed on the p2p trades (EUR), each at its buyer's own charge:
    the part of ``congestion_rent_eur`` that is network charges and levies, not rent."""
    local = charges or LocalCharges()
    table = TradeTable.of(trades)
    p2p = [k for k, kind in enumerate(table.kind) if kind is TradeKind.P2P]
    buyers = [table.buyer[k] for k in p2p]
    owed = {buyer: local.owed_eur_per_kwh(buyer) for buyer in set(buyers)}
    # Each product is the float one trade at a time gives; summed in trade order.
    each = np.array([owed[b] for b in buyers], dtype=float) * table.energy_kwh[p2p]
    return float(sum(each.tolist()))
