"""Bad bids are refused with a code and one clear line, never a traceback."""

from __future__ import annotations

import json

import pytest

from voisin.errors import InvalidInput
from voisin.market import MarketRules, check_bid
from voisin.protocol import Bid, parse

from .conftest import INTERVAL, make_bid

BUSES = {"R", "A"}


def _raw(kwh: float, price: float) -> dict:
    return {
        "bid_id": "b1",
        "participant": "alice",
        "bus": "R",
        "interval": INTERVAL,
        "side": "buy",
        "segments": [{"energy_kwh": kwh, "price_eur_per_kwh": price}],
    }


def test_negative_energy_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput) as err:
        parse(Bid, _raw(-1.0, 0.2), "bid")
    message = err.value.message
    assert "\n" not in message
    assert "segments.0.energy_kwh" in message
    assert "greater than 0" in message


def test_nan_price_from_json_is_refused_in_one_line() -> None:
    # Python's json accepts the non-standard NaN literal; the model must not.
    data = json.loads(json.dumps(_raw(1.0, 0.2)).replace("0.2", "NaN"))
    with pytest.raises(InvalidInput) as err:
        parse(Bid, data, "bid")
    assert "\n" not in err.value.message
    assert "price_eur_per_kwh" in err.value.message
    assert "finite" in err.value.message


def test_a_good_bid_passes() -> None:
    check_bid(make_bid("b", "buy", 2, 0.25), interval=INTERVAL, known_buses=BUSES)


@pytest.mark.parametrize(
    ("bid", "code", "words"),
    [
        (make_bid("b", "buy", 1, 0.2, interval="2026-06-21T12:15Z"), "wrong-interval", "12:15"),
        (make_bid("b", "buy", 1, 0.2, "Z"), "unknown-bus", "'Z'"),
        (make_bid("b", "buy", 1, 1.5), "price-out-of-range", "1.5"),
        (make_bid("b", "sell", 1, -0.6), "price-out-of-range", "-0.6"),
        (make_bid("b", "sell", 5000, 0.1), "energy-out-of-range", "5000"),
    ],
    ids=["interval", "bus", "above-cap", "below-floor", "too-big"],
)
def test_rule_breaches_carry_a_code(bid: Bid, code: str, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_bid(bid, interval=INTERVAL, known_buses=BUSES)
    assert err.value.code == code
    assert words in err.value.message
    assert "\n" not in err.value.message


def test_rules_are_configurable() -> None:
    rules = MarketRules(price_floor_eur_per_kwh=0.0, price_cap_eur_per_kwh=3.0)
    check_bid(make_bid("b", "buy", 1, 2.5), interval=INTERVAL, known_buses=BUSES, rules=rules)
    with pytest.raises(InvalidInput):
        check_bid(make_bid("s", "sell", 1, -0.1), interval=INTERVAL, known_buses=BUSES, rules=rules)


def test_inconsistent_rules_are_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        MarketRules(price_floor_eur_per_kwh=1.0, price_cap_eur_per_kwh=0.5)
    assert err.value.code == "bad-rules"
