"""Clock skew: an agent's sequence numbers start at its wall clock, so one restarted
with its clock set back sends numbers below those the operator has seen. The replay
refusal names the operator's ``last_seq``; the client carries on above it instead of
being refused until its clock catches up. (tests/faults covers the other faults.)"""

from __future__ import annotations

import zmq

from tests.transport.conftest import Served
from voisin.protocol.clock import Phase
from voisin.protocol.envelope import seal, seal_bid
from voisin.protocol.wire import MessageType
from voisin.transport.client import OperatorClient

from .test_service import _bid

AHEAD = 10**15  # the agent's first life: its clock well ahead
BEHIND = 10**6  # restarted with its clock set back


def test_an_agent_whose_clock_went_back_carries_on(served: Served, context: zmq.Context) -> None:
    member = served.scenario.members[0]
    server = served.service.key.public_hex
    first = OperatorClient(
        context, served.router, member.keypair, server, retries=0, seq_start=AHEAD
    )
    assert first.request(MessageType.HELLO, {"agent": "test"}).ok
    interval = served.service.intervals[0]
    served.phase(Phase.OPEN_GATE, interval)
    seq = first.next_seq()
    assert first.send_raw(seal_bid(_bid(member, interval.id, seq)), seq).ok
    first.close()

    again = OperatorClient(
        context, served.router, member.keypair, server, retries=0, seq_start=BEHIND
    )
    raw = again.send_raw(seal(member.keypair, MessageType.HELLO, BEHIND + 1, {}), BEHIND + 1)
    assert raw.code == "replay"
    assert raw.body["last_seq"] == seq  # the refusal says where to carry on
    assert again.request(MessageType.HELLO, {"agent": "test"}).ok  # caught up, then ok
    assert again.seq > seq
    # A bid signed below the market core's last accepted number is refused the same way.
    low = BEHIND + 7
    reply = again.send_raw(seal_bid(_bid(member, interval.id, low, n=1)), low)
    assert reply.code == "replay"
    assert again.catch_up(reply)  # the next number is above the operator's last
    fresh = again.next_seq()
    assert again.send_raw(seal_bid(_bid(member, interval.id, fresh, n=1)), fresh).ok
