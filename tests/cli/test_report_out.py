"""`voisin report --out`: the page goes where it is asked, its folder made on demand, and a
place it cannot go is one line (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from voisin.cli.main import main
from voisin.cli.simulation import SimulationReport


def test_report_out_makes_its_folder(
    recorded_run: SimulationReport, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "pages" / "june" / "day.html"
    assert main(["report", str(recorded_run.ledger_path), "--out", str(target)]) == 0
    assert capsys.readouterr().out.replace("\n", "") == str(target)
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert recorded_run.ledger_path.name in page
    assert not (recorded_run.ledger_path.parent / "day.html").exists()


def test_report_to_an_unwritable_place_is_one_line(
    recorded_run: SimulationReport, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert main(["report", str(recorded_run.ledger_path), "--out", str(blocker / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("voisin: bad-output: cannot write"), err
    assert len(err.splitlines()) == 1
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def test_report_of_no_ledger_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"voisin: no-ledger: no ledger at {tmp_path / 'none'} (run `voisin simulate` first?)"
    )
