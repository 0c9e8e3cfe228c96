"""Lazy Pirate: the operator is killed mid-run and restarted on the same ledger; the agent
resends, reconnects and carries on, and the ledger stays one verified chain."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import zmq

from voisin.agents import default_neighbourhood
from voisin.cli.live import child_command, free_port, wait_all
from voisin.ledger import SqliteStore, verify_ledger
from voisin.transport.curve import make_client

HOUSEHOLDS = 2
SEED = 5
INTERVALS = 5


@pytest.mark.slow
def test_agent_survives_an_operator_restart(tmp_path: Path) -> None:
    port = free_port()
    router, pub = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}"
    ledger = tmp_path / "ledger.sqlite"
    scenario = default_neighbourhood(HOUSEHOLDS, SEED)
    common = ["--households", str(HOUSEHOLDS), "--seed", str(SEED)]
    operator_cmd = child_command(
        "operator",
        *common,
        "--intervals",
        str(INTERVALS),
        "--speed",
        "900",
        "--router",
        router,
        "--pub",
        pub,
        "--ledger",
        str(ledger),
        "--wait-agents",
        "1",
    )
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(operator_cmd, stdout=subprocess.DEVNULL))  # noqa: S603
        agent = subprocess.Popen(
            child_command(  # noqa: S603 - our own CLI
                "agent",
                *common,
                "--household",
                "0",
                "--operator",
                router,
                "--server-key",
                scenario.operator.public_hex,
                "--report",
                str(tmp_path / "agent.json"),
            ),
            stdout=subprocess.DEVNULL,
        )
        procs.append(agent)
        make_client(sub, scenario.members[1].keypair, scenario.operator.public_hex)
        sub.linger = 0
        sub.setsockopt(zmq.SUBSCRIBE, b"clearing")
        sub.connect(pub)
        deadline = time.monotonic() + 30
        cleared = 0
        while cleared < 2 and time.monotonic() < deadline:
            if sub.poll(200):
                sub.recv_multipart()
                cleared += 1
        assert cleared == 2
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=5)  # its sockets are gone with it: the new one binds at once
        procs.append(subprocess.Popen(operator_cmd, stdout=subprocess.DEVNULL))  # noqa: S603
        assert procs[-1].wait(timeout=30) == 0
        assert agent.wait(timeout=15) == 0
    finally:
        wait_all([p for p in procs if p.poll() is None], time.monotonic())
        sub.close(0)
        context.term()

    verify_ledger(ledger)
    with SqliteStore(ledger, read_only=True) as store:
        blocks = list(store.blocks())
    cleared_ids = [
        b.header.interval for b in blocks if any(t.kind.value == "clearing" for t in b.transactions)
    ]
    assert len(cleared_ids) == INTERVALS
    assert len(set(cleared_ids)) == INTERVALS, "no interval cleared twice after the restart"
    saw = json.loads((tmp_path / "agent.json").read_text())
    assert saw["ended"]
    assert saw["problems"] == []
    hashes = {b.header.height: b.header.block_hash() for b in blocks}
    assert all(hashes[int(h)] == v for h, v in saw["blocks"].items())
    # The restarted operator resumed from its ledger: everyone registered once, and
    # every cleared interval settled (one left unsettled by the kill is settled on
    # restart, its readings estimated).
    registrations = [t for b in blocks for t in b.transactions if t.kind.value == "registration"]
    assert len(registrations) == len(scenario.members)
    settled_ids = {
        b.header.interval
        for b in blocks
        if any(t.kind.value == "settlement" for t in b.transactions)
    }
    assert settled_ids == set(cleared_ids)
    assert len(saw["blocks"]) >= 2 * INTERVALS - 2
