"""The trade split ``clear`` uses for large books: preferences, then ``netting``.

Small books keep ``trades.allocate`` (every buyer sorts every seller by proximity);
above ``NETTED_SPLIT_BIDS`` bids that costs seconds, so the split becomes:

0. Green-only buyers first: their preferences, then ``netting.net_split`` for them
   and every seller, keeping only the peer-to-peer pieces.
1. Preferences, exactly as ``trades.allocate`` step 1 (buyers in ``bid_id`` order take
   from sellers they prefer or that prefer them, nearest first), but only the bids
   named in a preference are looked at, through dictionaries.
2. ``netting.net_split`` for what is left: same bus, then along the feeder's
   depth-first walk, then the grid.

Which split ran depends only on the number of bids, never on the solver backend, so
both backends give identical trades whenever they clear identical quantities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from voisin.market.feeder import Feeder
from voisin.market.netting import GRID_PARTY, NettedSplit, net_split
from voisin.market.network import Network
from voisin.market.pairing import pair_by_price
from voisin.market.pricing import clean
from voisin.market.segments import BidColumns
from voisin.market.trades import ENERGY_DECIMALS, SLIVER_KWH, Allocation
from voisin.protocol import GRID, BidView, Grid, LocalCharges, Side, TradeKind
from voisin.protocol.trade_table import TradeTable
from voisin.protocol.trades import trade_prices

NETTED_SPLIT_BIDS = 500
"""Books with more bids than this use the netted split (see docs/clearing.md, "Scale")."""


def _preferred_first(
    ordered: Sequence[BidView], left: dict[str, float], feeder: Feeder, *, green: bool
) -> list[Allocation]:
    """Step 1 of ``trades.allocate`` for the green-only buyers (``green``) or the others;
    updates ``left`` (kWh still to place per bid)."""
    sellers = [b for b in ordered if b.side is Side.SELL and left[b.bid_id] >= SLIVER_KWH]
    by_participant: dict[str, list[BidView]] = defaultdict(list)
    naming: dict[str, list[BidView]] = defaultdict(list)
    for seller in sellers:
        by_participant[seller.participant].append(seller)
        for name in seller.preferred:
            naming[name].append(seller)
    out: list[Allocation] = []
    for buyer in ordered:
        if buyer.side is not Side.BUY or left[buyer.bid_id] < SLIVER_KWH:
            continue
        if buyer.green_only is not green:
            continue
        found = {s.bid_id: s for s in naming.get(buyer.participant, ())}
        for name in buyer.preferred:
            found.update((s.bid_id, s) for s in by_participant.get(name, ()))
        candidates = sorted(
            found.values(),
            key=lambda s: (
                int(s.participant == buyer.participant),
                feeder.hops(buyer.bus, s.bus),
                s.participant,
                s.bid_id,
            ),
        )
        for seller in candidates:
            if left[buyer.bid_id] < SLIVER_KWH:
                break
            if left[seller.bid_id] < SLIVER_KWH:
                continue
            energy = clean(min(left[buyer.bid_id], left[seller.bid_id]), ENERGY_DECIMALS)
            left[buyer.bid_id] = clean(left[buyer.bid_id] - energy, ENERGY_DECIMALS)
            left[seller.bid_id] = clean(left[seller.bid_id] - energy, ENERGY_DECIMALS)
            out.append(Allocation(seller.bid_id, buyer.bid_id, energy))
    return out


def allocate_netted(
    bids: Sequence[BidView], cleared_kwh: Mapping[str, float], grid: Grid
) -> list[Allocation]:
    """Bid-level split for large books: preferences, same bus, feeder walk, grid."""
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    split = split_netted(ordered, cleared_kwh, grid)
    ids = [b.bid_id for b in ordered]
    return [
        Allocation(
            None if seller == GRID_PARTY else ids[seller],
            None if buyer == GRID_PARTY else ids[buyer],
            energy,
        )
        for seller, buyer, energy in zip(
            split.seller.tolist(), split.buyer.tolist(), split.energy_kwh.tolist(), strict=True
        )
    ]


def as_split(ordered: Sequence[BidView], allocations: Sequence[Allocation]) -> NettedSplit:
    """Bid-level allocations as a split of indices into ``ordered`` (the grid as
    ``GRID_PARTY``): how ``clear`` hands the grid-served imports to ``split_trades``."""
    at = {b.bid_id: i for i, b in enumerate(ordered)}

    def index(bid_id: str | None) -> int:
        return GRID_PARTY if bid_id is None else at[bid_id]

    return NettedSplit(
        seller=np.array([index(a.seller_bid) for a in allocations], dtype=np.int64),
        buyer=np.array([index(a.buyer_bid) for a in allocations], dtype=np.int64),
        energy_kwh=np.array([a.energy_kwh for a in allocations], dtype=float),
    )


def split_netted(
    ordered: Sequence[BidView],
    cleared_kwh: Mapping[str, float],
    grid: Grid,
    columns: BidColumns | None = None,
) -> NettedSplit:
    """``allocate_netted`` as arrays of indices into ``ordered`` (bids in ``bid_id``
    order), the same pieces in the same order: what ``clear`` turns into trades in bulk.
    ``columns``: the bids' ``BidColumns`` on ``grid``'s network, if made already."""
    pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    prefers = any(b.preferred for b in ordered)
    feeder = Feeder.of(grid) if prefers else None
    net = Network.of(grid)
    cols = BidColumns.of(ordered, net.buses) if columns is None else columns
    bus, sell, green, ids = cols.bus, cols.sell, cols.green, cols.ids
    left = {bid_id: cleared_kwh[bid_id] for bid_id in ids}
    position = {bid_id: i for i, bid_id in enumerate(ids)} if prefers else {}

    def preferred(allocations: list[Allocation]) -> None:
        pieces.append(
            (
                np.array([position[a.seller_bid or ""] for a in allocations], dtype=np.int64),
                np.array([position[a.buyer_bid or ""] for a in allocations], dtype=np.int64),
                np.array([a.energy_kwh for a in allocations], dtype=float),
            )
        )

    def place_peers(split: NettedSplit) -> None:
        peer = (split.seller != GRID_PARTY) & (split.buyer != GRID_PARTY)
        seller, buyer, energy = split.seller[peer], split.buyer[peer], split.energy_kwh[peer]
        for s, b, e in zip(seller.tolist(), buyer.tolist(), energy.tolist(), strict=True):
            left[ids[s]] = clean(left[ids[s]] - e, ENERGY_DECIMALS)
            left[ids[b]] = clean(left[ids[b]] - e, ENERGY_DECIMALS)
        pieces.append((seller, buyer, energy))

    def amounts(mask: np.ndarray) -> np.ndarray:
        kwh = np.array([left[i] for i in ids], dtype=float)
        return np.where(mask & (kwh >= SLIVER_KWH), kwh, 0.0)

    if green.any():  # green-only buyers first: preferences, then peers by the walk
        if feeder is not None:
            preferred(_preferred_first(ordered, left, feeder, green=True))
        place_peers(net_split(bus, sell, amounts(green | sell), net))
    if feeder is not None:
        preferred(_preferred_first(ordered, left, feeder, green=False))
    rest = net_split(bus, sell, amounts(np.ones(len(ids), dtype=bool)), net)
    pieces.append((rest.seller, rest.buyer, rest.energy_kwh))
    return NettedSplit(
        seller=np.concatenate([p[0] for p in pieces]).astype(np.int64),
        buyer=np.concatenate([p[1] for p in pieces]).astype(np.int64),
        energy_kwh=np.concatenate([p[2] for p in pieces]).astype(float),
    )


def _bid_prices(
    ordered: Sequence[BidView],
    cols: BidColumns,
    prices: Mapping[str, float],
    root: str,
    premium: float,
    adjust: Mapping[str, float],
    local: LocalCharges | None,
) -> np.ndarray:
    """Each bid's trade price against the grid (``protocol.trades.trade_prices``, the
    rule ``pairing.pair_allocations`` prices by), computed once per kind of bid: its
    bus, side, green-only flag and local charge; a bid with an adjustment on its own."""
    extra = np.zeros(len(ordered))
    if local is not None:
        buying = np.flatnonzero(~cols.sell).tolist()
        extra[buying] = [local.buyer_eur_per_kwh(cols.participant[i]) for i in buying]
    extras, extra_kind = np.unique(extra, return_inverse=True)
    kind = ((cols.bus * 2 + cols.sell) * 2 + cols.green) * len(extras) + extra_kind.reshape(-1)
    if adjust:
        own = np.array([k for k, bid_id in enumerate(cols.ids) if bid_id in adjust], dtype=int)
        kind[own] = -1 - own
    _, first, of_bid = np.unique(kind, return_index=True, return_inverse=True)

    def price(i: int) -> float:
        bid, sell = ordered[i], bool(cols.sell[i])
        return trade_prices(
            prices, root, premium, bid if sell else None, None if sell else bid, adjust, local
        )[int(sell)]

    return np.array([price(i) for i in first.tolist()], dtype=float)[of_bid.reshape(-1)]


def split_trades(
    split: NettedSplit,
    ordered: Sequence[BidView],
    prices_eur_per_kwh: Mapping[str, float],
    grid_root: str,
    interval: str,
    green_premium_eur_per_kwh: float = 0.0,
    adjustment_eur_per_kwh: Mapping[str, float] | None = None,
    charges: LocalCharges | None = None,
    columns: BidColumns | None = None,
) -> TradeTable:
    """``trades.to_trades`` of the split's pieces (indices into ``ordered``) as a table,
    without a Python object per piece: paired by price on the arrays, each trade priced
    from its bids' prices against the grid (equal to ``trade_prices`` of the pair unless
    a preferred discount applies, which is priced pair by pair). ``columns``: the bids'
    ``BidColumns``, if made already."""
    cols = BidColumns.of(ordered, {b.bus: None for b in ordered}) if columns is None else columns
    adjust = adjustment_eur_per_kwh or {}
    premium = green_premium_eur_per_kwh
    local = charges or LocalCharges()
    # Paired at prices before the local charges (``pairing.pair_allocations``), priced with them.
    price = _bid_prices(ordered, cols, prices_eur_per_kwh, grid_root, premium, adjust, None)
    paired = pair_by_price(split, price, cols.green)
    if local != LocalCharges():
        price = _bid_prices(ordered, cols, prices_eur_per_kwh, grid_root, premium, adjust, local)
    # The grid's side as trade_prices gives it: the root price plus the import credit
    # on an import, less the reference charge on an export.
    grid_buys, grid_sells = trade_prices(
        prices_eur_per_kwh, grid_root, premium, None, None, None, local
    )
    seller, buyer = paired.seller, paired.buyer
    has_seller, has_buyer = seller != GRID_PARTY, buyer != GRID_PARTY
    buyer_price = np.where(has_buyer, price[buyer], grid_buys)
    seller_price = np.where(has_seller, price[seller], grid_sells)
    sellers, buyers = seller.tolist(), buyer.tolist()
    if any(b.preferred_discount_eur_per_kwh for b in ordered):
        for k in np.flatnonzero(has_seller & has_buyer).tolist():
            buyer_price[k], seller_price[k] = trade_prices(
                prices_eur_per_kwh,
                grid_root,
                premium,
                ordered[sellers[k]],
                ordered[buyers[k]],
                adjust,
                local,
            )
    # The grid's side reads the last entry: the grid's name, no bid id.
    participant = np.array([*cols.participant, GRID], dtype=object)
    bid_id = np.array([*cols.ids, ""], dtype=object)
    seller = np.where(has_seller, seller, len(ordered))
    buyer = np.where(has_buyer, buyer, len(ordered))
    kinds = np.array([TradeKind.GRID, TradeKind.P2P], dtype=object)
    return TradeTable(
        interval=(interval,) * len(sellers),
        seller=tuple(participant[seller].tolist()),
        buyer=tuple(participant[buyer].tolist()),
        energy_kwh=paired.energy_kwh.astype(float),
        buyer_price_eur_per_kwh=buyer_price.astype(float),
        seller_price_eur_per_kwh=seller_price.astype(float),
        kind=tuple(kinds[(has_seller & has_buyer).astype(np.int64)].tolist()),
        buyer_bid_id=tuple(bid_id[buyer].tolist()),
        seller_bid_id=tuple(bid_id[seller].tolist()),
    )
