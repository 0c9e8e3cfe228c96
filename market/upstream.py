"""A feeder cleared under a city: its upstream price and the exchange it must take.

In a city (``voisin.city``, docs/city.md) the city market allocates each feeder a net
purchase ``x`` at its substation and prices it at ``lambda``, its MV bus's nodal price.
The feeder then re-clears with ``lambda`` as both its import and its export price, the
unmatched part of inflexible positions kept in that exchange (no retailer at the
feeder's edge), and must end at exactly ``x``. Buying and selling at one price fixes
the upstream node's price at it, so the solver is first let free; only where it stops
elsewhere on a piece of the feeder's curve whose slope is ``lambda`` (the city's
marginal feeder, indifferent over a range) is the exchange pinned (the ``exchange``
row). The operator's clearing (``market.clearing.clear``), the auditor's re-clearing
and the city's array clearing (``city.market.reclear``) all go through ``cleared_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from voisin.market.formulation import Conditions
from voisin.market.network import Network

EXCHANGE_TOL_KWH = 1e-7
"""A free optimum this close to the allocation takes it (the solver's tolerance)."""

T = TypeVar("T")


@dataclass(frozen=True)
class Upstream:
    """The city's allocation to one feeder for one interval (an ``upstream``
    transaction on the feeder's ledger). Units: EUR/kWh, kWh (import positive)."""

    price_eur_per_kwh: float
    exchange_kwh: float

    def network(self, net: Network) -> Network:
        """The feeder's network with the city price as its import and export price."""
        p = self.price_eur_per_kwh
        return replace(net, import_price_eur_per_kwh=p, export_price_eur_per_kwh=p)

    def body(self, interval: str) -> dict[str, Any]:
        return {
            "interval": interval,
            "price_eur_per_kwh": self.price_eur_per_kwh,
            "exchange_kwh": self.exchange_kwh,
        }


def cleared_at(
    upstream: Upstream,
    conditions: Conditions,
    solve: Callable[[Conditions], T],
    exchange_of: Callable[[T], float],
) -> T:
    """``solve`` free at the city price, then pinned to the allocation if it stopped
    elsewhere (module docstring); ``exchange_of`` reads the net purchase of a result."""
    city = replace(conditions, retailer_takes_rest=False)
    free = solve(city)
    if abs(exchange_of(free) - upstream.exchange_kwh) <= EXCHANGE_TOL_KWH:
        return free
    return solve(replace(city, exchange_kwh=upstream.exchange_kwh))
