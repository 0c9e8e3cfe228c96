"""The operator service under bad input: each case is rejected with its code and counted,
and the operator still serves the next good message."""

from __future__ import annotations

import json
import time

import pytest
import zmq

from tests.transport.conftest import Served
from voisin.agents.scenario import Member
from voisin.errors import InvalidInput
from voisin.protocol import Bid, KeyPair, MeterReading, Segment, Side, canonical_bytes
from voisin.protocol.clock import Phase
from voisin.protocol.envelope import Reply, decode_reply, seal, seal_bid
from voisin.protocol.wire import MAX_MESSAGE_BYTES, MessageType
from voisin.transport.client import OperatorClient, OperatorUnreachable


def _client(
    served: Served,
    context: zmq.Context,
    member: Member | KeyPair,
    retries: int = 0,
    timeout_s: float = 3.0,
) -> OperatorClient:
    key = member.keypair if isinstance(member, Member) else member
    return OperatorClient(
        context,
        served.router,
        key,
        served.service.key.public_hex,
        timeout_s=timeout_s,
        retries=retries,
    )


def _bid(member: Member, interval: str, seq: int, n: int = 0, price: float = 0.2) -> Bid:
    bid = Bid(
        bid_id=f"{interval}/{member.id[:12]}/{n}",
        participant=member.id,
        bus=member.bus,
        interval=interval,
        side=Side.BUY,
        segments=(Segment(energy_kwh=0.5, price_eur_per_kwh=price),),
        seq=seq,
    )
    return bid.model_copy(
        update={"signature": member.keypair.sign(canonical_bytes(bid.unsigned()))}
    )


def _send_bid(
    client: OperatorClient, member: Member, interval: str, n: int = 0, price: float = 0.2
) -> Reply:
    seq = client.next_seq()
    return client.send_raw(seal_bid(_bid(member, interval, seq, n, price)), seq)


def _healthy(client: OperatorClient) -> None:
    """The operator still answers a good request after whatever came before."""
    reply = client.request(MessageType.QUERY, {"what": "status"})
    assert reply.ok, reply


@pytest.fixture
def member(served: Served) -> Member:
    return served.scenario.members[0]


@pytest.fixture
def client(served: Served, context: zmq.Context, member: Member) -> OperatorClient:
    return _client(served, context, member)


def test_hello_says_who_and_when(client: OperatorClient, member: Member, served: Served) -> None:
    reply = client.request(MessageType.HELLO, {})
    assert reply.ok
    assert reply.body["bus"] == member.bus
    assert reply.body["operator"] == served.service.key.public_hex
    assert reply.body["intervals"] == 8


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x00\x01garbage\xff", "malformed"),
        (b'{"v": 99, "type": "hello"}', "wrong-version"),
        (b"{" + b" " * (MAX_MESSAGE_BYTES + 10) + b"}", "too-big"),
    ],
    ids=["malformed", "wrong-version", "too-big"],
)
def test_unreadable_requests(
    client: OperatorClient, served: Served, payload: bytes, code: str
) -> None:
    reply = client.send_raw(payload)
    assert (reply.ok, reply.code) == (False, code)
    _healthy(client)
    assert served.status()["counters"]["rejected"][code] == 1


def test_bad_signature(client: OperatorClient, member: Member, served: Served) -> None:
    raw = json.loads(seal(member.keypair, MessageType.HELLO, client.next_seq(), {}))
    raw["body"] = {"forged": True}
    reply = client.send_raw(canonical_bytes(raw), raw["seq"])
    assert (reply.ok, reply.code) == (False, "bad-signature")
    _healthy(client)


def test_a_frame_that_is_not_canonical_is_malformed(
    client: OperatorClient, member: Member, served: Served
) -> None:
    raw = json.loads(seal(member.keypair, MessageType.HELLO, client.next_seq(), {}))
    reply = client.send_raw(json.dumps(raw, indent=1).encode(), raw["seq"])
    assert (reply.ok, reply.code) == (False, "malformed")
    assert served.status()["counters"]["rejected"]["malformed"] == 1
    _healthy(client)


def test_unknown_sender_on_a_registered_connection(
    client: OperatorClient, member: Member, served: Served
) -> None:
    stranger = KeyPair.derive("test", "stranger")
    reply = client.send_raw(seal(stranger, MessageType.HELLO, 1, {}), 1)
    assert (reply.ok, reply.code) == (False, "unknown-sender")
    other = served.scenario.members[1]
    reply = client.send_raw(seal(other.keypair, MessageType.HELLO, 1, {}), 1)
    assert (reply.ok, reply.code) == (False, "wrong-curve-key")
    _healthy(client)


def test_unknown_type(client: OperatorClient, member: Member) -> None:
    raw = json.loads(seal(member.keypair, MessageType.HELLO, client.next_seq(), {}))
    raw["type"] = "mint"
    reply = client.send_raw(canonical_bytes(raw), raw["seq"])
    assert (reply.ok, reply.code) == (False, "unknown-type")
    _healthy(client)


def test_bids_only_while_the_gate_is_open(
    client: OperatorClient, member: Member, served: Served
) -> None:
    first, second = served.service.intervals[:2]
    assert _send_bid(client, member, first.id).code == "gate-not-open"
    served.phase(Phase.OPEN_GATE, first)
    assert _send_bid(client, member, first.id, n=1).ok
    served.phase(Phase.CLOSE_GATE, first)
    reply = _send_bid(client, member, first.id, n=2)
    assert (reply.ok, reply.code) == (False, "gate-closed")
    served.phase(Phase.OPEN_GATE, second)
    assert _send_bid(client, member, second.id).ok
    assert served.status()["counters"]["rejected"]["gate-closed"] == 1


def test_resend_is_idempotent_and_old_seq_is_a_replay(
    client: OperatorClient, member: Member, served: Served
) -> None:
    interval = served.service.intervals[0]
    served.phase(Phase.OPEN_GATE, interval)
    seq = client.next_seq()
    payload = seal_bid(_bid(member, interval.id, seq))
    first = client.send_raw(payload, seq)
    again = client.send_raw(payload, seq)
    assert first.ok
    assert again == first
    assert served.status()["counters"]["resends"] == 1
    replay = client.send_raw(seal(member.keypair, MessageType.HEARTBEAT, seq - 5, {}), seq - 5)
    assert (replay.ok, replay.code) == (False, "replay")
    _healthy(client)


def test_market_rules_come_back_with_their_code(
    client: OperatorClient, member: Member, served: Served
) -> None:
    interval = served.service.intervals[0]
    served.phase(Phase.OPEN_GATE, interval)
    reply = _send_bid(client, member, interval.id, price=5.0)
    assert (reply.ok, reply.code) == (False, "price-out-of-range")
    seq = client.next_seq()
    raw = json.loads(seal_bid(_bid(member, interval.id, seq, n=1)))
    raw["body"]["bid"]["segments"][0]["energy_kwh"] = -1
    reply = client.send_raw(canonical_bytes(raw), seq)
    assert (reply.ok, reply.code) == (False, "invalid-input")
    other = served.scenario.members[1]
    seq = client.next_seq()
    foreign = _bid(other, interval.id, seq)
    raw = json.loads(seal_bid(foreign))
    raw["sender"] = member.id
    reply = client.send_raw(canonical_bytes(raw), seq)
    assert (reply.ok, reply.code) == (False, "wrong-participant")
    _healthy(client)


def test_a_bid_is_checked_once_and_bound_to_its_envelope(
    client: OperatorClient, member: Member, served: Served
) -> None:
    interval = served.service.intervals[0]
    served.phase(Phase.OPEN_GATE, interval)
    seq = client.next_seq()
    raw = json.loads(seal_bid(_bid(member, interval.id, seq)))
    raw["body"]["bid"]["segments"][0]["price_eur_per_kwh"] = 0.01  # tampered after signing
    reply = client.send_raw(canonical_bytes(raw), seq)
    assert (reply.ok, reply.code) == (False, "bad-signature")
    raw = json.loads(seal_bid(_bid(member, interval.id, seq)))
    raw["seq"] = seq + 1  # envelope and bid disagree
    reply = client.send_raw(canonical_bytes(raw), seq + 1)
    assert (reply.ok, reply.code) == (False, "bad-signature")
    # Neither forgery moved the sender's sequence: the genuine bid still goes in.
    assert client.send_raw(seal_bid(_bid(member, interval.id, seq)), seq).ok
    assert served.service.operator.rejections.by_code["bad-signature"] == 1


def test_unregistered_curve_key_never_reaches_the_application(
    served: Served, context: zmq.Context, client: OperatorClient
) -> None:
    _healthy(client)
    before = served.status()["counters"]
    outsider = _client(served, context, KeyPair.derive("test", "outsider"), timeout_s=0.5)
    with pytest.raises(OperatorUnreachable):
        outsider.request(MessageType.HELLO, {})
    outsider.close()
    after = served.status()["counters"]
    assert after["curve_refused"] > before["curve_refused"]
    assert after["received"] == before["received"]
    _healthy(client)


def test_revoked_key_is_refused_from_the_next_interval(
    served: Served, context: zmq.Context, member: Member, client: OperatorClient
) -> None:
    _healthy(client)
    served.call(lambda: served.service.revoke(member.id))
    _healthy(client)  # still in the current interval
    served.phase(Phase.OPEN_GATE, served.service.intervals[0])
    reply = client.request(MessageType.QUERY, {"what": "status"})
    assert (reply.ok, reply.code) == (False, "revoked")
    fresh = _client(served, context, member, timeout_s=0.5)
    with pytest.raises(OperatorUnreachable):
        fresh.request(MessageType.HELLO, {})
    fresh.close()


def test_reading_window_and_query_for_a_block(
    client: OperatorClient, member: Member, served: Served
) -> None:
    interval = served.service.intervals[0]
    reading = {
        "meter": member.meter_key.public_hex,
        "participant": member.id,
        "interval": interval.id,
        "pv_kwh": 0.0,
        "load_kwh": 0.3,
        "import_kwh": 0.3,
        "export_kwh": 0.0,
        "battery_kwh": 0.0,
        "estimated": False,
    }
    reading["signature"] = member.meter_key.sign(
        MeterReading.model_validate(reading).signed_bytes()
    )
    early = client.request(MessageType.READING, {"reading": reading})
    assert (early.ok, early.code) == (False, "readings-closed")
    for phase in (Phase.OPEN_GATE, Phase.CLOSE_GATE, Phase.DELIVERED):
        served.phase(phase, interval)
    assert client.request(MessageType.READING, {"reading": reading}).ok
    forged = {**reading, "load_kwh": 9.0}
    reply = client.request(MessageType.READING, {"reading": forged})
    assert (reply.ok, reply.code) == (False, "bad-signature")
    block = client.request(MessageType.QUERY, {"what": "block", "height": 0})
    assert block.ok
    assert block.body["header"]["height"] == 0
    missing = client.request(MessageType.QUERY, {"what": "block", "height": 10**6})
    assert missing.code == "no-block"
    partial = {k: v for k, v in reading.items() if k != "battery_kwh"}  # a field left out
    assert client.request(MessageType.READING, {"reading": partial}).code == "malformed"


def test_counted_rejections_survive_a_burst(
    served: Served, context: zmq.Context, member: Member
) -> None:
    dealer = context.socket(zmq.DEALER)
    from voisin.transport.curve import make_client

    make_client(dealer, member.keypair, served.service.key.public_hex)
    dealer.linger = 0
    dealer.connect(served.router)
    for i in range(200):
        dealer.send(b"junk %d" % i)
    deadline = time.monotonic() + 10
    replies = 0
    while replies < 200 and time.monotonic() < deadline:
        if dealer.poll(1000):
            assert decode_reply(dealer.recv()).code == "malformed"
            replies += 1
    dealer.close()
    assert replies == 200
    with pytest.raises(InvalidInput):
        decode_reply(b"junk")


def test_a_batch_gets_one_verdict_per_bid(
    client: OperatorClient, member: Member, served: Served
) -> None:
    interval = served.service.intervals[0]
    served.phase(Phase.OPEN_GATE, interval)
    base = client.next_seq()
    good = [_bid(member, interval.id, base + i, n=i) for i in range(3)]
    bad_price = _bid(member, interval.id, base + 3, n=3, price=9.0)
    other = _bid(served.scenario.members[1], interval.id, base + 4, n=4)
    items = [b.model_dump(mode="json") for b in [*good, bad_price, other]]
    client.seq = base + 10
    payload = seal(member.keypair, MessageType.BIDS, client.seq, {"bids": items})
    reply = client.send_raw(payload, client.seq)
    assert reply.ok
    assert reply.body["accepted"] == 3
    codes = [r.get("code") for r in reply.body["results"]]
    assert codes == [None, None, None, "price-out-of-range", "wrong-participant"]
    assert client.send_raw(payload, client.seq) == reply  # resend: same verdicts, no dupes
    empty = client.request(MessageType.BIDS, {"bids": []})
    assert (empty.ok, empty.code) == (False, "bad-batch")
    _healthy(client)


def test_an_observer_watches_and_queries_but_cannot_trade(
    served: Served, context: zmq.Context
) -> None:
    from tests.transport.conftest import OBSERVER
    from voisin.transport.curve import make_client

    sub = context.socket(zmq.SUB)
    sub.linger = 0
    make_client(sub, OBSERVER, served.service.key.public_hex)
    sub.setsockopt(zmq.SUBSCRIBE, b"gate-open")
    sub.connect(served.pub)
    watcher = _client(served, context, OBSERVER)
    status = watcher.request(MessageType.QUERY, {"what": "status"})
    assert status.ok
    assert "rejected" in status.body["counters"]
    assert watcher.request(MessageType.HELLO, {}).code == "read-only"
    served.wait_for_subscriptions(1)
    served.phase(Phase.OPEN_GATE, served.service.intervals[0])
    assert sub.poll(3000)
    assert sub.recv_multipart()[0] == b"gate-open"
    sub.close(0)


def test_a_drained_batch_checks_its_signatures_together_and_decides_in_order(
    member: Member, served: Served
) -> None:
    """``handle_batch`` checks every bid's signature in one go before deciding: a forged
    bid among good ones is refused with the market core's own code, a resend inside the
    same batch gets the first reply, and nothing is acked before the batch's commit."""
    interval = served.service.intervals[0]
    served.phase(Phase.OPEN_GATE, interval)
    good = seal_bid(_bid(member, interval.id, 1, n=1))
    forged_bid = _bid(member, interval.id, 2, n=2)
    forged = seal_bid(
        forged_bid.model_copy(update={"signature": KeyPair.derive("x").sign(b"other")})
    )
    later = seal_bid(_bid(member, interval.id, 3, n=3))
    frames = [good, forged, good, later]
    intake = served.service.intake
    replies = served.call(lambda: intake.handle_batch([(f, None) for f in frames]))
    verdicts = [decode_reply(r) for r in replies]  # type: ignore[attr-defined]
    assert [(v.ok, v.code) for v in verdicts] == [
        (True, ""),
        (False, "bad-signature"),
        (True, ""),
        (True, ""),
    ]
    assert replies[2] == replies[0]  # type: ignore[index]
    book = served.call(lambda: served.service.operator.book(interval.id))
    assert [s.value.seq for s in book] == [1, 3]  # type: ignore[attr-defined]
    assert served.service.operator.pending == 0  # committed before the replies
    counters = served.status()["counters"]
    assert counters["rejected"] == {"bad-signature": 1}  # type: ignore[index]
    assert counters["resends"] == 1  # type: ignore[index]
