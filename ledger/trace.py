"""Payment transfers trace to the trades of their own block, exactly.

Payments are not trusted as written: the verifier re-derives, from the block's stored
trade bodies, exactly the transfers ``payments_for`` would make (gift-share trades to
their recipient move nothing) and requires the block's payment transfers (memo
``trade ...`` or ``congestion rent ...``) to be that multiset: no payment without its
trade, no trade left unpaid, no amount changed. Other transfers (opening allowances
from the fund, tokens neighbours send each other) stand on the operator's signature;
sender-signed wallet transfers are the next step (docs/ledger.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from voisin.ledger.contract_effects import GIFT_MARK
from voisin.ledger.tokens import RENT_MEMO, TRADE_MEMO, Payment, payment_rows
from voisin.protocol import TradeKind

_P2P = TradeKind.P2P.value
_PAYMENT_MEMOS = (TRADE_MEMO, RENT_MEMO)


@dataclass(frozen=True)
class Untraced:
    """Why a block's payments and trades disagree: ``payment`` is written but owed by no
    trade (``extra``), or owed by a trade and not written."""

    why: str
    payment: Payment
    extra: bool


def untraced(
    trades: Sequence[Mapping[str, Any]],
    transfers: Sequence[Mapping[str, Any]],
    fund: str,
    gifts: Callable[[str], set[tuple[str, str]]],
) -> Untraced | None:
    """Why the block's payments do not match its trades, or None when they do.

    ``gifts(interval)`` gives the (giver, recipient) pairs of gift shares in force.
    """
    expected: list[Payment] = []
    for t in trades:
        if t["kind"] != _P2P:
            continue
        if t.get("seller_bid_id", "").startswith(GIFT_MARK) and (t["seller"], t["buyer"]) in gifts(
            t["interval"]
        ):
            continue
        kwh = t["energy_kwh"]
        expected += payment_rows(
            t["seller"],
            t["buyer"],
            t["interval"],
            kwh * t["seller_price_eur_per_kwh"],
            kwh * t["buyer_price_eur_per_kwh"],
            fund,
        )
    written = [
        (b["sender"], b["recipient"], b["amount_micro"], b["memo"])
        for b in transfers
        if b.get("memo", "").startswith(_PAYMENT_MEMOS)
    ]
    if written == expected or sorted(written) == sorted(expected):
        return None
    return _mismatch(Counter(written), Counter(expected))


def _mismatch(written: Counter[Payment], expected: Counter[Payment]) -> Untraced:
    extra, missing = written - expected, expected - written
    if extra:
        payment = min(extra)
        sender, recipient, amount, memo = payment
        return Untraced(
            f"payment of {amount} micro-tokens {sender[:12]} -> {recipient[:12]} "
            f"({memo}) matches no trade in the block",
            payment,
            True,
        )
    payment = min(missing)
    sender, recipient, amount, memo = payment
    return Untraced(
        f"a trade owes {amount} micro-tokens {sender[:12]} -> {recipient[:12]} "
        f"({memo}) and the block does not pay it",
        payment,
        False,
    )
