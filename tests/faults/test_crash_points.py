"""The operator dies at hundreds of random points and resumes each time on its files.

Each trial arms one crash point (``voisin.faults``) for its n-th pass; when it fires,
the process is gone as far as the market is concerned: every connection is dropped
without a commit (SQLite rolls back what was not committed, as after a SIGKILL), and a
new ``OperatorService`` resumes on the same ledger and journal. After every restart
every acknowledged bid and reading is in the restored books or in its block, nothing is
committed twice, and the run goes on to clear the next interval; the whole chain is
verified after every tenth restart and at the end (verifying a growing ledger after each
of 220 restarts cost most of the test's time, and the ledger only grows: a block broken
by one restart is still broken at the next check).
test_real_kills.py does the same with real SIGKILLs of real processes.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from voisin import faults

from .market import Audit, Members, drive, service

INTERVALS = 130
CRASHES = 220
VERIFY_EVERY = 10
"""Restarts between two verifications of the whole chain."""


class Crash(BaseException):
    """The process died here (a BaseException, so no ``except Exception`` survives it)."""


@pytest.mark.slow
def test_hundreds_of_crashes_lose_nothing_acknowledged(fast_disk: Path) -> None:
    path = fast_disk / "ledger.sqlite"
    rng = random.Random(9)
    members = Members()
    audit = Audit(members)
    passes = {name: 0 for name in faults.POINTS}
    crashed: dict[str, int] = {name: 0 for name in faults.POINTS}

    def arm() -> None:
        name, left = rng.choice(faults.POINTS), rng.choice((1, 1, 2))

        def hook(passed: str) -> None:
            nonlocal left
            passes[passed] += 1
            if passed == name:
                left -= 1
                if left == 0:
                    crashed[name] += 1
                    raise Crash(name)

        faults.arm(hook)

    served = service(path, INTERVALS)
    try:
        while True:
            arm() if sum(crashed.values()) < CRASHES else faults.arm(None)
            try:
                drive(served, members)
                break
            except Crash:
                in_doubt = members.in_doubt
                faults.arm(None)
                served.close()  # everything not committed is gone with the process
                served = service(path, INTERVALS)
                audit.after_restart(served, in_doubt)
                audit.ledger(path, verify=sum(crashed.values()) % VERIFY_EVERY == 0)
    finally:
        faults.arm(None)
        served.close()
    counts = audit.ledger(path)
    assert counts["clearings"] == counts["settlements"] == INTERVALS, counts
    assert sum(crashed.values()) >= 200
    assert all(crashed[name] > 10 for name in faults.POINTS), crashed
    commits = passes["journal-commit"] + passes["block-write"]
    assert commits >= 200, passes
    assert sum(len(v) for (kind, _), v in members.acked.items() if kind == "bid") > 100
    print(
        f"{sum(crashed.values())} crashes {crashed}; {commits} commits; refused "
        f"{dict(members.refused)}"
    )


@pytest.mark.parametrize("point", faults.POINTS)
def test_a_crash_at_each_point_then_a_clean_run(fast_disk: Path, point: str) -> None:
    """One crash at the first pass of each point, then the rest of a short run."""
    path = fast_disk / "ledger.sqlite"
    members = Members()
    audit = Audit(members)

    def hook(passed: str) -> None:
        if passed == point:
            faults.arm(None)
            raise Crash(point)

    served = service(path, 4)
    faults.arm(hook)
    try:
        try:
            drive(served, members)
        except Crash:
            in_doubt = members.in_doubt
            served.close()
            served = service(path, 4)
            audit.after_restart(served, in_doubt)
            drive(served, members)
        else:
            pytest.fail(f"{point} was never passed")
    finally:
        faults.arm(None)
        served.close()
    counts = audit.ledger(path)
    assert counts["clearings"] == counts["settlements"] == 4
