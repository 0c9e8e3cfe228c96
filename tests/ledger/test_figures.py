"""The figures module on hand-built transactions: each figure worked out by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voisin.ledger.figures import LedgerFigures, Route, reading_energy, tokens, trade_route
from voisin.ledger.tokens import RENT_MEMO, TRADE_MEMO
from voisin.protocol import GRID

A, B = "a" * 64, "b" * 64
IV = "2026-06-22T12:00Z"


def _registration(pid: str, group: str) -> dict[str, object]:
    return {
        "participant_id": pid,
        "kind": "household",
        "group": group,
        "bus": "A1",
        "tariff": {"import_eur_per_kwh": 0.30, "export_eur_per_kwh": 0.10},
    }


def _trade(seller: str, buyer: str, kwh: float, buy: float, sell: float) -> dict[str, object]:
    kind = "p2p" if GRID not in (seller, buyer) else "grid"
    return {
        "interval": IV,
        "seller": seller,
        "buyer": buyer,
        "energy_kwh": kwh,
        "buyer_price_eur_per_kwh": buy,
        "seller_price_eur_per_kwh": sell,
        "kind": kind,
        "buyer_bid_id": "",
        "seller_bid_id": "",
    }


def _reading(pid: str, pv: float, load: float, imp: float, exp: float) -> dict[str, object]:
    return {
        "meter": "m",
        "participant": pid,
        "interval": IV,
        "pv_kwh": pv,
        "load_kwh": load,
        "import_kwh": imp,
        "export_kwh": exp,
    }


@pytest.fixture
def figures() -> LedgerFigures:
    """A sells 2 kWh to B at 0.18 (B pays 0.20: 0.04 rent); B buys 1 kWh from the grid
    at 0.25 and is metered 0.5 kWh short of it; A's PV makes 3 kWh, it uses 1."""
    f = LedgerFigures()
    f.take("genesis", {"recipient": "fund", "amount_micro": 1_000_000_000})
    f.take("registration", _registration(A, "pv"))
    f.take("registration", _registration(B, "consumer"))
    f.take("trade", _trade(A, B, 2.0, 0.20, 0.18))
    f.take("trade", _trade(GRID, B, 1.0, 0.25, 0.25))
    f.take(
        "transfer", {"sender": B, "recipient": A, "amount_micro": 360_000, "memo": TRADE_MEMO + IV}
    )
    f.take(
        "transfer",
        {"sender": B, "recipient": "fund", "amount_micro": 40_000, "memo": RENT_MEMO + IV},
    )
    f.take("transfer", {"sender": "fund", "recipient": B, "amount_micro": 5, "memo": "opening"})
    f.take("reading", _reading(A, 3.0, 1.0, 0.0, 2.0))
    f.take("reading", _reading(B, 0.0, 3.5, 3.5, 0.0))
    settle = {"interval": IV, "imbalance_eur": 0.0, "estimated": False}
    f.take("settlement", {**settle, "participant": A, "imbalance_kwh": 0.0})
    f.take(
        "settlement", {**settle, "participant": B, "imbalance_kwh": -0.5, "imbalance_eur": -0.15}
    )
    f.take("reward", {"recipient": A, "amount_micro": 20_000, "energy_kwh": 2.0, "interval": IV})
    return f


def test_routes_tokens_and_bills_by_hand(figures: LedgerFigures) -> None:
    f = figures
    assert (f.p2p_kwh, f.grid_import_kwh, f.grid_export_kwh) == (2.0, 1.0, 0.0)
    assert f.imbalance_short_kwh == 0.5
    # the opening transfer is no trade payment
    assert (f.to_sellers_micro, f.rent_micro, f.paid_p2p_micro) == (360_000, 40_000, 400_000)
    assert tokens(f.paid_p2p_micro) == pytest.approx(0.40)
    assert f.supply_micro == 1_000_020_000
    assert f.congestion_rent_eur == pytest.approx(0.04)
    a, b = f.participants[A], f.participants[B]
    assert a.bill_eur == pytest.approx(-0.36)
    assert b.bill_eur == pytest.approx(0.40 + 0.25 + 0.15)
    assert a.baseline_eur == pytest.approx(-0.20)  # 2 kWh exported at 0.10
    assert b.baseline_eur == pytest.approx(3.5 * 0.30)
    assert f.by_group() == {
        "consumer": (1, pytest.approx(0.80), pytest.approx(1.05)),
        "pv": (1, pytest.approx(-0.36), pytest.approx(-0.20)),
    }


def test_shares_by_hand(figures: LedgerFigures) -> None:
    # bought: 2 p2p + 1 grid + 0.5 short -> p2p share 2 / 3.5
    assert figures.p2p_share == pytest.approx(2 / 3.5)
    # load 4.5; drawn through the transformer 3.5 - 2.0 = 1.5 -> 1 - 1.5 / 4.5
    assert figures.self_sufficiency == pytest.approx(1 - 1.5 / 4.5)
    interval = figures.intervals[IV]
    assert interval.cleared_kwh == 3.0
    assert interval.paid_micro == 400_000
    assert interval.minted_micro == 20_000


def test_empty_ledger_has_zero_shares() -> None:
    assert LedgerFigures().p2p_share == 0.0
    assert LedgerFigures().self_sufficiency == 0.0


@given(
    kind=st.sampled_from(["p2p", "grid"]),
    seller=st.sampled_from([A, GRID]),
    buyer=st.sampled_from([B, GRID]),
)
def test_every_trade_has_exactly_one_route(kind: str, seller: str, buyer: str) -> None:
    if kind == "p2p":
        assert trade_route(kind, seller, buyer) is Route.P2P
    elif seller == GRID and buyer != GRID:
        assert trade_route(kind, seller, buyer) is Route.GRID_IMPORT
    elif buyer == GRID and seller != GRID:
        assert trade_route(kind, seller, buyer) is Route.GRID_EXPORT
    else:
        with pytest.raises(ValueError, match="grid trade"):
            trade_route(kind, seller, buyer)


def test_reading_battery_defaults_to_zero() -> None:
    r = reading_energy(_reading(A, 1.0, 0.5, 0.0, 0.5))
    assert (r.battery_kwh, r.estimated) == (0.0, False)
