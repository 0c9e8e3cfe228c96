"""`voisin market clear`: re-clear an order book from files, as an auditor would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from voisin.errors import InvalidInput
from voisin.market import clear
from voisin.protocol import Bid, Grid, PricingMode, canonical_bytes, parse


class OrderBook(BaseModel):
    """The file format of an order book: one interval and its bids."""

    model_config = ConfigDict(frozen=True)

    interval: str
    bids: tuple[Bid, ...]


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{what} file {path} does not exist", code="no-such-file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {what} file {path}: {exc}", code="unreadable") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} file {path} is not JSON: {exc}", code="bad-json") from None


def clear_files(book_path: Path, grid_path: Path, pricing: str = "nodal") -> str:
    """Clear the book on the grid; the result as canonical JSON text."""
    book = parse(OrderBook, read_json(book_path, "order book"), f"order book {book_path}")
    grid = parse(Grid, read_json(grid_path, "grid"), f"grid {grid_path}")
    result = clear(book.bids, grid, book.interval, pricing=PricingMode(pricing))
    return canonical_bytes(result).decode("utf-8")
