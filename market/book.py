"""Fingerprints of a clearing's inputs, so anyone can re-clear from the ledger and compare.

Both hashes are SHA-256 of canonical JSON (``voisin.protocol.digest``). The book is
hashed in ``bid_id`` order, so the order in which bids arrived never changes the hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from voisin.errors import InvalidInput
from voisin.protocol import BidView, Grid, digest
from voisin.protocol.compact import bid_bytes


def require_unique_ids(bids: Iterable[BidView]) -> None:
    """Refuse a book in which two bids share an id (one would silently shadow the other)."""
    seen: set[str] = set()
    for bid in bids:
        if bid.bid_id in seen:
            raise InvalidInput(
                f"bid id {bid.bid_id!r} appears twice in the book", code="duplicate-bid"
            )
        seen.add(bid.bid_id)


def book_hash(bids: Sequence[BidView]) -> str:
    """Digest (hex) of the bids sorted by ``bid_id``, signatures included.

    The canonical bytes of the list are its members' canonical bytes between ``[``,
    ``,`` and ``]``, so a bid the operator holds (``CompactBid``: one that contracts did
    not rewrite) is hashed from the bytes it arrived as, not encoded again.
    """
    require_unique_ids(bids)
    return ordered_book_hash(sorted(bids, key=lambda bid: bid.bid_id))


def ordered_book_hash(ordered: Sequence[BidView]) -> str:
    """``book_hash`` of a book ``clear`` checked already and holds in ``bid_id`` order
    (so neither the ids nor the order are gone over a second time at 10^5 bids).

    The brackets are hashed on their own, not added to the joined bytes: each ``+``
    copied the whole book (440 MB at a million bids) and the gate's peak memory was
    there (docs/performance.md)."""
    book = hashlib.sha256(b"[")
    book.update(b",".join([bid_bytes(bid) for bid in ordered]))
    book.update(b"]")
    return book.hexdigest()


_GRID_HASHES: dict[int, tuple[Grid, str]] = {}
"""``grid_hash`` by grid object (held, so its id is not reused while it is here): a
clearing hashes its grid every interval, and a grid is frozen. An operator clears one
grid; a few are kept, as a big feeder's grid is megabytes."""
_GRID_HASHES_MAX = 8


def grid_hash(grid: Grid) -> str:
    """Digest (hex) of the grid in its file form (lines keyed ``from``/``to``)."""
    held = _GRID_HASHES.get(id(grid))
    if held is not None and held[0] is grid:
        return held[1]
    found = digest(grid.model_dump(mode="json", by_alias=True))
    if len(_GRID_HASHES) >= _GRID_HASHES_MAX:
        del _GRID_HASHES[next(iter(_GRID_HASHES))]  # the oldest
    _GRID_HASHES[id(grid)] = (grid, found)
    return found
