"""Market efficiency and incentives: welfare against the truthful LP optimum, and what a
unilateral deviation from truthful bidding gains.

    python benchmarks/market_efficiency.py [--markets 200] [--size 10] [--seed 0]

Random one-bus markets (``voisin.market.efficiency``): each trader buys or sells 1 kWh,
its value uniform between the grid's export (0.05) and import (0.30) prices. Table 1:
for each strategy mix and pricing rule, realised welfare (at true values) as a share of
the truthful LP optimum of the same markets; ZIP learns over ``--rounds`` repetitions of
each market and is scored on the last. Table 2: the best unilateral deviation of one
trader per market from truthful bidding (a grid of 11 limits), under the midpoint rule
and under McAfee's trade reduction (dominant-strategy truthful: its gain is the 0 this
column must show).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

from voisin.agents.strategies import Truthful, ZeroIntelligence, ZeroIntelligencePlus
from voisin.market.efficiency import (
    GRID,
    Mechanism,
    Outcome,
    Trader,
    manipulability,
    mcafee,
    midpoint,
    optimum,
    random_market,
    realised_welfare,
)
from voisin.protocol import Side, Tariff

LOW, HIGH = GRID.export_price_eur_per_kwh, GRID.import_price_eur_per_kwh


def _private_tariff(t: Trader) -> Tariff:
    """A trader's own bounds for the strategies: a buyer never above its value, a seller
    never below its cost (Gode and Sunder's constraint)."""
    if t.side is Side.BUY:
        return Tariff(import_eur_per_kwh=t.value_eur_per_kwh, export_eur_per_kwh=LOW)
    return Tariff(import_eur_per_kwh=HIGH, export_eur_per_kwh=t.value_eur_per_kwh)


def _heard(outcome: Outcome, t: Trader, limit: float) -> float:
    """The price a trader hears: the round's mean trade price, else its own limit."""
    prices = [p for kwh, p in outcome.values() if kwh > 0]
    return float(np.mean(prices)) if prices else limit


def _play(
    traders: Sequence[Trader],
    mix: str,
    mechanism: Mechanism,
    rng: np.random.Generator,
    rounds: int,
) -> Outcome:
    kinds = {
        "truthful": lambda i: Truthful(),
        "zi-c": lambda i: ZeroIntelligence(max_segments=1),
        "zip": lambda i: ZeroIntelligencePlus(),
        "half zi-c": lambda i: ZeroIntelligence(max_segments=1) if i % 2 else Truthful(),
    }
    players = [kinds[mix](i) for i in range(len(traders))]
    tariffs = [_private_tariff(t) for t in traders]
    outcome: Outcome = {}
    for _ in range(rounds if mix == "zip" else 1):
        limits = [
            p.segments(t.side, 1.0, tariff, rng)[0].price_eur_per_kwh
            for p, t, tariff in zip(players, traders, tariffs, strict=True)
        ]
        outcome = mechanism(traders, limits)
        for p, t, limit in zip(players, traders, limits, strict=True):
            p.observe(t.side, _heard(outcome, t, limit), outcome[t.name][0] > 0, rng)
    return outcome


def efficiency_table(
    seed: int, markets: int, size: int, rounds: int
) -> list[tuple[str, str, float]]:
    """(strategy mix, pricing rule, realised welfare / truthful LP optimum)."""
    rng = np.random.default_rng(seed)
    cases = [random_market(rng, size) for _ in range(markets)]
    best = sum(optimum(traders) for traders in cases)
    rows = []
    for mix in ("truthful", "zi-c", "half zi-c", "zip"):
        for rule, mechanism in (("midpoint", midpoint), ("mcafee", mcafee)):
            play = np.random.default_rng(seed + 1)
            realised = sum(
                realised_welfare(traders, _play(traders, mix, mechanism, play, rounds))
                for traders in cases
            )
            rows.append((mix, rule, realised / best if best > 0 else 1.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=200)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"{args.markets} random markets of {args.size} traders, seed {args.seed}")
    print()
    print("| strategy mix | pricing rule | welfare / truthful LP optimum |")
    print("| --- | --- | --- |")
    for mix, rule, share in efficiency_table(args.seed, args.markets, args.size, args.rounds):
        print(f"| {mix} | {rule} | {share:.1%} |")
    print()
    print(
        "| mechanism | mean gain of the best deviation (EUR/market) | largest | "
        "markets where deviating pays | truthful welfare / LP optimum |"
    )
    print("| --- | --- | --- | --- | --- |")
    for row in manipulability(args.seed, args.markets, args.size):
        print(
            f"| {row.mechanism} | {row.mean_gain_eur:.4f} | {row.max_gain_eur:.4f} | "
            f"{row.profitable_share:.0%} | {row.truthful_efficiency:.1%} |"
        )


if __name__ == "__main__":
    main()
