"""Files written whole or not at all (``protocol.files``): key files private from their
first byte and never replaced unasked, and no staging leftover of a failed, interrupted
or SIGKILLed run left behind or in the next run's way.

The kills are real: ``VOISIN_CRASH_AT=staged-file:1`` makes the child SIGKILL itself
once a file is written under its staging name, ``staged-output:1`` once a run's folder
is staged and about to move in; a SIGTERM is sent from outside while a run writes.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from voisin import faults
from voisin.cli.live_up import Launcher
from voisin.cli.main import main
from voisin.cli.outputs import StagedOutput, write_output
from voisin.errors import InvalidInput
from voisin.ledger import verify_ledger
from voisin.protocol import KeyPair
from voisin.protocol.files import STAGING_SUFFIX, staged, sweep
from voisin.transport.curve import read_key_file, write_key_file

from .conftest import run_voisin

SIMULATE = ("simulate", "--households", "3", "--minutes", "60", "--quiet", "--no-grid-check")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(STAGING_SUFFIX))


def _one_line(err: str, code: str) -> None:
    assert err.startswith(f"voisin: {code}:"), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.fixture
def no_umask():  # noqa: ANN201 - a generator fixture
    """Umask 0: a file's mode is then exactly what it was created with."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_a_key_file_is_private_from_its_first_byte_and_appears_whole(
    tmp_path: Path, no_umask: None
) -> None:
    path, key, seen = tmp_path / "me.key", KeyPair.generate(), []

    def look(point: str) -> None:
        if point == "staged-file":
            (entry,) = [tmp_path / n for n in _leftovers(tmp_path)]
            seen.append((stat.S_IMODE(entry.stat().st_mode), path.exists(), entry.read_text()))

    faults.arm(look)
    try:
        write_key_file(path, key)
    finally:
        faults.arm(None)
    ((mode, visible, text),) = seen
    assert mode == 0o600  # from creation, with nothing masking it
    assert not visible  # the name appears only once the file is whole
    assert json.loads(text)["ed25519_seed"] == key.seed_hex
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path).public_hex == key.public_hex
    assert _leftovers(tmp_path) == []


def test_an_existing_key_is_never_replaced_unasked(tmp_path: Path) -> None:
    path, first = tmp_path / "me.key", KeyPair.generate()
    write_key_file(path, first)
    for overwrite, says in ((None, "keys are never overwritten"), (False, "pass --overwrite")):
        with pytest.raises(InvalidInput, match=says) as caught:
            write_key_file(path, KeyPair.generate(), overwrite=overwrite)
        assert caught.value.code == "key-exists"
        assert read_key_file(path).public_hex == first.public_hex
    link, elsewhere = tmp_path / "link.key", tmp_path / "elsewhere"
    link.symlink_to(elsewhere)  # even a dangling link is something there
    with pytest.raises(InvalidInput, match="key-exists|exists"):
        write_key_file(link, KeyPair.generate())
    assert not elsewhere.exists()
    second = KeyPair.generate()
    write_key_file(path, second, overwrite=True)
    assert read_key_file(path).public_hex == second.public_hex
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _leftovers(tmp_path) == []


def test_keys_new_killed_mid_write_leaves_no_key_and_the_next_run_sweeps(tmp_path: Path) -> None:
    path = tmp_path / "me.key"
    killed = run_voisin("keys", "new", str(path), crash_at="staged-file:1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not path.exists()
    (left,) = _leftovers(tmp_path)
    assert left.startswith(".me.key.")
    assert stat.S_IMODE((tmp_path / left).stat().st_mode) & 0o077 == 0  # the seed stayed private
    done = run_voisin("keys", "new", str(path))
    assert done.returncode == 0, done.stderr
    assert read_key_file(path).public_hex in done.stdout
    assert _leftovers(tmp_path) == []
    again = run_voisin("keys", "new", str(path))
    assert again.returncode == 2
    _one_line(again.stderr, "key-exists")


def test_up_replaces_its_observer_key_only_with_overwrite_as_its_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "live"
    out.mkdir()
    write_key_file(out / "observer.key", KeyPair.generate())
    before = (out / "observer.key").read_bytes()
    assert main(["up", "--households", "1", "--intervals", "1", "--out", str(out)]) == 2
    _one_line(capsys.readouterr().err, "key-exists")
    assert (out / "observer.key").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["observer.key"]  # no ledger begun
    (out / "ledger.sqlite").write_bytes(b"the old run")
    Launcher(1, 7, 1, 1.0, out, 5555, overwrite=True)._prepare()
    assert (out / "observer.key").read_bytes() != before
    assert stat.S_IMODE((out / "observer.key").stat().st_mode) == 0o600
    assert not (out / "ledger.sqlite").exists()  # claimed for the new run
    assert _leftovers(out) == []


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    def fail(point: str) -> None:
        if point == "staged-file":
            raise OSError(28, "No space left on device")

    faults.arm(fail)
    try:
        with pytest.raises(InvalidInput, match="No space left") as caught:
            write_output(tmp_path / "report.html", "<html>")
    finally:
        faults.arm(None)
    assert caught.value.code == "bad-output"
    assert list(tmp_path.iterdir()) == []


def test_a_live_writers_staging_entry_is_never_swept(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    with staged(target) as (entry, _):
        assert sweep(target) == []
        assert entry.exists()
        with StagedOutput(tmp_path / "run", ["ledger.sqlite"]) as other:
            assert other.folder.exists()
            assert entry.exists()  # another name's entries are not this one's
    assert _leftovers(tmp_path) == []


def test_report_killed_mid_write_leaves_the_old_report_and_the_next_run_sweeps(
    recorded_run: object, tmp_path: Path
) -> None:
    run_dir = str(Path(recorded_run.ledger_path).parent)  # type: ignore[attr-defined]
    target = tmp_path / "report.html"
    target.write_text("the old report")
    killed = run_voisin(
        "report", run_dir, "--out", str(target), "--overwrite", crash_at="staged-file:1"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert target.read_text() == "the old report"
    assert len(_leftovers(tmp_path)) == 1
    done = run_voisin("report", run_dir, "--out", str(target), "--overwrite")
    assert done.returncode == 0, done.stderr
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert _leftovers(tmp_path) == []


def test_simulate_killed_before_its_output_moves_in_keeps_the_old_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_voisin(*SIMULATE, "--out", str(run)).returncode == 0
    old = (run / "ledger.sqlite").read_bytes()
    killed = run_voisin(
        *SIMULATE, "--seed", "8", "--out", str(run), "--overwrite", crash_at="staged-output:1"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (run / "ledger.sqlite").read_bytes() == old
    (left,) = _leftovers(tmp_path)
    assert (tmp_path / left / "ledger.sqlite").exists()  # the killed run's, never read
    done = run_voisin(*SIMULATE, "--seed", "8", "--out", str(run), "--overwrite")
    assert done.returncode == 0, done.stderr
    assert (run / "ledger.sqlite").read_bytes() != old
    verify_ledger(run / "ledger.sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_terminated_simulate_cleans_its_staging_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "voisin.cli.main", *SIMULATE, "--days", "3", "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _leftovers(tmp_path), "the run never staged its output"
        time.sleep(0.3)  # into the run proper, past the few bytecodes that make the folder
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "voisin: interrupted"
    assert list(tmp_path.iterdir()) == [] or sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert _leftovers(tmp_path) == []
    assert not (run / "ledger.sqlite").exists()
