"""``voisin ledger verify OUT`` on a city's folder: every ledger, and the links between.

The city ledger is verified first (``verify_ledger``: hashes, signatures, and its city
blocks' checks, ``ledger.city_checks``). Then for every feeder it links, in name
order: the feeder ledger exists, and each linked block is there with that hash, for
that interval, holding the city's price and allocation for that feeder (its
``upstream`` transaction equals the city clearing's numbers); then the feeder ledger is
verified with its operator key and its newest block pinned to the last link (so a
feeder ledger from another run, one cut short or one edited is named). A feeder folder
the city ledger does not link is an error too. The first problem raises a
``VerificationError`` naming the ledger file, the block and the transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voisin.city.ledgers import CITY_LEDGER, FEEDERS, feeder_ledger
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


def is_city(path: Path) -> bool:
    """Whether ``path`` is a city run's folder."""
    return path.is_dir() and (path / CITY_LEDGER).is_file()


def _named(path: Path, out: Path, exc: LedgerError) -> VerificationError:
    where = path.relative_to(out)
    if isinstance(exc, VerificationError):
        return VerificationError(
            f"{where}: {exc.message}",
            height=exc.height,
            index=exc.index,
            rule=exc.rule,
            detail=exc.detail,
        )
    return VerificationError(f"{where}: {exc.message}", rule=exc.code)


def _city_links(path: Path) -> tuple[list[tuple[int, int, dict[str, Any]]], dict[str, Any]]:
    """Every ``feeder_link`` (block, index, body) and each interval's allocation."""
    links: list[tuple[int, int, dict[str, Any]]] = []
    allocations: dict[str, Any] = {}
    store = open_store(path, read_only=True)
    try:
        for height, index, kind, body, _ in store.raw_transactions():
            if kind == TxKind.FEEDER_LINK.value:
                links.append((height, index, json.loads(body)))
            elif kind == TxKind.CITY_CLEARING.value:
                data = json.loads(body)
                allocations[data["interval"]] = data
    finally:
        store.close()
    return links, allocations


def _feeder_blocks(path: Path) -> tuple[dict[int, tuple[str, str]], dict[int, dict[str, Any]]]:
    """(hash, interval) of every block, and the ``upstream`` body of each block."""
    store = open_store(path, read_only=True)
    try:
        blocks = {
            height: (block_hash, json.loads(header)["interval"])
            for height, block_hash, header, _ in store.raw_blocks()
        }
        upstream = {
            height: json.loads(body)
            for height, _, kind, body, _ in store.raw_transactions()
            if kind == TxKind.UPSTREAM.value
        }
    finally:
        store.close()
    return blocks, upstream


def _check_links(
    out: Path,
    name: str,
    links: list[tuple[int, int, dict[str, Any]]],
    allocations: dict[str, Any],
) -> None:
    path = feeder_ledger(out, name)
    first_height, first_index, _ = links[0]
    if not path.is_file():
        raise VerificationError(
            f"{path.relative_to(out)}: missing; the city ledger links it "
            f"(city block {first_height}, transaction {first_index})",
            height=first_height,
            index=first_index,
            rule="feeder-link",
        )
    blocks, upstream = _feeder_blocks(path)
    for city_height, city_index, link in links:
        height = link["height"]
        interval = link["interval"]
        where = f"{path.relative_to(out)}: block {height}"
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


def verify_city(
    out: Path, *, operator: str | None = None, head_hash: str | None = None
) -> CityVerification:
    """Verify a city folder (module docstring); raise at the first problem.
    ``operator`` and ``head_hash`` pin the city ledger's operator key and newest block."""
    city = out / CITY_LEDGER
    if not is_city(out):
        raise InvalidInput(f"{out} is not a city run's folder (no {CITY_LEDGER})", code="no-city")
    try:
        report = verify_ledger(city, operator=operator, head_hash=head_hash)
    except LedgerError as exc:
        raise _named(city, out, exc) from None
    links, allocations = _city_links(city)
    by_feeder: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    for item in links:
        by_feeder.setdefault(item[2]["feeder"], []).append(item)
    present = {p.name for p in (out / FEEDERS).iterdir()} if (out / FEEDERS).is_dir() else set()
    for extra in sorted(present - set(by_feeder)):
        raise VerificationError(
            f"{FEEDERS}/{extra}: a feeder ledger the city ledger does not link",
            rule="feeder-link",
        )
    blocks = report.blocks
    for name in sorted(by_feeder):
        found = by_feeder[name]
        _check_links(out, name, found, allocations)
        path = feeder_ledger(out, name)
        last = found[-1][2]
        try:
            blocks += verify_ledger(
                path, operator=last["operator"], head_hash=last["block_hash"]
            ).blocks
        except LedgerError as exc:
            raise _named(path, out, exc) from None
    return CityVerification(len(by_feeder), blocks, len(links), report.head_hash)
