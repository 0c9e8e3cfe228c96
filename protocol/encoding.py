"""Canonical bytes: the one encoding that is hashed and signed.

JSON with keys sorted, no insignificant white space, UTF-8, floats in Python's shortest
round-trip form, and non-finite numbers refused. Two equal values always give equal
bytes, which is what makes ledgers byte-identical across runs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def canonical_bytes(value: Any) -> bytes:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical bytes of ``value``."""
    return sha256_hex(canonical_bytes(value))
