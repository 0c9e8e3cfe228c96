"""A full disk: the operator refuses what it cannot store, and loses nothing it acked.

The operator runs with every file it writes capped (RLIMIT_FSIZE, so the kernel fails
the writes with EFBIG, as a full disk fails them). Once its ledger or journal cannot
take a write it refuses new bids and readings with ``storage-failed`` instead of
acknowledging them, records the clearings it could not commit, and keeps serving to the
end of its timetable. Restarted on a disk with room, it resumes: every interval ends
cleared and settled exactly once, with every message acknowledged before the disk
filled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from voisin.ledger import verify_ledger
from voisin.ledger.store import PAGE_SIZE

from .processes import Market, check_acknowledged, committed

INTERVALS = 8
MAX_FILE_BYTES = 120_000 * PAGE_SIZE // 4096
"""Enough for genesis, registration and about two intervals of this market. Each commit
writes whole pages to the write-ahead log, so the room a commit takes grows with the
ledger's page size (30 pages)."""


@pytest.mark.slow
def test_full_disk_refuses_instead_of_acknowledging(tmp_path: Path) -> None:
    market = Market(tmp_path, intervals=INTERVALS)
    try:
        market.start_operator(max_file_bytes=MAX_FILE_BYTES)
        for label in market.labels:
            market.start_agent(label)
        assert market.operator is not None
        assert market.operator.wait(timeout=90) == 0, "a full disk must not stop the operator"
        full = len(committed(market.ledger)[0])
        assert 0 < full < INTERVALS, "the disk filled mid-run"
        log = (tmp_path / "operator-1.log").read_text()
        assert "write-failed" in log or "storage-failed" in log
        for proc in market.agents.values():
            proc.wait(timeout=30)
        refused = [r["rejected"].get("storage-failed", 0) for r in market.reports()]
        assert all(n > 0 for n in refused), "every agent was told its messages were refused"
        verify_ledger(market.ledger)
        check_acknowledged(market)  # nothing acknowledged before the disk filled is lost
        # Room on the disk again: the operator resumes and owes nothing afterwards.
        market.start_operator()
        for label in market.labels:
            market.start_agent(label)
        assert market.operator.wait(timeout=90) == 0
        for proc in market.agents.values():
            proc.wait(timeout=30)
    finally:
        market.stop()
    verify_ledger(market.ledger)
    clearings, _, _, settlements = committed(market.ledger)
    assert sorted(clearings.values()) == [1] * INTERVALS
    assert sorted(settlements.values()) == [1] * INTERVALS
    check_acknowledged(market)  # both lives' acknowledgements, in the final books
