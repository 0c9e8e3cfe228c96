"""Builders that turn domain objects into ledger ``Transaction``s, and their encoding.

Every body is a JSON-native dict (str, int, float, bool, None, lists, dicts) so its
canonical bytes (``voisin.protocol.canonical_bytes``, RFC 8785) are the same on every
machine and in every language. Token amounts are integers
in micro-tokens (1 token = 1 EUR = 1_000_000 micro), never floats, so balances add up
exactly. Bodies are documented field by field in docs/ledger.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from voisin.errors import InvalidInput
from voisin.protocol import (
    Bid,
    ClearingResult,
    MeterReading,
    PublicReading,
    Registration,
    Side,
    Trade,
    Transaction,
    TxKind,
    canonical_bytes,
    digest,
)
from voisin.protocol.blocks import EncodedTransaction
from voisin.protocol.compact import CompactBid, bid_bytes
from voisin.protocol.encoding import canonical_columns, canonical_objects
from voisin.protocol.merkle import root as merkle_root
from voisin.protocol.merkle import root_from_hashes
from voisin.protocol.settlements import SETTLEMENT_FIELDS, Settlement, SettlementRow
from voisin.protocol.signed import Signed
from voisin.protocol.trade_table import TradeTable

MICRO_PER_TOKEN = 1_000_000
GENESIS_SENDER = "genesis"
"""Reserved account name: no transfer may come from it (only the GENESIS kind mints)."""


def _tx(kind: TxKind, body: dict[str, Any]) -> Transaction:
    # Validating is cheaper than model_construct here (about 0.9 against 1.6 us).
    return Transaction(kind=kind, body=body)


def _amount(amount_micro: int, what: str) -> int:
    if isinstance(amount_micro, bool) or not isinstance(amount_micro, int):
        raise InvalidInput(
            f"{what}: amount must be an integer number of micro-tokens", code="bad-amount"
        )
    if amount_micro <= 0:
        raise InvalidInput(
            f"{what}: amount must be positive, got {amount_micro}", code="bad-amount"
        )
    return amount_micro


def _account(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(
            f"{what} must be a non-empty account id (str), got {type(value).__name__}",
            code="bad-account",
        )
    return value


def genesis(fund: str, amount_micro: int) -> Transaction:
    """The genesis supply, credited to the community fund account (height 0 only).

    Its own kind, not a transfer, so every ``transfer`` on the chain moves tokens that
    already exist.
    """
    return _tx(
        TxKind.GENESIS,
        {
            "recipient": _account(fund, "genesis fund"),
            "amount_micro": _amount(amount_micro, "genesis"),
        },
    )


def registration(participant: Registration) -> Transaction:
    """A member's public record: pseudonymous key, bus, tariff, meter key, and the span
    a one-time key is valid for; no kind, group, name or address (docs/privacy.md)."""
    return _tx(TxKind.REGISTRATION, participant.registration().model_dump(mode="json"))


def _signed(item: Any) -> Signed[Any]:
    return item if isinstance(item, Signed) else Signed.of(item)


def _viewed(bid: Bid | Signed[Bid] | CompactBid) -> Bid | CompactBid:
    """A bid with its bytes at hand: a ``Signed`` bid's as its compact row."""
    return CompactBid.of(bid) if isinstance(bid, Signed) else bid


def bid_digest(
    bids: Sequence[Bid | Signed[Bid] | CompactBid],
    interval: str | None = None,
    leaf_hashes: Sequence[bytes] | None = None,
) -> Transaction:
    """Commit to the whole order book of one interval.

    ``bids_root`` is the Merkle root over each bid's bytes as its participant signed
    them (signature included; a plain ``Bid`` as its RFC 8785 bytes), bids sorted by
    ``bid_id``, so a bidder can later prove its bid was in. ``leaf_hashes``, when
    given, are those bytes' RFC 6962 leaf hashes, bids already in ``bid_id`` order
    (the operator hashes each bid once, at intake).
    """
    ordered = sorted((_viewed(b) for b in bids), key=lambda b: b.bid_id)
    if leaf_hashes is not None and len(leaf_hashes) != len(ordered):
        raise ValueError("one leaf hash per bid")
    root = (
        merkle_root([bid_bytes(b) for b in ordered])
        if leaf_hashes is None
        else root_from_hashes(leaf_hashes)
    )
    intervals = {b.interval for b in ordered} | ({interval} if interval is not None else set())
    if len(intervals) > 1:
        raise InvalidInput(f"bid digest mixes intervals {sorted(intervals)}", code="bad-book")
    return _tx(
        TxKind.BID_DIGEST,
        {
            "interval": next(iter(intervals), None),
            "bid_count": len(ordered),
            "buy_kwh": sum(b.energy_kwh for b in ordered if b.side is Side.BUY),
            "sell_kwh": sum(b.energy_kwh for b in ordered if b.side is Side.SELL),
            "bids_root": root.hex(),
        },
    )


def market(terms: dict[str, Any]) -> Transaction:
    """The market's terms from this block on: grid model, rules, pricing, backend, solver
    names, versions and options (built by ``voisin.market.terms``). Written whenever
    they change; every later ``clearing`` names them by ``market_hash``."""
    return _tx(TxKind.MARKET, terms)


def upstream(body: dict[str, Any]) -> Transaction:
    """A city's feeder: the city price and the exchange the city allocated it for the
    interval (``voisin.market.upstream.Upstream.body``), the pinned conditions of its
    clearing, in its clearing block before the ``clearing``."""
    return _tx(TxKind.UPSTREAM, body)


def city_book(body: dict[str, Any]) -> Transaction:
    """A city's book for one interval: every feeder's residual curve (``voisin.city``)."""
    return _tx(TxKind.CITY_BOOK, body)


def city_clearing(body: dict[str, Any]) -> Transaction:
    """The city's clearing of its book: each feeder's exchange and price, the MV bus
    prices, the national grid's exchange, the welfare, the feeder-to-feeder pieces."""
    return _tx(TxKind.CITY_CLEARING, body)


def feeder_link(
    interval: str, feeder: str, operator: str, height: int, block_hash: str
) -> Transaction:
    """The hash of a feeder ledger's clearing block for the interval, so that ledger
    cannot be swapped without the city ledger showing it."""
    return _tx(
        TxKind.FEEDER_LINK,
        {
            "interval": interval,
            "feeder": feeder,
            "operator": operator,
            "height": height,
            "block_hash": block_hash,
        },
    )


def terms_hash(terms: dict[str, Any]) -> str:
    """SHA-256 (hex) of the terms' canonical bytes: what a clearing names."""
    return digest(terms)


def bid(signed: Bid | Signed[Bid]) -> Transaction:
    """One bid of the book as cleared, stored as the bytes its participant signed."""
    return Transaction.of_canonical(TxKind.BID, _signed(signed).data)


def bid_entry(signed: Signed[Bid] | CompactBid) -> EncodedTransaction:
    """``bid`` already encoded and hashed, never decoded: what the operator's intake
    makes once per accepted bid, for the gate's block."""
    return EncodedTransaction.of(TxKind.BID, signed.data)


def clearing(result: ClearingResult, market_hash: str = "") -> Transaction:
    """Summary of one clearing: with the interval's bid transactions and the market terms
    it names (``market_hash``), enough to re-clear the recorded book and compare, with
    what the clearing predicts of the feeder (price parts, curtailment, voltages,
    flows), which ``voisin grid check`` compares with an AC power flow, and, with
    per-buyer charges, the import credit the trade prices take (``LocalCharges``)."""
    extras = result.model_dump(
        mode="json",
        include={
            "price_parts_eur_per_kwh",
            "settlement_prices_eur_per_kwh",
            "curtailed_kwh",
            "shed_kwh",
            "curtailment_eur",
            "rest_kwh",
            "import_credit_eur_per_kwh",
            "losses_kwh",
            "physics",
        },
    )
    return _tx(
        TxKind.CLEARING,
        {
            **extras,
            "market_hash": market_hash,
            "interval": result.interval,
            "status": result.status.value,
            "pricing": result.pricing.value,
            "welfare_eur": result.welfare_eur,
            "prices_eur_per_kwh": dict(sorted(result.prices_eur_per_kwh.items())),
            "grid_import_kwh": result.grid_import_kwh,
            "grid_export_kwh": result.grid_export_kwh,
            "congestion_rent_eur": result.congestion_rent_eur,
            "wheeling_fees_eur": result.wheeling_fees_eur,
            "green_premium_eur_per_kwh": result.green_premium_eur_per_kwh,
            "trade_count": len(result.trades),
            "book_hash": result.book_hash,
            "grid_hash": result.grid_hash,
            "solver": result.solver,
        },
    )


def trade(trade: Trade) -> Transaction:
    """Every ``Trade`` field; the bid ids (empty on the grid side) tie it to the book."""
    return _tx(
        TxKind.TRADE,
        {
            "interval": trade.interval,
            "seller": trade.seller,
            "buyer": trade.buyer,
            "energy_kwh": trade.energy_kwh,
            "buyer_price_eur_per_kwh": trade.buyer_price_eur_per_kwh,
            "seller_price_eur_per_kwh": trade.seller_price_eur_per_kwh,
            "kind": trade.kind.value,
            "buyer_bid_id": trade.buyer_bid_id,
            "seller_bid_id": trade.seller_bid_id,
        },
    )


TRADE_FIELDS = (
    "interval",
    "seller",
    "buyer",
    "energy_kwh",
    "buyer_price_eur_per_kwh",
    "seller_price_eur_per_kwh",
    "kind",
    "buyer_bid_id",
    "seller_bid_id",
)
"""The members of a ``trade`` body (what ``trade`` writes)."""


def trade_entries(trades: Sequence[Trade]) -> list[EncodedTransaction]:
    """``trade`` of each trade, encoded and hashed in bulk from its table's columns (the
    same bytes; ``TradeTable.of`` gives trade objects their columns)."""
    table = TradeTable.of(trades)
    columns = (
        table.interval,
        table.seller,
        table.buyer,
        table.energy_kwh.tolist(),
        table.buyer_price_eur_per_kwh.tolist(),
        table.seller_price_eur_per_kwh.tolist(),
        [kind.value for kind in table.kind],
        table.buyer_bid_id,
        table.seller_bid_id,
    )
    try:
        bodies = canonical_columns(TRADE_FIELDS, columns)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"a trade is not plain JSON: {exc}", code="bad-transaction") from None
    return EncodedTransaction.many(TxKind.TRADE, bodies)


def reading(reading: MeterReading | PublicReading) -> Transaction:
    """A reading's public form (``PublicReading``) with its meter's signature, so anyone
    can re-check the meter over the very bytes stored; the whole reading stays sealed
    to its owner, committed by ``reading_hash``."""
    public = reading.public() if isinstance(reading, MeterReading) else reading
    return Transaction.of_canonical(TxKind.READING, canonical_bytes(public))


def reading_entry(public: Signed[PublicReading]) -> EncodedTransaction:
    """``reading`` from the public form's bytes made at intake (the meter's signature
    covers them), encoded and hashed once."""
    return EncodedTransaction.of(TxKind.READING, public.data)


def settlement(settlement: Settlement) -> Transaction:
    """A participant's settlement of one interval."""
    return _tx(TxKind.SETTLEMENT, settlement.model_dump(mode="json"))


def settlement_entries(rows: Sequence[SettlementRow]) -> list[EncodedTransaction]:
    """``settlement`` of each row (``SETTLEMENT_FIELDS``), encoded and hashed in bulk:
    the same bytes, with no ``Settlement`` or ``Transaction`` made to be encoded."""
    return [
        EncodedTransaction.of(TxKind.SETTLEMENT, data)
        for data in canonical_objects(SETTLEMENT_FIELDS, rows)
    ]


def _transfer_body(sender: str, recipient: str, amount_micro: int, memo: str) -> dict[str, Any]:
    _account(sender, "transfer sender")
    _account(recipient, "transfer recipient")
    if sender == GENESIS_SENDER:
        raise InvalidInput("only the genesis block may mint from 'genesis'", code="bad-transfer")
    if sender == recipient:
        raise InvalidInput(f"transfer from {sender} to itself", code="bad-transfer")
    return {
        "sender": sender,
        "recipient": recipient,
        "amount_micro": _amount(amount_micro, "transfer"),
        "memo": memo,
    }


def transfer(sender: str, recipient: str, amount_micro: int, memo: str = "") -> Transaction:
    """Move ``amount_micro`` tokens; the token book refuses an overdraft."""
    return _tx(TxKind.TRANSFER, _transfer_body(sender, recipient, amount_micro, memo))


TRANSFER_FIELDS = ("sender", "recipient", "amount_micro", "memo")


def transfer_entries(rows: Sequence[tuple[str, str, int, str]]) -> list[EncodedTransaction]:
    """``transfer(*row)`` of each (sender, recipient, micro-tokens, memo), encoded and
    hashed in bulk (the same bytes); each keeps its body for the token book."""
    bodies = [_transfer_body(*row) for row in rows]
    encoded = canonical_objects(TRANSFER_FIELDS, rows)
    return EncodedTransaction.many(TxKind.TRANSFER, encoded, bodies)


def reward(recipient: str, amount_micro: int, energy_kwh: float, interval: str) -> Transaction:
    """Newly minted tokens for ``energy_kwh`` of proven local renewable delivery."""
    return _tx(
        TxKind.REWARD,
        {
            "recipient": _account(recipient, "reward recipient"),
            "amount_micro": _amount(amount_micro, "reward"),
            "energy_kwh": energy_kwh,
            "interval": interval,
        },
    )
