"""Check many bid signatures on both cores.

libsodium (through PyNaCl's cffi binding) releases the interpreter lock while it
verifies, so a batch split in two halves, one on a helper thread and one on the caller's,
checks in about half the time on a 2-core machine (measured: ~23k/s on one thread,
~44k/s in halves). Small batches stay on the caller's thread, where a hand-off would
cost more than it saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from voisin.errors import InvalidInput
from voisin.protocol import Bid, verify
from voisin.protocol.signed import Signed

SPLIT_FROM = 8
"""Batches of at least this many bids are split across two threads."""


@cache
def _helper() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="voisin-verify")


def _ok(signed: Signed[Bid]) -> bool:
    try:
        return verify(signed.value.participant, signed.signed_bytes, signed.value.signature)
    except InvalidInput:
        return False


def _check(bids: Sequence[Signed[Bid]]) -> list[bool]:
    return [_ok(b) for b in bids]


def bid_signatures_ok(bids: Sequence[Signed[Bid]]) -> list[bool]:
    """Whether each bid's signature verifies under its participant's key over the exact
    bytes it came in, in order."""
    if len(bids) < SPLIT_FROM:
        return _check(bids)
    half = len(bids) // 2
    other = _helper().submit(_check, bids[half:])
    return _check(bids[:half]) + other.result()
