"""Signed parts: what a signature covers is cut from the bytes received, never re-encoded."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.meters.meter import Meter
from voisin.protocol import Bid, KeyPair, MeterReading, Segment, Side, canonical_bytes, verify
from voisin.protocol.envelope import sign_bid
from voisin.protocol.signed import Signed, decode_part

KEY = KeyPair.derive("test", "signed")


@pytest.mark.parametrize("model", [Bid, MeterReading])
def test_signature_is_the_last_member(model: type) -> None:
    """The cut in ``Signed.signed_bytes`` relies on it: RFC 8785 writes it last."""
    assert sorted(model.model_fields, key=lambda k: k.encode("utf-16-be"))[-1] == "signature"


_kwh = st.floats(min_value=0.001, max_value=1000, allow_nan=False)
_price = st.floats(min_value=-0.5, max_value=1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_kwh, _price), min_size=1, max_size=4),
    st.booleans(),
    st.integers(0, 2**53 - 1),
    st.text(min_size=1, max_size=20),
)
def test_signed_bytes_are_the_unsigned_canonical_form(
    segments: list[tuple[float, float]], green: bool, seq: int, bus: str
) -> None:
    bid = sign_bid(
        KEY,
        Bid(
            bid_id="b",
            participant=KEY.public_hex,
            bus=bus,
            interval="i",
            side=Side.BUY,
            green_only=green,
            segments=tuple(Segment(energy_kwh=e, price_eur_per_kwh=p) for e, p in segments),
        ),
        seq,
    )
    signed = Signed.of(bid)
    assert signed.signed_bytes == canonical_bytes(bid.unsigned())
    assert verify(KEY.public_hex, signed.signed_bytes, bid.signature)
    again = decode_part(Bid, json.loads(signed.data), signed.data, "bid")
    assert again.value == bid
    # what an agent hands on: the bytes it signed with the signature appended, which are
    # byte for byte what encoding the signed bid gives
    handed = Signed.signed_by(bid, KEY)
    assert handed == signed
    assert verify(KEY.public_hex, handed.signed_bytes, handed.value.signature)


def test_a_reading_signs_its_public_bytes() -> None:
    """The meter signs the public form, which commits to the whole reading by hash: the
    ledger's stored bytes minus the signature are what the signature covers."""
    reading = Meter(KEY, "p").read("2026-06-22T10:00Z", pv_kwh=2.0, load_kwh=0.5)
    assert b'"pv_kwh":2,' in Signed.of(reading).data
    public = Signed.of(reading.public())
    assert b"pv_kwh" not in public.data
    assert b"load_kwh" not in public.data
    assert verify(KEY.public_hex, public.signed_bytes, reading.signature)
    assert public.signed_bytes == reading.signed_bytes()
    assert (
        reading.public().reading_hash
        == hashlib.sha256(canonical_bytes(reading.unsigned())).hexdigest()
    )
    assert not verify(KEY.public_hex, Signed.of(reading).signed_bytes, reading.signature)


@pytest.mark.parametrize(
    ("obj", "code"),
    [
        (
            {
                "bid_id": "b",
                "participant": "p",
                "bus": "A",
                "interval": "i",
                "side": "buy",
                "segments": [{"energy_kwh": -1, "price_eur_per_kwh": 0.1}],
                "preferred": [],
                "seq": 1,
                "signature": "",
            },
            "invalid-input",
        ),
        (
            {
                "bid_id": "b",
                "participant": "p",
                "bus": "A",
                "interval": "i",
                "side": "buy",
                "segments": [{"energy_kwh": 1, "price_eur_per_kwh": 0.1}],
                "seq": 1,
                "signature": "",
            },
            "malformed",
        ),
        (
            {
                "bid_id": "b",
                "participant": "p",
                "bus": "A",
                "interval": "i",
                "side": "buy",
                "segments": [{"energy_kwh": 1, "price_eur_per_kwh": 0.1, "x": 1}],
                "preferred": [],
                "seq": 1,
                "signature": "",
            },
            "malformed",
        ),
        (
            {
                "bid_id": "b",
                "participant": "p",
                "bus": "A",
                "interval": "i",
                "side": "buy",
                "segments": [{"energy_kwh": 1, "price_eur_per_kwh": 0.1}],
                "preferred": [],
                "seq": "1",
                "signature": "",
            },
            "malformed",
        ),
    ],
)
def test_decode_part_codes(obj: dict, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_part(Bid, obj, canonical_bytes(obj), "bid")
    assert caught.value.code == code
