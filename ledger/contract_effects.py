"""What contracts do to a market interval: pure functions the operator calls around clearing.

Per interval, in this order (the operator core wires them; nothing here has state):

1. ``apply_contracts(bids, ledger.contracts, interval)`` rewrites the signed book before
   clearing: a priority partner joins the owner's ``preferred``; a gift share splits the
   owner's sell bid into a price-0 bid preferring the recipient and the scaled rest; a
   price cap clamps the owner's buy limits. Energy offered and asked is unchanged.
2. ``contract_payments(trades, fund, ledger.contracts, interval)`` replaces
   ``payments_for``: a gift bid's trade with its recipient moves no tokens.
3. A green-only contract marks its owner's buy bids ``green_only`` in step 1, and the
   market then serves them from local sellers only; ``green_violations`` lists any grid
   leg a green-only buyer was given, which a verifier expects to be empty.

The rewritten bids carry no signature (they are derivations, not what the agent signed):
the ledger's ``bid_digest`` should commit to the signed originals, from which anyone
re-derives the cleared book with the same contracts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from voisin.ledger.contracts import (
    Contract,
    ContractBook,
    GiftShare,
    GreenOnly,
    PriceCap,
    PriorityPartner,
)
from voisin.ledger.tokens import Payment, payments_for, payments_rows_for
from voisin.protocol import (
    GRID,
    Bid,
    BidView,
    Segment,
    Side,
    Trade,
    TradeKind,
    Transaction,
    sha256_hex,
)
from voisin.protocol.compact import as_bid
from voisin.protocol.trade_table import TradeTable

GIFT_MARK = "!gift"
"""Starts a gift bid's id (``!gift<n>:<bid id>``); the gate should refuse ids with ``!``.

``!`` sorts before letters and digits, so the market's trade split, which walks a
buyer's preferred sellers by bid id among equals, hands the recipient its gift before
the owner's priced rest."""
_MAX_BID_ID = 128
_NEGLIGIBLE = 1e-12  # share of a bid left after gifts below which no rest bid remains


def _in_force(
    contracts: ContractBook | Iterable[Contract], interval: str
) -> dict[str, list[Contract]]:
    """Owner -> contracts in force, in registration order.

    A ``ContractBook`` honours revocations; a plain iterable only ``from_interval``.
    """
    if isinstance(contracts, ContractBook):
        chosen: Iterable[Contract] = contracts.active_all(interval)
    else:
        chosen = (c for c in contracts if c.from_interval <= interval)
    by_owner: dict[str, list[Contract]] = {}
    for c in chosen:
        by_owner.setdefault(c.owner, []).append(c)
    return by_owner


def gift_bid_id(bid_id: str, n: int) -> str:
    """Id of the ``n``-th gift split off ``bid_id`` (hashed if it would be too long)."""
    prefix = f"{GIFT_MARK}{n}:"
    base = bid_id if len(bid_id) + len(prefix) <= _MAX_BID_ID else sha256_hex(bid_id.encode())
    return prefix + base


def _gifts(bid: Bid, mine: Sequence[Contract]) -> tuple[list[tuple[str, float]], float]:
    """(recipient, share) in registration order and the share left; shares stop at 1."""
    gifts: list[tuple[str, float]] = []
    left = 1.0
    for c in mine:
        if isinstance(c, GiftShare) and c.recipient != bid.participant and left > 0:
            share = min(c.share, left)
            gifts.append((c.recipient, share))
            left -= share
    return gifts, max(0.0, left)


def _rewrite(bid: Bid, mine: Sequence[Contract]) -> list[Bid]:
    partners = [
        c.partner for c in mine if isinstance(c, PriorityPartner) and c.partner != bid.participant
    ]
    preferred = bid.preferred + tuple(p for p in dict.fromkeys(partners) if p not in bid.preferred)
    segments = bid.segments
    caps = [c.cap_eur_per_kwh for c in mine if isinstance(c, PriceCap)]
    if bid.side is Side.BUY and caps:
        cap = min(caps)
        segments = tuple(
            s
            if s.price_eur_per_kwh <= cap
            else Segment(energy_kwh=s.energy_kwh, price_eur_per_kwh=cap)
            for s in segments
        )
    gifts, left = _gifts(bid, mine) if bid.side is Side.SELL else ([], 1.0)
    green = bid.green_only or (bid.side is Side.BUY and any(isinstance(c, GreenOnly) for c in mine))
    if (
        preferred == bid.preferred
        and segments == bid.segments
        and not gifts
        and green == bid.green_only
    ):
        return [bid]
    total = bid.energy_kwh
    out: list[Bid] = []
    if gifts:
        segments = tuple(
            Segment(energy_kwh=s.energy_kwh * left, price_eur_per_kwh=s.price_eur_per_kwh)
            for s in segments
            if s.energy_kwh * left > 0
        )
    if left > _NEGLIGIBLE and segments:
        out.append(
            bid.model_copy(
                update={
                    "segments": segments,
                    "preferred": preferred,
                    "green_only": green,
                    "signature": "",
                }
            )
        )
    for n, (recipient, share) in enumerate(gifts):
        out.append(
            Bid(
                bid_id=gift_bid_id(bid.bid_id, n),
                participant=bid.participant,
                bus=bid.bus,
                interval=bid.interval,
                side=Side.SELL,
                segments=(Segment(energy_kwh=total * share, price_eur_per_kwh=0.0),),
                preferred=(recipient,),
                seq=bid.seq,
                inflexible=bid.inflexible,
            )
        )
    return out


def apply_contracts(
    bids: Iterable[BidView], contracts: ContractBook | Iterable[Contract], interval: str
) -> list[BidView]:
    """The book as the contracts in force in ``interval`` shape it, sorted by bid id.

    Deterministic and independent of the input order. Contracts act on their owner's
    bids only: a priority partner on both sides, a price cap on buy bids, a gift share
    on sell bids (several gifts are served in registration order until the whole bid is
    given); green-only marks the owner's buy bids ``green_only``, which the market
    serves from local sellers only.
    """
    in_force = _in_force(contracts, interval)
    out: list[BidView] = []
    for bid in sorted(bids, key=lambda b: b.bid_id):
        mine = in_force.get(bid.participant)
        out.extend(_rewrite(as_bid(bid), mine) if mine else (bid,))
    return sorted(out, key=lambda b: b.bid_id)


def is_gift_trade(trade: Trade, gifts: set[tuple[str, str]]) -> bool:
    """A p2p trade filled by a gift bid and bought by that gift's recipient."""
    return _is_gift(trade.kind, trade.seller_bid_id, trade.seller, trade.buyer, gifts)


def gift_mask(table: TradeTable, gifts: set[tuple[str, str]]) -> list[bool]:
    """``is_gift_trade`` of each trade of a table, read from its columns."""
    return [
        _is_gift(kind, seller_bid, seller, buyer, gifts)
        for kind, seller_bid, seller, buyer in zip(
            table.kind, table.seller_bid_id, table.seller, table.buyer, strict=True
        )
    ]


def _is_gift(
    kind: TradeKind, seller_bid_id: str, seller: str, buyer: str, gifts: set[tuple[str, str]]
) -> bool:
    return (
        kind is TradeKind.P2P and seller_bid_id.startswith(GIFT_MARK) and (seller, buyer) in gifts
    )


def contract_payments(
    trades: Sequence[Trade],
    fund: str,
    contracts: ContractBook | Iterable[Contract],
    interval: str,
) -> list[Transaction]:
    """``payments_for`` with gifts honoured: energy given to the recipient is free.

    A gift bid that cleared against someone else than its recipient is an ordinary sale
    at the market price (the price-0 offer only makes the gift clear first).
    """
    gifts = gift_pairs(contracts, interval)
    return payments_for([t for t in trades if not is_gift_trade(t, gifts)], fund)


def contract_payment_rows(
    trades: Sequence[Trade],
    fund: str,
    contracts: ContractBook | Iterable[Contract],
    interval: str,
) -> list[Payment]:
    """``contract_payments`` as (sender, recipient, micro-tokens, memo) rows."""
    gifts = gift_pairs(contracts, interval)
    if not gifts:
        return payments_rows_for(trades, fund)
    table = TradeTable.of(trades)
    return payments_rows_for(table.where([not g for g in gift_mask(table, gifts)]), fund)


def gift_pairs(contracts: ContractBook | Iterable[Contract], interval: str) -> set[tuple[str, str]]:
    """(owner, recipient) of every gift share in force in ``interval``."""
    return {
        (c.owner, c.recipient)
        for owned in _in_force(contracts, interval).values()
        for c in owned
        if isinstance(c, GiftShare)
    }


def green_only_buyers(
    contracts: ContractBook | Iterable[Contract], interval: str
) -> frozenset[str]:
    """Participants whose green-only contract is in force in ``interval``."""
    return frozenset(
        owner
        for owner, owned in _in_force(contracts, interval).items()
        if any(isinstance(c, GreenOnly) for c in owned)
    )


def green_violations(trades: Iterable[Trade], buyers: frozenset[str]) -> list[Trade]:
    """Grid import legs given to green-only buyers: none when the market honoured them."""
    return [t for t in trades if t.seller == GRID and t.buyer in buyers]
