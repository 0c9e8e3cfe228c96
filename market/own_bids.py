"""Self-trade: a member's own buy and sell bids for one interval must not cross.

Two bids of one member that could clear against each other would be a wash trade, the
member paying itself (the ledger refuses a transfer to oneself, and with it the whole
interval's block). The operator refuses the second bid at intake as ``self-trade``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voisin.protocol import BidView, Side


def crosses(a: BidView, b: BidView) -> bool:
    """True when a buy and a sell bid could clear against each other: the buyer's best
    limit reaches the seller's. A member's own crossing pair would be a wash trade
    (tokens to itself), so the second is refused at intake as ``self-trade``."""
    if a.side is b.side:
        return False
    buy, sell = (a, b) if a.side is Side.BUY else (b, a)
    return _limit(buy) >= _limit(sell)


def _limit(bid: BidView) -> float:
    """A buy's best (highest) limit or a sell's best (lowest) one."""
    steps = bid.segments
    if len(steps) == 1:  # most bids: the one step's price, no list per bid
        return steps[0].price_eur_per_kwh
    prices = [s.price_eur_per_kwh for s in steps]
    return max(prices) if bid.side is Side.BUY else min(prices)


@dataclass
class OwnBids:
    """One member's bids in one book, its dearest buy and cheapest sell at hand: a bid
    that crosses any of its own opposite bids crosses one of those, so the self-trade
    check costs the same for an aggregator's thousandth bid as for the first."""

    bids: list[BidView] = field(default_factory=list)
    dearest_buy: BidView | None = None
    cheapest_sell: BidView | None = None

    def crossing(self, bid: BidView) -> BidView | None:
        other = self.cheapest_sell if bid.side is Side.BUY else self.dearest_buy
        return other if other is not None and crosses(other, bid) else None

    def add(self, bid: BidView) -> None:
        self.bids.append(bid)
        if bid.side is Side.BUY:
            if self.dearest_buy is None or _limit(bid) > _limit(self.dearest_buy):
                self.dearest_buy = bid
        elif self.cheapest_sell is None or _limit(bid) < _limit(self.cheapest_sell):
            self.cheapest_sell = bid

    def remove(self, bid: BidView) -> None:
        self.bids.remove(bid)
        kept, self.bids, self.dearest_buy, self.cheapest_sell = self.bids, [], None, None
        for other in kept:
            self.add(other)
