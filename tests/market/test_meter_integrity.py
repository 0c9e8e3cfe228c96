"""Meter integrity at the operator: one reading per meter and interval, physics, registers.

The readings the issue found acknowledged (a second and third reading for one interval,
``pv 0, load 0, export 50``, ``pv = export = 1e308``) are each refused with a code and
counted; an identical resend is accepted again; every estimate is flagged.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.errors import InvalidInput
from voisin.meters import Meter
from voisin.protocol import KeyPair, MeterReading, Side, canonical_bytes
from voisin.protocol.reading_checks import reading_fault

from .members import T0, T1, code_of


def _signed(
    meter: KeyPair, participant: str, interval: str = T0.id, **values: float
) -> MeterReading:
    fields = {"pv_kwh": 0.0, "load_kwh": 0.0, "import_kwh": 0.0, "export_kwh": 0.0, **values}
    r = MeterReading(meter=meter.public_hex, participant=participant, interval=interval, **fields)
    return r.model_copy(update={"signature": meter.sign(r.signed_bytes())})


@pytest.fixture
def cleared(market):
    op, seller, buyer, path = market
    op.submit_bid(seller.bid(Side.SELL, 2.0, 0.10), T0)
    op.submit_bid(buyer.bid(Side.BUY, 3.0, 0.25), T0)
    op.close_gate(T0)
    return op, seller, buyer


def test_one_reading_per_meter_and_interval(cleared) -> None:
    op, seller, _ = cleared
    first = seller.reading(export_kwh=2.0, import_kwh=0.0)
    op.submit_reading(first)
    op.submit_reading(first)  # a resend after a lost ack: same bytes, same outcome
    second = seller.reading(export_kwh=1.5, import_kwh=0.0)
    assert code_of(op.submit_reading, second) == "duplicate-reading"
    third = seller.reading(export_kwh=3.0, import_kwh=0.0)
    assert code_of(op.submit_reading, third) == "duplicate-reading"
    assert op.rejections.by_code == {"duplicate-reading": 2}
    by_id = {s.participant: s for s in op.settle(T0)}
    assert by_id[seller.key.public_hex].metered_net_kwh == 2.0  # the first one counts


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"export_kwh": 50.0}, "export-without-source"),
        ({"pv_kwh": 1e308, "export_kwh": 1e308}, "beyond-rating"),
        ({"pv_kwh": 150.0, "export_kwh": 150.0}, "beyond-rating"),
        (
            {"pv_kwh": 1.0, "load_kwh": 1.0, "import_kwh": 2.0, "export_kwh": 2.0},
            "import-and-export",
        ),
        ({"pv_kwh": 3.0, "export_kwh": 1.0}, "unbalanced-reading"),
        ({"battery_kwh": -2.0, "pv_kwh": 1.0, "export_kwh": 1.0}, "unbalanced-reading"),
    ],
)
def test_readings_beyond_physics_are_refused(cleared, values: dict[str, float], code: str) -> None:
    op, seller, _ = cleared
    reading = _signed(seller.meter, seller.key.public_hex, **values)
    assert code_of(op.submit_reading, reading) == code
    assert op.rejections.by_code == {code: 1}
    # Nothing was taken: the real reading still gets in.
    op.submit_reading(seller.reading(export_kwh=2.0, import_kwh=0.0))


def test_a_battery_discharge_may_be_exported(cleared) -> None:
    op, seller, _ = cleared
    op.submit_reading(_signed(seller.meter, seller.key.public_hex, battery_kwh=2.0, export_kwh=2.0))


def test_foreign_meters_unknown_keys_and_closed_intervals(cleared) -> None:
    op, seller, _ = cleared
    stranger = KeyPair.derive("test", "stranger")
    assert (
        code_of(op.submit_reading, _signed(stranger, stranger.public_hex)) == "unknown-participant"
    )
    assert code_of(op.submit_reading, _signed(stranger, seller.key.public_hex)) == "unknown-meter"
    assert code_of(op.submit_reading, seller.reading(1.0, 0.0, interval=T1)) == "readings-closed"
    op.settle(T0)
    assert code_of(op.submit_reading, seller.reading(2.0, 0.0)) == "readings-closed"


def test_cumulative_registers_never_run_backwards(market) -> None:
    op, seller, buyer, _ = market
    for interval in (T0, T1):
        op.submit_bid(seller.bid(Side.SELL, 1.0, 0.10, interval=interval), interval)
        op.close_gate(interval)
    who = seller.key.public_hex
    later = _signed(
        seller.meter,
        who,
        T1.id,
        pv_kwh=1.0,
        export_kwh=1.0,
        export_register_kwh=100.0,
        import_register_kwh=7.0,
    )
    op.submit_reading(later)  # out of order: T1's reading before T0's
    backwards = _signed(
        seller.meter,
        who,
        T0.id,
        pv_kwh=1.0,
        export_kwh=1.0,
        export_register_kwh=100.5,
        import_register_kwh=7.0,
    )
    assert code_of(op.submit_reading, backwards) == "register-decreased"
    op.submit_reading(
        _signed(
            seller.meter,
            who,
            T0.id,
            pv_kwh=1.0,
            export_kwh=1.0,
            export_register_kwh=99.0,
            import_register_kwh=7.0,
        )
    )
    settled = op.settle(T0)
    assert {s.estimated for s in settled if s.participant == buyer.key.public_hex} == {True}


def test_a_reading_without_registers_keeps_its_old_bytes() -> None:
    """The optional registers are left out of the signed form when absent, so readings
    signed before they existed verify as before."""
    reading = Meter(KeyPair.derive("m"), "p").read(T0.id, 1.0, 0.5)
    assert b"register" not in canonical_bytes(reading.unsigned())
    with_registers = reading.model_copy(update={"export_register_kwh": 3.0})
    assert b'"export_register_kwh":3' in canonical_bytes(with_registers.unsigned())


@settings(max_examples=80, deadline=None)
@given(pv=st.floats(0, 30), load=st.floats(0, 30), battery=st.floats(-10, 10))
def test_every_reading_a_meter_signs_passes_the_checks(
    pv: float, load: float, battery: float
) -> None:
    """The meter and the operator share one rule: whatever a meter measures within its
    rating is taken."""
    reading = Meter(KeyPair.derive("prop"), "p").read(T0.id, pv, load, battery)
    assert reading_fault(reading, 100.0) is None


def test_the_checks_refuse_with_invalid_input() -> None:
    fault = reading_fault(
        MeterReading(
            meter="m",
            participant="p",
            interval=T0.id,
            pv_kwh=0,
            load_kwh=0,
            import_kwh=0,
            export_kwh=50,
        )
    )
    assert isinstance(fault, InvalidInput)
    assert fault.code == "export-without-source"
