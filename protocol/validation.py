"""Turn pydantic's validation errors into one clear ``InvalidInput`` line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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
