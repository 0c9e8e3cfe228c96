"""The city level as its ledger records it: the book of curves, and its clearing from it.

The city's book for an interval is every feeder's residual curve (its breakpoints as
the doubles the search found, which RFC 8785 writes exactly), its MV bus and its
non-participants' injection: a ``city_book`` transaction. ``clear_book`` clears such a
body under the MV network's market terms (``market`` transaction of the city ledger)
and returns the ``city_clearing`` body. The city run clears through it and
``voisin audit`` re-clears through it, so what was run and what is checked are one
function of the recorded book (``city.market``: the curves as bids, one
``market.bulk.clear_arrays``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from voisin.city.feeders import city_conditions
from voisin.city.market import (
    city_book,
    clear_city_book,
    exchange_of,
    national_import_kwh,
    welfare_of,
)
from voisin.city.residual import ResidualCurve
from voisin.city.scenario import CitySpec, mv_grid
from voisin.market.gate import MarketRules
from voisin.market.network import Network
from voisin.market.terms import Terms

DECIMALS = 9
"""Published quantities and prices are rounded to this many places."""


def city_terms(spec: CitySpec) -> Terms:
    """The city's market terms: the MV network, the default rules, highspy."""
    return Terms.of(mv_grid(spec), MarketRules(), minutes=spec.minutes, backend="highs")


def book_body(
    interval: str,
    market_hash: str,
    names: Sequence[str],
    buses: Sequence[str],
    curves: Sequence[ResidualCurve],
    base_kwh: Sequence[float],
) -> dict[str, Any]:
    """The ``city_book`` body: per feeder its name, MV bus, curve and base."""
    return {
        "interval": interval,
        "market_hash": market_hash,
        "feeders": [
            {
                "feeder": name,
                "bus": bus,
                "exchange_kwh": [float(x) for x in curve.exchange_kwh],
                "value_eur": [float(v) for v in curve.value_eur],
                "base_kwh": float(base),
            }
            for name, bus, curve, base in zip(names, buses, curves, base_kwh, strict=True)
        ],
    }


def _round(value: float) -> float:
    return round(float(value), DECIMALS) + 0.0


def clear_book(book: dict[str, Any], terms: Terms) -> dict[str, Any]:
    """The ``city_clearing`` body of a ``city_book`` body under the city's terms."""
    grid = terms.grid
    net = Network.of(grid)
    shared = city_conditions(terms.rules, terms.minutes, grid.export_price_eur_per_kwh)
    feeders = book["feeders"]
    names = [f["feeder"] for f in feeders]
    curves = [
        ResidualCurve(np.array(f["exchange_kwh"], dtype=float), np.array(f["value_eur"]), 0)
        for f in feeders
    ]
    buses = [grid.buses.index(f["bus"]) for f in feeders]
    made = city_book(curves, [float(f["base_kwh"]) for f in feeders], buses, net, shared)
    city = clear_city_book(made, net)
    exchange = exchange_of(made, city)
    prices = city.prices_eur_per_kwh
    welfare = welfare_of(curves, made, city)
    national = national_import_kwh(made, city)
    owner = made.feeder_of_bid
    between = [
        {"seller": names[owner[s]], "buyer": names[owner[b]], "energy_kwh": _round(kwh)}
        for s, b, kwh in zip(
            city.split.seller.tolist(),
            city.split.buyer.tolist(),
            city.split.energy_kwh.tolist(),
            strict=True,
        )
        if s >= 0 and b >= 0 and owner[s] != owner[b] and _round(kwh) > 0
    ]
    return {
        "interval": book["interval"],
        "market_hash": book["market_hash"],
        "exchange_kwh": {n: _round(x) for n, x in zip(names, exchange, strict=True)},
        "price_eur_per_kwh": {n: _round(prices[b]) for n, b in zip(names, buses, strict=True)},
        "prices_eur_per_kwh": {bus: _round(p) for bus, p in zip(grid.buses, prices, strict=True)},
        "grid_import_kwh": _round(max(national, 0.0)),
        "grid_export_kwh": _round(max(-national, 0.0)),
        "welfare_eur": _round(welfare),
        "between_feeders": between,
    }
