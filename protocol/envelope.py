"""The signed envelope every request travels in, the operator's replies, and replay rules.

A request is one ZeroMQ frame: the RFC 8785 bytes of ``{"v", "type", "sender", "seq",
"body", "sig"}``, and nothing else: a frame that is not exactly the canonical form of
what it decodes to is ``malformed``. ``sig`` is the sender's Ed25519 signature over the
same bytes without the ``sig`` member, cut from the frame as received, never re-encoded.
Bids are self-signed: a ``bid`` envelope carries the bid's own signature (over the
bid's bytes without its last, ``signature`` member, which include its sender and
``seq``), so the operator checks one signature per bid. Replies and events are not
signed: CurveZMQ already proves they come from the pinned operator key, and blocks
inside them carry the operator's signature. Decoding never raises anything but
``InvalidInput`` with a code, whatever the bytes.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voisin.errors import InvalidInput
from voisin.protocol.bids import Bid
from voisin.protocol.encoding import (
    MAX_SAFE_INTEGER,
    canonical_bytes,
    number_text,
    plain_json,
    plain_text,
)
from voisin.protocol.keys import KeyPair, verify
from voisin.protocol.signed import Signed, decode_part
from voisin.protocol.wire import (
    MAX_BATCH_BIDS,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    MessageType,
    ReplyType,
)

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_FIELDS = frozenset({"v", "type", "sender", "seq", "body", "sig"})
MAX_SEQ = MAX_SAFE_INTEGER
_TYPES = {t.value: t for t in MessageType}
"""Message types by name: a dict look-up, not an enum call (1-2 us) per request."""
_PART = {MessageType.BID: "bid", MessageType.READING: "reading"}
"""Types whose body is one self-signed part: ``{"<name>": {...}}``."""


def _loads_plain(data: bytes) -> tuple[Any, bool]:
    """The frame's JSON (NaN and infinities refused), and whether ``plain_text`` may
    stand in for ``canonical_bytes`` on it (``plain_json``): the C encoder's work on
    the frames that pass, the Python encoder's on the rest. Any decoding failure
    becomes ``malformed``."""
    try:
        return plain_json(data.decode("utf-8"))
    except (ValueError, RecursionError, TypeError):
        raise InvalidInput("message is not UTF-8 JSON", code="malformed") from None


def _plain_bytes(value: Any) -> bytes:
    return plain_text(value).encode()


def _sig_member(sig: str) -> bytes:
    return b',"sig":"' + sig.encode() + b'"'


def _tail(type_: str) -> bytes:
    return b',"type":"' + type_.encode() + b'","v":' + str(PROTOCOL_VERSION).encode() + b"}"


def _frame(body: bytes, type_: str, sender: str, seq: int, sig: str | None) -> bytes:
    """An envelope's RFC 8785 bytes from its body's: the members are fixed ASCII names,
    so their order is ``body sender seq sig type v``. Without ``sig``: the signed bytes."""
    head = b'{"body":' + body + b',"sender":"' + sender.encode() + b'","seq":' + str(seq).encode()
    return head + (_sig_member(sig) if sig is not None else b"") + _tail(type_)


@dataclass(frozen=True)
class Envelope:
    """A decoded request. ``raw`` is the frame it came in (canonical, checked);
    ``parts`` are the canonical bytes of its self-signed parts, cut from ``raw``: the
    bid or reading of a ``bid``/``reading`` request, each bid of a ``bids`` batch."""

    version: int
    type: MessageType
    sender: str
    seq: int
    body: dict[str, Any]
    signature: str
    raw: bytes = b""
    parts: tuple[bytes, ...] = ()

    def signed_bytes(self) -> bytes:
        """What ``sig`` covers: the received frame with its ``sig`` member cut out."""
        tail = _tail(self.type.value)
        cut = len(self.raw) - len(tail) - len(_sig_member(self.signature))
        return self.raw[:cut] + tail

    def check_signature(self) -> None:
        """Raise ``bad-signature`` unless ``sender`` signed these exact bytes (for a bid:
        unless the bid is bound to this envelope and its own signature verifies)."""
        if self.type is MessageType.BID:
            message = self.bound_bid().signed_bytes
        else:
            message = self.signed_bytes()
        if not verify(self.sender, message, self.signature):
            raise InvalidInput("envelope signature does not verify", code="bad-signature")

    def part(self, model: builtins.type[Any], what: str, index: int = 0) -> Signed[Any]:
        """Self-signed part ``index`` decoded strictly, with its exact bytes."""
        items: Any = (
            self.body.get("bids")
            if self.type is MessageType.BIDS
            else [self.body[_PART[self.type]]]
        )
        return decode_part(model, items[index], self.parts[index], what)

    def bound_bid(self) -> Signed[Bid]:
        """The bid of a ``bid`` envelope, checked to be self-signed: its participant is the
        sender, its ``seq`` the envelope's and its signature the envelope's ``sig``.

        A bid's own signature already covers its sender and sequence number, so the
        envelope reuses it and the operator checks one signature per bid, not two. This
        checks the binding only; the signature itself is verified by ``check_signature``
        or by the market core, over ``Signed.signed_bytes``.
        """
        signed = self.part(Bid, "bid")
        bid = signed.value
        if bid.participant != self.sender:
            raise InvalidInput(
                "a bid must be sent by its own participant", code="wrong-participant"
            )
        if bid.seq != self.seq or bid.signature != self.signature:
            raise InvalidInput(
                "a bid envelope must carry the bid's seq and signature", code="bad-signature"
            )
        return signed


def seal(key: KeyPair, type_: MessageType, seq: int, body: dict[str, Any]) -> bytes:
    """Sign ``body`` as ``key``'s request number ``seq``; the bytes to send (not bids:
    use ``seal_bid``)."""
    data = canonical_bytes(body)
    signature = key.sign(_frame(data, type_.value, key.public_hex, seq, None))
    return _frame(data, type_.value, key.public_hex, seq, signature)


def seal_bid(bid: Bid) -> bytes:
    """The envelope of a signed bid: ``seq`` and ``sig`` are the bid's own."""
    return _frame(
        b'{"bid":' + bid.wire() + b"}",
        MessageType.BID.value,
        bid.participant,
        bid.seq,
        bid.signature,
    )


def sign_bid(key: KeyPair, bid: Bid, seq: int) -> Bid:
    """``bid`` as request number ``seq`` of ``key``, signed."""
    stamped = bid.model_copy(update={"seq": seq, "signature": ""})
    return stamped.model_copy(update={"signature": key.sign(canonical_bytes(stamped.unsigned()))})


def _body_bytes(
    type_: MessageType, body: dict[str, Any], encode: Callable[[Any], bytes] = canonical_bytes
) -> tuple[bytes, tuple[bytes, ...]]:
    """The body's canonical bytes and its self-signed parts' (one encode of each)."""
    if type_ is MessageType.BIDS:
        items = body.get("bids")
        if (
            set(body) != {"bids"}
            or not isinstance(items, list)
            or not (1 <= len(items) <= MAX_BATCH_BIDS)
        ):
            raise InvalidInput(
                f'a bids body is {{"bids": [1 to {MAX_BATCH_BIDS} bids]}}', code="bad-batch"
            )
        parts = tuple(encode(item) for item in items)
        return b'{"bids":[' + b",".join(parts) + b"]}", parts
    name = _PART.get(type_)
    if name is None:
        return encode(body), ()
    if set(body) != {name} or not isinstance(body[name], dict):
        raise InvalidInput(f'a {type_.value} body is {{"{name}": {{...}}}}', code="malformed")
    part = encode(body[name])
    return b'{"' + name.encode() + b'":' + part + b"}", (part,)


def parse_envelope(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Envelope:
    """Check the shape of a request (not yet its signature); cheap checks first.

    The frame must be exactly the RFC 8785 form of what it decodes to. Codes:
    ``too-big``, ``malformed``, ``wrong-version``, ``unknown-type``, ``bad-batch``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput("message is not bytes", code="malformed")
    if len(data) > max_bytes:
        raise InvalidInput(f"message of {len(data)} bytes exceeds {max_bytes}", code="too-big")
    data = bytes(data)
    obj, plain = _loads_plain(data)
    if not isinstance(obj, dict):
        raise InvalidInput("message is not a JSON object", code="malformed")
    version = obj.get("v")
    if type(version) is not int:
        raise InvalidInput("message has no protocol version", code="malformed")
    if version != PROTOCOL_VERSION:
        raise InvalidInput(
            f"protocol version {version} is not {PROTOCOL_VERSION}", code="wrong-version"
        )
    if set(obj) != _FIELDS:
        raise InvalidInput(f"envelope fields must be exactly {sorted(_FIELDS)}", code="malformed")
    type_ = _TYPES.get(obj["type"]) if obj["type"].__class__ is str else None
    if type_ is None:
        raise InvalidInput(f"unknown message type {str(obj['type'])[:32]!r}", code="unknown-type")
    sender, seq, body, sig = obj["sender"], obj["seq"], obj["body"], obj["sig"]
    if not isinstance(sender, str) or not _HEX64.fullmatch(sender):
        raise InvalidInput("sender must be 64 lower-case hex digits", code="malformed")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise InvalidInput("seq must be an integer in [0, 2^53)", code="malformed")
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object", code="malformed")
    if not isinstance(sig, str) or not _HEX128.fullmatch(sig):
        raise InvalidInput("sig must be 128 lower-case hex digits", code="malformed")
    try:
        body_bytes, parts = _body_bytes(type_, body, _plain_bytes if plain else canonical_bytes)
        canonical = _frame(body_bytes, type_.value, sender, seq, sig) == data
        if plain and not canonical:  # the C encoder's bytes differ: decide exactly
            body_bytes, parts = _body_bytes(type_, body)
            canonical = _frame(body_bytes, type_.value, sender, seq, sig) == data
    except (TypeError, ValueError):
        raise InvalidInput("body is not canonical JSON", code="malformed") from None
    if not canonical:
        raise InvalidInput(
            "message is not in RFC 8785 canonical form (member order, white "
            "space, number or string spelling)",
            code="malformed",
        )
    return Envelope(version, type_, sender, seq, body, sig, data, parts)


def open_envelope(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Envelope:
    """``parse_envelope`` and the signature check: a request ready for the application."""
    envelope = parse_envelope(data, max_bytes=max_bytes)
    envelope.check_signature()
    return envelope


@dataclass(frozen=True)
class Reply:
    """The operator's answer to request ``re`` (None if the request was unreadable)."""

    type: ReplyType
    re: int | None
    body: dict[str, Any]
    code: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.type is ReplyType.ACK


def _reply(type_: ReplyType, seq: int | None, body: dict[str, Any]) -> bytes:
    """A reply's RFC 8785 bytes from its body's: as in ``_frame``, the members are fixed
    ASCII names (``body re type v``), so only the body is encoded, once per reply."""
    re_ = b"null" if seq is None else number_text(seq).encode()
    return b'{"body":' + canonical_bytes(body) + b',"re":' + re_ + _REPLY_TAILS[type_]


_REPLY_TAILS = {
    t: b',"type":"' + t.value.encode() + b'","v":' + str(PROTOCOL_VERSION).encode() + b"}"
    for t in ReplyType
}


def ack(seq: int | None, body: dict[str, Any] | None = None) -> bytes:
    return _reply(ReplyType.ACK, seq, body or {})


def reject(seq: int | None, code: str, message: str, **extra: Any) -> bytes:
    """A refusal; ``extra`` adds fields a client can act on (``last_seq`` on a replay)."""
    return _reply(ReplyType.REJECT, seq, {"code": code, "message": message, **extra})


def decode_reply(data: bytes) -> Reply:
    """An operator reply; ``InvalidInput`` (``malformed``) if it is not one."""
    obj, _ = _loads_plain(data)
    try:
        type_ = ReplyType(obj["type"])
        body = obj["body"]
        re_ = obj["re"]
        if obj["v"] != PROTOCOL_VERSION or not isinstance(body, dict):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("reply is not an ack or a reject", code="malformed") from None
    if type_ is ReplyType.REJECT:
        return Reply(type_, re_, body, str(body.get("code", "")), str(body.get("message", "")))
    return Reply(type_, re_, body)


class ReplayGuard:
    """Per-sender sequence numbers: each request must carry a larger ``seq`` than the
    sender's last one. A byte-identical resend of the last request gets the same reply
    again (the first reply was lost); any other old ``seq`` is a replay."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, bytes, bytes]] = {}

    def check(self, envelope: Envelope) -> bytes | None:
        """The cached reply for a resend, None for a fresh request; raises ``replay``."""
        last = self._last.get(envelope.sender)
        if last is None or envelope.seq > last[0]:
            return None
        if envelope.seq == last[0] and envelope.raw == last[1]:
            return last[2]
        raise InvalidInput(
            f"seq {envelope.seq} is not above the last one ({last[0]})", code="replay"
        )

    def remember(self, envelope: Envelope, reply: bytes) -> None:
        self._last[envelope.sender] = (envelope.seq, envelope.raw, reply)

    def last_seq(self, sender: str) -> int | None:
        last = self._last.get(sender)
        return None if last is None else last[0]
