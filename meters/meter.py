"""A smart meter that signs what it measured, so settlement can trust delivered energy.

The meter has its own Ed25519 key (``meter_id`` on the participant's registration), apart
from the participant's trading key: a household can bid, but only its meter can attest.
It signs the reading's public form (import, export, the export its PV covers and the
hash of the whole reading, docs/privacy.md), and draws each reading's secret nonce from
its own key, so the same meter and interval give the same bytes (deterministic runs)
while nobody without the key can guess the whole reading from its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from voisin.errors import InvalidInput
from voisin.protocol import KeyPair, MeterReading, verify
from voisin.protocol.encoding import canonical_bytes, sha256_hex
from voisin.protocol.reading_checks import RESOLUTION_KWH, reading_fault
from voisin.protocol.signed import Signed

__all__ = [
    "RESOLUTION_KWH",
    "Meter",
    "curtailed_pv_kwh",
    "reading_fault",
    "sign_reading",
    "signed_reading",
    "verify_reading",
]


def _wh(value: float) -> float:
    return round(value, 3) + 0.0  # + 0.0 turns -0.0 into 0.0 for canonical bytes


class Meter:
    """Turns one interval's measured PV, load and battery energy into a signed reading."""

    def __init__(self, key: KeyPair, participant: str) -> None:
        if not participant:
            raise InvalidInput("a meter must belong to a participant")
        self.key = key
        self.participant = participant

    @property
    def meter_id(self) -> str:
        return self.key.public_hex

    def read(
        self, interval: str, pv_kwh: float, load_kwh: float, battery_kwh: float = 0.0
    ) -> MeterReading:
        """Sign the interval's energy flows; import/export come from the net at the
        connection point (pv + battery discharge - load)."""
        return self.read_signed(interval, pv_kwh, load_kwh, battery_kwh).value

    def read_signed(
        self, interval: str, pv_kwh: float, load_kwh: float, battery_kwh: float = 0.0
    ) -> Signed[MeterReading]:
        """``read`` with the bytes the meter sends (``signed_reading``), so the operator
        takes them without encoding the reading again."""
        values = {"pv_kwh": pv_kwh, "load_kwh": load_kwh, "battery_kwh": battery_kwh}
        for name, value in values.items():
            if not math.isfinite(value):
                raise InvalidInput(f"meter {name} must be finite, got {value}")
        if pv_kwh < 0 or load_kwh < 0:
            raise InvalidInput("meter pv_kwh and load_kwh cannot be negative")
        pv, load, battery = _wh(pv_kwh), _wh(load_kwh), _wh(battery_kwh)
        net = _wh(pv + battery - load)
        unsigned = MeterReading(
            meter=self.meter_id,
            participant=self.participant,
            interval=interval,
            pv_kwh=pv,
            load_kwh=load,
            battery_kwh=battery,
            import_kwh=max(0.0, -net),
            export_kwh=max(0.0, net),
            nonce=self.nonce(interval),
        )
        return signed_reading(unsigned, self.key)

    def nonce(self, interval: str) -> str:
        """128 secret bits for ``interval``'s reading: HMAC-SHA-256 of it under the key."""
        secret = bytes.fromhex(self.key.seed_hex)
        message = f"reading-nonce/{self.participant}/{interval}".encode()
        return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def curtailed_pv_kwh(
    pv_kwh: float, load_kwh: float, battery_kwh: float, offered_kwh: float, curtailed_kwh: float
) -> float:
    """The PV a house makes under a curtailment order: its export capped at the surplus
    it offered less ``curtailed_kwh``, as an inverter's feed-in limit does (PV beyond it
    is not produced). No order (``curtailed_kwh`` 0): all of ``pv_kwh``."""
    if curtailed_kwh <= 0:
        return pv_kwh
    allowed = max(offered_kwh - curtailed_kwh, 0.0)
    surplus = pv_kwh + battery_kwh - load_kwh
    return max(pv_kwh - (surplus - allowed), 0.0) if surplus > allowed else pv_kwh


def sign_reading(reading: MeterReading, key: KeyPair) -> MeterReading:
    """``reading`` signed by ``key``: the signature covers its public form's bytes."""
    return signed_reading(reading, key).value


def signed_reading(reading: MeterReading, key: KeyPair) -> Signed[MeterReading]:
    """``sign_reading`` with the whole reading's RFC 8785 bytes, signature last: the
    unsigned bytes are encoded once, hashed into the public form's ``reading_hash``
    (what the signature covers) and sent with the signature appended."""
    whole = canonical_bytes(reading.unsigned())
    signature = key.sign(reading.signed_bytes(sha256_hex(whole)))
    return Signed.appended(reading.model_copy(update={"signature": signature}), whole, signature)


def verify_reading(reading: MeterReading) -> bool:
    """True when the reading is signed by the meter it names and its flows add up."""
    if reading_fault(reading) is not None:
        return False
    return verify(reading.meter, reading.signed_bytes(), reading.signature)
