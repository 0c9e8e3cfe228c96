"""Turn pydantic's validation errors into one clear ``InvalidInput`` line."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from voisin.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any, what: str) -> M:
    """Validate ``data`` as ``model``; on failure say which field and why, in one line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "value"
            problems.append(f"{where}: {err['msg']}")
        raise InvalidInput(f"{what} rejected: " + "; ".join(problems)) from None
