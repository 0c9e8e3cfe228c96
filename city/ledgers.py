"""A city's signed ledgers: one per feeder, and the city's, cross-linked.

Each feeder's ledger (``OUT/feeders/<F>/ledger.sqlite``, or schema ``feeder_<f>`` of a
PostgreSQL database: ``city.places``) is an ordinary voisin ledger written by an ordinary
``market.Operator`` with the feeder's own operator key: its members (one key per
household and per battery, derived from the city's seed), per interval their bids
signed by those keys, then the clearing block, which holds the city's price and
allocation for the feeder (an ``upstream`` transaction) and the feeder's re-clearing at
them (``clearing``, ``trade``s, payments), then the settlement block of the interval:
each member's reading, signed by its meter key (``city.delivery``), settled by the same
``Operator.settle`` a lone feeder uses. ``voisin ledger verify`` and ``voisin audit``
take it like any feeder's ledger.

The city's ledger (``OUT/city/ledger.sqlite`` or schema ``city``), with the city
operator's key, holds the MV network as its market terms and per interval the city's
book of curves (``city_book``), its clearing (``city_clearing``) and one
``feeder_link`` per feeder: the hash of that feeder's clearing block, so a feeder
ledger cannot be swapped without the city ledger showing it (``city.verify``). Keys
are derived from labels (``KeyPair.derive``): a simulation's keys, reproducible, never
for real use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voisin.city.delivery import readings
from voisin.city.level import city_terms
from voisin.city.places import CityLedgers, city_ledgers
from voisin.city.scenario import CitySpec, feeder
from voisin.ledger import Ledger
from voisin.ledger import transactions as tx
from voisin.market.community import OPENING_ALLOWANCE_MICRO, genesis_supply_micro
from voisin.market.operator import Operator
from voisin.market.upstream import Upstream
from voisin.meters.meter import Meter
from voisin.protocol import KeyPair, Participant, Tariff
from voisin.protocol.signed import Signed


def operator_key(spec: CitySpec, name: str | None = None) -> KeyPair:
    """The city's operator key (``name`` None) or feeder ``name``'s."""
    return KeyPair.derive("city", spec.seed, "operator", name or "city")


def _member_key(spec: CitySpec, label: str, role: str = "member") -> KeyPair:
    return KeyPair.derive("city", spec.seed, role, label)


def _opening(spec: CitySpec) -> str:
    return f"{spec.start.isoformat()}T00:00:00+00:00"


def write_feeder_ledger(
    spec: CitySpec,
    index: int,
    out: Path | CityLedgers,
    allocations: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Feeder ``index``'s ledger in ``out`` (a run's folder or ``city.places``) over
    every interval, at the city's ``allocations``
    (the ``city_clearing`` bodies, in interval order), each clearing block followed by
    the interval's settlement block (its members' readings, ``city.delivery``); per
    interval what the city ledger links (height and hash of the clearing block) and the
    feeder's totals (``imbalance_kwh``: the settled imbalances' sum of magnitudes;
    ``imbalance_eur``: what the members received for them, negative when they paid;
    ``rest_eur``: the inflexible rest at its buses' prices, what the members'
    suppliers paid for it, negative when they were paid; ``ClearingResult.rest_eur``)."""
    intervals = spec.interval_list()
    books = [feeder(spec, index, iv) for iv in intervals]
    name = books[0].name
    labels = sorted({bid.participant for book in books for bid in book.bids})
    keys = {label: _member_key(spec, label) for label in labels}
    tariff = Tariff(
        import_eur_per_kwh=spec.import_price_eur_per_kwh,
        export_eur_per_kwh=spec.export_price_eur_per_kwh,
    )
    bus_of = {bid.participant: bid.bus for book in books for bid in book.bids}
    meters = {
        label: Meter(_member_key(spec, label, "meter"), keys[label].public_hex) for label in labels
    }
    members = [
        Participant(
            participant_id=keys[label].public_hex,
            bus=bus_of[label],
            tariff=tariff,
            meter_id=meters[label].meter_id,
            kind=books[0].kind_of(label),
            group="city",
        )
        for label in labels
    ]
    place = city_ledgers(out)
    place.fresh(name)
    path = place.feeder(name)
    key = operator_key(spec, name)
    done: list[dict[str, Any]] = []
    with Ledger.open(
        path,
        key,
        fund=f"fund-{name}",
        genesis_supply_micro=genesis_supply_micro(len(members)),
        time=_opening(spec),
    ) as ledger:
        operator = Operator(books[0].grid, ledger)
        operator.register(members, time=_opening(spec), allowance_micro=OPENING_ALLOWANCE_MICRO)
        for seq, (interval, book, city) in enumerate(
            zip(intervals, books, allocations, strict=True), start=1
        ):
            for bid in book.bids:
                owner = keys[bid.participant]
                mine = bid.model_copy(update={"participant": owner.public_hex, "seq": seq})
                operator.submit_bid(Signed.signed_by(mine, owner), interval)  # encoded once
            upstream = Upstream(city["price_eur_per_kwh"][name], city["exchange_kwh"][name])
            result = operator.close_gate(interval, upstream)
            link: dict[str, Any] = {"feeder": name, "operator": key.public_hex}
            link |= {"height": ledger.height, "block_hash": ledger.head_hash}
            for reading in readings(book, spec.seed, index, interval, result, meters):
                operator.submit_reading(reading)
            settled = operator.settle(interval)
            done.append(
                link
                | {
                    "welfare_eur": result.welfare_eur,
                    "trade_count": len(result.trades),
                    "grid_import_kwh": result.grid_import_kwh,
                    "grid_export_kwh": result.grid_export_kwh,
                    "rest_kwh": result.rest_kwh,
                    "rest_eur": result.rest_eur,
                    "imbalance_kwh": round(sum(abs(s.imbalance_kwh) for s in settled), 9),
                    "imbalance_eur": round(sum(s.imbalance_eur for s in settled), 6),
                }
            )
    return done


def write_city_ledger(
    spec: CitySpec,
    out: Path | CityLedgers,
    levels: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    links: Sequence[Sequence[dict[str, Any]]],
) -> Path | str:
    """The city's ledger in ``out`` (a run's folder or ``city.places``): the MV terms,
    then per interval its (book, clearing) of ``levels`` and the
    ``links[interval][feeder]`` of ``write_feeder_ledger``."""
    place = city_ledgers(out)
    place.fresh()
    path = place.city
    terms = city_terms(spec)
    with Ledger.open(path, operator_key(spec), fund="fund-city", time=_opening(spec)) as ledger:
        ledger.append([tx.market(terms.body)], interval=None, time=_opening(spec))
        for interval, (book, clearing), row in zip(
            spec.interval_list(), levels, links, strict=True
        ):
            entries = [tx.city_book(book), tx.city_clearing(clearing)]
            entries += [
                tx.feeder_link(
                    interval.id,
                    link["feeder"],
                    link["operator"],
                    link["height"],
                    link["block_hash"],
                )
                for link in row
            ]
            ledger.append(entries, interval=interval.id, time=interval.end.isoformat())
    return path
