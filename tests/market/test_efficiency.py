"""Efficiency and incentives: truthful bids reach the LP optimum, McAfee's reference
by hand, the midpoint rule's manipulability as docs/economics.md states it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.market.efficiency import (
    Trader,
    deviation_gain,
    manipulability,
    mcafee,
    midpoint,
    optimum,
    random_market,
    realised_welfare,
)
from voisin.protocol import Side


def _traders(buys: list[float], sells: list[float]) -> list[Trader]:
    return [Trader(f"b{i}", Side.BUY, v) for i, v in enumerate(buys)] + [
        Trader(f"s{i}", Side.SELL, v) for i, v in enumerate(sells)
    ]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_truthful_bids_reach_the_lp_optimum(seed: int, size: int) -> None:
    traders = random_market(np.random.default_rng(seed), size)
    truthful = [t.value_eur_per_kwh for t in traders]
    assert realised_welfare(traders, midpoint(traders, truthful)) == pytest.approx(
        optimum(traders), abs=1e-9
    )


def test_mcafee_trades_all_at_the_next_pair_midpoint_or_reduces_one_trade() -> None:
    # k = 2; p0 = (0.10 + 0.22) / 2 = 0.16 lies in [0.15, 0.20]: both trade at 0.16.
    t = _traders([0.25, 0.20, 0.10], [0.08, 0.15, 0.22])
    out = mcafee(t, [x.value_eur_per_kwh for x in t])
    assert {n: v for n, v in out.items() if v[0]} == {
        n: (1.0, pytest.approx(0.16)) for n in ("b0", "b1", "s0", "s1")
    }
    # k = 2; p0 = (0.19 + 0.30) / 2 = 0.245 > 0.20: one trade, at 0.20 and 0.15.
    t = _traders([0.25, 0.20, 0.19], [0.08, 0.15, 0.30])
    out = mcafee(t, [x.value_eur_per_kwh for x in t])
    assert {n: v for n, v in out.items() if v[0]} == {"b0": (1.0, 0.20), "s0": (1.0, 0.15)}


def test_a_buyer_shades_its_bid_under_the_midpoint_rule() -> None:
    """One buyer worth 0.25, one seller costing 0.11: truthful, the price is the
    midpoint 0.18. Bidding 0.125 (the lowest of the 11 limits 0.05, 0.075, ..., 0.30
    above the seller's) still trades, at 0.1175: the buyer gains 0.0625. Under McAfee the
    pair trades at (0.05 + 0.30) / 2 = 0.175 (the grid prices stand in for the missing
    next pair), whatever either bids: nothing to gain."""
    t = _traders([0.25], [0.11])
    assert midpoint(t, [0.25, 0.11])["b0"] == (1.0, pytest.approx(0.18))
    assert deviation_gain(t, 0, midpoint) == pytest.approx(0.0625)
    assert deviation_gain(t, 0, mcafee) == 0.0


def test_the_documented_deviation_gains_reproduce_at_small_size() -> None:
    """docs/economics.md, "Efficiency and incentives", the row for 5 markets of 6."""
    rows = {r.mechanism: r for r in manipulability(seed=0, markets=5, size=6)}
    mid, ref = rows["midpoint"], rows["mcafee"]
    assert (round(mid.mean_gain_eur, 4), round(mid.max_gain_eur, 4)) == (0.0082, 0.0279)
    assert mid.profitable_share == pytest.approx(0.6)
    assert mid.truthful_efficiency == pytest.approx(1.0)
    assert (ref.mean_gain_eur, ref.max_gain_eur, ref.profitable_share) == (0.0, 0.0, 0.0)
    assert round(ref.truthful_efficiency, 3) == 0.96
