"""Nodal prices from the duals of the balance constraints.

``balance[bus]`` reads ``sold - bought + inflow - outflow (+ imp - exp) == 0``. Raising
its right-hand side by one kWh forces the bus to inject one kWh more than it takes,
which is the same as serving one more kWh of demand there; in a maximisation the dual
is therefore minus the marginal cost of that demand. The nodal price is ``-dual``.

The price rule itself lives in ``price_rule`` (the midpoint of each bus's range); the
negated dual is its fallback should a range ever come out empty.
"""

from __future__ import annotations

from voisin.protocol import Grid
from voisin.protocol.trades import PRICE_DECIMALS

__all__ = ["PRICE_DECIMALS", "clean", "empty_book_prices"]


def clean(value: float, decimals: int = PRICE_DECIMALS) -> float:
    """Round and turn -0.0 into 0.0, so equal numbers hash equally."""
    return round(value, decimals) + 0.0


def empty_book_prices(grid: Grid) -> dict[str, float]:
    """Prices when no bid was submitted: the cost of one more kWh of demand.

    With nothing flowing no line binds, so every bus can be served from the root at the
    import price; that is the price a buyer arriving alone would face.
    """
    return {bus: clean(grid.import_price_eur_per_kwh) for bus in grid.buses}
