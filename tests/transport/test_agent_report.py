"""An agent's report file is written ahead of each bid: killed at any instant after the
operator acknowledged a bid, the restarted agent still knows it, and so does not take its
own trades for someone else's. A real operator service and a real agent over CurveZMQ on
loopback; the only addition is a look at the file the moment each acknowledgement lands."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.transport.conftest import Served, wait_for
from voisin.protocol.clock import Phase
from voisin.protocol.envelope import Reply


def test_every_acknowledged_bid_is_on_disk_when_its_acknowledgement_arrives(
    served: Served, tmp_path: Path
) -> None:
    report = tmp_path / "agent.json"
    member = served.scenario.members[0]
    agent = served.agent(member, report)
    seen: list[tuple[int | None, set[int]]] = []
    send = agent.client.send_raw

    def send_then_look(payload: bytes, seq: int | None = None) -> Reply:
        reply = send(payload, seq)
        if reply.ok:  # a kill here loses nothing the file does not hold
            bids = json.loads(report.read_text(encoding="utf-8"))["bids"] if report.exists() else {}
            seen.append((seq, {b["seq"] for b in bids.values()}))
        return reply

    agent.client.send_raw = send_then_look  # type: ignore[method-assign]
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: agent.model is not None), "the agent never said hello"
        for interval in served.service.intervals[:2]:
            served.phase(Phase.OPEN_GATE, interval)
            assert wait_for(lambda iv=interval.id: any(b.startswith(iv) for b in agent.report.bids))
        bid_seqs = {b["seq"] for b in agent.report.bids.values()}
        # a bid enters the report before it is sent, so wait for its acknowledgement too
        assert wait_for(lambda: bid_seqs <= {seq for seq, _ in seen})
        acknowledged = [(seq, on_disk) for seq, on_disk in seen if seq in bid_seqs]
        assert len(acknowledged) == len(bid_seqs) >= 2, (seen, bid_seqs)
        assert all(seq in on_disk for seq, on_disk in acknowledged)
    finally:
        agent.stop()
        thread.join(timeout=10)


def test_a_refused_resend_keeps_the_bid_acknowledged_before(served: Served, tmp_path: Path) -> None:
    """A restarted agent at a gate its earlier life bid in sends the same bid ids again,
    too late: refused, and its report keeps the bids acknowledged before, which the
    operator holds and will trade (the full-disk fault test met this)."""
    report = tmp_path / "agent.json"
    member = served.scenario.members[0]
    interval = served.service.intervals[0]
    first = served.agent(member, report)
    try:
        first.hello()
        served.phase(Phase.OPEN_GATE, interval)
        first.on_gate_open({"interval": interval.id})
        acknowledged = dict(first.report.bids)
        assert acknowledged
    finally:
        first.close()
    served.phase(Phase.CLOSE_GATE, interval)
    again = served.agent(member, report)  # the next life, from the same report file
    try:
        again.hello()
        again.on_gate_open({"interval": interval.id})  # the same bid ids, now too late
        assert again.report.rejected.get("gate-closed", 0) == len(acknowledged)
        assert again.report.bids == acknowledged
        assert json.loads(report.read_text(encoding="utf-8"))["bids"] == acknowledged
    finally:
        again.close()
