"""Every command-line defect of issue 9: one line on stderr, exit 2, nothing replaced or
lost, and never a traceback. Each test failed before its fix."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voisin.agents import default_neighbourhood
from voisin.cli.main import main
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.ledger import Ledger, verify_ledger
from voisin.market import Operator
from voisin.market.community import OPENING_ALLOWANCE_MICRO, genesis_supply_micro
from voisin.protocol import KeyPair


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ledger")
    return run_simulation(SimulationConfig(out=out, households=3, minutes=60)).ledger_path


def _one_line_error(capsys: pytest.CaptureFixture, code: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"voisin: {code}:"), err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err


def _voisin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voisin.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_up_refuses_to_replace_a_ledger_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "live"
    out.mkdir()
    (out / "ledger.sqlite").write_bytes(b"precious")
    done = _voisin("up", "--households", "1", "--intervals", "1", "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert "ledger-exists" in done.stderr
    assert "Traceback" not in done.stderr
    assert (out / "ledger.sqlite").read_bytes() == b"precious"


@pytest.mark.parametrize(
    "flags",
    [
        ["--speed", "0"],
        ["--speed", "nan"],
        ["--speed", "-5"],
        ["--speed", "inf"],
        ["--seed", "-1"],
        ["--households", "0"],
        ["--intervals", "0"],
        ["--port", "70000"],
    ],
)
def test_up_validates_every_option(
    flags: list[str], capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    assert main(["up", "--out", str(tmp_path), *flags]) == 2
    _one_line_error(capsys, "invalid-input")
    assert not (tmp_path / "ledger.sqlite").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--speed", "0"],
        ["--seed", "-1"],
        ["--intervals", "-3"],
        ["--minutes", "0"],
        ["--wait-agents", "-1"],
    ],
)
def test_operator_validates_its_numbers(
    flags: list[str], capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    assert main(["operator", "--ledger", str(tmp_path / "l.sqlite"), *flags]) == 2
    _one_line_error(capsys, "invalid-input")


@pytest.mark.slow
def test_dashboard_on_a_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, ledger: Path, capsys: pytest.CaptureFixture
) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(ledger.read_bytes()[:5000])
    foreign = tmp_path / "foreign.sqlite"
    import sqlite3

    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    for path, code in (
        (empty, "no-ledger"),
        (truncated, "not-a-ledger"),
        (foreign, "not-a-ledger"),
        (tmp_path / "absent.sqlite", "no-ledger"),
    ):
        assert main(["dashboard", str(path)]) == 2
        _one_line_error(capsys, code)
    assert main(["dashboard", str(ledger), "--every", "nan"]) == 2
    _one_line_error(capsys, "bad-option")


def test_every_one_ledger_command_reads_a_run_folder_and_names_a_city_folder(
    tmp_path: Path, ledger: Path, capsys: pytest.CaptureFixture
) -> None:
    """Each command that reads one ledger asks ``existing_ledger``: a run folder means its
    ledger.sqlite (as `report` always took it), a city run's folder is one line naming
    its ledgers (it said "no ledger"), and the dashboard never echoes a database URL."""
    run = ledger.parent
    city = tmp_path / "city"
    (city / "city").mkdir(parents=True)
    shutil.copy(ledger, city / "city" / "ledger.sqlite")
    commands = (  # the command, then what follows the ledger
        (["ledger", "show"], []),
        (["ledger", "headers"], []),
        (["ledger", "proof"], ["--height", "1", "--index", "0"]),
        (["report"], ["--out", str(tmp_path / "r.html")]),
        (["grid", "check"], []),
        (["dashboard"], []),
    )
    for command, options in commands:
        assert main([*command, str(city), *options]) == 2, command
        err = capsys.readouterr().err.strip()
        assert err.startswith("voisin: city-folder:"), err
        assert f"{city}/city/ledger.sqlite" in err
        assert len(err.splitlines()) == 1
    member = default_neighbourhood(3, 7).members[0].id  # the fixture's first household
    for command in (
        ["ledger", "show", str(run)],
        ["ledger", "show", str(run), "--participant", member],  # its statement, sealed
        ["ledger", "headers", str(run)],
        ["report", str(run)],
    ):
        assert main(command) == 0, command
        capsys.readouterr()
    assert main(["dashboard", "postgresql://me:secret@127.0.0.1:1/x"]) == 2
    err = capsys.readouterr().err
    assert "bad-ledger" in err
    assert "secret" not in err


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me:secret@[::1/x",  # libpq cannot parse it: its message quoted it all
        "postgresql://me:secret@127.0.0.1:1/x?sslmode=nonsense",
        "postgresql://me:secret@127.0.0.1:1/x",  # nobody listens
    ],
)
def test_a_bad_database_url_is_one_line_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture, url: str
) -> None:
    for args in (
        ["ledger", "verify", url],
        ["ledger", "show", url],
        ["audit", url],
        ["report", url, "--out", str(tmp_path / "r.html")],
        ["simulate", "--households", "2", "--quiet", "--out", str(tmp_path), "--ledger", url],
        ["simulate", "--city", "small", "--quiet", "--out", str(tmp_path), "--ledger", url],
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert err.startswith("voisin: "), err
        assert "secret" not in err


def test_proof_at_a_height_beyond_sqlite_integers(
    ledger: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["ledger", "proof", str(ledger), "--height", str(2**63), "--index", "0"]) == 2
    _one_line_error(capsys, "no-block")
    assert main(["ledger", "proof", str(ledger), "--height", "0", "--index", str(-(2**70))]) == 2
    _one_line_error(capsys, "no-block")


def test_statement_of_a_non_member_is_refused(ledger: Path, capsys: pytest.CaptureFixture) -> None:
    stranger = KeyPair.derive("test", "stranger")
    assert main(["ledger", "show", str(ledger), "--key", stranger.seed_hex]) == 2
    _one_line_error(capsys, "not-a-member")
    assert main(["ledger", "show", str(ledger), "--participant", stranger.public_hex]) == 2
    _one_line_error(capsys, "not-a-member")


def test_overwrite_of_an_undeletable_ledger(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "ledger.sqlite").mkdir()  # even root cannot unlink a directory
    assert main(["simulate", "--out", str(tmp_path), "--overwrite", "--quiet"]) == 2
    _one_line_error(capsys, "cannot-overwrite")


def test_genesis_covers_every_members_allowance(tmp_path: Path) -> None:
    """From 2,000 households on, the fund's million tokens could not pay 500 to each:
    `simulate` failed with an overdraft after writing a genesis-only ledger."""
    from voisin.agents import default_neighbourhood

    scenario = default_neighbourhood(2_500, 7)
    members = list(scenario.participants)
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(
        path,
        KeyPair.derive("test", "operator"),
        fund=scenario.fund,
        genesis_supply_micro=genesis_supply_micro(len(members)),
    ) as book:
        Operator(scenario.grid, book).register(
            members, time="2026-06-22T00:00:00+00:00", allowance_micro=OPENING_ALLOWANCE_MICRO
        )
        assert book.tokens.balance(scenario.fund) >= 0
    assert verify_ledger(path).height == 1


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return (
        subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode == 0
    )


@pytest.mark.skipif(
    not _unshare_works(),
    reason="needs user and mount namespaces (unshare -rm) to make a read-only file system",
)
def test_a_ledger_on_a_read_only_file_system(tmp_path: Path, ledger: Path) -> None:
    """Reading works (SQLite opens it immutable); the operator refuses, saying why."""
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    shutil.copy(ledger, frozen / "ledger.sqlite")
    python = sys.executable
    script = (
        f"mount --bind {frozen} {frozen} && mount -o remount,bind,ro {frozen} && "
        f"{python} -m voisin.cli.main ledger verify {frozen}/ledger.sqlite; "
        f"echo verify=$?; {python} -m voisin.cli.main operator --intervals 1 "
        f"--ledger {frozen}/ledger.sqlite; echo operator=$?"
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "verified:" in done.stdout, done.stdout + done.stderr
    assert "verify=0" in done.stdout
    assert "operator=2" in done.stdout
    assert "read-only-ledger" in done.stderr
    assert "not a voisin ledger" not in done.stderr
    assert "Traceback" not in done.stderr


def _copied_run(ledger: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(ledger.parent, run, ignore=shutil.ignore_patterns("report.html"))
    return run


def _contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (hidden staging folders included)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_no_command_writes_over_an_existing_file(
    tmp_path: Path, ledger: Path, capsys: pytest.CaptureFixture
) -> None:
    """`report --out run/ledger.sqlite` turned the ledger into HTML and `--seal` onto the
    ledger replaced it: every file a command writes refuses an existing one
    (``file-exists``) unless the command has ``--overwrite``, and never the ledger read."""
    run = _copied_run(ledger, tmp_path)
    db = str(run / "ledger.sqlite")
    member = default_neighbourhood(3, 7).members[0].id
    template = tmp_path / "s.toml"
    template.write_text("mine")
    before = _contents(run)
    for args in (
        ["report", str(run), "--out", db],
        ["report", str(run), "--out", str(run / "sealed.jsonl")],
        ["ledger", "show", db, "--participant", member, "--seal", db],
        ["ledger", "show", db, "--participant", member, "--seal", str(run / "sealed.jsonl")],
        ["scenario", "new", str(template)],
    ):
        assert main(args) == 2, args
        _one_line_error(capsys, "file-exists")
    for args in (
        ["report", str(run), "--out", db, "--overwrite"],
        ["report", str(run), "--out", str(run / "sealed.jsonl"), "--overwrite"],
    ):
        assert main(args) == 2, args
        _one_line_error(capsys, "bad-output")
    assert _contents(run) == before
    assert template.read_text() == "mine"
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_bytes()
    assert main(["report", str(run)]) == 2
    _one_line_error(capsys, "file-exists")
    (run / "report.html").write_text("old")
    assert main(["report", str(run), "--overwrite"]) == 0
    assert (run / "report.html").read_bytes() == page
    assert sorted(p.name for p in run.iterdir()) == sorted([*before, "report.html"])


def test_a_written_file_is_whole_or_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails (a full disk at fsync) leaves the old file and no partial one."""
    import errno
    import os

    from voisin.cli.outputs import write_output
    from voisin.errors import InvalidInput

    target = tmp_path / "report.html"
    target.write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(InvalidInput, match="No space left") as caught:
        write_output(target, "new", overwrite=True)
    assert caught.value.code == "bad-output"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert target.read_text() == "old"


def test_a_failed_overwrite_keeps_the_previous_run(
    tmp_path: Path, ledger: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`simulate --overwrite` deleted the old ledger and sealed file before the run, so a
    run failing late left an empty ledger: the run is built beside the folder and moves
    in only once it succeeded."""
    from voisin.cli import simulation
    from voisin.errors import InvalidInput

    run = _copied_run(ledger, tmp_path)
    (run / "notes.txt").write_text("mine")
    before = _contents(run)

    def failing(*args: object, **kwargs: object) -> None:
        raise InvalidInput("failed late", code="bad-transaction")

    monkeypatch.setattr(simulation, "verify_ledger", failing)
    args = ["simulate", "--households", "3", "--minutes", "60", "--quiet", "--no-grid-check"]
    assert main([*args, "--out", str(run), "--overwrite"]) == 2
    _one_line_error(capsys, "bad-transaction")
    assert _contents(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging folder left
    monkeypatch.undo()
    (run / "report.html").write_text("the old run's")
    assert main([*args, "--out", str(run), "--overwrite", "--report"]) == 0
    capsys.readouterr()
    after = _contents(run)
    assert after["ledger.sqlite"] == before["ledger.sqlite"]  # same seed, same bytes
    assert after["notes.txt"] == b"mine"
    assert after["report.html"] != b"the old run's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_failed_city_overwrite_keeps_the_previous_city(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A city run with ``--overwrite`` removed city/ and feeders/ before the run; one
    failing in its clearing left a stale city.jsonl and no ledgers."""
    import contextlib

    from voisin.city import run as city_run
    from voisin.errors import InvalidInput

    out = tmp_path / "c"
    for name in ("city/ledger.sqlite", "feeders/F0/ledger.sqlite", "city.jsonl"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(f"old {name}")
    before = _contents(out)

    def failing(*args: object, **kwargs: object) -> None:
        raise InvalidInput("the clearing failed", code="clearing-failed")

    monkeypatch.setattr(city_run, "dask_client", lambda *a: contextlib.nullcontext(None))
    monkeypatch.setattr(city_run, "run_city", failing)
    spec = tmp_path / "c.json"
    spec.write_text('{"feeders": 2, "households_per_feeder": 2, "intervals": 2}')
    assert main(["simulate", "--city", str(spec), "--out", str(out)]) == 2
    _one_line_error(capsys, "file-exists")
    assert main(["simulate", "--city", str(spec), "--out", str(out), "--overwrite"]) == 2
    _one_line_error(capsys, "clearing-failed")
    assert _contents(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "c.json"]


@pytest.mark.parametrize("price", ["1e300", "1001", "nan"])
def test_prices_beyond_any_tariff_are_refused_with_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, price: str
) -> None:
    """An import price of 1e300 failed as a 300-digit genesis supply once the run had
    started; a tariff's or a city's price is bounded (``MAX_PRICE_EUR_PER_KWH``)."""
    from voisin.agents.scenario_template import render_template

    scenario = tmp_path / "s.toml"
    text = render_template().replace("import_eur_per_kwh = 0.28", f"import_eur_per_kwh = {price}")
    scenario.write_text(text)
    out = tmp_path / "out"
    assert main(["simulate", "--scenario", str(scenario), "--quiet", "--out", str(out)]) == 2
    _one_line_error(capsys, "invalid-input")
    city = tmp_path / "c.json"
    value = "NaN" if price == "nan" else price
    city.write_text(
        f'{{"feeders": 2, "households_per_feeder": 2, "import_price_eur_per_kwh": {value}}}'
    )
    assert main(["simulate", "--city", str(city), "--quiet", "--out", str(out)]) == 2
    _one_line_error(capsys, "invalid-input")
    assert not out.exists()


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("transactions", "body"),
        ("transactions", "kind"),
        ("transactions", "leaf_hash"),
        ("blocks", "header"),
        ("blocks", "signature"),
        ("blocks", "hash"),
    ],
)
def test_a_stored_value_of_another_type_is_a_finding(
    tmp_path: Path, ledger: Path, capsys: pytest.CaptureFixture, table: str, column: str
) -> None:
    """A body stored as a BLOB crashed verify, audit and report ('bytes' object has no
    attribute 'encode'): every column is type-checked where the store reads it."""
    import sqlite3

    from voisin.errors import VerificationError

    db = tmp_path / "ledger.sqlite"
    shutil.copy(ledger, db)
    where = "height = 17" + (" and idx = 5" if table == "transactions" else "")
    with sqlite3.connect(db) as edit:
        edit.execute(f"update {table} set {column} = cast({column} as blob) where {where}")  # noqa: S608
    with pytest.raises(VerificationError) as caught:
        verify_ledger(db)
    assert (caught.value.height, caught.value.rule) == (17, "column-type")
    assert f"stored {column} is bytes, not str" in str(caught.value)
    for args in (["ledger", "verify", str(db)], ["audit", str(db)], ["report", str(db)]):
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert f"stored {column} is bytes, not str" in err, err
        assert len(err.splitlines()) == 1, err


@pytest.mark.parametrize(
    "fields",
    [
        '"minutes": 7',  # ValueError in day_intervals
        '"export_price_eur_per_kwh": 0.5',  # a pydantic traceback from mv_grid
        '"start": "9999-12-31"',  # OverflowError
        '"start": "0001-01-01"',
        '"intervals": 1e9',  # OverflowError
        '"first_interval": 5000000',  # MemoryError
        '"first_interval": 35000, "intervals": 200',  # beyond 366 days
    ],
)
def test_a_city_file_is_checked_whole_before_any_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture, fields: str
) -> None:
    city = tmp_path / "c.json"
    city.write_text(f'{{"feeders": 2, "households_per_feeder": 2, "intervals": 2, {fields}}}')
    out = tmp_path / "out"
    assert main(["simulate", "--city", str(city), "--quiet", "--out", str(out)]) == 2
    _one_line_error(capsys, "invalid-input")
    assert not out.exists()


@pytest.mark.parametrize(
    "flags",
    [["--start", "9999-12-31", "--days", "2"], ["--start", "0001-01-01"], ["--days", "367"]],
)
def test_simulate_start_is_within_the_supported_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str]
) -> None:
    """`--start 9999-12-31 --days 2` was an OverflowError, `--start 0001-01-01` a NaN
    ValueError in the meters: the city file's rule (``settings.check_run_days``)."""
    out = tmp_path / "out"
    assert main(["simulate", *flags, "--households", "2", "--quiet", "--out", str(out)]) == 2
    _one_line_error(capsys, "invalid-input")
    assert not out.exists()


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        ('"version": 1', '"version": true'),
        ('"height": 17', '"height": 17.0'),
        ('"index": 5', '"index": 5.0'),
        ('"index": 5', '"index": 5, "index": 5'),
        ('"kind": "trade"', '"kind": "trade", "kind": "trade"'),  # in the body
    ],
)
def test_check_proof_reads_the_file_strictly(
    tmp_path: Path, ledger: Path, capsys: pytest.CaptureFixture, edit: str, code: str
) -> None:
    """`check-proof` took ``"version": true``, a float height or index and repeated keys
    (keeping the last): integers are JSON integers and a key appears once."""
    from voisin.ledger.proofs import export_headers, headers_json, proof_json, prove

    headers = tmp_path / "headers.json"
    headers.write_text(headers_json(export_headers(ledger)))
    good = proof_json(prove(ledger, height=17, index=5))
    proof = tmp_path / "proof.json"
    proof.write_text(good)
    assert main(["ledger", "check-proof", str(proof), "--headers", str(headers)]) == 0
    capsys.readouterr()
    assert edit in good
    proof.write_text(good.replace(edit, code, 1))
    assert main(["ledger", "check-proof", str(proof), "--headers", str(headers)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(("voisin: invalid-input:", "voisin: bad-file:")), err
    assert len(err.splitlines()) == 1, err
    headers.write_text(
        headers_json(export_headers(ledger)).replace('"version": 1', '"version": true')
    )
    proof.write_text(good)
    assert main(["ledger", "check-proof", str(proof), "--headers", str(headers)]) == 2
    _one_line_error(capsys, "invalid-input")
