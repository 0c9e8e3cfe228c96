"""A signed message part kept with the exact bytes it arrived as.

Signatures cover bytes, not objects: a bid or a meter reading is checked, hashed and
stored as the RFC 8785 bytes its sender signed, never as a re-encoding of what voisin
decoded. ``Signed`` pairs the decoded model with those bytes, so the operator verifies
the signature over them, the ledger stores them and the book is hashed from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from voisin.errors import InvalidInput
from voisin.protocol.encoding import canonical_bytes, with_last_member, without_last_member
from voisin.protocol.keys import KeyPair
from voisin.protocol.validation import parse_wire

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Signed(Generic[M]):
    """``value`` and ``data``, its RFC 8785 bytes with the ``signature`` member last."""

    value: M
    data: bytes

    @classmethod
    def of(cls, value: M) -> Signed[M]:
        """A model made here (simulation, tests): its bytes are what a sender would send."""
        return cls(value, canonical_bytes(value))

    @classmethod
    def signed_by(cls, value: M, key: KeyPair) -> Signed[M]:
        """``value`` (a bid: self-signed, its ``signature`` member last) signed by ``key``:
        its bytes are encoded once, signed, and carry the signature appended, so whoever
        takes the result checks and stores exactly what was signed, encoding nothing."""
        unsigned = canonical_bytes(value.model_dump(mode="json", exclude={"signature"}))
        signature = key.sign(unsigned)
        return cls.appended(value.model_copy(update={"signature": signature}), unsigned, signature)

    @classmethod
    def appended(cls, value: M, unsigned: bytes, signature: str) -> Signed[M]:
        """``value`` with its bytes as ``unsigned`` (its RFC 8785 bytes without the
        ``signature`` member) and ``signature`` appended as the last member: bytes
        encoded once by whoever signed or checked them, never a second time here."""
        return cls(value, with_last_member(unsigned, "signature", signature))

    @property
    def signed_bytes(self) -> bytes:
        """What the ``signature`` covers: ``data`` without its last, signature member."""
        signature = str(getattr(self.value, "signature", ""))  # bids, readings: self-signed
        try:
            return without_last_member(self.data, "signature", signature)
        except ValueError:
            raise InvalidInput(
                "a signed part must end with its signature member", code="malformed"
            ) from None


def decode_part(model: type[M], obj: Any, data: bytes, what: str) -> Signed[M]:
    """Validate ``obj`` (decoded from ``data``, its canonical bytes) as ``model``, strictly.

    Unknown, missing or mistyped fields are ``malformed`` and an out-of-range value is
    ``invalid-input`` (``parse_wire``). The part must also be the model's one canonical
    form: the model writes it back as exactly ``obj`` (no default written out that the
    model leaves out, no field left out that it writes), so one bid has one byte string.
    """
    value = parse_wire(model, obj, what)
    if value.model_dump(mode="json") != obj:
        raise InvalidInput(
            f"{what} is not in its canonical form: a field is missing or a default is written out",
            code="malformed",
        )
    return Signed(value, data)
