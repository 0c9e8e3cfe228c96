"""A signed message part kept with the exact bytes it arrived as.

Signatures cover bytes, not objects: a bid or a meter reading is checked, hashed and
stored as the RFC 8785 bytes its sender signed, never as a re-encoding of what voisin
decoded. ``Signed`` pairs the decoded model with those bytes, so the operator verifies
the signature over them, the ledger stores them and the book is hashed from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar, get_args

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


def _writes_all_it_reads(model: type[BaseModel]) -> bool:
    """Whether every instance of ``model`` writes every member it was read from: no
    serializer of its own, unknown members refused, every field required and written,
    and the same of the models nested in it (a bid's segments)."""
    return _plain(model) and all(
        info.is_required() and info.exclude_if is None and all(map(_writes_all_it_reads, nested))
        for info in model.model_fields.values()
        for nested in [_nested_models(info.annotation)]
    )


def _plain(model: type[BaseModel]) -> bool:
    """No serializer of the model's own, no field never written, unknown members refused."""
    decorators = model.__pydantic_decorators__
    return (
        not decorators.model_serializers
        and not decorators.field_serializers
        and not model.model_computed_fields
        and model.model_config.get("extra") == "forbid"
        and not any(info.exclude for info in model.model_fields.values())
    )


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds (``tuple[Segment, ...]``: ``Segment``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _nested_models(arg)]


@cache
def _members_rule(
    model: type[BaseModel],
) -> tuple[frozenset[str], tuple[tuple[str, Callable[[Any], bool]], ...]] | None:
    """The members every instance of ``model`` writes and, for the others, the field's
    own rule for leaving it out (``exclude_if``): when these alone decide the members
    of its JSON form (``_plain``, nested models that write all they read). None when
    they do not: ``decode_part`` then writes the value back to compare."""
    fields = model.model_fields
    if not _plain(model) or not all(
        all(map(_writes_all_it_reads, _nested_models(info.annotation))) for info in fields.values()
    ):
        return None
    always = frozenset(name for name, info in fields.items() if info.exclude_if is None)
    left_out = tuple(
        (name, info.exclude_if) for name, info in fields.items() if info.exclude_if is not None
    )
    return always, left_out


def written_fields(value: BaseModel) -> frozenset[str] | None:
    """The members of ``value``'s JSON form, read from its model's fields without
    writing it (None when its model has a serializer of its own: see ``_members_rule``)."""
    rule = _members_rule(type(value))
    if rule is None:
        return None
    written, left_out = rule
    for name, out in left_out:  # most are left out: no new set then
        if not out(getattr(value, name)):
            written = written | {name}
    return written


def decode_part(model: type[M], obj: Any, data: bytes, what: str) -> Signed[M]:
    """Validate ``obj`` (decoded from ``data``, its canonical bytes) as ``model``, strictly.

    Unknown, missing or mistyped fields are ``malformed`` and an out-of-range value is
    ``invalid-input`` (``parse_wire``). The part must also be the model's one canonical
    form: the model writes it back as exactly ``obj`` (no default written out that the
    model leaves out, no field left out that it writes), so one bid has one byte string.

    Strict validation gives back every value it was given (a JSON number, string, list
    or an enum's value, equal to what the model writes), so for a model whose fields
    alone decide which members it writes (``written_fields``: a bid) the members are
    compared, not the whole value written back: one validation per part, no dump.
    """
    value = parse_wire(model, obj, what)
    members = written_fields(value)
    if (
        obj.keys() != members
        if members is not None and isinstance(obj, dict)
        else value.model_dump(mode="json") != obj
    ):
        raise InvalidInput(
            f"{what} is not in its canonical form: a field is missing or a default is written out",
            code="malformed",
        )
    return Signed(value, data)
