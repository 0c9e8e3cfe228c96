"""Simulation benchmark: a whole day for N households in one process.

    python benchmarks/simulate.py [--households 30,300,1000]

For each N, in the same run: the agents alone (profiles, forecasts, signed bids and
signed readings for 96 intervals, no market: the floor), then the whole story as
`voisin simulate` runs it (operator gate and signature checks, clearing, two blocks per
interval with fsync, settlement, final verification). Prints seconds and the ratio of
the whole day to the agents alone. Target (DESIGN.md): 1,000 households <= 60 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from voisin.agents import Neighbourhood, default_neighbourhood
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.protocol import KeyPair, day_intervals, verify

TARGET_S = {1000: 60.0}
FLOOR_TARGET = 1.5
MESSAGE = b'{"bid_id":"2026-06-22T12:00Z/h0001","bus":"b1","interval":"2026-06-22T12:00Z"}'


def signature_floor(household_intervals: int) -> float:
    """Seconds for 2 Ed25519 signs and 2 verifies per household-interval (one key, a
    bid-sized message): the day's cryptography with nothing around it."""
    key = KeyPair.derive("bench", "floor")
    began = time.perf_counter()
    for _ in range(household_intervals):
        for _ in range(2):
            signature = key.sign(MESSAGE)
            verify(key.public_hex, MESSAGE, signature)
    return time.perf_counter() - began


def agents_only(households: int, config: SimulationConfig) -> tuple[float, int]:
    """Seconds for the agents' side of a day, and the bids they made."""
    began = time.perf_counter()
    scenario = default_neighbourhood(households=households, seed=config.seed)
    intervals = day_intervals(config.start, config.minutes, config.days)
    model = Neighbourhood(scenario, intervals=intervals, seed=config.seed)
    bids = 0
    for interval in intervals:
        bids += len(model.bids_for(interval))
        model.deliver(interval)
    return time.perf_counter() - began, bids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--households", default="30,300,1000", help="comma-separated sizes (default 30,300,1000)"
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.households.split(",")]
    print(
        f"{'households':>10} {'bids':>8} {'agents s':>9} {'day s':>8} {'x agents':>9} "
        f"{'sig floor':>9} {'x floor':>8}  target"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory() as folder:
            config = SimulationConfig(households=n, out=Path(folder))
            floor, bids = agents_only(n, config)
            began = time.perf_counter()
            report = run_simulation(config)
            day = time.perf_counter() - began
        assert report.verified
        sig = signature_floor(n * report.intervals)
        target = TARGET_S.get(n)
        note = f"<= {target:.0f} s: {'met' if day <= target else 'MISSED'}; " if target else ""
        note += f"<= {FLOOR_TARGET}x floor: {'met' if day <= FLOOR_TARGET * sig else 'MISSED'}"
        print(
            f"{n:>10} {bids:>8,} {floor:>9.2f} {day:>8.2f} {day / floor:>9.1f} "
            f"{sig:>9.2f} {day / sig:>8.1f}  {note}"
        )


if __name__ == "__main__":
    main()
