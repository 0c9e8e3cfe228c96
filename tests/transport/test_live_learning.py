"""A live ZIP agent learns from the clearings the operator publishes, as in the simulation:
a real operator service and a real agent talking over CurveZMQ sockets on loopback."""

from __future__ import annotations

import threading
from dataclasses import replace

from tests.transport.conftest import Served, wait_for
from voisin.agents.strategies import ZeroIntelligencePlus
from voisin.protocol import Side
from voisin.protocol.clock import Phase


def test_a_live_zip_agent_moves_its_margin_after_each_clearing(served: Served) -> None:
    member = replace(served.scenario.members[0], strategy="zip")
    agent = served.agent(member)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: agent.model is not None), "the agent never said hello"
        assert agent.model is not None
        own = agent.model.by_participant[member.id]
        strategy = own.strategy
        assert isinstance(strategy, ZeroIntelligencePlus)
        margins: list[dict[Side, float]] = []
        for interval in served.service.intervals[:3]:
            served.phase(Phase.OPEN_GATE, interval)
            assert wait_for(lambda iv=interval.id: any(b.startswith(iv) for b in agent.report.bids))
            before = dict(strategy.margin)
            height = served.service.ledger.height
            served.phase(Phase.CLOSE_GATE, interval)
            # the clearing block reached the agent and was fed back to its strategy
            assert wait_for(lambda h=height: agent._height > h and not own.sent)
            margins.append(before)
            margins.append(dict(strategy.margin))
        assert agent.report.problems == []
        bid_sides = {
            Side.SELL if b["side"] == "sell" else Side.BUY for b in agent.report.bids.values()
        }
        for side in bid_sides:
            seen = [m[side] for m in margins]
            moved = [after != before for before, after in zip(seen[::2], seen[1::2], strict=True)]
            assert all(moved), (side, seen)
    finally:
        agent.stop()
        thread.join(timeout=10)
