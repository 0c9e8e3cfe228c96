"""``voisin simulate --city``: bad input is one line and exit 2; a file city runs."""

from __future__ import annotations

import json
import sqlite3

import pytest

from voisin.city.scenario import BUILT_IN, read_city
from voisin.cli.main import main


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"feeders": 0, "households_per_feeder": 3}), "feeders"),
        (json.dumps({"feeders": 2}), "households_per_feeder"),
        (json.dumps({"feeders": 2, "households_per_feeder": 2, "colour": 1}), "colour"),
        # Text and booleans where numbers belong are typos, not numbers to guess.
        (json.dumps({"feeders": "2", "households_per_feeder": 3}), "a number is wanted"),
        (json.dumps({"feeders": 2, "households_per_feeder": True}), "a number is wanted"),
        (
            json.dumps({"feeders": 2, "households_per_feeder": 3, "pv_share": "0.5"}),
            "pv_share",
        ),
        (
            json.dumps({"feeders": 2, "households_per_feeder": 3, "mv_line_kwh": "1e3"}),
            "a number is wanted",
        ),
        # Found on a worker, it was one Dask traceback per task before the line.
        (
            json.dumps(
                {"feeders": 2, "households_per_feeder": 2, "simbench_feeders": {"F1": "simbench:x"}}
            ),
            "bad-grid: unknown SimBench code 'x'",
        ),
    ],
)
def test_a_bad_city_file_is_one_line_and_exit_2(tmp_path, capsys, content, said) -> None:
    path = tmp_path / "city.json"
    path.write_text(content)
    assert main(["simulate", "--city", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err
    assert "\n" not in err
    assert not (tmp_path / "out").exists()


def test_missing_file_and_bad_workers(tmp_path, capsys) -> None:
    assert main(["simulate", "--city", str(tmp_path / "none.json")]) == 2
    assert "cannot read city file" in capsys.readouterr().err
    assert main(["simulate", "--city", "small", "--workers", "0"]) == 2
    assert "at least one worker" in capsys.readouterr().err


def test_built_in_cities_have_the_promised_size() -> None:
    assert read_city("small").feeders == 5
    default = BUILT_IN["default"]
    assert default.feeders >= 100
    assert default.households >= 10_000


@pytest.mark.slow
def test_a_file_city_runs_and_its_folder_verifies(tmp_path, capsys) -> None:
    """``simulate --city FILE`` on a LocalCluster of one worker: the summary says every
    ledger verified, ``ledger verify OUT`` agrees, and a second run needs --overwrite."""
    path = tmp_path / "city.json"
    path.write_text(
        json.dumps({"feeders": 2, "households_per_feeder": 3, "intervals": 2, "first_interval": 46})
    )
    out = tmp_path / "out"
    args = ["simulate", "--city", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    assert main(args) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "city and 2 feeders" in said
    lines = [json.loads(line) for line in (out / "city.jsonl").read_text().splitlines()]
    settled = [f for line in lines for f in line["feeders"]]
    kwh = sum(f["imbalance_kwh"] for f in settled)
    rest = sum(abs(f["rest_kwh"]) for f in settled)
    eur = sum(f["imbalance_eur"] for f in settled)
    rest_eur = sum(f["rest_eur"] for f in settled)
    for line in lines:  # the rest at its buses' prices, bounded by theirs, interval by interval
        for f in line["feeders"]:
            with sqlite3.connect(out / "feeders" / f["feeder"] / "ledger.sqlite") as db:
                (body,) = db.execute(
                    "SELECT body FROM transactions WHERE kind = 'clearing' "
                    "AND json_extract(body, '$.interval') = ?",
                    (line["interval"],),
                ).fetchone()
            prices = json.loads(body)["prices_eur_per_kwh"].values()
            low, high = sorted([min(prices) * f["rest_kwh"], max(prices) * f["rest_kwh"]])
            assert low - 1e-6 <= f["rest_eur"] <= high + 1e-6
    assert kwh > 0
    assert f"settled imbalance (kWh) │ {kwh:.1f}" in said
    assert f"of it the inflexible rest (kWh) │ {rest:.1f}" in said
    assert f"settled imbalance, to members (EUR) │ {eur:.2f}" in said
    assert f"the rest at bus prices (EUR) │ {rest_eur:.2f}" in said
    assert main(["ledger", "verify", str(out)]) == 0
    assert "the city ledger and 2 feeder ledgers" in " ".join(capsys.readouterr().out.split())
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
