"""Strategies keep every limit between the feed-in and retail tariffs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voisin.agents import Truthful, ZeroIntelligence
from voisin.agents.strategies import ZeroIntelligencePlus
from voisin.protocol import Side, Tariff

TARIFF = Tariff(import_eur_per_kwh=0.28, export_eur_per_kwh=0.08)


def test_truthful_sells_at_feed_in_and_buys_at_retail() -> None:
    rng = np.random.default_rng(0)
    (sell,) = Truthful().segments(Side.SELL, 1.2345, TARIFF, rng)
    (buy,) = Truthful().segments(Side.BUY, 0.5, TARIFF, rng)
    assert (sell.energy_kwh, sell.price_eur_per_kwh) == (1.234, 0.08)
    assert (buy.energy_kwh, buy.price_eur_per_kwh) == (0.5, 0.28)


def test_energy_that_rounds_to_nothing_gives_no_segments() -> None:
    rng = np.random.default_rng(0)
    assert Truthful().segments(Side.SELL, 0.0004, TARIFF, rng) == ()
    assert ZeroIntelligence().segments(Side.BUY, 0.0004, TARIFF, rng) == ()


def test_zero_intelligence_uses_one_or_two_segments_and_the_rng() -> None:
    counts = {
        len(ZeroIntelligence().segments(Side.SELL, 2.0, TARIFF, np.random.default_rng(s)))
        for s in range(40)
    }
    assert counts == {1, 2}
    first = ZeroIntelligence().segments(Side.BUY, 2.0, TARIFF, np.random.default_rng(5))
    assert first == ZeroIntelligence().segments(Side.BUY, 2.0, TARIFF, np.random.default_rng(5))


@settings(max_examples=200, deadline=None)
@given(
    energy=st.floats(0.001, 50.0),
    feed_in=st.floats(0.0, 0.2),
    spread=st.floats(0.0, 0.3),
    side=st.sampled_from(list(Side)),
    seed=st.integers(0, 2**32 - 1),
    truthful=st.booleans(),
)
def test_limits_stay_within_tariff_and_energy_is_kept(
    energy: float, feed_in: float, spread: float, side: Side, seed: int, truthful: bool
) -> None:
    tariff = Tariff(import_eur_per_kwh=feed_in + spread, export_eur_per_kwh=feed_in)
    strategy = Truthful() if truthful else ZeroIntelligence()
    segments = strategy.segments(side, energy, tariff, np.random.default_rng(seed))
    assert 1 <= len(segments) <= 2
    prices = [s.price_eur_per_kwh for s in segments]
    for price in prices:
        assert tariff.export_eur_per_kwh <= price <= tariff.import_eur_per_kwh
    assert sum(s.energy_kwh for s in segments) == pytest.approx(round(energy, 3), abs=1e-9)
    assert prices == sorted(prices, reverse=side is Side.BUY)


def test_zip_seller_learns_towards_the_price_it_hears() -> None:
    """A ZIP seller that keeps trading at 0.20 while asking less raises its ask towards
    0.20; one that stops trading lowers it again; never outside [feed-in, retail]."""
    zip_ = ZeroIntelligencePlus()
    rng = np.random.default_rng(3)
    (first,) = zip_.segments(Side.SELL, 1.0, TARIFF, rng)
    asks = [first.price_eur_per_kwh]
    for _ in range(30):
        zip_.observe(Side.SELL, 0.20, True, rng)
        asks.append(zip_.segments(Side.SELL, 1.0, TARIFF, rng)[0].price_eur_per_kwh)
    assert asks[0] < 0.20
    assert asks[-1] == pytest.approx(0.20, abs=0.01)
    rising = [a for a in asks if a < 0.195]
    assert rising == sorted(rising)  # only up while it trades well below the price
    for _ in range(30):
        zip_.observe(Side.SELL, 0.12, False, rng)
    assert zip_.segments(Side.SELL, 1.0, TARIFF, rng)[0].price_eur_per_kwh < 0.13


def test_zip_buyer_that_does_not_trade_bids_up() -> None:
    zip_ = ZeroIntelligencePlus()
    rng = np.random.default_rng(4)
    start = zip_.segments(Side.BUY, 1.0, TARIFF, rng)[0].price_eur_per_kwh
    for _ in range(40):
        zip_.observe(Side.BUY, 0.26, False, rng)
    later = zip_.segments(Side.BUY, 1.0, TARIFF, rng)[0].price_eur_per_kwh
    assert start < later <= TARIFF.import_eur_per_kwh


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([Side.SELL, Side.BUY]), st.floats(-1.0, 2.0), st.booleans()),
        max_size=40,
    ),
    st.integers(0, 2**32 - 1),
)
def test_zip_limits_stay_within_the_tariff(
    heard: list[tuple[Side, float, bool]], seed: int
) -> None:
    zip_ = ZeroIntelligencePlus()
    rng = np.random.default_rng(seed)
    for side, price, traded in heard:
        (segment,) = zip_.segments(side, 1.0, TARIFF, rng)
        assert TARIFF.export_eur_per_kwh <= segment.price_eur_per_kwh
        assert segment.price_eur_per_kwh <= TARIFF.import_eur_per_kwh
        zip_.observe(side, price, traded, rng)
