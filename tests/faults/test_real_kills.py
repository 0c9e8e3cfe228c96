"""Real processes, real SIGKILLs: `voisin operator` and `voisin agent` over CurveZMQ on
loopback.

Run A kills the operator three times at exact points (``VOISIN_CRASH_AT``: the process
SIGKILLs itself there) and restarts it on the same ledger; the agents live on, resend
(Lazy Pirate) and carry on. Afterwards every bid an agent saw acknowledged is in its
interval's committed book (the block's bids_root is exactly the acknowledged bids'),
every acknowledged reading is in its settlement, and each interval is cleared and
settled exactly once. Run B kills and restarts an agent, freezes another for several
intervals (SIGSTOP, a disconnected household), and SIGKILLs the operator at a random
moment; the market clears every interval once and every agent finds every block valid.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from voisin.ledger import verify_ledger
from voisin.protocol import Bid

from .processes import Market, check_acknowledged, committed

INTERVALS = 10


@pytest.mark.slow
def test_operator_killed_at_exact_points_loses_no_acknowledged_message(tmp_path: Path) -> None:
    crash_points = ["block-write:3", "journal-committed:4", "settlement:2"]
    market = Market(tmp_path, intervals=INTERVALS)
    deaths = []
    try:
        market.start_operator(crash_points[0])
        for label in market.labels:
            market.start_agent(label)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            assert market.operator is not None
            code = market.operator.poll()
            if code == 0:
                break
            if code is not None:
                assert code == -signal.SIGKILL, (market.folder / "operator-1.log").read_text()
                deaths.append(crash_points[len(deaths)])
                verify_ledger(market.ledger)  # every death leaves a chain that verifies
                market.start_operator(
                    crash_points[len(deaths)] if len(deaths) < len(crash_points) else None
                )
            time.sleep(0.05)
        assert market.operator.poll() == 0, "the last operator did not finish"
        for proc in market.agents.values():
            assert proc.wait(timeout=30) == 0
    finally:
        market.stop()
    assert deaths == crash_points
    verify_ledger(market.ledger)
    clearings, roots, readings, settlements = committed(market.ledger)
    assert sorted(clearings.values()) == [1] * INTERVALS, "each interval cleared exactly once"
    assert sorted(settlements.values()) == [1] * INTERVALS, "each interval settled exactly once"
    acked = check_acknowledged(market)
    assert sum(len(b) for b in acked.values()) >= INTERVALS
    assert all(r["ended"] for r in market.reports())


@pytest.mark.slow
def test_agents_killed_frozen_and_an_operator_killed_at_random(tmp_path: Path) -> None:
    market = Market(tmp_path, intervals=INTERVALS)
    try:
        market.start_operator()
        for label in market.labels:
            market.start_agent(label)
        market.wait_cleared(2)
        market.agents["0"].send_signal(signal.SIGKILL)  # a household's agent dies...
        market.agents["1"].send_signal(signal.SIGSTOP)  # ...another goes silent
        market.wait_cleared(5)
        market.start_agent("0")  # ...and comes back three intervals later
        market.agents["1"].send_signal(signal.SIGCONT)
        market.wait_cleared(7)
        time.sleep(0.37)  # somewhere inside an interval
        assert market.operator is not None
        market.operator.send_signal(signal.SIGKILL)
        market.operator.wait(timeout=10)
        market.start_operator()
        assert market.operator.wait(timeout=90) == 0
        for label in ("0", "1", "school"):
            assert market.agents[label].wait(timeout=30) == 0
    finally:
        market.stop()
    verify_ledger(market.ledger)
    clearings, _, _, settlements = committed(market.ledger)
    assert sorted(clearings.values()) == [1] * INTERVALS
    assert sorted(settlements.values()) == [1] * INTERVALS
    check_acknowledged(market)
    later = sorted(clearings)[5:]  # cleared after the dead agent came back and the frozen
    for label in ("0", "1"):  # one thawed: both bid (and were acknowledged) again
        report = json.loads((tmp_path / f"agent-{label}.json").read_text())
        mine = {Bid.model_validate(b).interval for b in report["bids"].values()}
        assert mine & set(later), label
