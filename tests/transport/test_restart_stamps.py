"""A restarted operator registers members new to its community at the later of its
opening and the ledger's newest stamp: with a fixed ``--start`` its opening lies before
the blocks the first run wrote, and a registration stamped there would go back in time
(the ledger refuses that, ``ledger.block_time``)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from voisin.agents import default_neighbourhood
from voisin.ledger import Ledger, verify_ledger
from voisin.transport.service import Community, OperatorService

from .conftest import loopback_config

START = datetime(2026, 6, 22, 10, 0, tzinfo=UTC)
LATER = "2026-06-22T11:00:00+00:00"


def _service(path: Path, households: int) -> OperatorService:
    config = loopback_config(path, households=households, start=START, intervals=2)
    return OperatorService(config, Community.of(default_neighbourhood(households, 7)))


def _stamps(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT header FROM blocks ORDER BY height").fetchall()
    return [json.loads(header)["time"] for (header,) in rows]


def test_new_members_after_a_restart_are_stamped_no_earlier_than_the_ledger(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    _service(path, 1).close()
    operator = default_neighbourhood(1, 7).operator
    assert operator is not None
    with Ledger.open(path, operator) as ledger:  # the first run's later blocks, in short
        ledger.append([], interval=None, time=LATER)
    _service(path, 3).close()
    stamps = _stamps(path)
    assert stamps[:3] == [START.isoformat(), START.isoformat(), LATER]
    assert stamps[3:] == [LATER]  # the newcomers' registrations
    assert verify_ledger(path).height == 3
