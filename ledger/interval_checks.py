"""The checks of one interval's blocks: its clearing block, then its settlement block.

Clearing block (``check_clearing``): every bid decodes strictly, is for the interval, is
signed by its registered participant over its stored bytes and names its bus; the bid
digest is recomputed from those bytes; the clearing names the market terms in force and
their grid; every trade refers to bids of the book as the contracts in force shape it,
stays within their energy, and carries exactly the prices ``trade_prices`` gives from
the clearing's prices, recorded settlement prices and import credit, with each buyer's
local charge read from its registration's tariff (``LocalCharges``); each bus price is
the sum of its recorded parts; the trade count and the grid exchange agree with the trades.

A city's feeder (``upstream``, docs/city.md): its clearing block holds the city's price
and allocation, and the clearing's net exchange is that allocation; there the exchange
also carries the unmatched inflexible energy (``rest_kwh``), which a lone feeder's
retailer takes outside the market, so the grid trades add up to the exchange less it.

Settlement block (``check_settlement``): every reading is a strict public reading
(``PublicReading``: the whole reading stays sealed to its owner, committed by hash), of
a member registered for the interval, signed by the meter it registered, over its stored
bytes, its PV-covered export within its export; the settlements and the
rewards are exactly what ``settlement_rows`` and ``rewards_for`` give from those readings and the
interval's trades. Re-clearing itself (the LP) is ``voisin audit``'s job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from voisin.errors import InvalidInput
from voisin.ledger import transactions as tx
from voisin.ledger.contract_effects import apply_contracts
from voisin.ledger.replay import Violation, canonical_object
from voisin.ledger.settlement import rewards_for, settlement_rows
from voisin.protocol import (
    GRID,
    Bid,
    BidView,
    LocalCharges,
    PublicReading,
    Side,
    Trade,
    TradeKind,
    Transaction,
    TxKind,
)
from voisin.protocol.blocks import EncodedTransaction
from voisin.protocol.encoding import leaf_hash
from voisin.protocol.keys import verify_many
from voisin.protocol.signed import Signed, decode_part
from voisin.protocol.trades import recorded_adjustments, trade_prices

if TYPE_CHECKING:
    from voisin.ledger.replay import Replay, StoredTx

GRID_TOTAL_KWH = 1e-6
"""Largest gap between a clearing's grid exchange and its grid trades (slivers dropped)."""
PRICE_PARTS_EUR_PER_KWH = 1e-9
"""Largest gap between a bus price and the sum of its parts (rounding of the parts)."""
ENERGY_KWH = 1e-9
"""Largest excess of a bid's traded energy over its offered energy (rounding)."""


def _one(by_kind: dict[str, list[StoredTx]], kind: TxKind, block: str) -> StoredTx:
    found = by_kind.get(kind.value, [])
    if len(found) != 1:
        where = found[1][0] if len(found) > 1 else None
        raise Violation(
            where,
            kind.value,
            f"{block} needs exactly one {kind.value} transaction, has {len(found)}",
        )
    return found[0]


def _bids(state: Replay, interval: str, stored: list[StoredTx]) -> list[Signed[Bid]]:
    signed: list[Signed[Bid]] = []
    for index, _, text, body in stored:
        try:
            item = decode_part(Bid, body, text.encode("utf-8"), "bid")
        except InvalidInput as exc:
            raise Violation(index, "bid", exc.message) from None
        bid = item.value
        member = state.members.get(bid.participant)
        if bid.interval != interval:
            raise Violation(index, "bid", f"bid for {bid.interval} in the block of {interval}")
        if member is None or member.bus != bid.bus:
            raise Violation(index, "bid", f"bid {bid.bid_id!r} is not from a member at its bus")
        if not member.active(interval):
            raise Violation(
                index, "bid", f"bid {bid.bid_id!r}: its key is not registered for {interval}"
            )
        if signed and signed[-1].value.bid_id >= bid.bid_id:
            raise Violation(index, "bid", "bids are not in strictly increasing bid_id order")
        signed.append(item)
    for (index, *_), item, ok in zip(stored, signed, _signatures(signed), strict=True):
        if not ok:
            raise Violation(
                index,
                "bid-signature",
                f"bid {item.value.bid_id!r}: its "
                "participant's signature does not verify over the stored bytes",
            )
    return signed


def _signatures(items: list[Signed[Any]], key: str = "participant") -> list[bool]:
    return verify_many([(getattr(s.value, key), s.signed_bytes, s.value.signature) for s in items])


def check_clearing(state: Replay, interval: str | None, by_kind: dict[str, list[StoredTx]]) -> None:
    """A clearing block: bids, bid digest, clearing and trades (see the module doc)."""
    index, _, _, clearing = _one(by_kind, TxKind.CLEARING, "a clearing block")
    if interval is None or clearing.get("interval") != interval:
        raise Violation(index, "clearing", "the clearing is not for the block's interval")
    if interval in state.closed:
        raise Violation(index, "clearing", f"interval {interval} is cleared a second time")
    terms = state.terms
    if terms is None or clearing.get("market_hash") != terms.hash:
        raise Violation(
            index, "market-terms", "the clearing does not name the market terms in force"
        )
    if clearing.get("grid_hash") != terms.grid_hash:
        raise Violation(
            index, "market-terms", "the clearing's grid_hash is not the grid of the market terms"
        )
    prices = clearing.get("prices_eur_per_kwh")
    if not isinstance(prices, dict) or set(prices) != terms.buses:
        raise Violation(index, "clearing", "prices are not one per bus of the grid")
    signed = _bids(state, interval, by_kind.get(TxKind.BID.value, []))
    d_index, _, d_text, _ = _one(by_kind, TxKind.BID_DIGEST, "a clearing block")
    # the bids as decoded, their stored bytes hashed once (in bid_id order, checked above)
    digest = tx.bid_digest([s.value for s in signed], interval, [leaf_hash(s.data) for s in signed])
    if digest.canonical_body().decode() != d_text:
        raise Violation(
            d_index, "bid-digest", "counts, kWh or bids_root differ from the block's bids"
        )
    stored = by_kind.get(TxKind.TRADE.value, [])
    if clearing.get("trade_count") != len(stored):
        raise Violation(
            index, "clearing", f"trade_count {clearing.get('trade_count')} but {len(stored)} trades"
        )
    shaped = apply_contracts([s.value for s in signed], state.contracts, interval)
    parts = clearing.get("price_parts_eur_per_kwh", {})
    for bus, named in sorted(parts.items()) if isinstance(parts, dict) else [(None, None)]:
        if (
            bus not in prices
            or not isinstance(named, dict)
            or abs(sum(named.values()) - prices[bus]) > PRICE_PARTS_EUR_PER_KWH
        ):
            raise Violation(
                index, "clearing", f"the price parts of bus {bus} do not add up to its price"
            )
    settlement = clearing.get("settlement_prices_eur_per_kwh", {})
    if not isinstance(settlement, dict) or not set(settlement) <= terms.buses:
        raise Violation(index, "clearing", "settlement prices are not by bus of the grid")
    adjust = recorded_adjustments(shaped, prices, settlement)
    credit = clearing.get("import_credit_eur_per_kwh", 0.0)
    if type(credit) not in (int, float) or not 0 <= credit < 1e3:
        raise Violation(index, "clearing", "the import credit is not a price")
    charges = LocalCharges.of(
        shaped,
        state.charges,
        terms.local_charge_eur_per_kwh,
        float(credit),
    )
    trades = _trades(
        interval,
        stored,
        {b.bid_id: b for b in shaped},
        prices,
        terms.root,
        clearing.get("green_premium_eur_per_kwh", 0.0),
        adjust,
        charges,
    )
    imported = sum(t.energy_kwh for t in trades if t.seller == GRID)
    exported = sum(t.energy_kwh for t in trades if t.buyer == GRID)
    try:
        net = float(clearing["grid_import_kwh"]) - float(clearing["grid_export_kwh"])
        rest = float(clearing.get("rest_kwh", 0.0))
        losses = float(clearing.get("losses_kwh", 0.0))
    except (KeyError, TypeError, ValueError):
        raise Violation(index, "clearing", "the grid exchange is missing") from None
    if (rest or losses) and TxKind.UPSTREAM.value not in by_kind:
        raise Violation(
            index, "clearing", "a rest or losses in the exchange outside a city's feeder"
        )
    if abs(net - rest - (imported - exported)) > GRID_TOTAL_KWH:
        raise Violation(
            index,
            "grid-total",
            f"grid exchange {net} kWh ({rest} kWh of it inflexible rest), trades with the "
            f"grid {imported - exported} kWh",
        )
    if TxKind.UPSTREAM.value in by_kind:
        _upstream(interval, net + losses, _one(by_kind, TxKind.UPSTREAM, "a clearing block"))
    state.closed.add(interval)
    state.cleared[interval] = trades


def _upstream(interval: str, net_kwh: float, stored: StoredTx) -> None:
    """A city's feeder took exactly the exchange the city allocated it."""
    index, _, _, body = stored
    try:
        if body["interval"] != interval:
            raise Violation(index, "upstream", "the city's allocation is for another interval")
        allocated = body["exchange_kwh"]
        price = body["price_eur_per_kwh"]
        if type(allocated) not in (int, float) or type(price) not in (int, float):
            raise TypeError
    except (KeyError, TypeError):
        raise Violation(index, "upstream", "not a city allocation") from None
    if abs(net_kwh - allocated) > GRID_TOTAL_KWH:
        raise Violation(
            index,
            "upstream",
            f"the feeder exchanged {net_kwh} kWh; the city allocated it {allocated} kWh",
        )


def _trades(
    interval: str,
    stored: list[StoredTx],
    bids: dict[str, BidView],
    prices: dict[str, float],
    root: str,
    premium: float,
    adjust: dict[str, float],
    charges: LocalCharges,
) -> list[Trade]:
    trades: list[Trade] = []
    used: dict[str, float] = {}
    for index, _, _, body in stored:
        try:
            trade = Trade.model_validate(body)
        except ValidationError:
            raise Violation(index, "trade", "not a trade") from None
        if trade.interval != interval:
            raise Violation(index, "trade", f"a trade of {trade.interval} in {interval}'s block")
        seller = _party(index, bids, trade.seller_bid_id, trade.seller, Side.SELL)
        buyer = _party(index, bids, trade.buyer_bid_id, trade.buyer, Side.BUY)
        if (trade.kind is TradeKind.P2P) != (seller is not None and buyer is not None):
            raise Violation(index, "trade", "p2p and grid trades are told apart by their sides")
        if seller is None and buyer is None:
            raise Violation(index, "trade", "a trade from the grid to the grid")
        expected = trade_prices(prices, root, premium, seller, buyer, adjust, charges)
        if expected != (trade.buyer_price_eur_per_kwh, trade.seller_price_eur_per_kwh):
            raise Violation(
                index,
                "trade-price",
                f"prices (buyer, seller) are "
                f"{trade.buyer_price_eur_per_kwh, trade.seller_price_eur_per_kwh}; "
                f"the clearing's prices give {expected}",
            )
        for bid in (seller, buyer):
            if bid is not None:
                used[bid.bid_id] = used.get(bid.bid_id, 0.0) + trade.energy_kwh
                if used[bid.bid_id] > bid.energy_kwh + ENERGY_KWH:
                    raise Violation(
                        index,
                        "trade-energy",
                        f"bid {bid.bid_id!r} trades {used[bid.bid_id]} kWh of its {bid.energy_kwh}",
                    )
        trades.append(trade)
    return trades


def _party(
    index: int, bids: dict[str, BidView], bid_id: str, who: str, side: Side
) -> BidView | None:
    if who == GRID:
        if bid_id:
            raise Violation(index, "trade", "the grid side of a trade names no bid")
        return None
    bid = bids.get(bid_id)
    if bid is None or bid.participant != who or bid.side is not side:
        raise Violation(
            index,
            "trade",
            f"{side.value} bid {bid_id!r} of {who[:12]} is not in the interval's book",
        )
    return bid


def check_settlement(
    state: Replay, interval: str | None, by_kind: dict[str, list[StoredTx]]
) -> None:
    """A settlement block: signed readings, then settlements and rewards recomputed."""
    first = min(
        i for kind in (TxKind.READING, TxKind.SETTLEMENT) for i, *_ in by_kind.get(kind.value, [])
    )
    if interval is None or interval not in state.cleared:
        why = "settled already" if interval in state.settled else "not cleared"
        raise Violation(first, "settlement", f"interval {interval} is {why}")
    readings = _readings(state, interval, by_kind.get(TxKind.READING.value, []))
    trades = state.cleared.pop(interval)
    members = [state.members[k] for k in sorted(state.members)]
    try:
        rows = settlement_rows(interval, members, trades, readings)
    except InvalidInput as exc:
        raise Violation(first, "reading", exc.message) from None
    compare_bodies(
        by_kind.get(TxKind.SETTLEMENT.value, []),
        tx.settlement_entries(rows),
        "settlement",
        "the readings and trades",
    )
    compare_bodies(
        by_kind.get(TxKind.REWARD.value, []),
        rewards_for(interval, trades, readings),
        "reward",
        "the reward rule, the readings and the p2p trades",
    )
    state.settled.add(interval)


def _readings(state: Replay, interval: str, stored: list[StoredTx]) -> list[PublicReading]:
    signed: list[Signed[PublicReading]] = []
    for index, _, text, body in stored:
        try:
            item = decode_part(PublicReading, body, text.encode("utf-8"), "meter reading")
        except InvalidInput as exc:
            raise Violation(index, "reading", exc.message) from None
        reading = item.value
        member = state.members.get(reading.participant)
        if reading.interval != interval:
            raise Violation(
                index, "reading", f"a reading of {reading.interval} in {interval}'s settlement"
            )
        if member is None or not member.meter_id or member.meter_id != reading.meter:
            raise Violation(
                index,
                "meter-signature",
                "the reading's meter is not the one its participant registered",
            )
        if reading.renewable_export_kwh > reading.export_kwh:
            raise Violation(index, "reading", "the PV-covered export exceeds the export")
        signed.append(item)
    for (index, *_), ok in zip(stored, _signatures(signed, "meter"), strict=True):
        if not ok:
            raise Violation(
                index,
                "meter-signature",
                "the meter's signature does not verify over the stored reading",
            )
    return [s.value for s in signed]


def compare_bodies(stored: list[StoredTx], expected: list[Any], rule: str, source: str) -> None:
    """The stored bodies are byte for byte the expected transactions', in order; else
    ``Violation`` naming the first that differs and its differing fields."""
    for n, want in enumerate(expected):
        text = _body_bytes(want).decode()
        if n >= len(stored):
            raise Violation(None, rule, f"{rule} {text} from {source} is missing")
        index, _, got, body = stored[n]
        if got != text:
            if not body:  # a byte-checked kind, not decoded yet (BYTE_CHECKED_KINDS)
                try:
                    body = canonical_object(got)
                except ValueError:
                    raise Violation(
                        index, "canonical-body", "body is not an RFC 8785 JSON object"
                    ) from None
            want_body = want.body if want.body is not None else want.decoded()
            wrong = [
                _first_leaf(k, body.get(k), want_body.get(k))
                for k in sorted(set(body) | set(want_body))
                if body.get(k) != want_body.get(k)
            ]
            raise Violation(
                index,
                rule,
                "; ".join(
                    f"{path}: stored {_short(a)}, {source} give {_short(b)}" for path, a, b in wrong
                )
                or f"the same values as {source} give, other bytes",
            )
    if len(stored) > len(expected):
        raise Violation(stored[len(expected)][0], rule, f"a {rule} that {source} do not give")


def _body_bytes(entry: Transaction | EncodedTransaction) -> bytes:
    """An expected entry's canonical body: encoded in bulk already, or encoded here."""
    if isinstance(entry, EncodedTransaction):
        return entry.body_bytes
    return entry.canonical_body()


def _first_leaf(path: str, a: Any, b: Any) -> tuple[str, Any, Any]:
    """The first place two JSON values differ, as a dotted path (``prices.TR``)."""
    while isinstance(a, dict) and isinstance(b, dict):
        key = next((k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)), None)
        if key is None:
            break
        path, a, b = f"{path}.{key}", a.get(key), b.get(key)
    return path, a, b


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
