"""The envelope: round trip, every refusal code, replay rules, and fuzzing the decoder."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.protocol import Bid, KeyPair, Segment, Side
from voisin.protocol.envelope import (
    ReplayGuard,
    ack,
    decode_reply,
    open_envelope,
    parse_envelope,
    reject,
    seal,
    seal_bid,
    sign_bid,
)
from voisin.protocol.wire import MAX_MESSAGE_BYTES, MessageType

KEY = KeyPair.derive("test", "envelope")
OTHER = KeyPair.derive("test", "other")


def _code(data: bytes) -> str:
    with pytest.raises(InvalidInput) as info:
        open_envelope(data)
    return info.value.code


def _edit(data: bytes, **changes: object) -> bytes:
    obj = json.loads(data)
    obj.update(changes)
    return json.dumps(obj).encode()


def test_round_trip_keeps_every_field() -> None:
    raw = seal(KEY, MessageType.QUERY, 7, {"what": {"x": 1.5, "name": "école"}})
    env = open_envelope(raw)
    assert (env.type, env.sender, env.seq) == (MessageType.QUERY, KEY.public_hex, 7)
    assert env.body == {"what": {"x": 1.5, "name": "école"}}
    assert env.raw == raw


@pytest.mark.parametrize(("data", "code"), [
    (b"\xff\xfe garbage", "malformed"),
    (b"[1, 2, 3]", "malformed"),
    (b'{"v": "1"}', "malformed"),
    (b"", "malformed"),
    (b'{"v": 1, "type": "bid", "sender": "x", "seq": NaN, "body": {}, "sig": ""}', "malformed"),
    (b"[" * 5000 + b"]" * 5000, "malformed"),
])
def test_garbage_is_malformed(data: bytes, code: str) -> None:
    assert _code(data) == code


def test_each_refusal_has_its_code() -> None:
    good = seal(KEY, MessageType.HELLO, 1, {})
    assert _code(_edit(good, v=2)) == "wrong-version"
    assert _code(_edit(good, type="transfer-all-tokens")) == "unknown-type"
    assert _code(_edit(good, seq=-1)) == "malformed"
    assert _code(_edit(good, seq=True)) == "malformed"
    assert _code(_edit(good, sender="AB" * 32)) == "malformed"
    assert _code(_edit(good, extra=1)) == "malformed"
    assert _code(_edit(good, seq=2)) == "bad-signature"
    assert _code(_edit(good, sender=OTHER.public_hex)) == "bad-signature"
    assert _code(b" " * (MAX_MESSAGE_BYTES + 1)) == "too-big"


def test_signature_covers_the_body() -> None:
    good = seal(KEY, MessageType.QUERY, 3, {"what": {"price": 0.1}})
    assert _code(_edit(good, body={"what": {"price": 0.2}})) == "bad-signature"


def _bid(seq: int = 42) -> Bid:
    bid = Bid(bid_id="2026-06-22T10:00Z/x/0", participant=KEY.public_hex, bus="A1",
              interval="2026-06-22T10:00Z", side=Side.SELL,
              segments=(Segment(energy_kwh=1.25, price_eur_per_kwh=0.1),))
    return sign_bid(KEY, bid, seq)


def test_a_bid_is_self_signed() -> None:
    good = seal_bid(_bid())
    env = open_envelope(good)
    assert env.bound_bid() == _bid()
    assert env.signature == _bid().signature
    assert _code(_edit(good, seq=43)) == "bad-signature"
    assert _code(_edit(good, sender=OTHER.public_hex)) == "wrong-participant"
    obj = json.loads(good)
    obj["body"]["bid"]["segments"][0]["energy_kwh"] = 2.0
    assert _code(json.dumps(obj).encode()) == "bad-signature"
    obj["body"]["bid"] = {"junk": 1}
    assert _code(json.dumps(obj).encode()) == "invalid-input"
    other = sign_bid(OTHER, _bid().model_copy(update={"participant": OTHER.public_hex}), 42)
    assert _code(_edit(good, sig=other.signature)) == "bad-signature"


def test_whitespace_does_not_matter_only_content() -> None:
    good = seal(KEY, MessageType.QUERY, 4, {"what": "status"})
    pretty = json.dumps(json.loads(good), indent=2).encode()
    assert open_envelope(pretty).body == {"what": "status"}


def test_replay_guard_idempotent_resend_and_replay() -> None:
    guard = ReplayGuard()
    first = open_envelope(seal(KEY, MessageType.HELLO, 10, {}))
    assert guard.check(first) is None
    guard.remember(first, b"reply-10")
    assert guard.check(first) == b"reply-10"  # byte-identical resend: same answer
    other_body = open_envelope(seal(KEY, MessageType.HEARTBEAT, 10, {}))
    with pytest.raises(InvalidInput) as info:
        guard.check(other_body)
    assert info.value.code == "replay"
    older = open_envelope(seal(KEY, MessageType.HELLO, 9, {}))
    with pytest.raises(InvalidInput):
        guard.check(older)
    newer = open_envelope(seal(KEY, MessageType.HELLO, 11, {}))
    assert guard.check(newer) is None
    assert guard.check(open_envelope(seal(OTHER, MessageType.HELLO, 0, {}))) is None


def test_replies_decode() -> None:
    assert decode_reply(ack(5, {"ok": 1})).ok
    refused = decode_reply(reject(None, "too-big", "no"))
    assert (refused.ok, refused.code, refused.re) == (False, "too-big", None)
    with pytest.raises(InvalidInput):
        decode_reply(b"{}")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_decoding_random_bytes_only_raises_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        open_envelope(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["v", "type", "sender", "seq", "body", "sig"]), _json)
def test_any_tampered_field_is_refused(field: str, value: object) -> None:
    good = seal_bid(_bid()) if field != "v" else seal(KEY, MessageType.HELLO, 42, {})
    obj = json.loads(good)
    if obj[field] == value:
        return
    obj[field] = value
    with pytest.raises(InvalidInput):
        open_envelope(json.dumps(obj).encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=8), st.integers(min_value=0))
def test_flipped_bytes_never_escape_as_other_errors(noise: bytes, where: int) -> None:
    good = bytearray(seal(KEY, MessageType.HEARTBEAT, 1, {}))
    at = where % len(good)
    good[at:at + len(noise)] = noise
    try:
        parse_envelope(bytes(good)).check_signature()
    except InvalidInput:
        pass
