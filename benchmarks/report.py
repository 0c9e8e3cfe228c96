"""Reporting benchmark: what the figures, the HTML report and the dashboard's feed cost
on one ledger, against verifying it (the floor every report starts with).

    python benchmarks/report.py [LEDGER]

Without ``LEDGER`` it simulates the default day (30 homes and a school, 96 intervals)
into a temporary folder first. Rows, in seconds and as a multiple of ``verify_ledger``:
- verify: ``verify_ledger`` over the file (the floor: the report runs it first);
- figures: ``LedgerFigures.from_ledger`` (one pass over the raw transactions);
- dashboard feed: ``LedgerFeed.refresh`` from height 0 (blocks parsed into objects);
- report: ``render_report`` (verify, figures and every SVG plot).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from voisin.cli.dashboard import LedgerFeed
from voisin.cli.report import render_report
from voisin.ledger import verify_ledger
from voisin.ledger.figures import LedgerFigures


def _best(job: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        job()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    if len(sys.argv) > 1:
        ledger = Path(sys.argv[1])
    else:
        from voisin.cli.simulation import SimulationConfig, run_simulation

        out = Path(tempfile.mkdtemp(prefix="voisin-report-bench-"))
        ledger = run_simulation(SimulationConfig(out=out, grid_check=False)).ledger_path
    floor = _best(lambda: verify_ledger(ledger))
    rows = [
        ("verify (floor)", floor),
        ("figures", _best(lambda: LedgerFigures.from_ledger(ledger))),
        ("dashboard feed", _best(lambda: LedgerFeed(ledger).refresh())),
        ("report", _best(lambda: render_report(ledger))),
    ]
    print(f"{ledger} ({ledger.stat().st_size / 1e6:,.1f} MB)")
    print(f"{'step':<18}{'seconds':>10}{'x verify':>10}")
    for name, seconds in rows:
        print(f"{name:<18}{seconds:>10.3f}{seconds / floor:>10.2f}")


if __name__ == "__main__":
    main()
