"""`voisin market clear`: re-clear an order book from files, as an auditor would."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from voisin.market import clear
from voisin.protocol import Bid, Grid, PricingMode, canonical_bytes, parse
from voisin.protocol.validation import read_json_file


class OrderBook(BaseModel):
    """The file format of an order book: one interval and its bids."""

    model_config = ConfigDict(frozen=True)

    interval: str
    bids: tuple[Bid, ...]


def clear_files(book_path: Path, grid_path: Path, pricing: str = "nodal") -> str:
    """Clear the book on the grid; the result as canonical JSON text."""
    book = parse(
        OrderBook,
        read_json_file(book_path, "order book file", "bad-json"),
        f"order book {book_path}",
    )
    grid = parse(Grid, read_json_file(grid_path, "grid file", "bad-json"), f"grid {grid_path}")
    result = clear(book.bids, grid, book.interval, pricing=PricingMode(pricing))
    return canonical_bytes(result).decode("utf-8")
