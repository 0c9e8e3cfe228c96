"""The commands: `voisin keys new`, `voisin agent --config`, and `voisin up` run to the end
or stopped by SIGTERM with no child process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from voisin.cli.live import child_command
from voisin.cli.main import build_parser, main


def _children_of(marker: str) -> list[int]:
    """Processes whose command line mentions ``marker`` (a unique temporary folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """Poll ``condition`` until it holds (the event a test waits for, not a fixed time)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_keys_new_writes_a_private_identity(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "home.key"
    assert main(["keys", "new", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["participant"] in capsys.readouterr().out
    assert main(["keys", "new", str(path)]) == 2  # never overwrites


def test_agent_config_file_and_flags(tmp_path: Path) -> None:
    from voisin.cli.live import _agent_config

    config = tmp_path / "agent.toml"
    config.write_text('household = 2\nseed = 4\noperator = "tcp://10.0.0.1:7000"\n')
    args = build_parser().parse_args(["agent", "--config", str(config), "--seed", "5"])
    settings = _agent_config(args)
    assert (settings.household, settings.seed, settings.operator) == ("2", 5, "tcp://10.0.0.1:7000")
    args = build_parser().parse_args(["agent", "--config", str(config), "--strategy", "zip"])
    assert _agent_config(args).strategy == "zip"
    assert main(["agent", "--strategy", "clever"]) == 2
    config.write_text("colour = 'blue'\n")
    assert main(["agent", "--config", str(config)]) == 2
    assert main(["agent", "--household", "99", "--households", "3"]) == 2


@pytest.mark.slow
def test_up_runs_and_verifies(tmp_path: Path) -> None:
    out = tmp_path / "up"
    done = subprocess.run(
        child_command(  # noqa: S603 - our own CLI
            "up", "--households", "2", "--intervals", "3", "--out", str(out)
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "requests tcp://127.0.0.1:" in done.stdout
    assert "balances ok=True" in done.stdout
    assert len(list(out.glob("agent-*.json"))) == 3
    assert _children_of(str(out)) == []


@pytest.mark.slow
def test_up_stops_every_child_on_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "up-stopped"
    proc = subprocess.Popen(
        child_command(  # noqa: S603 - our own CLI
            "up", "--households", "2", "--intervals", "200", "--out", str(out)
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the operator (which opens the ledger) and the three agents are running
        assert _wait_for(
            lambda: len(_children_of(str(out))) >= 5 and (out / "ledger.sqlite").exists(),
            timeout_s=120,  # a bound on a failure only; unloaded this takes about a second
        )
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped; every child process ended" in stdout
    assert _children_of(str(out)) == []


@pytest.mark.slow
def test_up_restarts_a_dead_agent_and_a_dead_operator(tmp_path: Path) -> None:
    """SIGKILL one agent, then the operator, mid-run: `up` starts each again, the
    operator resumes its ledger, and the run ends verified with every interval once."""
    import io
    import threading

    from rich.console import Console

    from voisin.cli.live import free_port
    from voisin.cli.live_up import Launcher
    from voisin.ledger import SqliteStore

    out = tmp_path / "up-supervised"
    launcher = Launcher(households=2, seed=3, intervals=8, speed=900.0, out=out, port=free_port())
    printed = io.StringIO()
    console = Console(file=printed)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(launcher.run(console)))
    thread.start()

    def cleared() -> int:
        if not launcher.ledger.exists():
            return 0
        try:
            with SqliteStore(launcher.ledger, read_only=True) as store:
                return sum(
                    any(t.kind.value == "clearing" for t in b.transactions) for b in store.blocks()
                )
        except Exception:  # noqa: BLE001 - the operator may be creating the file
            return 0

    try:
        # events, not fixed times: a few intervals on the ledger, then each restart seen
        assert _wait_for(lambda: len(launcher.agents) == 3 and cleared() >= 2, timeout_s=60)
        os.kill(launcher.agents[0].pid, signal.SIGKILL)
        assert _wait_for(lambda: launcher.restarts.get("agent 0") == 1, timeout_s=30)
        assert launcher.operator is not None
        os.kill(launcher.operator.pid, signal.SIGKILL)
        thread.join(timeout=120)
    finally:
        launcher.stop()
        thread.join(timeout=30)
    reports = {p.name: p.read_text() for p in sorted(out.glob("agent-*.json"))}
    assert result == [0], (printed.getvalue(), reports)
    assert launcher.restarts == {"agent 0": 1, "operator": 1}
    with SqliteStore(launcher.ledger, read_only=True) as store:
        cleared = [
            b.header.interval
            for b in store.blocks()
            if any(t.kind.value == "clearing" for t in b.transactions)
        ]
    assert len(cleared) == len(set(cleared)) == 8
    assert _children_of(str(out)) == []
