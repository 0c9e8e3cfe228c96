"""Reproducible files, and no acknowledged block lost when the writer is killed: on a
SQLite file and on a PostgreSQL database (``empty_ledger`` runs those tests on both)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from voisin.ledger import SqliteStore, verify_ledger
from voisin.ledger import transactions as tx
from voisin.ledger.store import open_store
from voisin.protocol import KeyPair, Participant

from .conftest import append_unchecked, write_chain
from .stores import StoredLedger


def _dump(path: Path) -> tuple[list[tuple], list[tuple]]:
    with SqliteStore(path, read_only=True) as store:
        return list(store.raw_blocks()), list(store.raw_transactions())


def test_same_inputs_same_ledger(
    tmp_path: Path, operator: KeyPair, participants: list[Participant]
) -> None:
    first, second = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    write_chain(first, operator, participants)
    write_chain(second, operator, participants)
    assert _dump(first) == _dump(second)
    # Closing the last connection checkpoints the WAL into the main file; with the same
    # statements in the same order SQLite lays out the same pages, byte for byte.
    assert not Path(f"{first}-wal").exists()
    assert first.read_bytes() == second.read_bytes()


_WRITER = textwrap.dedent("""
    import sys
    from voisin.ledger import Ledger
    from voisin.ledger import transactions as tx
    from voisin.protocol import KeyPair
    T = "2026-06-23T00:00:00+00:00"
    with Ledger.open(sys.argv[1], KeyPair.derive("crash", "operator")) as ledger:
        ledger.append([tx.transfer("fund", "a", 10**9)], interval=None, time=T)
        n = 0
        while True:
            n += 1
            txs = [tx.transfer("a", "b", 1, f"{n}/{i}") for i in range(200)]
            block = ledger.append(txs, interval=None, time=T)
            print(block.header.height, flush=True)
""")


def test_killed_writer_loses_no_acknowledged_block(empty_ledger: StoredLedger) -> None:
    path = empty_ledger.source
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, path], stdout=subprocess.PIPE, text=True, env=env
    )
    acknowledged = -1
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged = int(line)
            if acknowledged >= 30:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert acknowledged >= 30
    report = verify_ledger(path)
    assert report.height >= acknowledged
    assert report.transactions == 2 + 200 * (report.height - 1)


_RESUMING_WRITER = textwrap.dedent("""
    import sys
    from voisin.ledger import Ledger
    from voisin.ledger import transactions as tx
    from voisin.protocol import KeyPair
    T = "2026-06-23T00:00:00+00:00"
    with Ledger.open(sys.argv[1], KeyPair.derive("crash", "operator")) as ledger:
        if ledger.height == 0:
            ledger.append([tx.transfer("fund", "a", 10**9)], interval=None, time=T)
        while True:
            n = ledger.height + 1
            txs = [tx.transfer("a", "b", 1, f"{n}/{i}") for i in range(100)]
            block = ledger.append(txs, interval=None, time=T)
            print(block.header.height, block.header.block_hash(), flush=True)
""")


def test_repeated_kills_at_random_points_lose_no_acknowledged_block(
    empty_ledger: StoredLedger,
) -> None:
    """Kill a resuming writer five times at random moments, most of them mid-commit."""
    path = empty_ledger.source
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    rng = np.random.default_rng(20260622)
    acknowledged: dict[int, str] = {}
    for _ in range(5):
        wait_for = int(rng.integers(1, 12))
        proc = subprocess.Popen(
            [sys.executable, "-c", _RESUMING_WRITER, path],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            for seen, line in enumerate(proc.stdout, start=1):
                height, block_hash = line.split()
                acknowledged[int(height)] = block_hash
                if seen >= wait_for:
                    break
            time.sleep(float(rng.uniform(0, 0.02)))  # land inside a later commit
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        report = verify_ledger(path)
        assert report.height >= max(acknowledged)
        with open_store(path, read_only=True) as store:
            stored = {h: block_hash for h, block_hash, _, _ in store.raw_blocks()}
        for height, block_hash in acknowledged.items():
            assert stored[height] == block_hash, height
    assert len(acknowledged) >= 5


def test_a_reader_sees_one_committed_state_while_a_writer_commits(
    stored_chain: StoredLedger, operator: KeyPair
) -> None:
    """What verification reads inside ``snapshot()`` stays as it was when it began: a
    block committed meanwhile (on PostgreSQL a killed writer's last COMMIT still lands)
    must not show its header without its transactions, or the other way round."""
    with open_store(stored_chain.source, read_only=True) as reader:
        with reader.snapshot():
            blocks = list(reader.raw_blocks())
            height = append_unchecked(stored_chain.source, operator, [tx.transfer("a", "b", 1)])
            assert list(reader.raw_blocks()) == blocks
            assert max(row[0] for row in reader.raw_transactions()) == blocks[-1][0]
        assert reader.height() == height == blocks[-1][0] + 1
