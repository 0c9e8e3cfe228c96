"""The envelope: round trip, every refusal code, exact-byte signatures, replay rules, and
fuzzing the decoder (every message altered after signing is refused)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.meters.meter import Meter
from voisin.protocol import Bid, KeyPair, MeterReading, Segment, Side, verify
from voisin.protocol.encoding import MAX_SAFE_INTEGER, canonical_bytes
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
from voisin.protocol.signed import decode_part
from voisin.protocol.validation import parse_wire
from voisin.protocol.wire import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, MessageType

KEY = KeyPair.derive("test", "envelope")
OTHER = KeyPair.derive("test", "other")


def _code(data: bytes) -> str:
    with pytest.raises(InvalidInput) as info:
        open_envelope(data)
    return info.value.code


def _edit(data: bytes, **changes: object) -> bytes:
    """The frame with fields changed, re-encoded canonically (as a forger would)."""
    obj = json.loads(data)
    obj.update(changes)
    return canonical_bytes(obj)


def test_round_trip_keeps_every_field() -> None:
    raw = seal(KEY, MessageType.QUERY, 7, {"what": {"x": 1.5, "name": "école"}})
    env = open_envelope(raw)
    assert (env.type, env.sender, env.seq) == (MessageType.QUERY, KEY.public_hex, 7)
    assert env.body == {"what": {"x": 1.5, "name": "école"}}
    assert env.raw == raw


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xff\xfe garbage", "malformed"),
        (b"[1, 2, 3]", "malformed"),
        (b'{"v": "1"}', "malformed"),
        (b"", "malformed"),
        (b'{"v": 1, "type": "bid", "sender": "x", "seq": NaN, "body": {}, "sig": ""}', "malformed"),
        (b"[" * 5000 + b"]" * 5000, "malformed"),
    ],
)
def test_garbage_is_malformed(data: bytes, code: str) -> None:
    assert _code(data) == code


def test_each_refusal_has_its_code() -> None:
    good = seal(KEY, MessageType.HELLO, 1, {})
    assert _code(_edit(good, v=1)) == "wrong-version"
    assert _code(_edit(good, seq=MAX_SAFE_INTEGER + 1)) == "malformed"
    assert _code(_edit(good, type="transfer-all-tokens")) == "unknown-type"
    assert _code(_edit(good, seq=-1)) == "malformed"
    assert _code(_edit(good, seq=True)) == "malformed"
    assert _code(_edit(good, sender="AB" * 32)) == "malformed"
    assert _code(_edit(good, extra=1)) == "malformed"
    assert _code(_edit(good, seq=2)) == "bad-signature"
    assert _code(_edit(good, sender=OTHER.public_hex)) == "bad-signature"
    assert _code(b" " * (MAX_MESSAGE_BYTES + 1)) == "too-big"


def test_non_bid_signatures_cover_the_frame_without_sig() -> None:
    good = seal(KEY, MessageType.READING, 5, {"reading": {"x": 1}})
    env = parse_envelope(good)
    obj = json.loads(good)
    del obj["sig"]
    assert env.signed_bytes() == canonical_bytes(obj)
    assert env.parts == (b'{"x":1}',)


def test_signature_covers_the_body() -> None:
    good = seal(KEY, MessageType.QUERY, 3, {"what": {"price": 0.1}})
    assert _code(_edit(good, body={"what": {"price": 0.2}})) == "bad-signature"


def _bid(seq: int = 42) -> Bid:
    bid = Bid(
        bid_id="2026-06-22T10:00Z/x/0",
        participant=KEY.public_hex,
        bus="A1",
        interval="2026-06-22T10:00Z",
        side=Side.SELL,
        segments=(Segment(energy_kwh=1.25, price_eur_per_kwh=0.1),),
    )
    return sign_bid(KEY, bid, seq)


def test_a_bid_is_self_signed() -> None:
    good = seal_bid(_bid())
    env = open_envelope(good)
    assert env.bound_bid().value == _bid()
    assert env.bound_bid().data == _bid().wire() == env.parts[0]
    assert env.signature == _bid().signature
    assert _code(_edit(good, seq=43)) == "bad-signature"
    assert _code(_edit(good, sender=OTHER.public_hex)) == "wrong-participant"
    obj = json.loads(good)
    obj["body"]["bid"]["segments"][0]["energy_kwh"] = 2.0
    assert _code(canonical_bytes(obj)) == "bad-signature"
    obj["body"]["bid"] = {"junk": 1}
    assert _code(canonical_bytes(obj)) == "malformed"
    other = sign_bid(OTHER, _bid().model_copy(update={"participant": OTHER.public_hex}), 42)
    assert _code(_edit(good, sig=other.signature)) == "bad-signature"


def _bid_edit(good: bytes, change: Callable[[dict[str, Any]], object]) -> bytes:
    obj = json.loads(good)
    change(obj["body"]["bid"])
    return canonical_bytes(obj)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda b: b.pop("preferred"), "malformed"),  # a field dropped
        (lambda b: b.update(bid_idd=b.pop("bid_id")), "malformed"),  # a field misspelt
        (lambda b: b.update(note="x" * 30_000), "malformed"),  # a 30 kB field added
        (lambda b: b["segments"][0].update(energy_kwh="1.25"), "malformed"),  # a number as text
        (lambda b: b["segments"][0].update(energy_kwh=True), "malformed"),  # a number as true
        (lambda b: b.update(seq=42.5), "malformed"),
        (lambda b: b.update(green_only=False), "malformed"),  # a default written out
        (lambda b: b["segments"][0].update(energy_kwh=1.5), "bad-signature"),  # a value changed
        (lambda b: b.update(preferred=[OTHER.public_hex]), "bad-signature"),
    ],
)
def test_a_bid_changed_after_signing_is_refused(
    change: Callable[[dict[str, Any]], object], code: str
) -> None:
    assert _code(_bid_edit(seal_bid(_bid()), change)) == code


_ABSENT = object()
_OPTIONAL_BID_FIELDS = {
    "preferred": st.sampled_from([[], [OTHER.public_hex]]),
    "seq": st.sampled_from([0, 7]),
    "signature": st.sampled_from(["", "ab"]),
    "green_only": st.booleans(),
    "preferred_discount_eur_per_kwh": st.sampled_from([0, 0.0, 0.01, 2]),
    "inflexible": st.booleans(),
}


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from(["buy", "sell"]),
    energy=st.sampled_from([1, 1.25, 2.0]),
    optional=st.fixed_dictionaries(
        {name: st.just(_ABSENT) | values for name, values in _OPTIONAL_BID_FIELDS.items()}
    ),
)
def test_a_bid_part_is_taken_exactly_when_the_model_writes_it_back(
    side: str, energy: float, optional: dict[str, Any]
) -> None:
    """``decode_part`` compares a bid's members with the fields the model writes
    (``written_fields``) instead of writing the bid back: it takes exactly the parts the
    round trip takes and refuses the others with the same code (a default written out,
    a field left out: ``malformed``)."""
    obj: dict[str, Any] = {
        "bid_id": "b/1",
        "participant": KEY.public_hex,
        "bus": "A1",
        "interval": "2026-06-22T10:00Z",
        "side": side,
        "segments": [{"energy_kwh": energy, "price_eur_per_kwh": 0.1}],
    }
    obj.update({k: v for k, v in optional.items() if v is not _ABSENT})
    assert _decoded(obj) == _written_back(obj)


def _written_back(obj: dict[str, Any]) -> tuple[str, str] | None:
    """The refusal of the rule as it was: validate, write the bid back, compare."""
    try:
        model = parse_wire(Bid, obj, "bid")
    except InvalidInput as exc:
        return exc.code, exc.message
    return None if model.model_dump(mode="json") == obj else ("malformed", "not canonical")


def _decoded(obj: dict[str, Any]) -> tuple[str, str] | None:
    try:
        decode_part(Bid, obj, canonical_bytes(obj), "bid")
    except InvalidInput as exc:
        canonical = exc.message.endswith("a default is written out")
        return exc.code, "not canonical" if canonical else exc.message
    return None


def test_frames_must_be_canonical_bytes() -> None:
    good = seal(KEY, MessageType.QUERY, 4, {"what": "status"})
    assert canonical_bytes(json.loads(good)) == good
    pretty = json.dumps(json.loads(good), indent=2).encode()
    members = list(json.loads(good).items())
    reordered = json.dumps(dict(reversed(members)), separators=(",", ":")).encode()
    for variant in (pretty, reordered, good.replace(b'"status"', rb'"\u0073tatus"'), good + b" "):
        assert _code(variant) == "malformed"
    bid = seal_bid(_bid())
    assert b'"energy_kwh":1.25' in bid
    assert _code(bid.replace(b'"energy_kwh":1.25', b'"energy_kwh":1.250')) == "malformed"
    assert _code(bid.replace(b'"energy_kwh":1.25', b'"energy_kwh":125e-2')) == "malformed"


def test_a_bid_signed_as_javascript_writes_numbers_verifies() -> None:
    """``"energy_kwh":2``, not ``2.0``: an ECMAScript client's bytes, signed as they are."""
    unsigned = {
        "bid_id": "2026-06-22T10:00Z/js/0",
        "participant": KEY.public_hex,
        "bus": "A1",
        "interval": "2026-06-22T10:00Z",
        "side": "buy",
        "segments": [{"energy_kwh": 2, "price_eur_per_kwh": 0.3}],
        "preferred": [],
        "seq": 7,
    }
    text = rfc8785.dumps(unsigned)
    assert b'"energy_kwh":2,' in text
    bid = {**unsigned, "signature": KEY.sign(text)}
    frame = rfc8785.dumps(
        {
            "v": PROTOCOL_VERSION,
            "type": "bid",
            "sender": KEY.public_hex,
            "seq": 7,
            "body": {"bid": bid},
            "sig": bid["signature"],
        }
    )
    env = open_envelope(frame)
    signed = env.bound_bid()
    assert signed.value.segments[0].energy_kwh == 2.0
    assert signed.data == rfc8785.dumps(bid)
    assert signed.signed_bytes == text


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


@settings(max_examples=200, deadline=None)
@given(
    seq=st.none() | st.integers(0, MAX_SAFE_INTEGER),
    body=st.dictionaries(st.text(max_size=8), st.text() | st.integers(-(2**53) + 1, 2**53 - 1)),
)
def test_replies_are_the_rfc8785_bytes_of_what_they_say(seq: int | None, body: dict) -> None:
    """Replies are written around their body's bytes (``_reply``): the same bytes as the
    whole reply encoded, whatever the body and ``re``."""
    assert ack(seq, body) == canonical_bytes(
        {"v": PROTOCOL_VERSION, "type": "ack", "re": seq, "body": body}
    )
    refusal = {"code": "replay", "message": "seq 4 \u00e9", "last_seq": seq}
    assert reject(seq, "replay", "seq 4 \u00e9", last_seq=seq) == canonical_bytes(
        {"v": PROTOCOL_VERSION, "type": "reject", "re": seq, "body": refusal}
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_decoding_random_bytes_only_raises_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        open_envelope(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
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
    try:
        data = canonical_bytes(obj)
    except (TypeError, ValueError):
        data = json.dumps(obj).encode()
    with pytest.raises(InvalidInput):
        open_envelope(data)


METER = Meter(KeyPair.derive("test", "meter"), KEY.public_hex)
_READING = METER.read("2026-06-22T10:00Z", pv_kwh=1.5, load_kwh=0.25)
_FRAMES = [
    seal_bid(_bid()),
    seal(KEY, MessageType.HEARTBEAT, 1, {}),
    seal(KEY, MessageType.READING, 2, {"reading": json.loads(_READING.model_dump_json())}),
    seal(KEY, MessageType.BIDS, 3, {"bids": [json.loads(_bid(3).wire())]}),
]


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(_FRAMES),
    st.binary(min_size=0, max_size=8),
    st.integers(min_value=0),
    st.integers(min_value=0, max_value=8),
)
def test_every_byte_mutation_is_refused_and_never_crashes(
    good: bytes, noise: bytes, where: int, cut: int
) -> None:
    """Splice ``noise`` over ``cut`` bytes anywhere: unless the bytes are unchanged, the
    frame is refused, with ``InvalidInput`` and nothing else (parts included)."""
    at = where % (len(good) + 1)
    mutated = good[:at] + noise + good[at + cut :]
    if mutated == good:
        return
    with pytest.raises(InvalidInput):
        _accept(mutated)


def _accept(frame: bytes) -> None:
    """Everything the operator checks before it acts on a frame's signed content."""
    env = open_envelope(frame)
    for index in range(len(env.parts)):  # a batch's own bids: the market checks them
        signed = env.part(Bid, "bid", index)
        if not verify(signed.value.participant, signed.signed_bytes, signed.value.signature):
            raise InvalidInput("bid signature", code="bad-signature")
    if env.type is MessageType.READING:
        signed = env.part(MeterReading, "reading")
        if not verify(signed.value.meter, signed.signed_bytes, signed.value.signature):
            raise InvalidInput("meter signature", code="bad-signature")


_numbers = (
    st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([2.0, -0.0, 1e-7, 1e21, 1e16, 2.0**53, 2**53, 2**53 + 1, 0.1])
)
_keys = st.text(st.sampled_from("aZ_\u00e9\ue000\U0001f600"), max_size=3)
_bodies = st.dictionaries(
    _keys,
    st.recursive(
        st.none() | st.booleans() | _numbers | st.text(max_size=4),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
        max_leaves=8,
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(_bodies)
def test_a_frame_is_taken_exactly_when_it_is_its_rfc8785_form(body: dict[str, Any]) -> None:
    """Python's own JSON spelling (key-sorted, compact, ``repr`` floats), which the
    decoder's fast path compares with, must pass only where it is RFC 8785's (voisin's
    encoder, checked against an independent implementation, rfc8785)."""
    frame = {
        "v": PROTOCOL_VERSION,
        "type": "heartbeat",
        "sender": KEY.public_hex,
        "seq": 3,
        "body": body,
        "sig": "ab" * 64,
    }
    try:
        canonical: bytes | None = canonical_bytes(frame)
    except ValueError:  # an integer beyond 2^53 that no double writes: no canonical form
        canonical = None
    try:
        assert rfc8785.dumps(frame) == canonical
    except rfc8785.CanonicalizationError:  # it refuses 2^53 too, which voisin writes
        pass
    python = json.dumps(frame, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for variant in {canonical, python.encode()} - {None}:
        if variant == canonical:
            assert parse_envelope(variant).raw == variant
        else:
            with pytest.raises(InvalidInput) as refused:
                parse_envelope(variant)
            assert refused.value.code == "malformed"
