"""A community of our own: identities from `voisin keys new`, a registry file, and an
operator plus two agent processes trading as those identities over CurveZMQ."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from voisin.agents.scenario import HOUSEHOLD_TARIFF, default_grid
from voisin.cli.live import child_command, free_port, wait_all
from voisin.cli.main import main
from voisin.ledger import SqliteStore, verify_ledger
from voisin.protocol import KeyPair, Participant, ParticipantKind
from voisin.transport.curve import read_key_file

INTERVALS = 3


def _keys(folder: Path, name: str) -> KeyPair:
    """An identity as `voisin keys new` writes it (in-process: nothing here is the
    process's own behaviour)."""
    path = folder / f"{name}.key"
    assert main(["keys", "new", str(path)]) == 0
    return read_key_file(path)


def _registry(folder: Path) -> tuple[Path, KeyPair, list[KeyPair]]:
    operator = _keys(folder, "operator")
    homes = [_keys(folder, f"home{i}") for i in range(2)]
    meters = [_keys(folder, f"meter{i}") for i in range(2)]
    members = []
    for i, (home, meter) in enumerate(zip(homes, meters, strict=True)):
        participant = Participant(
            participant_id=home.public_hex,
            kind=ParticipantKind.HOUSEHOLD,
            group="pv" if i == 0 else "consumer",
            bus="A1",
            tariff=HOUSEHOLD_TARIFF,
            meter_id=meter.public_hex,
        )
        members.append(
            {
                "participant": participant.model_dump(mode="json"),
                "pv_kwp": 9.0 if i == 0 else 0.0,
                "annual_kwh": 3500.0,
                "preferred": [homes[1].public_hex] if i == 0 else [],
            }
        )
    registry = {
        "operator": operator.public_hex,
        "grid": default_grid().model_dump(mode="json", by_alias=True),
        "members": members,
    }
    path = folder / "registry.json"
    path.write_text(json.dumps(registry))
    return path, operator, homes


@pytest.mark.slow
def test_a_registered_community_trades_over_curve(tmp_path: Path) -> None:
    registry, _, homes = _registry(tmp_path)
    port = free_port()
    router, ledger = f"tcp://127.0.0.1:{port}", tmp_path / "ledger.sqlite"
    procs = [
        subprocess.Popen(
            child_command(  # noqa: S603 - our own CLI
                "operator",
                "--registry",
                str(registry),
                "--key",
                str(tmp_path / "operator.key"),
                "--router",
                router,
                "--ledger",
                str(ledger),
                "--intervals",
                str(INTERVALS),
                "--speed",
                "900",
                "--wait-agents",
                "2",
            ),
            stdout=subprocess.DEVNULL,
        )
    ]
    try:
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    child_command(  # noqa: S603 - our own CLI
                        "agent",
                        "--registry",
                        str(registry),
                        "--key",
                        str(tmp_path / f"home{i}.key"),
                        "--meter-key",
                        str(tmp_path / f"meter{i}.key"),
                        "--operator",
                        router,
                        "--report",
                        str(tmp_path / f"agent{i}.json"),
                    ),
                    stdout=subprocess.DEVNULL,
                )
            )
        assert procs[0].wait(timeout=60) == 0
        wait_all(procs[1:], time.monotonic() + 20)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    verify_ledger(ledger)
    with SqliteStore(ledger, read_only=True) as store:
        kinds = [(t.kind.value, t.body) for b in store.blocks() for t in b.transactions]
    registered = sorted(body["participant_id"] for kind, body in kinds if kind == "registration")
    assert registered == sorted(h.public_hex for h in homes)
    assert sum(kind == "clearing" for kind, _ in kinds) == INTERVALS
    for i in range(2):
        report = json.loads((tmp_path / f"agent{i}.json").read_text())
        assert report["problems"] == []
        assert report["bids"], "each agent bid in its own name"


def test_keys_that_do_not_match_the_registry_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before any socket opens, so in-process: one line and exit 2 each."""
    registry, _, _ = _registry(tmp_path)
    stranger = tmp_path / "stranger.key"
    _keys(tmp_path, "stranger")
    runs = [
        ["operator", "--registry", str(registry), "--key", str(stranger),
         "--ledger", str(tmp_path / "l.sqlite")],
        ["agent", "--registry", str(registry), "--key", str(stranger),
         "--meter-key", str(tmp_path / "meter0.key")],
        ["agent", "--registry", str(registry), "--key", str(tmp_path / "home0.key"),
         "--meter-key", str(tmp_path / "meter1.key")],
    ]  # fmt: skip
    words = ["registry names operator", "not in the registry", "meter key does not match"]
    for command, expected in zip(runs, words, strict=True):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert expected in err
        assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "l.sqlite").exists()
    # the right keys pass the registry: what is left wrong is the endpoint
    keys = ["--key", str(tmp_path / "home0.key"), "--meter-key", str(tmp_path / "meter0.key")]
    assert main(["agent", "--registry", str(registry), *keys, "--operator", "ipc://x"]) == 2
    assert "bad-endpoint: 'ipc://x' has no port" in capsys.readouterr().err
