"""Payment transfers must be exactly what the block's trades owe: the operator cannot
pay itself, skip a payment or change an amount, even in a block it signs itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from voisin.errors import VerificationError
from voisin.ledger import Ledger, payments_for, verify_ledger
from voisin.ledger import transactions as tx
from voisin.protocol import KeyPair, Participant

from .conftest import FUND, INTERVAL, clearing_entries, sample_bids, sample_trades


def _ledger_with(tmp_path: Path, participants: list[Participant], entries: list) -> Path:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path, KeyPair.derive("trace", "operator"), fund=FUND) as ledger:
        ledger.append(
            [tx.registration(p) for p in participants]
            + [
                tx.transfer(FUND, p.participant_id, 10_000_000, "opening allowance")
                for p in participants
            ],
            interval=None,
            time="2026-06-21T00:00:00+00:00",
        )
        ledger.append(entries, interval=INTERVAL, time="2026-06-21T12:15:00+00:00")
    return path


def test_payments_derived_from_the_trades_verify(
    tmp_path: Path, participants: list[Participant]
) -> None:
    house, school = participants[0].participant_id, participants[1].participant_id
    payments = payments_for(sample_trades(participants), FUND)
    # 3 kWh: 0.15 to the seller, 0.69 of congestion rent to the fund, both from the school.
    assert [(p.body["sender"], p.body["recipient"], p.body["amount_micro"]) for p in payments] == [
        (school, house, 150_000),
        (school, FUND, 690_000),
    ]
    verify_ledger(
        _ledger_with(
            tmp_path,
            participants,
            clearing_entries(sample_bids(participants), sample_trades(participants)),
        )
    )


@pytest.mark.parametrize(
    ("change", "words", "index"),
    [
        (lambda ps, _: ps[1:], "does not pay it", 5),  # names the trade that owes it
        (
            lambda ps, p: [tx.transfer(p[1], p[0], 150_001, f"trade {INTERVAL}"), ps[1]],
            "matches no trade",
            7,
        ),
        (
            lambda ps, p: [*ps, tx.transfer(p[1], FUND, 1, f"congestion rent {INTERVAL}")],
            "matches no trade",
            9,
        ),
    ],
)
def test_a_payment_that_does_not_match_its_trade_is_named(
    tmp_path: Path, participants: list[Participant], change, words: str, index: int
) -> None:
    trades = sample_trades(participants)
    ids = [p.participant_id for p in participants]
    paid = change(payments_for(trades, FUND), ids)
    path = _ledger_with(
        tmp_path, participants, clearing_entries(sample_bids(participants), trades, payments=paid)
    )
    with pytest.raises(VerificationError, match=words) as err:
        verify_ledger(path)
    assert (err.value.height, err.value.rule) == (2, "payment")
    assert err.value.index == index


def test_a_payment_without_its_trade_is_named(
    tmp_path: Path, participants: list[Participant]
) -> None:
    path = _ledger_with(tmp_path, participants, payments_for(sample_trades(participants), FUND))
    with pytest.raises(VerificationError, match="matches no trade") as err:
        verify_ledger(path)
    assert (err.value.height, err.value.index) == (2, 0)
