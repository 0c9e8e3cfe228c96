"""Real operator and agent processes on loopback for the fault suite, and what their
ledger and reports say afterwards."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from voisin.agents import default_neighbourhood
from voisin.cli.live import child_command, free_port, wait_all
from voisin.ledger import SqliteStore
from voisin.ledger.journal import EntryKind, Journal
from voisin.protocol import Bid, TxKind, canonical_bytes
from voisin.protocol.merkle import root as merkle_root

HOUSEHOLDS = 2
SEED = 5


class Market:
    """One operator and its agents as child processes, all on loopback."""

    def __init__(self, folder: Path, intervals: int) -> None:
        self.folder = folder
        port = free_port()
        self.router, self.pub = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}"
        self.ledger = folder / "ledger.sqlite"
        self.scenario = default_neighbourhood(HOUSEHOLDS, SEED)
        self.common = ["--households", str(HOUSEHOLDS), "--seed", str(SEED)]
        self.intervals = intervals
        self.labels = [str(i) for i in range(HOUSEHOLDS)] + ["school"]
        self.operator: subprocess.Popen[bytes] | None = None
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.lives = 0

    def start_operator(
        self, crash_at: str | None = None, max_file_bytes: int | None = None
    ) -> None:
        """Start (or start again) the operator; ``crash_at`` arms a crash point in it,
        ``max_file_bytes`` caps every file it writes (RLIMIT_FSIZE: a full disk)."""
        env = {k: v for k, v in os.environ.items() if k != "VOISIN_CRASH_AT"}
        if crash_at:
            env["VOISIN_CRASH_AT"] = crash_at
        self.lives += 1
        log = (self.folder / f"operator-{self.lives}.log").open("wb")
        self.operator = subprocess.Popen(
            child_command(  # noqa: S603 - our own CLI
                "operator",
                *self.common,
                "--intervals",
                str(self.intervals),
                "--speed",
                "900",
                "--router",
                self.router,
                "--pub",
                self.pub,
                "--ledger",
                str(self.ledger),
                "--wait-agents",
                str(len(self.labels)),
            ),
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            preexec_fn=None
            if max_file_bytes is None
            else (
                lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
            ),
        )

    def start_agent(self, label: str) -> None:
        """Start (or start again) an agent; it keeps its report file across lives."""
        self.agents[label] = subprocess.Popen(
            child_command(  # noqa: S603 - our own CLI
                "agent",
                *self.common,
                "--household",
                label,
                "--operator",
                self.router,
                "--pub",
                self.pub,
                "--server-key",
                self.scenario.operator.public_hex,
                "--report",
                str(self.folder / f"agent-{label}.json"),
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_cleared(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.cleared()) < count:
            time.sleep(0.1)

    def cleared(self) -> list[str]:
        if not self.ledger.exists():
            return []
        try:
            with SqliteStore(self.ledger, read_only=True) as store:
                return [
                    json.loads(body)["interval"]
                    for _, _, kind, body, _ in store.raw_transactions()
                    if kind == TxKind.CLEARING.value
                ]
        except Exception:  # noqa: BLE001 - the writer may be mid-way; look again later
            return []

    def stop(self) -> None:
        procs = [p for p in [self.operator, *self.agents.values()] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        wait_all(procs, time.monotonic() + 10)

    def reports(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.folder.glob("agent-*.json"))]


def committed(
    ledger: Path,
) -> tuple[dict[str, int], dict[str, str], dict[str, set[str]], dict[str, int]]:
    """Per interval: clearings, the committed bids_root, participants with a committed
    reading, and settlement blocks."""
    clearings: dict[str, int] = defaultdict(int)
    settlements: dict[str, int] = defaultdict(int)
    roots: dict[str, str] = {}
    readings: dict[str, set[str]] = defaultdict(set)
    with SqliteStore(ledger, read_only=True) as store:
        for block in store.blocks():
            kinds = {t.kind for t in block.transactions}
            if TxKind.SETTLEMENT in kinds:
                settlements[block.header.interval] += 1
            for t in block.transactions:
                if t.kind is TxKind.CLEARING:
                    clearings[t.body["interval"]] += 1
                elif t.kind is TxKind.BID_DIGEST:
                    roots[t.body["interval"]] = t.body["bids_root"]
                elif t.kind is TxKind.READING:
                    readings[t.body["interval"]].add(t.body["participant"])
    return clearings, roots, readings, settlements


def check_acknowledged(market: Market) -> dict[str, list[Bid]]:
    """Every bid an agent saw acknowledged is in its interval's committed book (the
    block's bids_root is exactly the acknowledged bids'), and every acknowledged reading
    is in its settlement; what is not committed yet is in the journal. Returns the
    acknowledged bids by interval."""
    _, roots, readings, _ = committed(market.ledger)
    acked: dict[str, list[Bid]] = defaultdict(list)
    acked_readings: dict[str, set[str]] = defaultdict(set)
    for report in market.reports():
        assert report["problems"] == [], (report["participant"], report["problems"])
        for dump in report["bids"].values():
            bid = Bid.model_validate(dump)
            acked[bid.interval].append(bid)
        for interval in report["readings"]:
            acked_readings[interval].add(report["participant"])
    journal = Journal(market.ledger)
    try:
        entries = journal.entries()
    finally:
        journal.close()
    journaled = {Bid.model_validate_json(e.body) for e in entries if e.kind is EntryKind.BID}
    for e in entries:
        if e.kind is EntryKind.READING:
            readings[e.interval].add(json.loads(e.body)["participant"])
    for interval, bids in acked.items():
        if interval in roots:
            ordered = sorted(bids, key=lambda b: b.bid_id)
            want = merkle_root([canonical_bytes(b) for b in ordered]).hex()
            assert roots[interval] == want, interval
        else:  # not cleared (yet): the journal still holds it
            assert set(bids) <= journaled, f"an acknowledged bid of {interval} is lost"
    for interval, who in acked_readings.items():
        assert who <= readings[interval], f"an acknowledged reading of {interval} is lost"
    return acked
