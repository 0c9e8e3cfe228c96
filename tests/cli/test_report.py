"""`voisin report`: the HTML page opened in a real headless Chromium, its totals held to
the ledger's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from voisin.cli.report import write_report
from voisin.cli.simulation import SimulationReport
from voisin.ledger import verify_ledger
from voisin.ledger.figures import LedgerFigures

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class _Figures(HTMLParser):
    """Every ``data-figure`` element's exact value (``data-value``) and shown text."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-figure" in a and "data-value" in a:
            self.values[str(a["data-figure"])] = str(a["data-value"])
        self.scripts += tag == "script"
        for key in ("src", "href"):
            if a.get(key):
                self.external.append(str(a[key]))


def _figures(html: str) -> _Figures:
    parser = _Figures()
    parser.feed(html)
    return parser


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _console(stderr: str) -> list[str]:
    """The page's console messages (errors included) in Chromium's log."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(recorded_run: SimulationReport) -> Path:
    return write_report(recorded_run.ledger_path.parent)


def _assert_totals(values: dict[str, str], ledger: Path | str) -> None:
    f = LedgerFigures.from_ledger(ledger)
    verified = verify_ledger(ledger)
    assert int(values["supply_micro"]) == verified.supply_micro == f.supply_micro
    assert int(values["minted_micro"]) == verified.minted_micro == f.minted_micro
    assert int(values["paid_p2p_micro"]) == f.paid_p2p_micro > 0
    for name in ("p2p_kwh", "grid_import_kwh", "grid_export_kwh", "imbalance_short_kwh"):
        assert float(values[name]) == getattr(f, name), name
    assert float(values["self_sufficiency"]) == f.self_sufficiency
    for group, (_, bill, baseline) in f.by_group().items():
        assert float(values[f"bill_eur:{group}"]) == bill
        assert float(values[f"baseline_eur:{group}"]) == baseline


def test_report_is_self_contained_and_its_totals_are_the_ledgers(
    report: Path, recorded_run: SimulationReport
) -> None:
    parsed = _figures(report.read_text(encoding="utf-8"))
    assert parsed.scripts == 0  # opens with no network and runs nothing
    assert parsed.external == []
    _assert_totals(parsed.values, recorded_run.ledger_path)
    html = report.read_text(encoding="utf-8")
    assert html.count("<svg") >= 6  # prices, energy, voltages, loading, battery, bills, tokens


def test_report_renders_in_headless_chromium(
    report: Path, recorded_run: SimulationReport, tmp_path: Path
) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1000,2400", report.as_uri())
    assert done.returncode == 0, done.stderr[-500:]
    assert _console(done.stderr) == []
    with Image.open(shot) as image:
        assert image.size == (1000, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text and plots drawn, not a blank page
    dom = _chromium("--dump-dom", report.as_uri())
    assert _console(dom.stderr) == []
    _assert_totals(_figures(dom.stdout).values, recorded_run.ledger_path)  # as the browser built it


def test_the_console_check_sees_an_error(tmp_path: Path) -> None:
    """The check above would see a console error: a page that logs one is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<p>x</p><script>console.error('plot failed')</script>", encoding="utf-8")
    done = _chromium("--dump-dom", page.as_uri())
    assert any("plot failed" in line for line in _console(done.stderr))


@pytest.mark.slow
def test_report_command_and_simulate_report(tmp_path: Path) -> None:
    def voisin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "voisin.cli.main", *args],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    missing = voisin("report", str(tmp_path / "none"))
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "no ledger" in missing.stderr
    out = tmp_path / "run"
    done = voisin("simulate", "--households", "2", "--minutes", "60", "--quiet",
                  "--no-grid-check", "--report", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"report: {out / 'report.html'}" in done.stdout.replace("\n", "")
    _assert_totals(_figures((out / "report.html").read_text()).values, out / "ledger.sqlite")


@pytest.mark.slow
def test_report_of_a_postgresql_ledger(tmp_path: Path) -> None:
    """The same page from a ledger in a real PostgreSQL server, its URL never shown."""
    from tests.ledger.pg_server import postgres_server
    from voisin.cli.simulation import SimulationConfig, run_simulation

    try:
        server = postgres_server()
        url = server.__enter__()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"no PostgreSQL server: {exc}")
        pytest.skip(str(exc))
    try:
        run_simulation(
            SimulationConfig(out=tmp_path, ledger=url, households=2, minutes=60, grid_check=False)
        )
        page = write_report(url, out=tmp_path / "r.html")
        html = page.read_text(encoding="utf-8")
        assert url not in html
        _assert_totals(_figures(html).values, url)
    finally:
        server.__exit__(None, None, None)
