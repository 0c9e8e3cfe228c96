"""Scenario files: the template round-trips, meter data drives a household, bad files
are refused in one line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from voisin.agents.scenario_file import read_scenario
from voisin.agents.scenario_template import render_template
from voisin.cli.main import main
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.errors import InvalidInput
from voisin.protocol import KeyPair
from voisin.settings import DEFAULTS, RunDefaults

DATA = Path(__file__).parent / "data"
SMALL = {"households": 5, "minutes": 60, "start": date(2026, 6, 22), "seed": 3}


def _voisin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voisin.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_built_in_default_is_the_template_with_the_defaults() -> None:
    shipped = (Path(__file__).parents[2] / "agents" / "scenarios" / "default.toml").read_text()
    assert shipped == render_template(DEFAULTS)
    assert read_scenario().run == DEFAULTS


@pytest.mark.slow
def test_template_run_gives_the_same_ledger_as_the_flags(tmp_path: Path) -> None:
    """voisin scenario new with flags, then simulate --scenario, against the flags alone."""
    file = tmp_path / "street.toml"
    made = _voisin(
        "scenario", "new", str(file), "--households", "5", "--minutes", "60", "--seed", "3"
    )
    assert made.returncode == 0, made.stderr
    assert "[[members]]" in file.read_text()  # commented examples travel with it
    from_file = run_simulation(SimulationConfig(scenario=file, out=tmp_path / "file"))
    from_flags = run_simulation(SimulationConfig(out=tmp_path / "flags", **SMALL))
    assert from_file.ledger_path.read_bytes() == from_flags.ledger_path.read_bytes()
    again = _voisin("scenario", "new", str(file))
    assert again.returncode == 2
    assert "exists" in again.stderr


def _replay_scenario(tmp_path: Path, meter_file: str, fmt: str) -> Path:
    file = tmp_path / "replay.toml"
    run = RunDefaults(**SMALL)
    file.write_text(
        render_template(run)
        + f'''
[[members]]
name = "real-home"
bus = "C2"
pv_kwp = 5.0
forecast = "persistence"
preferred = ["school"]
meter_data = {{ path = "{DATA / meter_file}", format = "{fmt}" }}
'''
    )
    return file


def _readings(ledger: Path, participant: str) -> list[dict]:
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT body FROM transactions WHERE kind = 'reading'").fetchall()
    return [b for b in (json.loads(r[0]) for r in rows) if b["participant"] == participant]


def _hourly_from_csv() -> list[tuple[float, float]]:
    lines = [
        x
        for x in (DATA / "meter-15min.csv").read_text().splitlines()
        if x and not x.startswith("#")
    ][1:]
    values = [(float(x.split(",")[1]), float(x.split(",")[2])) for x in lines]
    return [
        (sum(v[0] for v in values[h * 4 : h * 4 + 4]), sum(v[1] for v in values[h * 4 : h * 4 + 4]))
        for h in range(24)
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("meter_file", "fmt"), [("meter-15min.csv", "csv"), ("meter-p1.txt", "dsmr")]
)
def test_a_real_meter_drives_a_household_end_to_end(
    tmp_path: Path, meter_file: str, fmt: str
) -> None:
    report = run_simulation(
        SimulationConfig(scenario=_replay_scenario(tmp_path, meter_file, fmt), out=tmp_path)
    )
    assert report.verified
    home = KeyPair.derive("seed", 3, "member", "real-home").public_hex
    readings = _readings(report.ledger_path, home)
    assert len(readings) == 24
    for reading, (imported, exported) in zip(readings, _hourly_from_csv(), strict=True):
        assert reading["import_kwh"] - reading["export_kwh"] == pytest.approx(
            imported - exported, abs=0.002
        )
    assert sum(r["export_kwh"] for r in readings) > 5  # a sunny day's surplus went out
    assert any(t for t in [report.accounts.bills[home].market_eur])


@pytest.mark.parametrize(
    ("content", "line", "why"),
    [
        (
            "time,import_kwh,export_kwh\n2026-06-22T00:00:00+00:00,0.1,0\n"
            "2026-06-22T00:15:00+00:00,abc,0\n",
            3,
            "not a number",
        ),
        (
            "# note\ntime,import_kwh,export_kwh\n2026-06-22T00:00:00+00:00,0.1,0\n"
            "yesterday,0.1,0\n",
            4,
            "ISO 8601",
        ),
        (
            "time,import_kwh,export_kwh\n2026-06-22T00:00:00+00:00,0.1,-2\n"
            "2026-06-22T00:15:00+00:00,0.1,0\n",
            2,
            "non-negative",
        ),
    ],
)
def test_bad_meter_files_are_refused_with_a_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str, line: int, why: str
) -> None:
    err = _refused_meter_file(tmp_path, capsys, content, f"meter.csv line {line}: .*{why}")
    assert f"line {line}" in err


def _refused_meter_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str, match: str
) -> str:
    """A scenario whose one real home replays ``content`` is refused (``match``) in
    ``run_simulation`` and, through the command's own error path in this process, with
    exit 2 and one line: that line."""
    (tmp_path / "meter.csv").write_text(content)
    file = tmp_path / "meter.toml"
    file.write_text(
        render_template(RunDefaults(**SMALL))
        + """
[[members]]
name = "real-home"
bus = "C2"
meter_data = { path = "meter.csv" }
"""
    )
    with pytest.raises(InvalidInput, match=match):
        run_simulation(SimulationConfig(scenario=file, out=tmp_path / "out"))
    args = ["simulate", "--scenario", str(file), "--out", str(tmp_path / "cli"), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    return err[0]


def test_a_tampered_telegram_is_refused(tmp_path: Path) -> None:
    text = (DATA / "meter-p1.txt").read_bytes().replace(b"1-0:1.8.1(000740", b"1-0:1.8.1(000741", 1)
    (tmp_path / "p1.txt").write_bytes(text)
    file = tmp_path / "p1.toml"
    file.write_text(
        render_template(RunDefaults(**SMALL))
        + """
[[members]]
name = "real-home"
bus = "C2"
meter_data = { path = "p1.txt", format = "dsmr" }
"""
    )
    with pytest.raises(InvalidInput, match="p1.txt line 1: telegram CRC"):
        run_simulation(SimulationConfig(scenario=file, out=tmp_path / "out"))


def test_bad_scenario_files_give_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[run]\nseed = -1\n")
    with pytest.raises(InvalidInput, match="run.seed"):
        read_scenario(broken)
    broken.write_text("[run\n")
    with pytest.raises(InvalidInput, match="broken.toml"):
        read_scenario(broken)
    broken.write_text('[grid]\npreset = "simbench:1-LV-rural1--0-sw"\n')
    with pytest.raises(InvalidInput, match="not available"):
        run_simulation(SimulationConfig(scenario=broken, out=tmp_path / "o"))


def test_a_meter_file_beyond_any_connection_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A row no low-voltage connection can carry (1e15 kWh in a quarter hour) is the file's
    error, one line naming the interval: it was read, its bids refused and the member
    settled as estimated, while the summary printed the absurd load."""
    rows = (DATA / "meter-15min.csv").read_text().splitlines()
    data = [i for i, x in enumerate(rows) if x and not x.startswith("#")][1:]
    at = data[40]  # 10:00 UTC
    rows[at] = rows[at].split(",")[0] + ",1e15,0"
    err = _refused_meter_file(
        tmp_path, capsys, "\n".join(rows) + "\n", r"meter.csv: load 1e\+15 kWh .* 400 kW"
    )
    assert "400 kW connection" in err
