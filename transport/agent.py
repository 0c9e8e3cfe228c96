"""One household's agent as its own process, talking to the operator over ZeroMQ.

The agent reuses the simulation's behaviour: it builds the same seeded ``Neighbourhood``
and takes its own member's bids and meter readings from it, so the live and simulated
agents forecast, plan batteries and bid with the same code. What is new here is the
conversation (hello, bids at gate-open, readings at delivery, heartbeats) and the
verification of every block it receives against what it bid.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from voisin.agents.checks import AgentReport, check_block, check_trade, parse_event
from voisin.agents.model import Neighbourhood
from voisin.agents.scenario import Member, Scenario
from voisin.errors import VoisinError
from voisin.protocol import Bid, Interval
from voisin.protocol.envelope import seal_bid, sign_bid
from voisin.protocol.files import write_whole
from voisin.protocol.wire import HEARTBEAT_S, HIGH_WATER_MARK, EventType, MessageType
from voisin.transport.client import OperatorClient
from voisin.transport.curve import make_client

log = logging.getLogger("voisin.agent")


class RemoteAgent:
    """A member's agent: ``run`` until the operator announces the end or ``stop``."""

    def __init__(
        self,
        scenario: Scenario,
        member: Member,
        *,
        seed: int,
        router: str,
        pub: str,
        server_hex: str,
        report_path: Path | None = None,
    ) -> None:
        self.scenario = scenario
        self.member = member
        self.seed = seed
        self.server_hex = server_hex
        self.report = AgentReport(member.id)
        self.report_path = report_path
        self._remember()
        self.context = zmq.Context()
        self.sub = self.context.socket(zmq.SUB)
        self.sub.linger = 0
        self.sub.rcvhwm = HIGH_WATER_MARK
        make_client(self.sub, member.keypair, server_hex)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        # the SUB socket's handshake is an event, not a guess: hello waits for it
        self._monitor: zmq.Socket[bytes] | None = self.sub.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED
        )
        try:
            self.sub.connect(pub)
            self.client = OperatorClient(self.context, router, member.keypair, server_hex)
        except (zmq.ZMQError, VoisinError) as exc:
            self._close_monitor()
            self.sub.close(0)
            self.context.term()
            raise VoisinError(
                f"cannot connect to the operator: {exc}", code="bad-endpoint"
            ) from None
        self.model: Neighbourhood | None = None
        self._head: str | None = None
        self._height = -1
        self._event_seq: int | None = None
        self._stopping = False
        self._trade_blocks: dict[str, int] = {}

    def _refused(self, what: str, code: str, message: str) -> None:
        self.report.rejected[code] = self.report.rejected.get(code, 0) + 1
        log.info("%s refused: %s %s", what, code, message)

    def _request(self, type_: MessageType, body: dict[str, Any]) -> dict[str, Any] | None:
        """One request; a rejection is counted and logged, an unreachable operator too."""
        try:
            reply = self.client.request(type_, body)
        except VoisinError as exc:
            self._refused(type_.value, exc.code, exc.message)
            return None
        if not reply.ok:
            self._refused(type_.value, reply.code, reply.message)
            return None
        return reply.body

    def _send_bid(self, bid: Bid) -> Bid | None:
        """Sign ``bid`` with the next sequence number (the envelope's goes into the bid
        too, so a restarted agent's bids are never mistaken for replays) and send it;
        the acknowledged bid, or None. A replay refusal naming a higher ``last_seq``
        (this agent's clock went back) is answered once, signing anew above it."""
        for _ in range(2):
            signed = sign_bid(self.member.keypair, bid, self.client.next_seq())
            # written ahead: killed between the operator's acknowledgement and a save,
            # the restarted agent would meet its own trades under a bid it forgot
            earlier = self.report.bids.get(signed.bid_id)
            self.report.bids[signed.bid_id] = signed.model_dump(mode="json")
            self.save()
            try:
                reply = self.client.send_raw(seal_bid(signed), signed.seq)
            except VoisinError as exc:
                self._forget(signed.bid_id, earlier)
                self._refused("bid", exc.code, exc.message)
                return None
            if reply.ok:
                return signed
            self._forget(signed.bid_id, earlier)
            if not self.client.catch_up(reply):
                self._refused("bid", reply.code, reply.message)
                return None
        return None

    def _forget(self, bid_id: str, earlier: dict[str, Any] | None) -> None:
        """Undo a written-ahead bid the operator refused: back to the one acknowledged
        under that id before (a refused resend does not unsay it), or to none."""
        if earlier is None:
            self.report.bids.pop(bid_id, None)
        else:
            self.report.bids[bid_id] = earlier

    def hello(self) -> None:
        """Say hello until the operator answers, then build the model for its intervals.

        A one-interval model first loads the climate, the clear-sky tables and the load
        tables, so building the real one after hello, on the market's clock, is quick."""
        Neighbourhood(
            self._own_scenario(), [Interval(start=datetime(2026, 1, 1, tzinfo=UTC))], seed=self.seed
        )
        while not self._stopping:
            self._await_events_socket(timeout_s=1.0)
            info = self._request(MessageType.HELLO, {"agent": "voisin"})
            if info is not None:
                break
        else:
            return
        if self.model is None and info.get("first_interval"):
            first = datetime.fromisoformat(info["first_interval"])
            minutes = int(info["minutes"])
            intervals = [
                Interval(start=first + timedelta(minutes=minutes * i), minutes=minutes)
                for i in range(int(info["intervals"]))
            ]
            self.model = Neighbourhood(self._own_scenario(), intervals, seed=self.seed)

    def _await_events_socket(self, timeout_s: float) -> None:
        """Until the events socket's CURVE handshake succeeded (its monitor says so), at
        most ``timeout_s``: hello then means subscribed, and the operator, which waits
        for every agent's hello and subscription (XPUB) before the first gate, does not
        open it to an agent that cannot hear it yet."""
        monitor = self._monitor
        if monitor is None:
            return
        deadline = time.monotonic() + timeout_s
        while not self._stopping and time.monotonic() < deadline:
            if monitor.poll(50, zmq.POLLIN):
                if recv_monitor_message(monitor)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self._close_monitor()
                    return

    def _close_monitor(self) -> None:
        if self._monitor is not None:
            self.sub.disable_monitor()
            self._monitor.close(0)
            self._monitor = None

    def _own_scenario(self) -> Scenario:
        """Only this member: its profiles are all the agent needs, and computing the
        whole neighbourhood's would take longer than an accelerated interval."""
        s = self.scenario
        others = (frozenset(m.id for m in s.members) | s.others) - {self.member.id}
        return Scenario(
            s.grid,
            (self.member,),
            s.fund,
            site=s.site,
            school_calendar=s.school_calendar,
            name=s.name,
            others=others,
        )

    def _mine(self, items: list[Any]) -> list[Any]:
        return [x for x in items if x.participant == self.member.id]

    def on_gate_open(self, body: dict[str, Any]) -> None:
        if self.model is None or body["interval"] not in self.model.interval_ids:
            return
        for bid in self._mine(self.model.bids_for(body["interval"])):
            self._send_bid(bid)
        self.save()  # the refused bids leave the report too

    def on_delivery(self, body: dict[str, Any]) -> None:
        if self.model is None or body["interval"] not in self.model.interval_ids:
            return
        for reading in self._mine(self.model.deliver(body["interval"])):
            sent = self._request(MessageType.READING, {"reading": reading.model_dump(mode="json")})
            if sent is not None:
                self.report.readings.append(reading.interval)

    def on_block(self, block: dict[str, Any]) -> None:
        height = block["header"]["height"]
        if 0 <= self._height < height - 1:
            self._fill_gap(height)
        prev = self._head if height == self._height + 1 else None
        try:
            block_hash = check_block(block, self.server_hex, prev)
        except (VoisinError, KeyError, TypeError, ValueError) as exc:
            self.report.problems.append(str(exc))
            log.error("%s", exc)
            return
        self._head, self._height = block_hash, height
        self.report.blocks[height] = block_hash
        me = self.member.id
        for tx in block["transactions"]:
            body = tx["body"]
            if tx["kind"] != "trade" or me not in (body["buyer"], body["seller"]):
                continue
            self.report.trades.append(body)
            why = check_trade(body, me, self.report.bids)
            if why:
                self.report.problems.append(f"block {height}: {why}")
        self._learn(block["transactions"])

    def _learn(self, transactions: list[dict[str, Any]]) -> None:
        """Feed a clearing block back to this agent's strategy, as the simulation feeds
        each clearing result: the block holds the interval's published bus prices and
        every trade it made, so how much of each bid cleared is the sum of its trades."""
        clearings = [tx["body"] for tx in transactions if tx["kind"] == "clearing"]
        if self.model is None or len(clearings) != 1:
            return
        interval = clearings[0]["interval"]
        if interval not in self.model.interval_ids:
            return
        cleared: dict[str, float] = {}
        for tx in transactions:
            body = tx["body"]
            if tx["kind"] == "trade" and body["interval"] == interval:
                for bid_id in (body["buyer_bid_id"], body["seller_bid_id"]):
                    if bid_id:
                        cleared[bid_id] = cleared.get(bid_id, 0.0) + body["energy_kwh"]
        self.model.observe_prices(interval, clearings[0]["prices_eur_per_kwh"], cleared)

    def _fill_gap(self, height: int) -> None:
        """Ask for the blocks between the last one seen and ``height`` (events lost while
        the operator restarted or the PUB queue overflowed), and check them too."""
        for missing in range(self._height + 1, height):
            block = self._request(MessageType.QUERY, {"what": "block", "height": missing})
            if block is None:
                return
            self.on_block(block)

    def on_event(self, frames: list[bytes]) -> None:
        try:
            event = parse_event(frames[-1])
        except VoisinError as exc:
            self.report.problems.append(str(exc))
            return
        seq = event["seq"]
        if self._event_seq is not None and seq > self._event_seq + 1:
            self.report.events_missed += seq - self._event_seq - 1
        self._event_seq = seq
        topic, body = event["type"], event["body"]
        try:
            if topic == EventType.GATE_OPEN:
                self.on_gate_open(body)
            elif topic == EventType.DELIVERY:
                self.on_delivery(body)
            elif topic == EventType.BLOCK:
                self.on_block(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.report.problems.append(
                f"bad-event: a {topic} event without its fields ({type(exc).__name__})"
            )
            return
        if topic == EventType.END:
            self.report.ended = True
            self._stopping = True

    def stop(self) -> None:
        self._stopping = True

    def run(self) -> AgentReport:
        try:
            self.hello()
            beat = time.monotonic() + HEARTBEAT_S
            while not self._stopping:
                wait = max(0.0, beat - time.monotonic())
                if self.sub.poll(int(wait * 1000) + 1, zmq.POLLIN):
                    self.on_event(self.sub.recv_multipart())
                if time.monotonic() >= beat and not self._stopping:
                    self._request(MessageType.HEARTBEAT, {})
                    beat = time.monotonic() + HEARTBEAT_S
        finally:
            self.close()
        return self.report

    def _remember(self) -> None:
        """A restarted agent takes back the bids its last life saw acknowledged (from its
        report file), so trades under them are still recognised as its own."""
        if self.report_path is None or not self.report_path.is_file():
            return
        try:
            earlier = json.loads(self.report_path.read_text())
            if earlier.get("participant") != self.member.id:
                return
            bids, readings = dict(earlier.get("bids", {})), list(earlier.get("readings", []))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            # a damaged file is worth a warning, not the agent: it starts afresh
            log.warning("cannot read the earlier report %s: %s", self.report_path, exc)
            return
        self.report.bids.update(bids)
        self.report.readings.extend(readings)

    def save(self) -> None:
        """Write the report whole (``protocol.files``: a kill mid-write leaves the
        previous one, and the next save sweeps the killed one's staging file)."""
        if self.report_path is not None:
            write_whole(self.report_path, self.report.to_json(), replace=True)

    def close(self) -> None:
        self.client.close()
        self._close_monitor()
        self.sub.close(0)
        self.context.term()
        self.save()
