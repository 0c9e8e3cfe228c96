"""An agent written only from docs/protocol.md: raw pyzmq, PyNaCl, json, hashlib and an
independent RFC 8785 implementation (the `rfc8785` package), as an agent in another
language would use its own JCS library.

The only voisin import used by the client is key handling (the scenario's seeds); the
operator is the real service. If this test breaks, the document or the code is wrong.
"""

from __future__ import annotations

import hashlib
import json
import time

import rfc8785
import zmq
from nacl.signing import SigningKey, VerifyKey
from zmq.utils import z85

from tests.transport.conftest import Served
from voisin.protocol.clock import Phase


def canonical(value: object) -> bytes:
    return rfc8785.dumps(value)


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 as section 6 describes it, written recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()


class DocAgent:
    def __init__(
        self,
        context: zmq.Context,
        router: str,
        pub: str,
        seed_hex: str,
        meter_seed_hex: str,
        operator_hex: str,
    ) -> None:
        self.key = SigningKey(bytes.fromhex(seed_hex))
        self.meter = SigningKey(bytes.fromhex(meter_seed_hex))
        self.me = self.key.verify_key.encode().hex()
        self.operator_hex = operator_hex
        secret = self.key.to_curve25519_private_key()
        server = VerifyKey(bytes.fromhex(operator_hex)).to_curve25519_public_key()
        self.sockets = []
        for kind, endpoint in ((zmq.REQ, router), (zmq.SUB, pub)):
            sock = context.socket(kind)
            sock.linger = 0
            sock.curve_secretkey = z85.encode(bytes(secret))
            sock.curve_publickey = z85.encode(bytes(secret.public_key))
            sock.curve_serverkey = z85.encode(bytes(server))
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(endpoint)
            self.sockets.append(sock)
        self.req, self.sub = self.sockets
        self.seq = time.time_ns() // 1000

    def sign(self, key: SigningKey, value: object) -> str:
        return key.sign(canonical(value)).signature.hex()

    def request(self, type_: str, body: dict) -> dict:
        self.seq += 1
        unsigned = {"v": 2, "type": type_, "sender": self.me, "seq": self.seq, "body": body}
        self.req.send(canonical({**unsigned, "sig": self.sign(self.key, unsigned)}))
        assert self.req.poll(5000), "no reply"
        reply = json.loads(self.req.recv())
        assert reply["re"] == self.seq
        return reply

    def request_bid(self, bid: dict) -> dict:
        """Section 4: a bid is self-signed; the envelope carries its seq and signature."""
        self.seq = bid["seq"]
        envelope = {
            "v": 2,
            "type": "bid",
            "sender": self.me,
            "seq": bid["seq"],
            "body": {"bid": bid},
            "sig": bid["signature"],
        }
        self.req.send(canonical(envelope))
        assert self.req.poll(5000), "no reply"
        reply = json.loads(self.req.recv())
        assert reply["re"] == bid["seq"]
        return reply

    def event(self, topic: str) -> dict:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.sub.poll(200):
                frames = self.sub.recv_multipart()
                event = json.loads(frames[1])
                assert frames[0].decode() == event["type"]
                if event["type"] == topic:
                    return event["body"]
        raise AssertionError(f"no {topic} event")

    def check_block(self, block: dict) -> None:
        header_bytes = canonical(block["header"])
        VerifyKey(bytes.fromhex(self.operator_hex)).verify(
            header_bytes, bytes.fromhex(block["signature"])
        )
        leaves = [canonical({"body": t["body"], "kind": t["kind"]}) for t in block["transactions"]]
        assert merkle_root(leaves).hex() == block["header"]["merkle_root"]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close(0)


def test_a_client_from_the_document(served: Served, context: zmq.Context) -> None:
    member = served.scenario.members[0]
    agent = DocAgent(
        context,
        served.router,
        served.pub,
        member.keypair.seed_hex,
        member.meter_key.seed_hex,
        served.service.key.public_hex,
    )
    try:
        hello = agent.request("hello", {})
        assert hello["type"] == "ack"
        assert hello["body"]["bus"] == member.bus
        interval = served.service.intervals[0]
        served.wait_for_subscriptions(1)  # the SUB handshake done: it hears the first event
        served.phase(Phase.OPEN_GATE, interval)
        opened = agent.event("gate-open")
        assert opened["interval"] == interval.id

        bid = {
            "bid_id": f"{opened['interval']}/doc/0",
            "participant": agent.me,
            "bus": hello["body"]["bus"],
            "interval": opened["interval"],
            "side": "buy",
            "segments": [{"energy_kwh": 1, "price_eur_per_kwh": 0.3}],
            "preferred": [],
            "seq": agent.seq + 1,
        }
        bid["signature"] = agent.sign(agent.key, bid)
        reply = agent.request_bid(bid)
        assert reply["type"] == "ack", reply

        served.phase(Phase.CLOSE_GATE, interval)
        clearing = agent.event("clearing")
        block = agent.event("block")
        agent.check_block(block)
        assert block["header"]["height"] == clearing["block"]
        trades = [t["body"] for t in block["transactions"] if t["kind"] == "trade"]
        mine = [t for t in trades if t["buyer"] == agent.me]
        assert mine, "a buyer at 0.30 EUR/kWh gets at least the grid's energy"
        assert all(t["buyer_bid_id"] == bid["bid_id"] for t in mine)
        assert sum(t["energy_kwh"] for t in mine) <= 1 + 1e-9

        served.phase(Phase.DELIVERED, interval)
        agent.event("delivery")
        reading = {
            "meter": agent.meter.verify_key.encode().hex(),
            "participant": agent.me,
            "interval": interval.id,
            "pv_kwh": 0,
            "load_kwh": 1,
            "battery_kwh": 0,
            "import_kwh": 1,
            "export_kwh": 0,
            "estimated": False,
            "nonce": "5eed" * 8,
        }
        public = {  # what the meter signs and the ledger shows (section 4, `reading`)
            "meter": reading["meter"],
            "participant": reading["participant"],
            "interval": reading["interval"],
            "import_kwh": reading["import_kwh"],
            "export_kwh": reading["export_kwh"],
            "renewable_export_kwh": min(reading["export_kwh"], reading["pv_kwh"]),
            "estimated": reading["estimated"],
            "reading_hash": hashlib.sha256(canonical(reading)).hexdigest(),
        }
        reading["signature"] = public["signature"] = agent.sign(agent.meter, public)
        assert agent.request("reading", {"reading": reading})["type"] == "ack"
        served.phase(Phase.SETTLE, interval)
        settled = agent.event("block")
        agent.check_block(settled)
        assert (
            settled["header"]["prev_hash"] == hashlib.sha256(canonical(block["header"])).hexdigest()
        )
        stored = [t["body"] for t in settled["transactions"] if t["kind"] == "reading"]
        assert stored == [public]  # the public form as signed; the whole reading sealed

        bid["seq"] = agent.seq + 1
        bid["signature"] = agent.sign(agent.key, {k: v for k, v in bid.items() if k != "signature"})
        stale = agent.request_bid(bid)
        assert stale["type"] == "reject"
        assert stale["body"]["code"] == "gate-closed"
        assert agent.request("heartbeat", {})["type"] == "ack"
    finally:
        agent.close()
