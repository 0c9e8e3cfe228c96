"""Fingerprints of a clearing's inputs, so anyone can re-clear from the ledger and compare.

Both hashes are SHA-256 of canonical JSON (``voisin.protocol.digest``). The book is
hashed in ``bid_id`` order, so the order in which bids arrived never changes the hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from voisin.errors import InvalidInput
from voisin.protocol import Bid, Grid, digest


def require_unique_ids(bids: Iterable[Bid]) -> None:
    """Refuse a book in which two bids share an id (one would silently shadow the other)."""
    seen: set[str] = set()
    for bid in bids:
        if bid.bid_id in seen:
            raise InvalidInput(
                f"bid id {bid.bid_id!r} appears twice in the book", code="duplicate-bid"
            )
        seen.add(bid.bid_id)


def book_hash(bids: Sequence[Bid]) -> str:
    """Digest (hex) of the bids sorted by ``bid_id``, signatures included."""
    require_unique_ids(bids)
    ordered = sorted(bids, key=lambda bid: bid.bid_id)
    return digest([bid.model_dump(mode="json") for bid in ordered])


def grid_hash(grid: Grid) -> str:
    """Digest (hex) of the grid in its file form (lines keyed ``from``/``to``)."""
    return digest(grid.model_dump(mode="json", by_alias=True))
