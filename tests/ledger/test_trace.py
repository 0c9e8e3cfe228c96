"""Payment transfers must be exactly what the block's trades owe: the operator cannot
pay itself, skip a payment or change an amount, even in a block it signs itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from voisin.errors import VerificationError
from voisin.ledger import Ledger, payments_for, verify_ledger
from voisin.ledger import transactions as tx
from voisin.protocol import KeyPair, Trade, TradeKind

T = "2026-06-22T12:00Z"
FUND = "fund"
ALICE, BOB = "a" * 64, "b" * 64
TRADE = Trade(interval=T, seller=ALICE, buyer=BOB, energy_kwh=2.0,
              seller_price_eur_per_kwh=0.10, buyer_price_eur_per_kwh=0.13, kind=TradeKind.P2P)


def _ledger_with(tmp_path: Path, entries: list) -> Path:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path, KeyPair.derive("trace", "operator"), fund=FUND) as ledger:
        ledger.append([tx.transfer(FUND, BOB, 10_000_000, "opening allowance")],
                      interval=None, time="t0")
        ledger.append(entries, interval=T, time=T)
    return path


def test_payments_derived_from_the_trades_verify(tmp_path: Path) -> None:
    payments = payments_for([TRADE], FUND)
    # 2 kWh: 0.20 to the seller, 0.06 of congestion rent to the fund.
    assert [(p.body["recipient"], p.body["amount_micro"]) for p in payments] == [
        (ALICE, 200_000), (FUND, 60_000)]
    verify_ledger(_ledger_with(tmp_path, [tx.trade(TRADE), *payments]))


@pytest.mark.parametrize(("change", "words"), [
    (lambda ps: ps[1:], "does not pay it"),
    (lambda ps: [tx.transfer(BOB, ALICE, 200_001, f"trade {T}"), ps[1]], "matches no trade"),
    (lambda ps: [*ps, tx.transfer(BOB, FUND, 1, f"congestion rent {T}")], "matches no trade"),
])
def test_a_payment_that_does_not_match_its_trade_is_named(tmp_path: Path, change, words) -> None:
    path = _ledger_with(tmp_path, [tx.trade(TRADE), *change(payments_for([TRADE], FUND))])
    with pytest.raises(VerificationError, match=words) as err:
        verify_ledger(path)
    assert err.value.height == 2


def test_a_payment_without_its_trade_is_named(tmp_path: Path) -> None:
    path = _ledger_with(tmp_path, payments_for([TRADE], FUND))
    with pytest.raises(VerificationError, match="matches no trade") as err:
        verify_ledger(path)
    assert err.value.height == 2
