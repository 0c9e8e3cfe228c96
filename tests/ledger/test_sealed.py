"""The sealed file's boxes: one length per kind of record, whatever is inside, and each
opens to exactly what was sealed (docs/privacy.md, "The sealed file")."""

from __future__ import annotations

import base64
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import SealedBox

from voisin.errors import InvalidInput
from voisin.ledger.sealed import (
    SEALED_BYTES,
    SealedRecord,
    SealedStore,
    open_links,
    open_readings,
    records,
)
from voisin.meters.meter import signed_reading
from voisin.protocol import KeyPair, MeterReading
from voisin.protocol.encoding import number_text
from voisin.protocol.participants import PseudonymLink
from voisin.protocol.sealing import curve_public

BOX_OVERHEAD = 48
"""A sealed box is its plaintext and 48 bytes: the ephemeral key and the MAC."""
LONGEST_NUMBER = 25
"""The most characters RFC 8785 writes for a double: ``-0.0000012345678901234567``."""
LONGEST = -1.2345678901234567e-6
MEMBER, METER, OPERATOR = (KeyPair.derive("sealed", n) for n in ("member", "meter", "operator"))

kwh = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
signed_kwh = st.floats(allow_nan=False, allow_infinity=False)
interval_ids = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31)).map(
    lambda t: t.strftime("%Y-%m-%dT%H:%MZ")
)


@st.composite
def meter_readings(draw: st.DrawFn) -> MeterReading:
    """Readings of every shape a meter sends: any finite kWh (a few Wh or a plant's
    MWh), registers or none, a nonce of any allowed length or none, estimated or not."""
    nonce = draw(st.none() | st.integers(32, 128).map(lambda n: "ab" * (n // 2) + "c" * (n % 2)))
    registers = draw(st.booleans())
    return MeterReading(
        meter=METER.public_hex,
        participant=MEMBER.public_hex,
        interval=draw(interval_ids),
        pv_kwh=draw(kwh),
        load_kwh=draw(kwh),
        battery_kwh=draw(signed_kwh),
        import_kwh=draw(kwh),
        export_kwh=draw(kwh),
        estimated=draw(st.booleans()),
        import_register_kwh=draw(kwh) if registers else None,
        export_register_kwh=draw(kwh) if registers else None,
        nonce=nonce,
    )


def _box_lengths(path: Path) -> set[tuple[str, int]]:
    return {(r.kind, len(base64.b64decode(r.sealed))) for r in records(path)}


@settings(max_examples=30, deadline=None)
@given(st.lists(meter_readings(), min_size=1, max_size=6))
def test_every_sealed_reading_is_one_length_and_opens_to_itself(
    readings: list[MeterReading],
) -> None:
    """And no number in them is longer than ``LONGEST``, which ``SEALED_BYTES`` rests on."""
    numbers = [v for r in readings for v in r.model_dump().values() if isinstance(v, float)]
    assert max(len(number_text(v)) for v in numbers) <= LONGEST_NUMBER == len(number_text(LONGEST))
    signed = [signed_reading(r, METER) for r in readings]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sealed.jsonl"
        SealedStore(path, OPERATOR.public_hex).add_readings(signed)
        assert _box_lengths(path) == {("reading", SEALED_BYTES["reading"] + BOX_OVERHEAD)}
        assert open_readings(path, MEMBER) == [s.value for s in signed]


@st.composite
def links(draw: st.DrawFn) -> tuple[KeyPair, PseudonymLink]:
    member = KeyPair.derive("sealed", draw(st.text(min_size=1, max_size=8)))
    day = datetime.strptime(draw(interval_ids), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    link = PseudonymLink(
        member=member.public_hex,
        member_meter=KeyPair.derive("meter", member.public_hex).public_hex,
        pseudonym=KeyPair.derive("day", member.public_hex, day.isoformat()).public_hex,
        meter=KeyPair.derive("day-meter", member.public_hex, day.isoformat()).public_hex,
        valid_from=day.strftime("%Y-%m-%dT%H:%MZ"),
        valid_until=(day + timedelta(days=draw(st.integers(1, 3)))).strftime("%Y-%m-%dT%H:%MZ"),
    )
    return member, link.signed_by(member)


@settings(max_examples=20, deadline=None)
@given(st.lists(links(), min_size=1, max_size=4))
def test_every_sealed_link_is_one_length_and_opens_to_itself(
    made: list[tuple[KeyPair, PseudonymLink]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sealed.jsonl"
        SealedStore(path, OPERATOR.public_hex).add_links(link for _, link in made)
        assert _box_lengths(path) == {("link", SEALED_BYTES["link"] + BOX_OVERHEAD)}
        assert open_links(path, OPERATOR) == [link for _, link in made]
        for member, link in made:
            assert link in open_links(path, member)


def test_the_longest_valid_reading_fits_and_a_longer_one_is_refused(tmp_path: Path) -> None:
    """Every number at its longest, both registers, the longest nonce: 768 bytes, sealed
    to the same length as the shortest. A record that does not fit is refused before
    anything is written, never sealed to a length of its own."""
    longest = MeterReading(
        meter=METER.public_hex,
        participant=MEMBER.public_hex,
        interval="2026-06-22T12:00Z",
        pv_kwh=-LONGEST,
        load_kwh=-LONGEST,
        battery_kwh=LONGEST,
        import_kwh=-LONGEST,
        export_kwh=-LONGEST,
        import_register_kwh=-LONGEST,
        export_register_kwh=-LONGEST,
        nonce="f" * 128,
    )
    signed = signed_reading(longest, METER)
    assert len(signed.data) == 768 < SEALED_BYTES["reading"]
    shortest = signed_reading(longest.model_copy(update={"pv_kwh": 0.0, "nonce": None}), METER)
    store = SealedStore(tmp_path / "sealed.jsonl", OPERATOR.public_hex)
    store.add_readings([signed, shortest])
    assert _box_lengths(store.path) == {("reading", SEALED_BYTES["reading"] + BOX_OVERHEAD)}

    store.owners["x" * 300] = MEMBER.public_hex  # a pseudonym no real key is as long as
    too_long = signed_reading(longest.model_copy(update={"participant": "x" * 300}), METER)
    before = store.path.read_bytes()
    with pytest.raises(InvalidInput) as refused:
        store.add_readings([shortest, too_long])
    assert refused.value.code == "record-too-large"
    assert store.path.read_bytes() == before  # not the shortest either: no half a batch


def test_a_record_sealed_before_padding_still_opens(tmp_path: Path) -> None:
    """A version-1 file (boxes of the bare bytes) opens as it did; a version-2 box that
    opens but is not padded is damaged, and said so, not skipped as someone else's."""
    signed = signed_reading(
        MeterReading(
            meter=METER.public_hex,
            participant=MEMBER.public_hex,
            interval="2026-06-22T12:00Z",
            pv_kwh=1.5,
            load_kwh=0.5,
            import_kwh=0.0,
            export_kwh=1.0,
        ),
        METER,
    )
    bare = SealedBox(curve_public(MEMBER.public_hex)).encrypt(signed.data)
    for version in (1, 2):
        record = SealedRecord(
            version=version,
            kind="reading",
            participant=MEMBER.public_hex,
            interval=signed.value.interval,
            reading_hash=signed.value.commitment(),
            sealed=base64.b64encode(bare).decode("ascii"),
        )
        path = tmp_path / f"v{version}.jsonl"
        path.write_text(record.model_dump_json() + "\n", encoding="utf-8")
        assert open_readings(path, OPERATOR) == []  # another key's: skipped
        if version == 1:
            assert open_readings(path, MEMBER) == [signed.value]
        else:
            with pytest.raises(InvalidInput) as damaged:
                open_readings(path, MEMBER)
            assert damaged.value.code == "bad-padding"
