"""Token balances: integer micro-tokens moved by transfers and minted by rewards.

Tokens come into being twice only: the genesis supply at height 0 and rewards for
proven local renewable delivery. So at every height ``supply == genesis + minted`` and
no balance is ever negative; the book refuses any transaction that would break either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from voisin.errors import InvalidInput, LedgerError
from voisin.ledger import transactions as tx
from voisin.ledger.transactions import GENESIS_SENDER, MICRO_PER_TOKEN
from voisin.protocol import Trade, TradeKind, Transaction, TxKind
from voisin.protocol.trade_table import TradeTable

_GENESIS = TxKind.GENESIS.value
_TRANSFER = TxKind.TRANSFER.value
_REWARD = TxKind.REWARD.value


def _micro(body: Mapping[str, Any]) -> int:
    amount = body.get("amount_micro")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise LedgerError(f"token amount {amount!r} is not a positive integer", code="bad-token-tx")
    return amount


def _account(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise LedgerError(f"token transaction without a {key}", code="bad-token-tx")
    return value


class TokenBook:
    """Balances by account id (participant key or fund name), in micro-tokens."""

    def __init__(self) -> None:
        self._balances: dict[str, int] = {}
        self.genesis_micro = 0
        self.fund = ""
        """The account genesis credited: the community fund."""
        self.minted_micro = 0

    def copy(self) -> TokenBook:
        book = TokenBook()
        book._balances = dict(self._balances)
        book.genesis_micro = self.genesis_micro
        book.fund = self.fund
        book.minted_micro = self.minted_micro
        return book

    def balance(self, account: str) -> int:
        return self._balances.get(account, 0)

    @property
    def balances(self) -> dict[str, int]:
        """A copy, accounts sorted by id."""
        return dict(sorted(self._balances.items()))

    @property
    def supply_micro(self) -> int:
        return sum(self._balances.values())

    def apply(self, transaction: Transaction) -> None:
        self.apply_body(transaction.kind.value, transaction.body)

    def apply_all(self, transactions: Iterable[Transaction]) -> None:
        for t in transactions:
            self.apply_body(t.kind.value, t.body)

    def apply_body(self, kind: str, body: Mapping[str, Any]) -> None:
        """Apply one transaction given as kind name and plain body (verify's fast path).

        Kinds other than genesis, transfer and reward move no tokens and are ignored.
        """
        if kind == _TRANSFER:
            self._transfer(body)
        elif kind == _GENESIS:
            if self.genesis_micro:
                raise LedgerError("a second genesis supply", code="bad-token-tx")
            amount = _micro(body)
            recipient = _account(body, "recipient")
            self._balances[recipient] = self._balances.get(recipient, 0) + amount
            self.genesis_micro = amount
            self.fund = recipient
        elif kind == _REWARD:
            if not self.genesis_micro:
                raise LedgerError("reward before the genesis supply", code="bad-token-tx")
            amount = _micro(body)
            recipient = _account(body, "recipient")
            self._balances[recipient] = self._balances.get(recipient, 0) + amount
            self.minted_micro += amount

    def _transfer(self, body: Mapping[str, Any]) -> None:
        amount = body.get("amount_micro")
        sender = body.get("sender")
        recipient = body.get("recipient")
        # The common case checked inline (this runs once per payment on append and
        # verify); anything unusual goes through the helpers for their messages.
        if not (
            type(amount) is int
            and amount > 0
            and type(sender) is str
            and sender
            and type(recipient) is str
            and recipient
        ):
            amount = _micro(body)
            sender = _account(body, "sender")
            recipient = _account(body, "recipient")
        if sender == GENESIS_SENDER:
            raise LedgerError(
                "a transfer from 'genesis': only the genesis transaction mints the supply",
                code="bad-token-tx",
            )
        if not self.genesis_micro:
            raise LedgerError("transfer before the genesis supply", code="bad-token-tx")
        if sender == recipient:
            raise LedgerError(f"transfer from {sender} to itself", code="bad-token-tx")
        held = self._balances.get(sender, 0)
        if held < amount:
            raise LedgerError(
                f"overdraft: {sender} holds {held} micro-tokens, cannot send {amount}",
                code="overdraft",
            )
        self._balances[sender] = held - amount
        self._balances[recipient] = self._balances.get(recipient, 0) + amount


def _to_micro(eur: float) -> int:
    """EUR -> micro-tokens, rounded half to even (deterministic on every machine)."""
    return int(round(eur * MICRO_PER_TOKEN))


CROSSING_TOLERANCE_EUR_PER_KWH = 1e-9
"""A p2p trade's buyer price may sit at most this far below its seller's (price rounding).

The one rule the trade split and the ledger share (docs/clearing.md, "Trades"): a
peer-to-peer trade never pays its seller more than its buyer pays, since the difference
would be tokens from nowhere; ``market.pairing`` pairs by price so that no clearing
breaks it."""

TRADE_MEMO = "trade "
RENT_MEMO = "congestion rent "
"""Memos of the transfers that pay for trades; verification re-derives each of them."""

Payment = tuple[str, str, int, str]
"""(sender, recipient, micro-tokens, memo) of one transfer."""


def payment_rows(
    seller: str, buyer: str, interval: str, received_eur: float, paid_eur: float, fund: str
) -> list[Payment]:
    """The transfers that pay for one p2p trade.

    The seller gets what it receives; where the buyer's nodal price is above the
    seller's (a congested line, a wheeling fee) the difference goes to the fund, so the
    buyer pays exactly its price. Works on plain values, so the verifier can re-derive
    payments from stored trade bodies without building objects.
    """
    to_seller = _to_micro(received_eur)
    rent = _to_micro(paid_eur) - to_seller
    rows: list[Payment] = []
    if to_seller > 0:
        rows.append((buyer, seller, to_seller, TRADE_MEMO + interval))
    elif to_seller < 0:
        rows.append((seller, buyer, -to_seller, TRADE_MEMO + interval))
    if rent > 0:
        rows.append((buyer, fund, rent, RENT_MEMO + interval))
    return rows


def payments_for(trades: Sequence[Trade], fund: str) -> list[Transaction]:
    """Token transfers that pay for the peer-to-peer trades of one clearing.

    Grid trades settle in EUR with the retailer and move no tokens. Trades keep the
    clearing's (deterministic) order; see ``payment_rows`` for each trade's transfers.
    """
    return [tx.transfer(*row) for row in payments_rows_for(trades, fund)]


def payments_rows_for(trades: Sequence[Trade], fund: str) -> list[Payment]:
    """``payments_for`` as (sender, recipient, micro-tokens, memo) rows, for encoding in
    bulk (``transactions.transfer_entries``)."""
    if not isinstance(fund, str) or not fund:
        raise InvalidInput(
            "payments_for: fund must be a non-empty account id (str)", code="bad-account"
        )
    table = TradeTable.of(trades)
    payments: list[Payment] = []
    for seller, buyer, interval, kind, seller_price, buyer_price, received, paid in zip(
        table.seller,
        table.buyer,
        table.interval,
        table.kind,
        table.seller_price_eur_per_kwh.tolist(),
        table.buyer_price_eur_per_kwh.tolist(),
        table.received_eur().tolist(),
        table.paid_eur().tolist(),
        strict=True,
    ):
        if kind is not TradeKind.P2P:
            continue
        if seller_price - buyer_price > CROSSING_TOLERANCE_EUR_PER_KWH:
            raise InvalidInput(
                f"p2p trade {seller}->{buyer} in {interval}: buyer price "
                f"{buyer_price} below the seller's {seller_price} "
                "would need tokens from nowhere",
                code="bad-trade",
            )
        payments.extend(payment_rows(seller, buyer, interval, received, paid, fund))
    return payments
