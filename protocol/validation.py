"""Turn pydantic's validation errors into one clear ``InvalidInput`` line."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator

from voisin.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


_SHAPE_ERRORS = frozenset(
    {
        "missing",
        "extra_forbidden",
        "model_type",
        "model_attributes_type",
        "dict_type",
        "list_type",
        "tuple_type",
        "enum",
        "literal_error",
        "bool_type",
        "int_type",
        "float_type",
        "string_type",
        "bytes_type",
        "is_instance_of",
        "none_required",
    }
)
"""pydantic error types that mean the data has the wrong shape, not a bad value."""


def _refusal(exc: ValidationError, what: str, code: str | None) -> InvalidInput:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "value"
        problems.append(f"{where}: {err['msg']}")
    return InvalidInput(f"{what} rejected: " + "; ".join(problems), code=code)


def _numeric(annotation: Any) -> bool:
    """Whether a field holds a number (``int``, ``float``, optionally ``None``)."""
    if get_origin(annotation) is Annotated:
        return _numeric(get_args(annotation)[0])
    if annotation in (int, float):
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return bool(args) and all(_numeric(a) for a in args)
    return False


class NumbersOnly(BaseModel):
    """A file's table whose numeric fields take numbers only: pydantic would read the
    text ``"0.1"`` or ``true`` as a number, which in a TOML file is a typo to name,
    not a value to guess (``"1e3"`` priced a kWh at 1,000 EUR)."""

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, str | bool) and field is not None and _numeric(field.annotation):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ValueError(f"a number is wanted, not {type(value).__name__} {shown}")
        return value


def parse(model: type[M], data: Any, what: str) -> M:
    """Validate ``data`` as ``model``; on failure say which field and why, in one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _refusal(exc, what, None) from None


def parse_wire(model: type[M], data: Any, what: str) -> M:
    """``parse`` for data from the network: code ``malformed`` when a field is unknown,
    missing or of the wrong JSON type, ``invalid-input`` when a value is out of range."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        shape = any(e["type"] in _SHAPE_ERRORS for e in exc.errors(include_url=False))
        raise _refusal(exc, what, "malformed" if shape else None) from None


def read_json_file(path: str | Path, what: str, code: str) -> Any:
    """The JSON document in a file named on the command line, or one ``InvalidInput``
    line: ``no-such-file`` if it is absent, ``code`` if it cannot be read, is not UTF-8,
    is not JSON or nests deeper than the decoder can go (a fuzzed ``[[[[...``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} does not exist", code="no-such-file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc}"[:300], code=code) from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"{what} {path} is not JSON: {exc}"[:300], code=code) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: Python keeps the last of a repeated
    key, another reader the first, so a file that repeats one means two things (a
    proof's body with ``"kind"`` twice) and is refused (``ValueError``)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"key {key!r} appears twice in one object")
        found[key] = value
    return found
