"""The community's money balance, asserted the one way the tests hold it."""

from __future__ import annotations

import pytest

from voisin.cli.accounts import Accounts


def assert_bills_balance(acc: Accounts) -> None:
    """Every bill together = what the grid legs cost - imbalance + congestion rent +
    wheeling fees + local charges (each buyer's own) + fixed parts; the rent is never
    negative."""
    bills = sum(b.total_eur for b in acc.bills.values())
    imbalance = sum(b.imbalance_eur for b in acc.bills.values())
    fixed = sum(b.fixed_eur for b in acc.bills.values())
    assert bills == pytest.approx(
        acc.grid_legs_eur
        - imbalance
        + acc.congestion_rent_eur
        + acc.wheeling_fees_eur
        + acc.local_charges_eur
        + fixed,
        abs=1e-6,
    )
    assert acc.congestion_rent_eur >= -1e-6
