"""Meter integrity: which readings the operator takes, and the readings it holds.

A reading is settled against trades and earns green rewards, so the operator takes it
only from the meter registered for its participant, once per meter and interval (an
identical resend is harmless, a different second reading is refused), within the
meter's rating and the physics of one interval (``protocol.reading_checks``), and with
cumulative registers, where the meter reports them, that never run backwards.
"""

from __future__ import annotations

from collections import defaultdict

from voisin.errors import InvalidInput
from voisin.market.recovery import Registers
from voisin.protocol import MeterReading, PublicReading, Registration
from voisin.protocol.interval import DEFAULT_MINUTES
from voisin.protocol.reading_checks import reading_fault
from voisin.protocol.signed import Signed


class MeterBook:
    """Registered meters, readings held until their interval settles, and registers."""

    def __init__(self, max_kwh: float) -> None:
        self.max_kwh = max_kwh
        self._meters: dict[str, str] = {}
        self._held: dict[str, dict[str, Signed[MeterReading]]] = defaultdict(dict)
        self._public: dict[str, dict[str, Signed[PublicReading]]] = defaultdict(dict)
        """Each held reading's public form with its bytes, made once at intake: what the
        meter signed and what the ledger stores."""
        self._registers: dict[str, dict[str, Registers]] = defaultdict(dict)

    def register(self, participant: Registration) -> None:
        self._meters[participant.participant_id] = participant.meter_id

    def restore(self, registers: dict[str, dict[str, Registers]]) -> None:
        """The newest committed registers per meter (from the ledger, after a restart)."""
        for meter, by_interval in registers.items():
            self._registers[meter].update(by_interval)

    def identify(self, reading: MeterReading) -> None:
        """Refuse a reading for an unknown participant or from a foreign meter."""
        expected = self._meters.get(reading.participant)
        if expected is None:
            raise InvalidInput(
                f"reading for {reading.participant[:12]}, who is not a member",
                code="unknown-participant",
            )
        if expected != reading.meter:
            raise InvalidInput(
                f"reading for {reading.participant[:12]} from a meter not registered for it",
                code="unknown-meter",
            )

    def check(
        self, signed: Signed[MeterReading], *, awaited: bool, minutes: int = DEFAULT_MINUTES
    ) -> bool:
        """True if the reading is new and acceptable, False for an identical resend (the
        same signed bytes); raises with a code otherwise (``readings-closed``,
        ``duplicate-reading``, the codes of ``reading_fault``, ``register-decreased``).
        ``max_kwh`` is per 15 minutes; a reading of a ``minutes``-long interval may show
        that many quarters of it (an hour's reading four times a quarter's)."""
        reading = signed.value
        held = self._held.get(reading.interval, {}).get(reading.participant)
        if held is not None and held.data == signed.data:
            return False
        if not awaited:
            raise InvalidInput(
                f"readings for {reading.interval} are not awaited (not cleared, "
                "or settled already)",
                code="readings-closed",
            )
        if held is not None:
            raise InvalidInput(
                f"a different reading for {reading.participant[:12]} in "
                f"{reading.interval} was accepted already",
                code="duplicate-reading",
            )
        fault = reading_fault(reading, self.max_kwh * minutes / DEFAULT_MINUTES)
        if fault is not None:
            raise fault
        self._check_registers(reading)
        return True

    def _check_registers(self, reading: MeterReading) -> None:
        mine = (reading.import_register_kwh, reading.export_register_kwh)
        for interval, theirs in self._registers.get(reading.meter, {}).items():
            if interval == reading.interval:
                continue
            for now, then in zip(mine, theirs, strict=True):
                if now is None or then is None:
                    continue
                if (now < then) if interval < reading.interval else (now > then):
                    raise InvalidInput(
                        f"meter register of {reading.interval} runs backwards against {interval}",
                        code="register-decreased",
                    )

    def hold(
        self, signed: Signed[MeterReading], public: Signed[PublicReading] | None = None
    ) -> None:
        """Keep ``signed`` and its public form (``public``, or made here from it)."""
        reading = signed.value
        self._held[reading.interval][reading.participant] = signed
        self._public[reading.interval][reading.participant] = public or Signed.of(reading.public())
        if reading.import_register_kwh is not None or reading.export_register_kwh is not None:
            self._registers[reading.meter][reading.interval] = (
                reading.import_register_kwh,
                reading.export_register_kwh,
            )

    def drop(self, signed: Signed[MeterReading]) -> None:
        """Undo ``hold`` (the journal could not store the reading)."""
        reading = signed.value
        self._held[reading.interval].pop(reading.participant, None)
        self._public[reading.interval].pop(reading.participant, None)
        self._registers.get(reading.meter, {}).pop(reading.interval, None)

    def held(self, interval: str) -> list[Signed[MeterReading]]:
        """The readings held for ``interval``, by participant id."""
        received = self._held.get(interval, {})
        return [received[k] for k in sorted(received)]

    def held_public(self, interval: str) -> list[Signed[PublicReading]]:
        """The public forms of ``held(interval)``, in the same order."""
        public = self._public.get(interval, {})
        return [public[k] for k in sorted(public)]

    def settled(self, interval: str) -> None:
        """The interval's block is committed: forget its readings, and keep per meter only
        the registers of intervals from this one on."""
        self._held.pop(interval, None)
        self._public.pop(interval, None)
        for by_interval in self._registers.values():
            for old in [i for i in by_interval if i < interval]:
                del by_interval[old]
