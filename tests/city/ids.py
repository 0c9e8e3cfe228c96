"""What a city's ledgers show of its members' ids: one pattern, nothing of their kind."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voisin.city.places import CITY_LEDGER, feeder_ledger
from voisin.city.scenario import CitySpec, feeder
from voisin.protocol import ParticipantKind

ID_LIKE = re.compile(r"\bf\d+-[a-z]+\d+")
"""Anything shaped like a city member's id, whatever letter it carries."""
REGISTERED = {"participant_id", "bus", "tariff", "meter_id", "valid_from", "valid_until"}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _bodies(path: Path) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT kind, body FROM transactions ORDER BY height, idx").fetchall()
    return [(kind, json.loads(body)) for kind, body in rows]


def check_ids_tell_no_kind(out: Path, spec: CitySpec) -> set[ParticipantKind]:
    """Every member id on ``out``'s ledgers (bids, trades, and any string at all that
    looks like one) is ``f<feeder>-m<k>``, of one width per feeder; registrations show
    keys, bus and tariff only. Returns the kinds the ids stood for (their generator's,
    ``CityFeeder.kind_of``), so a caller knows the check saw more than one."""
    kinds: set[ParticipantKind] = set()
    for k in range(spec.feeders):
        books = [feeder(spec, k, interval) for interval in spec.interval_list()]
        kind = {b.bid_id: book.kind_of(b.participant) for book in books for b in book.bids}
        kinds |= set(kind.values())
        bodies = _bodies(out / feeder_ledger(Path(), f"F{k}"))
        ids = {body["bid_id"] for what, body in bodies if what == "bid"}
        assert ids == set(kind)
        assert len({re.sub(r"\d", "#", i) for i in ids}) == 1, ids  # one pattern, one width
        assert all(re.fullmatch(rf"f{k}-m\d+", i) for i in ids), ids
        for what, body in bodies:
            if what == "trade":
                assert {body["buyer_bid_id"], body["seller_bid_id"]} <= ids | {""}
            if what == "registration":
                assert set(body) <= REGISTERED
                assert re.fullmatch(r"[0-9a-f]{64}", body["participant_id"])
            for text in _strings(body):
                for found in ID_LIKE.findall(text):
                    assert re.fullmatch(r"f\d+-m\d+", found), (what, found)
    for _, body in _bodies(out / CITY_LEDGER):
        assert not any(ID_LIKE.search(text) for text in _strings(body))
    return kinds
