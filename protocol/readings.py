"""Meter readings: what a meter measured over one interval, and the part of it made public.

A ``MeterReading`` is the whole measurement (PV, load, battery, import, export, the
cumulative registers and a secret ``nonce``). It stays with its owner, sealed, and with
the operator that settles it (docs/privacy.md). The ledger holds its ``PublicReading``:
what settlement and the reward rule need (import, export, the export its PV covers) and
``reading_hash``, the SHA-256 of the whole reading's unsigned RFC 8785 bytes. The meter
signs the public reading's bytes, so one signature vouches for the public numbers and,
through the hash, for the whole reading, which its owner can open and check. The nonce
keeps anyone from finding the whole reading by hashing guesses.

Strict like bids (see ``voisin.protocol.bids``): unknown fields refused, numbers must be
JSON numbers and ``estimated`` a boolean.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from voisin.protocol.encoding import canonical_bytes, sha256_hex

_OPTIONAL = ("import_register_kwh", "export_register_kwh", "nonce")


class MeterReading(BaseModel):
    """Energy over one interval in kWh.

    ``battery_kwh`` is positive when the battery discharged into the house and negative
    when it charged. ``export_kwh`` and ``import_kwh`` are what crossed the connection
    point; exactly one of them is non-zero. ``estimated`` marks a reading the operator
    filled in for a missing one. ``import_register_kwh`` and ``export_register_kwh`` are
    the meter's cumulative registers at the interval's end, for meters that report them;
    they are left out of the serialised form when absent, like ``nonce`` (hex, chosen
    by the meter, never public). ``signature`` is the meter's signature over the bytes of
    ``public()`` without its signature (``PublicReading``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    meter: str
    participant: str
    interval: str
    pv_kwh: float = Field(ge=0, allow_inf_nan=False)
    load_kwh: float = Field(ge=0, allow_inf_nan=False)
    battery_kwh: float = Field(default=0.0, allow_inf_nan=False)
    import_kwh: float = Field(ge=0, allow_inf_nan=False)
    export_kwh: float = Field(ge=0, allow_inf_nan=False)
    estimated: bool = False
    signature: str = ""
    import_register_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    export_register_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    nonce: str | None = Field(default=None, pattern=r"^[0-9a-f]{32,128}$")

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in _OPTIONAL:
            if data.get(name, 0) is None:
                del data[name]
        return data

    @property
    def renewable_export_kwh(self) -> float:
        """The export its PV covers: what the reward rule may count as local renewable."""
        return min(self.export_kwh, self.pv_kwh)

    def commitment(self) -> str:
        """``reading_hash``: SHA-256 (hex) of the RFC 8785 bytes of ``unsigned()``."""
        return sha256_hex(canonical_bytes(self.unsigned()))

    def signed_bytes(self, reading_hash: str | None = None) -> bytes:
        """What the meter's ``signature`` covers: the public form's RFC 8785 bytes
        without its signature (``reading_hash`` as in ``public``)."""
        return canonical_bytes(self.public_unsigned(reading_hash))

    def public(self, reading_hash: str | None = None) -> PublicReading:
        """The part the ledger shows, with this reading's signature. ``reading_hash`` is
        ``commitment()`` when the caller hashed the unsigned bytes already (the meter
        signing them, the operator holding them as received)."""
        return PublicReading.model_validate(
            self.public_unsigned(reading_hash) | {"signature": self.signature}
        )

    def public_unsigned(self, reading_hash: str | None = None) -> dict[str, object]:
        """``public(reading_hash)`` without its signature, as the plain dict its
        ``unsigned()`` would give: what is signed needs no model built and dumped (this
        reading's checks already hold for every field)."""
        return {
            "meter": self.meter,
            "participant": self.participant,
            "interval": self.interval,
            "import_kwh": self.import_kwh,
            "export_kwh": self.export_kwh,
            "renewable_export_kwh": self.renewable_export_kwh,
            "estimated": self.estimated,
            "reading_hash": self.commitment() if reading_hash is None else reading_hash,
        }

    @property
    def net_export_kwh(self) -> float:
        return self.export_kwh - self.import_kwh

    def unsigned(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"signature"})


class PublicReading(BaseModel):
    """A reading as the ledger shows it: enough to settle and to reward, nothing more.

    ``renewable_export_kwh`` is ``min(export_kwh, pv_kwh)`` of the whole reading (it
    equals the export unless a battery exported more than the PV made); ``reading_hash``
    commits to the whole reading. ``signature`` (the meter's, over these bytes without
    it) sorts last, as in bids.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    meter: str
    participant: str
    interval: str
    import_kwh: float = Field(ge=0, allow_inf_nan=False)
    export_kwh: float = Field(ge=0, allow_inf_nan=False)
    renewable_export_kwh: float = Field(ge=0, allow_inf_nan=False)
    estimated: bool = False
    reading_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = ""

    @property
    def net_export_kwh(self) -> float:
        return self.export_kwh - self.import_kwh

    def unsigned(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"signature"})
