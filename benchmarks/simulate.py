"""Simulation benchmark: a whole day for N households in one process, against the
signature floor of the same run.

    python benchmarks/simulate.py [--households 30,300,1000]

For each N, in CPU seconds: the agents alone (profiles, forecasts, signed bids and
signed readings for 96 intervals, no market), then the day as `voisin simulate` runs it
without the AC grid check (operator gate and signature checks, clearing, two blocks per
interval with fsync, settlement, final verification), the same day without its final
``verify_ledger`` (the day less a second ``verify_ledger`` of the same file, timed
alone), and that ``verify_ledger`` alone. Each is set against its signature floor: one
core making and checking exactly the signatures it makes and checks. Target (issue
15): the day within 1.5x of its floor, and ``verify_ledger`` within 1.5x of its own.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from voisin.agents import Neighbourhood, default_neighbourhood
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.ledger import verify_ledger
from voisin.protocol import KeyPair, day_intervals, verify

FLOOR_TARGET = 1.5
WALL_TARGET_S = {1000: 60.0}
MESSAGE = b'{"bid_id":"2026-06-22T12:00Z/h0001","bus":"b1","interval":"2026-06-22T12:00Z"}'


def signature_floor(signs: int, verifies: int) -> float:
    """CPU seconds for ``signs`` Ed25519 signatures and ``verifies`` checks on one core
    (one key, a bid-sized message): the cryptography with nothing around it."""
    key = KeyPair.derive("bench", "floor")
    signature = key.sign(MESSAGE)
    began = time.process_time()
    for _ in range(signs):
        key.sign(MESSAGE)
    for _ in range(verifies):
        verify(key.public_hex, MESSAGE, signature)
    return time.process_time() - began


def agents_only(households: int, config: SimulationConfig) -> tuple[float, int]:
    """CPU seconds for the agents' side of a day, and the bids they made."""
    began = time.process_time()
    scenario = default_neighbourhood(households=households, seed=config.seed)
    intervals = day_intervals(config.start, config.minutes, config.days)
    model = Neighbourhood(scenario, intervals=intervals, seed=config.seed)
    bids = 0
    for interval in intervals:
        bids += len(model.bids_for(interval))
        model.deliver(interval)
    return time.process_time() - began, bids


def _verdict(ratio: float) -> str:
    return f"<= {FLOOR_TARGET}x: {'met' if ratio <= FLOOR_TARGET else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--households", default="30,300,1000", help="comma-separated sizes (default 30,300,1000)"
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.households.split(",")]
    print(f"CPU seconds of this process (time.process_time); load average {_load()}")
    print(
        f"{'households':>10} {'bids':>7}  {'measure':<34}{'CPU s':>8}{'floor s':>9}{'x floor':>8}"
    )
    for n in sizes:
        with tempfile.TemporaryDirectory() as folder:
            config = SimulationConfig(households=n, out=Path(folder), grid_check=False)
            agents, bids = agents_only(n, config)
            began, wall = time.process_time(), time.perf_counter()
            report = run_simulation(config)
            day, wall = time.process_time() - began, time.perf_counter() - wall
            assert report.verified
            began = time.process_time()
            checked = verify_ledger(report.ledger_path)
            check = time.process_time() - began
        readings = checked.counts.get("reading", 0)
        blocks = checked.blocks
        # the day: each agent signs a bid and its meter a reading, the operator checks
        # both, and the final verification checks them again with every block
        day_floor = signature_floor(bids + readings + blocks, bids + readings)
        check_floor = signature_floor(0, bids + readings + blocks)
        rows = [
            ("agents alone (bid, meter, sign)", agents, None),
            ("day, final verify_ledger included", day, day_floor + check_floor),
            ("day without the final verify_ledger", day - check, day_floor),
            ("verify_ledger alone", check, check_floor),
        ]
        for name, cpu, floor in rows:
            ratio = f"{cpu / floor:>8.2f}  {_verdict(cpu / floor)}" if floor else ""
            floor_text = f"{floor:>9.2f}" if floor else f"{'':>9}"
            print(f"{n:>10} {bids:>7,}  {name:<38}{cpu:>8.2f}{floor_text}{ratio}")
        target = WALL_TARGET_S.get(n)
        note = ""
        if target is not None:
            note = f" (DESIGN.md: <= {target:.0f} s: {'met' if wall <= target else 'MISSED'})"
        print(f"{n:>10} {bids:>7,}  {'day, wall seconds':<38}{wall:>8.2f}{note}")
    print(
        "floor: one core signing each bid, reading and block and checking each bid and "
        "reading (the day), then checking every signature the ledger holds (verify_ledger)"
    )


def _load() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
