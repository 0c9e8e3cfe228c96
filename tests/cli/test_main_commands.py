"""`voisin` itself: `scenario new`, the dashboard's options, `simulate` with its progress
bar and report, and how the process ends when its reader leaves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from voisin.cli.main import main
from voisin.cli.simulation import SimulationReport
from voisin.ledger import verify_ledger


def _one_line(capsys: pytest.CaptureFixture[str], start: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(start), err
    assert len(err.splitlines()) == 1, err
    return err


def test_scenario_new_writes_the_flags_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "street.toml"
    assert main(["scenario", "new", str(target), "--households", "4", "--gift-share", "0.5"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out.replace("\n", "")
    text = target.read_text(encoding="utf-8")
    assert "households = 4" in text
    assert "gift_share = 0.5" in text
    target.write_text("mine", encoding="utf-8")
    assert main(["scenario", "new", str(target)]) == 2
    _one_line(capsys, f"voisin: file-exists: {target} exists; pick another name")
    assert target.read_text(encoding="utf-8") == "mine"


def test_scenario_new_in_a_missing_folder_and_with_bad_settings_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "folder.toml"
    assert main(["scenario", "new", str(target)]) == 2
    _one_line(capsys, f"voisin: bad-output: cannot write {target}")
    assert main(["scenario", "new", str(tmp_path / "x.toml"), "--households", "0"]) == 2
    _one_line(capsys, "voisin: invalid-input:")
    assert not (tmp_path / "x.toml").exists()


@pytest.mark.parametrize(
    ("flags", "start"),
    [
        (["--operator", "tcp://127.0.0.1:5555"], "voisin: missing-option: --operator needs --key"),
        (["--every", "0"], "voisin: bad-option: --every must be a positive number"),
        (["--every", "nan"], "voisin: bad-option: --every must be a positive number"),
    ],
)
def test_dashboard_options_are_checked_before_it_starts(
    flags: list[str],
    start: str,
    recorded_run: SimulationReport,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["dashboard", str(recorded_run.ledger_path), *flags]) == 2
    _one_line(capsys, start)


def test_dashboard_of_no_ledger_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboard", str(tmp_path / "none.sqlite")]) == 2
    _one_line(capsys, "voisin: no-ledger:")
    assert not (tmp_path / "none.sqlite").exists()


def test_simulate_shows_progress_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["simulate", "--households", "1", "--minutes", "60", "--no-grid-check"]
    assert main([*args, "--out", str(out), "--report"]) == 0
    shown = capsys.readouterr().out.replace("\n", "")
    assert f"report: {out / 'report.html'}" in shown
    assert "verified" in shown
    report = verify_ledger(out / "ledger.sqlite")
    assert report.intervals_settled == 24
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def _voisin(*args: str, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "voisin.cli.main", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_reader_that_leaves_is_no_traceback(recorded_run: SimulationReport) -> None:
    proc = _voisin("ledger", "headers", str(recorded_run.ledger_path))
    assert proc.stdout is not None
    proc.stdout.close()  # before it writes: its first write meets a closed pipe
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert err == ""
    assert proc.returncode == 141


def test_a_long_run_sums_up_its_weather() -> None:
    """More than three days are counted by kind, with the mean clear-sky index."""
    from voisin.cli.summary import _weather

    days = [("06-22", 0.9), ("06-23", 0.6), ("06-24", 0.3), ("06-25", 0.8)]
    assert _weather(days) == (
        "mean clear-sky index 0.65; 2 clear days, 1 broken cloud days, 1 overcast days"
    )
    assert _weather(days[:2]) == (
        "06-22 clear (clear-sky index 0.90), 06-23 broken cloud (clear-sky index 0.60)"
    )
