"""The market: gate, network-constrained clearing, prices, trades.

``clear(bids, grid, interval)`` is the one entry point the operator, the simulation and
an auditor share; ``uniform_auction`` is the no-network reference it is tested against.
``Operator`` (which writes the ledger) loads on first use, so an auditor who only
re-clears (``import voisin.market.clearing``) pulls in neither the ledger nor sqlite3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voisin.market.book import book_hash, grid_hash
from voisin.market.clearing import clear
from voisin.market.gate import MarketRules, check_bid
from voisin.market.uniform import UniformResult, uniform_auction

if TYPE_CHECKING:
    from voisin.market.operator import Operator, Rejections


def __getattr__(name: str) -> Any:
    if name in ("Operator", "Rejections"):
        from voisin.market import operator

        return getattr(operator, name)
    raise AttributeError(f"module 'voisin.market' has no attribute {name!r}")


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
