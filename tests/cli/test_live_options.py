"""`voisin operator`, `voisin agent` and `voisin simulate --ledger/--rotate-pseudonyms`:
every option checked before a socket opens or a ledger is written, in one line (exit 2)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from voisin.cli.live import free_port
from voisin.cli.main import main
from voisin.ledger import verify_ledger
from voisin.protocol import KeyPair


def _one_line(capsys: pytest.CaptureFixture[str], start: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(start), err
    assert len(err.splitlines()) == 1, err
    return err


def test_operator_start_must_be_a_time_or_now(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["operator", "--start", "tomorrow"])
    assert done.value.code == 2
    assert "'tomorrow' is not YYYY-MM-DDTHH:MM or 'now'" in capsys.readouterr().err


def test_operator_with_a_registry_needs_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["operator", "--registry", str(tmp_path / "r.json"), "--ledger",
                 str(tmp_path / "ledger.sqlite")])  # fmt: skip
    assert code == 2
    _one_line(capsys, "voisin: missing-option: --registry needs --key")
    assert not (tmp_path / "ledger.sqlite").exists()


def test_agent_with_a_registry_needs_both_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "me.key"
    assert main(["keys", "new", str(key)]) == 0
    capsys.readouterr()
    assert main(["agent", "--registry", str(tmp_path / "r.json"), "--key", str(key)]) == 2
    _one_line(capsys, "voisin: missing-option: --registry needs --key and --meter-key")


@pytest.mark.parametrize("text", ["household = [", "\xff\xfe", "a = 1\n" * 2])
def test_an_unreadable_agent_config_is_one_line(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_bytes(text.encode("latin-1"))
    assert main(["agent", "--config", str(config)]) == 2
    _one_line(capsys, f"voisin: bad-config: cannot read {config}")


def test_agent_config_that_is_a_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agent", "--config", str(tmp_path)]) == 2
    _one_line(capsys, f"voisin: bad-config: cannot read {tmp_path}")


@pytest.mark.parametrize(
    "member",
    [["--household", "school"], ["--household", "0"], ["--household", "2", "--strategy", "zip"]],
)
def test_agent_picks_its_member_then_needs_a_pub_port(
    member: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The member (school or an index, its strategy) is found before the endpoints are
    read: an endpoint without a port is the one thing left wrong."""
    code = main(["agent", "--households", "3", *member, "--operator", "ipc://voisin-test"])
    assert code == 2
    _one_line(capsys, "voisin: bad-endpoint: 'ipc://voisin-test' has no port; give --pub")


@pytest.mark.parametrize("household", ["3", "-1", "two"])
def test_agent_household_out_of_range(household: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "--households", "3", "--household", household]) == 2
    _one_line(capsys, f"voisin: bad-household: household {household!r} is not 0..2 or 'school'")


def test_simulate_ledger_must_be_a_database_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ["--households", "1", "--minutes", "60", "--no-grid-check", "--quiet"]
    code = main(["simulate", *run, "--out", str(tmp_path), "--ledger", str(tmp_path / "l.sqlite")])
    assert code == 2
    _one_line(
        capsys, f"voisin: bad-ledger: --ledger {tmp_path / 'l.sqlite'}: expected a postgresql"
    )
    assert list(tmp_path.iterdir()) == []


def test_rotated_pseudonyms_are_opened_by_their_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One day under one-time keys: the member's readings and its day's key link are sealed
    to it and open with its own key, and the ledger verifies."""
    code = main(["simulate", "--households", "1", "--minutes", "60", "--no-grid-check",
                 "--quiet", "--rotate-pseudonyms", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    ledger = tmp_path / "ledger.sqlite"
    assert verify_ledger(ledger).intervals_settled == 24
    house = KeyPair.derive("seed", 7, "household", 0)
    assert main(["ledger", "open-readings", str(ledger), "--key", house.seed_hex]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "24 readings opened" in out
    assert "1 one-time key links opened" in out
    # the member's own id never trades on the ledger: a statement for it is refused
    assert main(["ledger", "show", str(ledger), "--key", house.seed_hex]) == 2
    _one_line(capsys, "voisin: not-a-member:")


@pytest.fixture
def own_signals() -> Iterator[None]:
    """`voisin operator` takes SIGINT/SIGTERM and sets up logging for its process; run
    in-process, both are put back for the rest of the session afterwards."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    root = logging.getLogger()
    kept = (list(root.handlers), root.level)
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    root.handlers[:], root.level = kept[0], kept[1]


@pytest.mark.usefixtures("own_signals")
def test_an_operator_with_no_agents_clears_and_settles_empty_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    ledger = tmp_path / "live" / "ledger.sqlite"
    code = main(["operator", "--households", "1", "--intervals", "2", "--speed", "1000000",
                 "--router", f"tcp://127.0.0.1:{port}", "--ledger", str(ledger)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert f"events   tcp://127.0.0.1:{port + 1}" in out  # the PUB port next to the router
    report = verify_ledger(ledger)
    assert f"operator stopped at height {report.height};" in out
    assert "'received': 0" in out
    assert (report.intervals_cleared, report.intervals_settled) == (2, 2)
    assert report.counts.get("bid", 0) == 0


def test_simulate_into_an_output_folder_it_cannot_make_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    run = ["--households", "1", "--minutes", "60", "--no-grid-check", "--quiet"]
    assert main(["simulate", *run, "--out", str(blocker / "run")]) == 2
    _one_line(capsys, f"voisin: bad-output: cannot create output folder {blocker / 'run'}")
    assert blocker.read_text(encoding="utf-8") == "x"
