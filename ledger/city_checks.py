"""The checks of a city ledger's interval block (docs/city.md), short of re-clearing it.

A city block holds one ``city_book`` (every feeder's residual curve at its MV bus), one
``city_clearing`` (each feeder's exchange and price, the MV bus prices, the national
grid's exchange, the feeder-to-feeder pieces) and one ``feeder_link`` per feeder (the
hash of that feeder ledger's clearing block). Checked here: they are for the block's
interval, once; the book names the market terms in force (the MV grid) and buses of
it; every curve is a function of the exchange (ascending breakpoints); the clearing and
the links name exactly the book's feeders; the energy balances: the national grid's net
import is the feeders' exchanges less their non-participants' injection (the MV network
is a transport network). Whether the clearing is the optimum of the book is ``voisin
audit``'s job (``voisin.city.audit``); whether each link is the feeder's ledger,
``voisin ledger verify`` on the city's folder (``voisin.city.verify``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from voisin.ledger.replay import Violation
from voisin.protocol import TxKind

if TYPE_CHECKING:
    from voisin.ledger.replay import Replay, StoredTx

BALANCE_KWH = 1e-6
"""Largest gap in the MV energy balance (the published quantities' rounding)."""


def _one(by_kind: dict[str, list[StoredTx]], kind: TxKind) -> StoredTx:
    found = by_kind.get(kind.value, [])
    if len(found) != 1:
        where = found[1][0] if len(found) > 1 else None
        raise Violation(
            where, kind.value, f"a city block needs exactly one {kind.value}, has {len(found)}"
        )
    return found[0]


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _curves(state: Replay, index: int, book: dict[str, Any]) -> dict[str, float]:
    """Each feeder's non-participants' injection (kWh), by feeder name."""
    terms = state.terms
    if terms is None or book.get("market_hash") != terms.hash:
        raise Violation(index, "market-terms", "the city book does not name the terms in force")
    base: dict[str, float] = {}
    try:
        for feeder in book["feeders"]:
            name, xs, values = feeder["feeder"], feeder["exchange_kwh"], feeder["value_eur"]
            if feeder["bus"] not in terms.buses or name in base:
                raise Violation(index, "city-book", f"feeder {name}: unknown bus or named twice")
            ok = len(xs) == len(values) >= 1 and all(map(_number, [*xs, *values]))
            if not ok or any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
                raise Violation(index, "city-book", f"feeder {name}: not a curve")
            if not _number(feeder["base_kwh"]):
                raise TypeError
            base[name] = float(feeder["base_kwh"])
    except (KeyError, TypeError):
        raise Violation(index, "city-book", "not a city book") from None
    return base


def check_city(state: Replay, interval: str | None, by_kind: dict[str, list[StoredTx]]) -> None:
    """A city block (module docstring)."""
    b_index, _, _, book = _one(by_kind, TxKind.CITY_BOOK)
    c_index, _, _, clearing = _one(by_kind, TxKind.CITY_CLEARING)
    if interval is None or book.get("interval") != interval or clearing.get("interval") != interval:
        raise Violation(b_index, "city-book", "the city's book or clearing is for another interval")
    if interval in state.closed:
        raise Violation(c_index, "city-clearing", f"interval {interval} is cleared a second time")
    base = _curves(state, b_index, book)
    try:
        exchange = clearing["exchange_kwh"]
        if set(exchange) != set(base) or set(clearing["price_eur_per_kwh"]) != set(base):
            raise Violation(c_index, "city-clearing", "the clearing names other feeders")
        for piece in clearing["between_feeders"]:
            if {piece["seller"], piece["buyer"]} - set(base) or not _number(piece["energy_kwh"]):
                raise Violation(c_index, "city-clearing", "a piece between unknown feeders")
        net = float(clearing["grid_import_kwh"]) - float(clearing["grid_export_kwh"])
        drawn = sum(float(exchange[f]) - base[f] for f in sorted(base))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Violation(c_index, "city-clearing", "not a city clearing") from None
    if abs(net - drawn) > BALANCE_KWH * max(1, len(base)):
        raise Violation(
            c_index,
            "city-balance",
            f"the national grid supplies {net} kWh net; the feeders draw {drawn} kWh",
        )
    linked: set[str] = set()
    for index, _, _, link in by_kind.get(TxKind.FEEDER_LINK.value, []):
        name = link.get("feeder")
        height = link.get("height")
        block = link.get("block_hash")
        if (
            link.get("interval") != interval
            or name not in base
            or name in linked
            or type(height) is not int
            or not isinstance(block, str)
            or len(block) != 64
        ):
            raise Violation(index, "feeder-link", f"not one link per feeder of {interval}")
        linked.add(name)
    if linked != set(base):
        missing = sorted(set(base) - linked)
        raise Violation(None, "feeder-link", f"no link to the ledger of feeder {missing[0]}")
    state.closed.add(interval)
