"""The operator's own lies: a simulated day's ledger edited and re-signed with the
operator's key (hashes, links and signatures all verify), each caught by `ledger verify`
redoing the arithmetic, with the block, the transaction and the rule named.

The lies are the ones issue 10 lists: a reward x100, a reward minted for a consumer who
sold nothing, a settlement off by 0.01 EUR, a trade price and its payment changed,
clearing prices changed, ``bids_root`` replaced, a forged meter reading, a chain
re-signed by an outsider with the genesis supply doubled; and a bid altered after its
participant signed it. Then a city's (docs/city.md): a feeder recording an allocation it
did not take, a rest on a lone feeder, a city clearing that loses energy, a city block
without a link to a feeder's block.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from voisin.cli.main import main
from voisin.cli.simulation import LEDGER_FILE, SimulationConfig, run_simulation
from voisin.errors import VerificationError
from voisin.ledger import verify_ledger
from voisin.protocol import KeyPair

from .forge import Rows, at, blocks, copy_ledger, first, fund, repaid, resign, shift_prices

SMALL = {"households": 8, "minutes": 60, "start": date(2026, 6, 22)}
OPERATOR = KeyPair.derive("seed", 7, "operator")  # the simulation's operator key


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    run_simulation(SimulationConfig(out=out, **SMALL))
    return out / LEDGER_FILE


@pytest.fixture
def copy(day: Path, tmp_path: Path) -> Path:
    return copy_ledger(day, tmp_path / "lie.sqlite")


def _caught(path: Path, height: int, index: int | None, rule: str) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_ledger(path)
    assert (caught.value.height, caught.value.index, caught.value.rule) == (height, index, rule)
    assert caught.value.message.startswith(f"block {height}")
    return caught.value


def test_the_honest_day_verifies(day: Path) -> None:
    report = verify_ledger(day, operator=OPERATOR.public_hex)
    assert report.intervals_cleared == report.intervals_settled == 24
    assert report.counts["bid"] > 0
    assert report.counts["reading"] > 0
    assert report.minted_micro > 0


def test_a_reward_times_100(copy: Path) -> None:
    height, index = first(copy, "reward")
    resign(
        copy, OPERATOR, at(height, index, lambda b: {**b, "amount_micro": b["amount_micro"] * 100})
    )
    assert "amount_micro" in _caught(copy, height, index, "reward").message


@pytest.mark.parametrize("kind", ["settlement", "bid", "transfer"])
def test_a_body_respelled_with_the_same_value_is_refused(copy: Path, kind: str) -> None:
    """Another spelling of the same JSON (a space after the first colon), hashed and
    signed as stored: not the one canonical form, whether the verifier reads the body
    (a bid, a transfer) or only compares it with the bytes it derives (a settlement)."""
    height, index = first(copy, kind)
    resign(
        copy,
        OPERATOR,
        lambda h, rows: rows,
        spelled={(height, index): lambda text: text.replace(":", ": ", 1)},
    )
    assert "RFC 8785" in _caught(copy, height, index, "canonical-body").message


def _members(path: Path) -> dict[str, dict[str, Any]]:
    return {
        b["participant_id"]: b for _, rows in blocks(path) for k, b in rows if k == "registration"
    }


def test_a_reward_for_a_consumer_who_sold_nothing(copy: Path) -> None:
    height, index = first(copy, "reward")
    consumer = KeyPair.derive("seed", 7, "school").public_hex  # the ledger names no kinds
    assert consumer in _members(copy)
    interval = blocks(copy)[height][1][index][1]["interval"]

    def mint(h: int, rows: Rows) -> Rows:
        if h != height:
            return rows
        return [
            *rows,
            (
                "reward",
                {
                    "recipient": consumer,
                    "amount_micro": 10_000,
                    "energy_kwh": 1.0,
                    "interval": interval,
                },
            ),
        ]

    resign(copy, OPERATOR, mint)
    _caught(copy, height, len(blocks(copy)[height][1]) - 1, "reward")


def test_a_settlement_off_by_a_cent(copy: Path) -> None:
    height, index = first(copy, "settlement", lambda b: not b["estimated"])
    resign(
        copy,
        OPERATOR,
        at(height, index, lambda b: {**b, "imbalance_eur": round(b["imbalance_eur"] + 0.01, 6)}),
    )
    assert "imbalance_eur" in _caught(copy, height, index, "settlement").message


def test_a_trade_price_and_its_payment(copy: Path) -> None:
    height, index = first(
        copy, "trade", lambda b: b["kind"] == "p2p" and not b["seller_bid_id"].startswith("!gift")
    )
    target = blocks(copy)[height][1][index][1]

    def dearer(b: dict[str, Any]) -> dict[str, Any]:
        if b != target:
            return b
        return {**b, "buyer_price_eur_per_kwh": round(b["buyer_price_eur_per_kwh"] + 0.01, 9)}

    resign(copy, OPERATOR, repaid(fund(copy), height, dearer))
    assert "the clearing's prices give" in _caught(copy, height, index, "trade-price").message


def test_clearing_prices_changed(copy: Path) -> None:
    """A bus price moved alone no longer adds up to its recorded parts; moved with its
    parts, and the trades and payments with them, only re-clearing can tell
    (``test_consistent_lies_need_the_audit``)."""
    height, _ = first(copy, "trade", lambda b: b["kind"] == "p2p")
    i = next(i for i, (k, _) in enumerate(blocks(copy)[height][1]) if k == "clearing")
    bus = _root(copy)
    resign(
        copy,
        OPERATOR,
        at(
            height,
            i,
            lambda b: {
                **b,
                "prices_eur_per_kwh": {
                    **b["prices_eur_per_kwh"],
                    bus: round(b["prices_eur_per_kwh"][bus] + 0.02, 9),
                },
            },
        ),
    )
    assert "do not add up" in _caught(copy, height, i, "clearing").message


def _root(path: Path) -> str:
    return next(b["grid"]["root"] for _, rows in blocks(path) for k, b in rows if k == "market")


def test_bids_root_replaced(copy: Path) -> None:
    height, index = first(copy, "bid_digest", lambda b: b["bid_count"] > 0)
    resign(copy, OPERATOR, at(height, index, lambda b: {**b, "bids_root": "00" * 32}))
    _caught(copy, height, index, "bid-digest")


def test_a_forged_meter_reading(copy: Path) -> None:
    height, index = first(copy, "reading", lambda b: b["export_kwh"] > 0)
    resign(
        copy,
        OPERATOR,
        at(
            height,
            index,
            lambda b: {
                **b,
                "export_kwh": round(b["export_kwh"] + 1.0, 3),
                "renewable_export_kwh": round(b["renewable_export_kwh"] + 1, 3),
            },
        ),
    )
    _caught(copy, height, index, "meter-signature")


def test_a_bid_altered_after_signing(copy: Path) -> None:
    height, index = first(copy, "bid")
    resign(
        copy,
        OPERATOR,
        at(
            height,
            index,
            lambda b: {
                **b,
                "segments": [
                    {**s, "price_eur_per_kwh": round(s["price_eur_per_kwh"] + 0.01, 5)}
                    for s in b["segments"]
                ],
            },
        ),
    )
    _caught(copy, height, index, "bid-signature")


def test_a_chain_re_signed_by_an_outsider_needs_the_operator_pinned(
    copy: Path, day: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outsider = KeyPair.derive("test", "outsider")
    resign(
        copy,
        outsider,
        at(0, 0, lambda b: {**b, "amount_micro": b["amount_micro"] * 2}),
        from_height=0,
    )
    report = verify_ledger(copy)  # a consistent chain in the outsider's name
    assert report.operator == outsider.public_hex
    assert report.genesis_micro == 2 * verify_ledger(day).genesis_micro
    with pytest.raises(VerificationError) as caught:
        verify_ledger(copy, operator=OPERATOR.public_hex)
    assert (caught.value.height, caught.value.rule) == (0, "operator")
    assert main(["ledger", "verify", str(copy), "--operator", OPERATOR.public_hex]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "block 0: rule operator" in err
    honest_head = verify_ledger(day).head_hash
    assert main(["ledger", "verify", str(copy), "--head", honest_head]) == 2
    assert "rule head" in capsys.readouterr().err
    assert (
        main(
            ["ledger", "verify", str(day), "--operator", OPERATOR.public_hex, "--head", honest_head]
        )
        == 0
    )


def test_consistent_lies_need_the_audit(copy: Path) -> None:
    """Prices carried through the clearing, its trades and their payments are arithmetic
    the ledger cannot refute alone: only re-clearing shows them (tests/market/test_audit)."""
    height, index = first(copy, "clearing", lambda b: b["trade_count"] > 0)
    resign(copy, OPERATOR, shift_prices(copy, height, index))
    verify_ledger(copy)


# A city's feeder and the city (docs/city.md): the same tool on their ledgers.

CITY = {"name": "lies", "feeders": 2, "households_per_feeder": 3, "intervals": 2}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-feeder city's ledgers, written by the run's own task functions in order."""
    from voisin.city.ledgers import write_city_ledger, write_feeder_ledger
    from voisin.city.run import city_task, curve_task
    from voisin.city.scenario import CitySpec

    spec = CitySpec(**CITY, first_interval=46)
    out = tmp_path_factory.mktemp("city")
    levels = [
        city_task(spec, iv.id, *(curve_task(spec, k, iv.id) for k in range(2)))
        for iv in spec.interval_list()
    ]
    links = [write_feeder_ledger(spec, k, out, [c for _, c in levels]) for k in range(2)]
    write_city_ledger(spec, out, levels, [[links[k][t] for k in range(2)] for t in range(2)])
    return out


def _city_key(name: str | None = None) -> KeyPair:
    from voisin.city.ledgers import operator_key
    from voisin.city.scenario import CitySpec

    return operator_key(CitySpec(**CITY), name)


def test_a_feeder_that_did_not_take_its_allocation(city: Path, tmp_path: Path) -> None:
    """The feeder's operator records an allocation other than the exchange it cleared."""
    path = copy_ledger(city / "feeders" / "F1" / "ledger.sqlite", tmp_path / "lie.sqlite")
    height, index = first(path, "upstream")
    resign(path, _city_key("F1"), at(height, index, lambda b: {**b, "exchange_kwh": 7.5}))
    _caught(path, height, index, "upstream")


def test_a_rest_on_a_lone_feeder(copy: Path) -> None:
    """An inflexible rest inside the exchange is a city feeder's only."""
    height, index = first(copy, "clearing", lambda b: b["status"] == "optimal")
    resign(copy, OPERATOR, at(height, index, lambda b: {**b, "rest_kwh": 1.0}))
    _caught(copy, height, index, "clearing")


def test_a_city_clearing_that_loses_energy(city: Path, tmp_path: Path) -> None:
    """The city operator moves a feeder's exchange: the MV balance no longer holds."""
    path = copy_ledger(city / "city" / "ledger.sqlite", tmp_path / "lie.sqlite")
    height, index = first(path, "city_clearing")

    def moved(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "exchange_kwh": {**body["exchange_kwh"], "F0": 50.0}}

    resign(path, _city_key(), at(height, index, moved))
    _caught(path, height, index, "city-balance")


def test_a_city_block_without_a_feeder_link(city: Path, tmp_path: Path) -> None:
    path = copy_ledger(city / "city" / "ledger.sqlite", tmp_path / "lie.sqlite")
    height, index = first(path, "feeder_link")
    resign(path, _city_key(), at(height, index, lambda b: None))
    _caught(path, height, None, "feeder-link")
