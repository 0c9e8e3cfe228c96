"""The market: gate, network-constrained clearing, prices, trades.

``clear(bids, grid, interval)`` is the one entry point the operator, the simulation and
an auditor share; ``uniform_auction`` is the no-network reference it is tested against.
"""

from voisin.market.book import book_hash, grid_hash
from voisin.market.clearing import clear
from voisin.market.gate import MarketRules, check_bid
from voisin.market.operator import Operator, Rejections
from voisin.market.uniform import UniformResult, uniform_auction

__all__ = [
    "MarketRules",
    "Operator",
    "Rejections",
    "UniformResult",
    "book_hash",
    "check_bid",
    "clear",
    "grid_hash",
    "uniform_auction",
]
