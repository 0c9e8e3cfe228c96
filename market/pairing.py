"""No peer-to-peer trade runs downhill in price: the rule the split and the ledger share.

A p2p trade pays its seller from its buyer's tokens, the buyer paying its own price and
the seller receiving its own; the difference is congestion rent for the fund. A trade
whose buyer pays less than its seller receives would need tokens from nowhere, so the
ledger refuses it (``ledger.tokens.payments_for``, code ``bad-trade``). The proximity
splits (``trades.allocate``, ``netting.net_split``) do not look at prices; on a
congested feeder they can pair a buyer at a cheap bus with a seller at a dear one.

``pair_by_price`` repairs a split after the fact, whatever computed the prices:

1. If no p2p piece has its seller priced above its buyer, the split stands unchanged.
   Always so without congestion, where every bus has one price.
2. Otherwise pieces between bids of equal price stay as they are; every other piece
   (p2p across a price difference, imports, exports) is pooled, and the pool is paired
   again by price: supply cheapest first against demand cheapest first, the k-th kWh
   to the k-th kWh. What the pool cannot balance goes to the grid: imports for the
   cheapest demand (other buyers before green-only ones), exports for the dearest
   supply, so the net grid exchange is unchanged.
3. A piece that still runs downhill (no consistent pairing exists) becomes an export of
   its seller and an import of its buyer.

On a radial feeder whose prices differ only across lines carried at their limit, energy
flows from cheap to dear buses, so every set of buses priced at least ``t`` takes in at
least what it sells; that is Hall's condition for the sorted pairing, and step 3 never
fires. Every bid's pieces still sum to its cleared kWh, and each bid's money (its price
times its kWh) does not depend on the pairing.

Prices are compared exactly, as the clearing rounds them (1e-9 EUR/kWh): a piece kept
has its buyer priced at least as high as its seller, so rounding the discounted trade
prices (a monotone step) cannot turn it round; the ledger's 1e-9 tolerance is spare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from voisin.market.netting import GRID_PARTY, NettedSplit, match_in_order
from voisin.market.pricing import PRICE_DECIMALS
from voisin.market.trades import ENERGY_DECIMALS, SLIVER_KWH, Allocation
from voisin.protocol import BidView, Side
from voisin.protocol.trades import trade_prices as trade_prices_of


def runs_downhill(split: NettedSplit, price_eur_per_kwh: np.ndarray) -> np.ndarray:
    """Mask of the p2p pieces whose seller is priced above its buyer."""
    peer = (split.seller != GRID_PARTY) & (split.buyer != GRID_PARTY)
    gap = np.zeros(len(split))
    gap[peer] = price_eur_per_kwh[split.seller[peer]] - price_eur_per_kwh[split.buyer[peer]]
    return np.asarray(peer & (gap > 0))


def pair_by_price(
    split: NettedSplit, price_eur_per_kwh: np.ndarray, green: np.ndarray | None = None
) -> NettedSplit:
    """``split`` with no p2p piece running downhill (see the module docstring).

    ``price_eur_per_kwh[i]`` is what bid ``i`` trades at: its bus price, plus the green
    premium where it applies; ``green[i]`` marks green-only buyers, which take a pooled
    import only once no other buyer in the pool can. Pieces keep ``split``'s
    conventions: indices into the price array or ``GRID_PARTY``; p2p pieces first, then
    imports, then exports.
    """
    price = np.asarray(price_eur_per_kwh, dtype=float)
    count = len(price)
    green = np.zeros(count, dtype=bool) if green is None else np.asarray(green, dtype=bool)
    if not runs_downhill(split, price).any():
        return split
    seller, buyer, energy = split.seller, split.buyer, split.energy_kwh
    peer = (seller != GRID_PARTY) & (buyer != GRID_PARTY)
    level = np.zeros(len(split), dtype=bool)
    level[peer] = price[seller[peer]] == price[buyer[peer]]
    pool = ~level
    has_seller = pool & (seller != GRID_PARTY)
    has_buyer = pool & (buyer != GRID_PARTY)
    supply = np.bincount(seller[has_seller], energy[has_seller], minlength=count)
    demand = np.bincount(buyer[has_buyer], energy[has_buyer], minlength=count)
    imports = _imports(demand, float(demand.sum() - supply.sum()), price, green)
    paired = _pair(supply, demand - imports, price)
    down = runs_downhill(NettedSplit(*paired), price)
    s, b, e = paired
    grid = np.full(int(down.sum()), GRID_PARTY)
    takers = np.flatnonzero(imports >= SLIVER_KWH)
    return _tidy(
        np.concatenate([seller[level], s[~down], s[down], grid, np.full(len(takers), GRID_PARTY)]),
        np.concatenate([buyer[level], b[~down], grid, b[down], takers]),
        np.concatenate([energy[level], e[~down], e[down], e[down], imports[takers]]),
        count,
    )


def _imports(
    demand: np.ndarray, gap_kwh: float, price: np.ndarray, green: np.ndarray
) -> np.ndarray:
    """What each bid of the pool imports when demand exceeds supply by ``gap_kwh``: the
    cheapest demand first (it is the least able to pay a seller), other buyers before
    green-only ones."""
    takers = np.flatnonzero(demand > 0)
    takers = takers[np.lexsort((takers, price[takers], green[takers]))]
    before = np.cumsum(demand[takers]) - demand[takers]
    share = np.zeros(len(demand))
    share[takers] = np.clip(gap_kwh - before, 0.0, demand[takers])
    return np.round(share, ENERGY_DECIMALS)


def _pair(
    supply: np.ndarray, demand: np.ndarray, price: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Supply cheapest first against demand cheapest first (ties by bid index), the k-th
    kWh to the k-th kWh; supply left over goes to the grid from the dear end."""
    sellers = np.flatnonzero(supply >= SLIVER_KWH)
    buyers = np.flatnonzero(demand >= SLIVER_KWH)
    sellers = sellers[np.lexsort((sellers, price[sellers]))]
    buyers = buyers[np.lexsort((buyers, price[buyers]))]
    s_amount = supply[sellers].astype(np.longdouble)
    b_amount = demand[buyers].astype(np.longdouble)
    gap = s_amount.sum() - b_amount.sum()
    if gap > 0:
        buyers = np.concatenate([buyers, [GRID_PARTY]])
        b_amount = np.concatenate([b_amount, [gap]])
    if not len(sellers) or not len(buyers):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    bi, si, kwh, _, _ = match_in_order(
        np.zeros(len(buyers), dtype=np.int64),
        b_amount,
        np.zeros(len(sellers), dtype=np.int64),
        s_amount,
        1,
    )
    return sellers[si], buyers[bi], np.round(kwh, ENERGY_DECIMALS)


def _tidy(seller: np.ndarray, buyer: np.ndarray, energy: np.ndarray, count: int) -> NettedSplit:
    """One piece per (seller, buyer) pair, first occurrence first; p2p pieces, then
    imports and exports by bid index; slivers dropped."""
    key = (seller + 1) * (count + 1) + (buyer + 1)
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    total = np.bincount(inverse, energy, minlength=len(unique))
    order = np.argsort(first, kind="stable")
    s, b = seller[first[order]], buyer[first[order]]
    e = np.round(total[order], ENERGY_DECIMALS)
    keep = e >= SLIVER_KWH
    s, b, e = s[keep], b[keep], e[keep]
    peer = (s != GRID_PARTY) & (b != GRID_PARTY)
    imports = np.flatnonzero(s == GRID_PARTY)
    imports = imports[np.argsort(b[imports], kind="stable")]
    exports = np.flatnonzero(b == GRID_PARTY)
    exports = exports[np.argsort(s[exports], kind="stable")]
    order = np.concatenate([np.flatnonzero(peer), imports, exports])
    return NettedSplit(seller=s[order], buyer=b[order], energy_kwh=e[order])


def trade_prices(
    bus_price_eur_per_kwh: np.ndarray,
    sell: np.ndarray,
    green: np.ndarray,
    green_premium_eur_per_kwh: float,
) -> np.ndarray:
    """The price each bid is paired at, on arrays by bid (``clear_arrays``): its bus
    price plus the green premium for sellers and green-only buyers, rounded as
    ``protocol.trades.trade_prices`` rounds. A local charge is left out on purpose: the
    buyer pays it on top of its seller's price, so a p2p piece is payable exactly when
    the seller's price before the charge does not exceed its buyer's."""
    premium = np.where(sell | green, green_premium_eur_per_kwh, 0.0)
    return np.round(bus_price_eur_per_kwh + premium, PRICE_DECIMALS) + 0.0


def pair_allocations(
    allocations: Sequence[Allocation],
    bids: Sequence[BidView],
    prices_eur_per_kwh: Mapping[str, float],
    grid_root: str,
    green_premium_eur_per_kwh: float = 0.0,
    adjustment_eur_per_kwh: Mapping[str, float] | None = None,
) -> list[Allocation]:
    """``pair_by_price`` for bid-level allocations (``trades.to_trades`` calls it).

    A bid is paired at the price ``protocol.trades.trade_prices`` gives its side against
    the grid without a local charge (its bus price, its adjustment, the green premium
    where it applies; the charge comes on top of every p2p seller's price, see
    ``trade_prices``), the one rule the market and the verifier share; a preferred
    discount moves both sides of a trade alike, so it cannot turn one round."""
    index = {bid.bid_id: i for i, bid in enumerate(bids)}
    green = np.array([b.green_only for b in bids], dtype=bool)
    price = np.array(
        [
            trade_prices_of(
                prices_eur_per_kwh,
                grid_root,
                green_premium_eur_per_kwh,
                b if b.side is Side.SELL else None,
                b if b.side is Side.BUY else None,
                adjustment_eur_per_kwh,
            )[int(b.side is Side.SELL)]
            for b in bids
        ],
        dtype=float,
    )
    split = NettedSplit(
        seller=np.array(
            [GRID_PARTY if a.seller_bid is None else index[a.seller_bid] for a in allocations],
            dtype=np.int64,
        ),
        buyer=np.array(
            [GRID_PARTY if a.buyer_bid is None else index[a.buyer_bid] for a in allocations],
            dtype=np.int64,
        ),
        energy_kwh=np.array([a.energy_kwh for a in allocations], dtype=float),
    )
    paired = pair_by_price(split, price, green)
    if paired is split:
        return list(allocations)
    ids = [bid.bid_id for bid in bids]
    return [
        Allocation(None if s == GRID_PARTY else ids[s], None if b == GRID_PARTY else ids[b], e)
        for s, b, e in zip(
            paired.seller.tolist(), paired.buyer.tolist(), paired.energy_kwh.tolist(), strict=True
        )
    ]
