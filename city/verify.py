"""``voisin ledger verify OUT|URL`` on a city: every ledger, and the links between.

The city's ledgers are a run's folder or a PostgreSQL database's schemas
(``city.places``); the checks are the same. The city ledger is verified first
(``verify_ledger``: hashes, signatures, and its city
blocks' checks, ``ledger.city_checks``). Then for every feeder it links, in name
order: the feeder ledger exists, and each linked block is there with that hash, for
that interval, holding the city's price and allocation for that feeder (its
``upstream`` transaction equals the city clearing's numbers) and followed by that
interval's settlement block; then the feeder ledger is verified with its operator key
and its newest block pinned to the settlement after the last link (so a feeder ledger
from another run, one cut short or one edited is named; the verification replays
every settlement). A feeder ledger
the city ledger does not link is an error too. The first problem raises a
``VerificationError`` naming the ledger (its file in the folder, its schema in the
database), the block and the transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voisin.city.places import CITY_LEDGER, CityLedgers, city_ledgers
from voisin.city.tasks import MapLedgers, in_process
from voisin.errors import InvalidInput, LedgerError, VerificationError
from voisin.ledger import verify_ledger
from voisin.ledger.store import open_store
from voisin.protocol import TxKind


@dataclass(frozen=True)
class CityVerification:
    """What a city folder's verification saw."""

    feeders: int
    blocks: int
    links: int
    city_head: str


def is_city(place: str | Path) -> bool:
    """Whether ``place`` is a city run's folder or database (``city.places``)."""
    return city_ledgers(place).is_city()


def _named(where: str, exc: LedgerError) -> VerificationError:
    if isinstance(exc, VerificationError):
        return VerificationError(
            f"{where}: {exc.message}",
            height=exc.height,
            index=exc.index,
            rule=exc.rule,
            detail=exc.detail,
        )
    return VerificationError(f"{where}: {exc.message}", rule=exc.code)


Link = tuple[int, int, dict[str, Any]]
"""A ``feeder_link`` of the city ledger: its block, its index, its body."""


def feeder_links(path: str | Path) -> tuple[dict[str, list[Link]], dict[str, Any]]:
    """The city ledger's links by feeder name (in chain order) and each interval's
    ``city_clearing`` body (its allocation)."""
    by_feeder: dict[str, list[Link]] = {}
    allocations: dict[str, Any] = {}
    store = open_store(path, read_only=True)
    try:
        for height, index, kind, body, _ in store.raw_transactions():
            if kind == TxKind.FEEDER_LINK.value:
                link = json.loads(body)
                by_feeder.setdefault(link["feeder"], []).append((height, index, link))
            elif kind == TxKind.CITY_CLEARING.value:
                data = json.loads(body)
                allocations[data["interval"]] = data
    finally:
        store.close()
    return by_feeder, allocations


def _feeder_blocks(
    path: str | Path,
) -> tuple[dict[int, tuple[str, str]], dict[int, dict[str, Any]], set[int]]:
    """(hash, interval) of every block, the ``upstream`` body of each block, and the
    heights of the blocks holding settlements."""
    store = open_store(path, read_only=True)
    try:
        blocks = {
            height: (block_hash, json.loads(header)["interval"])
            for height, block_hash, header, _ in store.raw_blocks()
        }
        upstream: dict[int, dict[str, Any]] = {}
        settling: set[int] = set()
        for height, _, kind, body, _ in store.raw_transactions():
            if kind == TxKind.UPSTREAM.value:
                upstream[height] = json.loads(body)
            elif kind == TxKind.SETTLEMENT.value:
                settling.add(height)
    finally:
        store.close()
    return blocks, upstream, settling


def check_feeder_links(
    place: CityLedgers, name: str, links: list[Link], allocations: dict[str, Any]
) -> str:
    """Check feeder ``name``'s linked blocks; the hash its newest block must have (the
    settlement block after the last linked clearing)."""
    path = place.feeder(name)
    first_height, first_index, _ = links[0]
    if not place.has(name):
        raise VerificationError(
            f"{place.shown(name)}: missing; the city ledger links it "
            f"(city block {first_height}, transaction {first_index})",
            height=first_height,
            index=first_index,
            rule="feeder-link",
        )
    blocks, upstream, settling = _feeder_blocks(path)
    for city_height, city_index, link in links:
        height = link["height"]
        interval = link["interval"]
        where = f"{place.shown(name)}: block {height}"
        linked = f"(city block {city_height}, transaction {city_index})"
        if blocks.get(height) != (link["block_hash"], interval):
            raise VerificationError(
                f"{where}: rule feeder-link: not the block of {interval} the city ledger "
                f"links {linked}",
                height=height,
                rule="feeder-link",
            )
        city = allocations[interval]
        wanted = (city["price_eur_per_kwh"][name], city["exchange_kwh"][name])
        got = upstream.get(height, {})
        if (got.get("price_eur_per_kwh"), got.get("exchange_kwh")) != wanted:
            raise VerificationError(
                f"{where}: rule feeder-link: its upstream price and exchange are not the "
                f"city's allocation {wanted} {linked}",
                height=height,
                rule="feeder-link",
            )
        following = blocks.get(height + 1)
        if height + 1 not in settling or following is None or following[1] != interval:
            raise VerificationError(
                f"{place.shown(name)}: block {height + 1}: rule feeder-settlement: not the "
                f"settlement of {interval}, which every cleared interval of a city's feeder "
                f"has right after its clearing (block {height})",
                height=height + 1,
                rule="feeder-settlement",
            )
    return blocks[links[-1][2]["height"] + 1][0]


FeederOutcome = int | dict[str, Any]
"""A feeder's verification: its blocks, or the fields of its ``VerificationError``."""


def feeder_outcome(
    place: CityLedgers, name: str, links: list[Link], allocations: dict[str, Any]
) -> FeederOutcome:
    """Feeder ``name``'s links and its ledger, verified with its operator key and its
    newest block pinned (module docstring): its blocks, or the fields of the first
    problem (plain data, so a worker process can hand it back)."""
    try:
        head = check_feeder_links(place, name, links, allocations)
        try:
            return verify_ledger(
                place.feeder(name), operator=links[-1][2]["operator"], head_hash=head
            ).blocks
        except LedgerError as exc:
            raise _named(place.shown(name), exc) from None
    except VerificationError as exc:
        fields = ("height", "code", "index", "rule", "detail")
        return {"message": exc.message, **{k: getattr(exc, k) for k in fields}}


def feeder_share(allocations: dict[str, Any], name: str, links: list[Link]) -> dict[str, Any]:
    """What ``check_feeder_links`` reads of the city's allocations: feeder ``name``'s
    price and exchange in each interval it links (so a task is sent no more)."""
    share = {}
    for _, _, link in links:
        city = allocations[link["interval"]]
        share[link["interval"]] = {
            "price_eur_per_kwh": {name: city["price_eur_per_kwh"][name]},
            "exchange_kwh": {name: city["exchange_kwh"][name]},
        }
    return share


def verify_city(
    out: str | Path | CityLedgers,
    *,
    operator: str | None = None,
    head_hash: str | None = None,
    map_feeders: MapLedgers = in_process,
) -> CityVerification:
    """Verify a city's ledgers at ``out``, a run's folder or a database URL (module
    docstring); raise the first problem, feeders in name order. ``operator`` and
    ``head_hash`` pin the city ledger's operator key and newest block; ``map_feeders``
    runs the feeders' verifications (``feeder_outcome``), each independent of the
    others."""
    place = city_place(out)
    city = place.city
    try:
        report = verify_ledger(city, operator=operator, head_hash=head_hash)
    except LedgerError as exc:
        raise _named(place.shown(), exc) from None
    by_feeder, allocations = feeder_links(city)
    for extra in place.unlinked(set(by_feeder)):
        raise unlinked(extra)
    names = sorted(by_feeder)
    calls = [(place, n, by_feeder[n], feeder_share(allocations, n, by_feeder[n])) for n in names]
    blocks = report.blocks
    for outcome in map_feeders(feeder_outcome, calls):
        if isinstance(outcome, dict):
            raise VerificationError(**outcome)
        blocks += outcome
    links = sum(len(found) for found in by_feeder.values())
    return CityVerification(len(by_feeder), blocks, links, report.head_hash)


def unlinked(shown: str) -> VerificationError:
    """The error for a feeder ledger the city ledger does not link."""
    return VerificationError(
        f"{shown}: a feeder ledger the city ledger does not link", rule="feeder-link"
    )


def city_place(out: str | Path | CityLedgers) -> CityLedgers:
    """The city's ledgers at ``out``, or a one-line error when it holds none."""
    place = city_ledgers(out)
    if not place.is_city():
        raise InvalidInput(
            f"{out} is not a city run's folder or database (no {CITY_LEDGER}, no schema city)",
            code="no-city",
        )
    return place
