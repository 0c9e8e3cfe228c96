"""Signed meter readings: they verify, add up, and fail when touched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.meters import Meter, verify_reading
from voisin.meters.meter import curtailed_pv_kwh
from voisin.protocol import KeyPair, MeterReading
from voisin.protocol.encoding import canonical_bytes, sha256_hex

INTERVAL = "2026-06-21T12:00Z"


@pytest.fixture
def meter() -> Meter:
    return Meter(KeyPair.derive("test", "meter"), participant="household-1")


def test_export_reading_verifies_and_adds_up(meter: Meter) -> None:
    reading = meter.read(INTERVAL, pv_kwh=1.5, load_kwh=0.3, battery_kwh=-0.2)
    assert verify_reading(reading)
    assert reading.export_kwh == pytest.approx(1.0)
    assert reading.import_kwh == 0.0
    assert reading.meter == meter.meter_id


def test_import_reading(meter: Meter) -> None:
    reading = meter.read(INTERVAL, pv_kwh=0.0, load_kwh=0.4, battery_kwh=0.1)
    assert (reading.import_kwh, reading.export_kwh) == (pytest.approx(0.3), 0.0)
    assert verify_reading(reading)


@pytest.mark.parametrize(
    "change",
    [
        {"pv_kwh": 1.6},
        {"export_kwh": 1.1},
        {"interval": "2026-06-21T12:15Z"},
        {"participant": "household-2"},
        {"meter": KeyPair.derive("other").public_hex},
        {"signature": "00" * 64},
        {"estimated": True},
    ],
)
def test_tampered_reading_fails(meter: Meter, change: dict[str, object]) -> None:
    reading = meter.read(INTERVAL, pv_kwh=1.5, load_kwh=0.3, battery_kwh=-0.2)
    assert not verify_reading(reading.model_copy(update=change))


def test_reading_signed_by_another_key_fails(meter: Meter) -> None:
    reading = meter.read(INTERVAL, pv_kwh=1.0, load_kwh=0.2)
    forged = Meter(KeyPair.derive("forger"), "household-1").read(INTERVAL, 1.0, 0.2)
    assert not verify_reading(reading.model_copy(update={"signature": forged.signature}))


def test_bad_measurements_are_rejected(meter: Meter) -> None:
    with pytest.raises(InvalidInput):
        meter.read(INTERVAL, pv_kwh=float("nan"), load_kwh=0.1)
    with pytest.raises(InvalidInput):
        meter.read(INTERVAL, pv_kwh=-0.1, load_kwh=0.1)


@settings(max_examples=60, deadline=None)
@given(
    pv=st.floats(0.0, 10.0),
    load=st.floats(0.0, 10.0),
    battery=st.floats(-3.0, 3.0),
)
def test_any_reading_verifies_with_one_direction(pv: float, load: float, battery: float) -> None:
    reading: MeterReading = Meter(KeyPair.derive("prop"), "p").read(INTERVAL, pv, load, battery)
    assert verify_reading(reading)
    assert reading.import_kwh == 0.0 or reading.export_kwh == 0.0
    assert reading.net_export_kwh == pytest.approx(pv + battery - load, abs=0.002)


def test_a_curtailment_order_caps_the_export_by_hand() -> None:
    """PV 3, load 1 kWh: 2 kWh offered; 0.5 of it curtailed leaves 1.5 to export, so the
    inverter makes 2.5 kWh; an order beyond the offer leaves only the house's own load;
    without an order, or with a surplus already below the cap, all of the PV."""
    assert curtailed_pv_kwh(3.0, 1.0, 0.0, 2.0, 0.5) == pytest.approx(2.5)
    assert curtailed_pv_kwh(3.0, 1.0, 0.0, 2.0, 5.0) == pytest.approx(1.0)
    assert curtailed_pv_kwh(3.0, 1.0, 0.0, 2.0, 0.0) == 3.0
    assert curtailed_pv_kwh(2.0, 1.0, 0.0, 2.0, 0.5) == 2.0  # surplus 1 within the cap 1.5
    assert curtailed_pv_kwh(1.0, 1.0, 1.0, 2.0, 1.5) == pytest.approx(0.5)  # a battery's share


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0, 20, allow_nan=False),
    st.floats(0, 20, allow_nan=False),
    st.floats(-5, 5, allow_nan=False),
)
def test_the_bytes_sent_are_the_signed_readings_own(pv: float, load: float, battery: float) -> None:
    """``read_signed`` hands on the reading's one canonical encoding: the bytes a
    re-encoding of the reading gives, its commitment the hash of them less the
    signature, and the signature the meter's over the public form derived afresh."""
    meter = Meter(KeyPair.derive("test", "meter"), KeyPair.derive("test", "home").public_hex)
    signed = meter.read_signed("2026-06-22T12:00Z", pv, load, battery)
    reading = signed.value
    assert signed.data == canonical_bytes(reading)
    assert sha256_hex(signed.signed_bytes) == reading.commitment()
    assert reading.public(sha256_hex(signed.signed_bytes)) == reading.public()
    # what is signed is the public model's own unsigned bytes, though no model is built
    assert reading.signed_bytes() == canonical_bytes(reading.public().unsigned())
    assert reading.public_unsigned() == reading.public().unsigned()
    assert verify_reading(reading)
    assert meter.read("2026-06-22T12:00Z", pv, load, battery) == reading
