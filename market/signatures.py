"""Check many bids' signatures over the exact bytes they came in, on both cores."""

from __future__ import annotations

from collections.abc import Sequence

from voisin.errors import InvalidInput
from voisin.protocol import Bid
from voisin.protocol.keys import verify_many
from voisin.protocol.signed import Signed

_NOTHING = (b"", "")


def bid_signatures_ok(bids: Sequence[Signed[Bid]]) -> list[bool]:
    """Whether each bid's signature verifies under its participant's key, in order."""
    items = []
    for signed in bids:
        try:
            items.append((signed.value.participant, signed.signed_bytes, signed.value.signature))
        except InvalidInput:
            items.append((signed.value.participant, *_NOTHING))
    return verify_many(items)
