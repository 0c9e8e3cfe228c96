"""Two members on a two-bus feeder, signing their own bids and meter readings: the
operator tests' cast (the ``market`` fixture in conftest builds an operator for them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from voisin.errors import VoisinError
from voisin.protocol import (
    Bid,
    Grid,
    Interval,
    KeyPair,
    Line,
    MeterReading,
    Participant,
    ParticipantKind,
    Segment,
    Side,
    Tariff,
    canonical_bytes,
)

T0 = Interval(start=datetime(2026, 6, 21, 12, 0, tzinfo=UTC))
T1 = Interval(start=datetime(2026, 6, 21, 12, 15, tzinfo=UTC))
TARIFF = Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08)
GRID = Grid(
    root="TR",
    buses=("TR", "F1"),
    lines=(Line(from_bus="TR", to_bus="F1", capacity_kwh=10),),
    import_price_eur_per_kwh=0.28,
    export_price_eur_per_kwh=0.08,
)


class Member:
    def __init__(self, name: str, bus: str) -> None:
        self.key = KeyPair.derive("test", name)
        self.meter = KeyPair.derive("test", name, "meter")
        self.participant = Participant(
            participant_id=self.key.public_hex,
            kind=ParticipantKind.HOUSEHOLD,
            group="test",
            bus=bus,
            tariff=TARIFF,
            meter_id=self.meter.public_hex,
        )
        self.seq = 0

    def bid(
        self,
        side: Side,
        kwh: float,
        price: float,
        interval: Interval = T0,
        seq: int | None = None,
        bid_id: str = "",
    ) -> Bid:
        self.seq = self.seq + 1 if seq is None else seq
        unsigned = Bid(
            bid_id=bid_id or f"{interval.id}/{self.key.public_hex[:8]}/{self.seq}",
            participant=self.key.public_hex,
            bus=self.participant.bus,
            interval=interval.id,
            side=side,
            segments=(Segment(energy_kwh=kwh, price_eur_per_kwh=price),),
            seq=self.seq,
        )
        sig = self.key.sign(canonical_bytes(unsigned.unsigned()))
        return unsigned.model_copy(update={"signature": sig})

    def reading(
        self,
        export_kwh: float,
        import_kwh: float,
        interval: Interval = T0,
        meter: KeyPair | None = None,
    ) -> MeterReading:
        meter = meter or self.meter
        r = MeterReading(
            meter=meter.public_hex,
            participant=self.key.public_hex,
            interval=interval.id,
            pv_kwh=export_kwh,
            load_kwh=import_kwh,
            import_kwh=import_kwh,
            export_kwh=export_kwh,
        )
        return r.model_copy(update={"signature": meter.sign(r.signed_bytes())})


def code_of(fn, *args) -> str:
    """The code of the ``VoisinError`` that ``fn(*args)`` raises."""
    with pytest.raises(VoisinError) as err:
        fn(*args)
    return err.value.code
