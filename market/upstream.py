"""A feeder cleared under a city: its upstream price and the exchange it must take.

In a city (``voisin.city``, docs/city.md) the city market allocates each feeder a net
purchase ``x`` at its substation and prices it at ``lambda``, its MV bus's nodal price.
The feeder then re-clears with ``lambda`` as both its import and its export price, the
unmatched part of inflexible positions kept in that exchange (no retailer at the
feeder's edge) but settled outside the market by the members' suppliers, and must end
at exactly ``x``. Buying and selling at one price fixes the upstream node's price at
it, so the solver is first let free; only where it stops elsewhere on a piece of the
feeder's curve whose slope is ``lambda`` (the city's marginal feeder, indifferent over
a range) is the exchange pinned (the ``exchange`` row). The operator's clearing
(``market.clearing.clear``), the auditor's re-clearing and the city's array clearing
(``city.market.reclear``) all go through ``cleared_at``.

The rest is valued at the upstream node's price (``Conditions.rest_price_eur_per_kwh``),
as a lone feeder's retailer values it at its tariff: an inflexible buyer is matched
when its limit covers that price, a seller when that price covers its ask. Valued at
nothing, as the residual curve values it (the split never moves a flow, so the curve's
slopes do not care), every inflexible buyer was matched whatever the city price, paying
its limit where that was below the price the feeder paid the city (a deficit), and no
inflexible seller asking more than 0 ever was. Free, the node's price is ``lambda``;
pinned, it may leave it (the pin's dual; the price rule holds it nearest ``lambda``),
and the pinned solve is then repeated once with the rest at the price found. Not
iterated: where a position is cut, the repeated solve's node price can move again, and
the feeder then runs short at the city's price (docs/city.md, "Known defects").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from voisin.market.engine import Outcome
from voisin.market.formulation import Conditions
from voisin.market.network import Network

EXCHANGE_TOL_KWH = 5e-7
"""A free optimum this close to the allocation takes it: half what the ledger's
``upstream`` rule allows (1e-6 kWh, ``ledger.interval_checks``). A physical feeder's
loss passes re-linearise around its own flows, so its free exchange misses a curve's
breakpoint by a few 1e-7 kWh; pinned there, the pin forced a micro-curtailment and
published every bus at the curtailment price (a review's SimBench case, 2e-7 kWh)."""
PRICE_TOL_EUR_PER_KWH = 1e-9
"""A pinned node's price this close to the city's is the city's (the published prices'
rounding)."""


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


def exchange_of(outcome: Outcome) -> float:
    """The net purchase at the upstream node of a solved interval (kWh, + import)."""
    return float(outcome.values("grid_import").sum() - outcome.values("grid_export").sum())


def cleared_at(
    upstream: Upstream, conditions: Conditions, solve: Callable[[Conditions], Outcome]
) -> Outcome:
    """``solve`` free at the city price, then pinned to the allocation if it stopped
    elsewhere, the rest valued at the node's price (module docstring)."""
    city = replace(
        conditions,
        retailer_takes_rest=False,
        rest_price_eur_per_kwh=upstream.price_eur_per_kwh,
    )
    free = solve(city)
    if abs(exchange_of(free) - upstream.exchange_kwh) <= EXCHANGE_TOL_KWH:
        return free
    pinned = replace(city, exchange_kwh=upstream.exchange_kwh)
    out = solve(pinned)
    node = out.prices.upstream_eur_per_kwh
    if abs(node - upstream.price_eur_per_kwh) <= PRICE_TOL_EUR_PER_KWH:
        return out
    return solve(replace(pinned, rest_price_eur_per_kwh=node))
