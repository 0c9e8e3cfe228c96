"""`voisin market clear`: an auditor re-clears a book from files and gets the same result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from voisin.market import clear
from voisin.protocol import Bid, Grid, canonical_bytes

INTERVAL = "2026-06-22T12:00Z"
GRID = {
    "root": "R",
    "buses": ["R", "A"],
    "lines": [{"from": "R", "to": "A", "capacity_kwh": 2}],
    "import_price_eur_per_kwh": 0.3,
    "export_price_eur_per_kwh": 0.05,
}
BIDS = [
    {
        "bid_id": "bA",
        "participant": "pA",
        "bus": "A",
        "interval": INTERVAL,
        "side": "buy",
        "segments": [{"energy_kwh": 6, "price_eur_per_kwh": 0.27}],
    },
    {
        "bid_id": "sR",
        "participant": "pR",
        "bus": "R",
        "interval": INTERVAL,
        "side": "sell",
        "segments": [{"energy_kwh": 10, "price_eur_per_kwh": 0.1}],
    },
]


def _clear(tmp_path: Path, book: object, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "book.json").write_text(json.dumps(book))
    (tmp_path / "grid.json").write_text(json.dumps(GRID))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "voisin.cli.main",
            "market",
            "clear",
            str(tmp_path / "book.json"),
            "--grid",
            str(tmp_path / "grid.json"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_file_result_equals_in_process_clearing(tmp_path: Path) -> None:
    run = _clear(tmp_path, {"interval": INTERVAL, "bids": BIDS})
    assert run.returncode == 0, run.stderr
    expected = clear([Bid.model_validate(b) for b in BIDS], Grid.model_validate(GRID), INTERVAL)
    assert run.stdout.strip().encode() == canonical_bytes(expected)
    result = json.loads(run.stdout)
    assert result["prices_eur_per_kwh"] == {"R": 0.1, "A": 0.27}  # the line splits prices
    assert result["congestion_rent_eur"] == 0.34


def test_uniform_pricing_flag(tmp_path: Path) -> None:
    run = _clear(tmp_path, {"interval": INTERVAL, "bids": BIDS}, "--pricing", "uniform")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["prices_eur_per_kwh"] == {"R": 0.1, "A": 0.1}


def test_bad_book_is_one_line_and_exit_2(tmp_path: Path) -> None:
    nan_bid = dict(BIDS[0], segments=[{"energy_kwh": 1, "price_eur_per_kwh": "NaN"}])
    run = _clear(tmp_path, {"interval": INTERVAL, "bids": [nan_bid]})
    assert run.returncode == 2
    assert "valid number" in run.stderr  # a price is a JSON number, never text
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr


def test_large_book_cleared_by_the_matrix_backend_prints_only_json(tmp_path: Path) -> None:
    """HiGHS prints a banner on stdout the first time it starts; stdout must stay JSON."""
    bids = [
        {
            "bid_id": f"b{i:03d}",
            "participant": f"p{i}",
            "bus": "A" if i % 2 else "R",
            "interval": INTERVAL,
            "side": "buy" if i % 3 else "sell",
            "segments": [{"energy_kwh": 1 + i % 5, "price_eur_per_kwh": 0.05 + (i % 7) / 30}],
        }
        for i in range(300)
    ]
    run = _clear(tmp_path, {"interval": INTERVAL, "bids": bids})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["solver"].startswith("highspy-")
